package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpscript/mcpscript/engine/config"
)

// Defaults of Options.
const (
	DefaultQueue   = 16384 // records waiting for the writer (writeInterval's worth at 800,000/s)
	DefaultBacklog = 200   // recent records a new subscriber gets first
)

// writeInterval is how often the writer takes the queued records: the
// longest a record waits before it is written and seen by subscribers.
const writeInterval = 20 * time.Millisecond

// Options tunes a Trail. The zero value is ready to use.
type Options struct {
	// Arguments is config.AuditHash (the default), config.AuditFull or
	// config.AuditNone: how much of the arguments records keep.
	Arguments string
	// Queue bounds the records waiting for the writer; past it records are
	// dropped and counted (see Dropped). Default DefaultQueue.
	Queue int
	// Backlog is how many recent records the trail keeps for new
	// subscribers. Default DefaultBacklog.
	Backlog int
	// Logger receives write failures and drop counts; default
	// slog.Default().
	Logger *slog.Logger
}

// Trail is an audit trail: records go to a writer as JSON lines and to
// live subscribers. Create it with New, Open or FromConfig; install its
// Observer on a Runner; Close it after the last request.
type Trail struct {
	args    string
	logger  *slog.Logger
	queue   chan *Record
	stop    chan struct{}
	done    chan struct{}
	reopens chan chan error
	once    sync.Once

	dropped atomic.Uint64 // records the queue had no room for
	written atomic.Uint64 // records encoded (and written, when there is a writer)

	// Owned by the writer goroutine.
	sink     sink
	bw       *bufio.Writer
	seq      uint64
	reported uint64 // dropped count last logged
	failing  bool   // the last write failed (logged once until one succeeds)

	mu      sync.Mutex // subscribers and backlog
	subs    map[*Subscription]struct{}
	backlog []*Record // ring of the last backlogSize records
	next    int       // where the next record goes in backlog
	size    int
}

// sink is where JSON lines go: a file that can be reopened, or any writer.
type sink interface {
	io.Writer
	reopen() error
	close() error
}

// New returns a trail writing JSON lines to w, or only feeding
// subscribers when w is nil.
func New(w io.Writer, opts Options) *Trail {
	var s sink
	if w != nil {
		s = writerSink{w}
	}
	return start(s, opts)
}

// Open returns a trail appending to the file at path (created with mode
// 0600 when missing), or writing to standard output when path is
// config.AuditStdout. Reopen reopens the file at the same path.
func Open(path string, opts Options) (*Trail, error) {
	if path == config.AuditStdout {
		return start(writerSink{os.Stdout}, opts), nil
	}
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return start(&fileSink{path: path, f: f}, opts), nil
}

// FromConfig returns the trail of cfg's "audit" section (its file
// resolved against the config's folder), or nil when there is none.
func FromConfig(cfg *config.Config, logger *slog.Logger) (*Trail, error) {
	if cfg == nil || cfg.Audit == nil {
		return nil, nil
	}
	a := cfg.Audit
	path := a.File
	if path != config.AuditStdout {
		path = cfg.Resolve(path)
	}
	t, err := Open(path, Options{Arguments: a.Arguments, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("audit.file: %w", err)
	}
	return t, nil
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the audit trail: %w (check that its folder exists and is writable)", err)
	}
	return f, nil
}

