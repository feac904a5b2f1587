package hostproc

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"
)

// TestFrames sends frames of many sizes through a real pipe, written in
// pieces, and reads them back; then a frame cut short and one too large.
func TestFrames(t *testing.T) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	r := newReader(p[0])
	defer syscall.Close(p[0])
	sizes := []int{0, 1, 5, 64<<10 - 4, 64 << 10, 3 << 20, 10}
	done := make(chan error, 1)
	go func() {
		defer syscall.Close(p[1])
		for i, n := range sizes {
			f := Begin(nil)
			f = append(f, bytes.Repeat([]byte{byte('a' + i)}, n)...)
			if err := writeFrame(p[1], f); err != nil {
				done <- err
				return
			}
		}
		// A frame whose header promises more than follows.
		done <- writeAll(p[1], []byte{9, 0, 0, 0, 'x'})
	}()
	for i, n := range sizes {
		got, err := r.Next(4 << 20)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if len(got) != n || n > 0 && (got[0] != byte('a'+i) || got[n-1] != byte('a'+i)) {
			t.Fatalf("frame %d: %d bytes, want %d", i, len(got), n)
		}
	}
	if _, err := r.Next(4 << 20); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a frame cut short: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	if err := writeFrame(p[1], append(Begin(nil), make([]byte, 100)...)); err != nil {
		t.Fatal(err)
	}
	if _, err := newReader(p[0]).Next(99); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("a frame over the limit: %v", err)
	}
}
