package wasm

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
)

// lingerModule writes {} and, when its input is longer than 200 bytes,
// logs "linger" at info before it returns 0.
func lingerModule() []byte {
	body := code(
		i32c(0), i32c(2), []byte{opCall, 0}, // output_write(0, 2)
		[]byte{opLocalGet, 0}, i32c(200), []byte{opI32GtU, opIf, opVoid},
		i32c(0), i32c(16), i32c(6), []byte{opCall, 1}, // log(0, 16, 6)
		[]byte{opEnd},
		i32c(0),
	)
	return bodyModule([]wimport{{"mcpscript", "log", 5}}, 1, []byte("{}\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00linger"), body)
}

// slowCtx is a context that ends when end is called, and whose Err, the
// first time it is called after that, takes 20ms. wazero's watcher
// (WithCloseOnContextDone) calls Err after it has seen the context end
// and before it closes the module: slowCtx widens that moment, in which
// the guest can return successfully, to certainty.
type slowCtx struct {
	context.Context // for Value
	done, slowed    chan struct{}
	ended, slow     sync.Once
}

func newSlowCtx() *slowCtx {
	return &slowCtx{Context: context.Background(), done: make(chan struct{}), slowed: make(chan struct{})}
}

func (c *slowCtx) Deadline() (time.Time, bool) { return time.Now().Add(time.Minute), true }
func (c *slowCtx) Done() <-chan struct{}       { return c.done }
func (c *slowCtx) end()                        { c.ended.Do(func() { close(c.done) }) }

func (c *slowCtx) Err() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	c.slow.Do(func() {
		close(c.slowed)
		time.Sleep(20 * time.Millisecond)
	})
	return context.DeadlineExceeded
}

// endHandler is a log handler that, given the message "linger", ends the
// call's context (a *slowCtx) and waits until wazero's watcher is in its
// slow Err; the guest then returns 0 at once.
type endHandler struct{ slog.Handler }

func (endHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h endHandler) Handle(ctx context.Context, r slog.Record) error {
	if c, ok := ctx.Value(slowCtxKey{}).(*slowCtx); ok && r.Message == "linger" {
		c.end()
		select {
		case <-c.slowed:
		case <-time.After(5 * time.Second):
		}
	}
	return h.Handler.Handle(ctx, r)
}

type slowCtxKey struct{}

// A call that succeeds just as its context ends leaves an instance that
// wazero closes a moment later; it must not go back to the pool, where the
// next call (with plenty of time) would fail with "deadline exceeded
// after 0s".
func TestNoClosedInstanceReused(t *testing.T) {
	f := load(t, writeModule(t, "linger.wasm", lingerModule()), Options{Pool: 1, Logger: slog.New(endHandler{slog.DiscardHandler})})
	long := toolCall("linger", map[string]string{"pad": strings.Repeat("x", 200)})
	for i := range 3 {
		c := newSlowCtx()
		_, err := f.Call(context.WithValue(c, slowCtxKey{}, c), long)
		t.Logf("round %d: the call whose context ended: %v", i, err)
		time.Sleep(50 * time.Millisecond) // wazero closes the module
		if _, err := f.Call(testCtx(t), toolCall("x", nil)); err != nil {
			t.Fatalf("round %d: the next call: %v", i, err)
		}
	}
	if st := f.Stats(); st.Failures != 0 {
		t.Errorf("stats %+v: a context that ended is not the filter's failure", st)
	}
}

// Loads of one module sharing a compilation cache, side by side, with
// the cache cold (a new folder) and then warm: wazero must not see two
// compilations of one module at once (wazero issue #2547).
func TestConcurrentLoads(t *testing.T) {
	path := writeModule(t, "m.wasm", handModule(1, 0, `{}`, nil))
	for range 5 {
		dir := filepath.Join(t.TempDir(), "cache")
		for range 2 {
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					f, err := Load(testCtx(t), path, Options{CacheDir: dir, Logger: slog.New(slog.DiscardHandler)})
					if err != nil {
						t.Error(err)
						return
					}
					if _, err := f.Call(testCtx(t), toolCall("x", nil)); err != nil {
						t.Error(err)
					}
					if err := f.Close(context.Background()); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
		}
	}
}

// A cache folder that exists but cannot be written to is logged, and the
// filter compiles without it.
func TestCacheNotWritable(t *testing.T) {
	probe := t.TempDir()
	if _, err := wazero.NewCompilationCacheWithDir(probe); err != nil {
		t.Fatal(err)
	}
	made, err := os.ReadDir(probe)
	if err != nil || len(made) != 1 {
		t.Fatalf("wazero made %v in its cache folder (%v)", made, err)
	}
	dir := filepath.Join(t.TempDir(), "cache")
	sub := filepath.Join(dir, made[0].Name())
	if got := cacheSubdir(dir); got != sub {
		t.Errorf("cacheSubdir: %s, but wazero made %s", got, sub)
	}
	// A folder no one may create files in: read-only, or, for root, /proc.
	if err := os.MkdirAll(sub, 0o500); err != nil {
		t.Fatal(err)
	}
	if writable(sub) == nil {
		if err := os.Remove(sub); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/proc", sub); err != nil || writable(sub) == nil {
			t.Skip("no folder that cannot be written to here")
		}
	}
	var logs syncBuffer
	f := load(t, writeModule(t, "m.wasm", handModule(1, 0, `{"deny": "x"}`, nil)), Options{CacheDir: dir, Logger: testLogger(t, &logs)})
	if d, err := f.Call(testCtx(t), toolCall("x", nil)); err != nil || string(d.Deny) != `"x"` {
		t.Fatalf("%+v, %v", d, err)
	}
	if want := `level=WARN msg="wasm compilation cache folder cannot be written to; compiling without it"`; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, logs.String())
	}
}