func start(s sink, opts Options) *Trail {
	if opts.Arguments == "" {
		opts.Arguments = config.AuditHash
	}
	if opts.Queue <= 0 {
		opts.Queue = DefaultQueue
	}
	if opts.Backlog <= 0 {
		opts.Backlog = DefaultBacklog
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	t := &Trail{
		args: opts.Arguments, logger: opts.Logger,
		queue: make(chan *Record, opts.Queue), stop: make(chan struct{}), done: make(chan struct{}),
		reopens: make(chan chan error),
		sink:    s,
		subs:    map[*Subscription]struct{}{},
		backlog: make([]*Record, opts.Backlog),
	}
	if s != nil {
		t.bw = bufio.NewWriterSize(s, 64<<10)
	}
	go t.run()
	return t
}

// add queues a record for the writer, or drops it when the queue is full.
func (t *Trail) add(r *Record) {
	select {
	case t.queue <- r:
	default:
		t.dropped.Add(1)
	}
}

// run is the writer goroutine: every writeInterval it numbers, encodes,
// writes and publishes the records queued, then flushes. Waking on a
// ticker rather than on each record keeps the request path from paying
// for a goroutine wake-up per record (a send to a buffered channel nobody
// waits on is cheap).
func (t *Trail) run() {
	defer close(t.done)
	tick := time.NewTicker(writeInterval)
	defer tick.Stop()
	var buf []byte
	for {
		select {
		case <-tick.C:
			if len(t.queue) == 0 {
				continue
			}
			for len(t.queue) > 0 { // only this goroutine receives
				buf = t.write(<-t.queue, buf)
			}
			t.flush()
		case reply := <-t.reopens:
			for len(t.queue) > 0 {
				buf = t.write(<-t.queue, buf)
			}
			t.flush()
			var err error
			if t.sink != nil {
				err = t.sink.reopen()
			}
			reply <- err
		case <-t.stop:
			for len(t.queue) > 0 { // only this goroutine receives
				buf = t.write(<-t.queue, buf)
			}
			t.flush()
			if t.sink != nil {
				if err := t.sink.close(); err != nil {
					t.logger.Warn("audit: closing the trail", "err", err)
				}
			}
			t.mu.Lock()
			for s := range t.subs {
				close(s.ch)
			}
			t.subs = nil
			t.mu.Unlock()
			return
		}
	}
}

func (t *Trail) write(r *Record, buf []byte) []byte {
	t.seq++
	r.Seq = t.seq
	if d := t.dropped.Load(); d != t.reported {
		t.logger.Warn("audit: records dropped: the trail's writer fell behind", "dropped", d-t.reported, "total", d)
		t.reported = d
	}
	if t.bw != nil {
		buf = append(r.AppendJSON(buf[:0]), '\n')
		if _, err := t.bw.Write(buf); err != nil {
			t.writeFailed(err)
		}
	}
	t.written.Add(1)
	t.publish(r)
	return buf
}

func (t *Trail) flush() {
	if t.bw == nil {
		return
	}
	if err := t.bw.Flush(); err != nil {
		t.writeFailed(err)
		return
	}
	if t.failing {
		t.failing = false
		t.logger.Info("audit: writing the trail works again")
	}
}

// writeFailed logs a write failure once until writing works again, and
// starts the buffer afresh (a partial line is lost; the next is whole).
func (t *Trail) writeFailed(err error) {
	if !t.failing {
		t.failing = true
		t.logger.Error("audit: writing the trail failed; records are lost until it works again", "err", err)
	}
	t.bw.Reset(t.sink)
}

// publish adds r to the backlog and hands it to every subscriber with
// room for it.
func (t *Trail) publish(r *Record) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.backlog[t.next] = r
	t.next = (t.next + 1) % len(t.backlog)
	t.size = min(t.size+1, len(t.backlog))
	for s := range t.subs {
		select {
		case s.ch <- r:
		default:
			s.dropped.Add(1)
		}
	}
}

// Reopen flushes the trail and reopens its file at the same path, so that
// a file moved away by log rotation is replaced by a new one (serve calls
// it on SIGHUP). For standard output or a writer it only flushes.
func (t *Trail) Reopen() error {
	reply := make(chan error, 1)
	select {
	case t.reopens <- reply:
		return <-reply
	case <-t.done:
		return errors.New("audit: the trail is closed")
	}
}

// Close writes the records still queued, closes the file and ends every
// subscription. Records that arrive later are dropped. Calling it again
// does nothing.
func (t *Trail) Close() error {
	t.once.Do(func() { close(t.stop) })
	<-t.done
	return nil
}

// Written returns how many records were written (or, without a writer,
// published); Dropped how many were dropped because the writer was behind.
func (t *Trail) Written() uint64 { return t.written.Load() }

// Dropped returns how many records were dropped because the writer was
// behind.
func (t *Trail) Dropped() uint64 { return t.dropped.Load() }

// Subscription is a live feed of records; see Trail.Subscribe.
type Subscription struct {
	// C receives each record as it is written; it is closed when the
	// subscription or the trail is closed.
	C       <-chan *Record
	ch      chan *Record
	t       *Trail
	dropped atomic.Uint64
	once    sync.Once
}

// Subscribe returns the recent records (oldest first, at most
// Options.Backlog) and a subscription to the records after them. A
// subscriber that falls more than buffer records behind misses records
// (counted by Dropped); the trail never waits for it.
func (t *Trail) Subscribe(buffer int) (backlog []*Record, s *Subscription) {
	ch := make(chan *Record, max(buffer, 1))
	s = &Subscription{C: ch, ch: ch, t: t}
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.backlog)
	for i := range t.size {
		backlog = append(backlog, t.backlog[(t.next-t.size+i+n)%n])
	}
	if t.subs == nil { // closed
		close(ch)
		return backlog, s
	}
	t.subs[s] = struct{}{}
	return backlog, s
}

// Dropped returns how many records the subscriber missed by being behind.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription and closes C.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.t.mu.Lock()
		defer s.t.mu.Unlock()
		if _, ok := s.t.subs[s]; ok {
			delete(s.t.subs, s)
			close(s.ch)
		}
	})
}

// writerSink is a writer that cannot be reopened or closed.
type writerSink struct{ io.Writer }

func (writerSink) reopen() error { return nil }
func (writerSink) close() error  { return nil }

// fileSink is an appended file, reopened at its path.
type fileSink struct {
	path string
	f    *os.File
}

func (s *fileSink) Write(p []byte) (int, error) { return s.f.Write(p) }

func (s *fileSink) reopen() error {
	f, err := openAppend(s.path)
	if err != nil {
		return err // keep writing to the old file rather than nowhere
	}
	old := s.f
	s.f = f
	return old.Close()
}

func (s *fileSink) close() error { return s.f.Close() }
