package hostproc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// A frame is a 4-byte little-endian length and that many bytes of
// payload. A helper reads and writes its pipes with plain blocking system
// calls (it does nothing else meanwhile, so a sleeping thread woken by the
// kernel is the cheapest wait); the parent goes through the Go runtime's
// poller, so that a goroutine waiting for a helper parks without holding
// a thread, which in a busy process costs far less than the thread
// hand-offs of a blocking call.

// headerSize is the length prefix of a frame.
const headerSize = 4

// ErrFrameTooLarge means a frame's length is over what the reader accepts.
var ErrFrameTooLarge = errors.New("frame too large")

// Begin starts a frame in buf (reusing its memory): the header's room,
// to which the caller appends the payload before sending it.
func Begin(buf []byte) []byte { return append(buf[:0], 0, 0, 0, 0) }

// writeFrame fills in the header of frame (made with Begin) and writes it
// whole to fd.
func writeFrame(fd int, frame []byte) error {
	if len(frame) < headerSize {
		return errors.New("hostproc: a frame must be made with Begin")
	}
	n := len(frame) - headerSize
	if uint64(n) > 1<<32-1 {
		return fmt.Errorf("hostproc: %w: %d bytes", ErrFrameTooLarge, n)
	}
	binary.LittleEndian.PutUint32(frame, uint32(n))
	return writeAll(fd, frame)
}

// writeFileFrame is writeFrame through an *os.File.
func writeFileFrame(f *os.File, frame []byte) error {
	if len(frame) < headerSize {
		return errors.New("hostproc: a frame must be made with Begin")
	}
	binary.LittleEndian.PutUint32(frame, uint32(len(frame)-headerSize))
	_, err := f.Write(frame)
	return err
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if err == syscall.EINTR || err == syscall.EAGAIN {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// Reader reads frames from a pipe. A payload it returns is valid until the
// next call of Next.
type Reader struct {
	read func([]byte) (int, error) // returns 0, io.EOF or 0, nil at the end
	buf  []byte
	r, w int // unread bytes are buf[r:w]
}

func newReader(read func([]byte) (int, error)) *Reader {
	return &Reader{read: read, buf: make([]byte, 64<<10)}
}

// fdReader reads a blocking descriptor.
func fdReader(fd int) func([]byte) (int, error) {
	return func(b []byte) (int, error) { return syscall.Read(fd, b) }
}

// Next reads the next frame and returns its payload; io.EOF when the other
// end is closed between frames, io.ErrUnexpectedEOF within one. A frame
// longer than max is an error wrapping ErrFrameTooLarge (the stream is then
// unusable).
func (rd *Reader) Next(max int) ([]byte, error) {
	if rd.r == rd.w {
		rd.r, rd.w = 0, 0
		if len(rd.buf) > 1<<20 {
			// Grown for one large frame, already read: a host does not
			// keep the memory of its largest call.
			rd.buf = make([]byte, 64<<10)
		}
	}
	if err := rd.fill(headerSize); err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint32(rd.buf[rd.r:]))
	if n > max {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrFrameTooLarge, n, max)
	}
	if err := rd.fill(headerSize + n); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	p := rd.buf[rd.r+headerSize : rd.r+headerSize+n]
	rd.r += headerSize + n
	return p, nil
}

// fill reads until at least n bytes are buffered.
func (rd *Reader) fill(n int) error {
	for rd.w-rd.r < n {
		if len(rd.buf)-rd.r < n {
			// Make room: move what is unread to the front, or grow.
			if n <= len(rd.buf) {
				rd.w = copy(rd.buf, rd.buf[rd.r:rd.w])
				rd.r = 0
			} else {
				b := make([]byte, n)
				rd.w = copy(b, rd.buf[rd.r:rd.w])
				rd.r, rd.buf = 0, b
			}
		}
		m, err := rd.read(rd.buf[rd.w:])
		if err == syscall.EINTR || err == syscall.EAGAIN {
			continue
		}
		if err != nil && err != io.EOF {
			return err
		}
		if m == 0 {
			if rd.w > rd.r {
				return io.ErrUnexpectedEOF
			}
			return io.EOF
		}
		rd.w += m
	}
	return nil
}
