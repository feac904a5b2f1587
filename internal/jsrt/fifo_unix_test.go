//go:build unix

package jsrt_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/internal/jsrt"
)

// TestReadDirSpecialFiles checks that fs refuses what is not a regular
// file (a FIFO would block the call past its deadline) or too big, before
// reading it.
func TestReadDirSpecialFiles(t *testing.T) {
	data := write(t, map[string]string{"a.txt": "alpha"})
	fifo := filepath.Join(data, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	if err := os.Symlink("pipe", filepath.Join(data, "pipe-link")); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(data, "big.bin")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 16<<20+1); err != nil {
		t.Fatal(err)
	}
	just := filepath.Join(data, "just.bin")
	if err := os.WriteFile(just, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(just, 16<<20); err != nil {
		t.Fatal(err)
	}
	// Were a call to block on the FIFO, a writer coming and going every
	// few seconds unblocks it, late.
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(2 * time.Second):
			}
			if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
		}
	}()
	dir := write(t, map[string]string{"main.js": `
export function read(name) { return fs.readFile(name) }
export function size(name) { return fs.readFile(name).length }
export function list(name) { return JSON.stringify(fs.readdir(name)) }
export function exists(name) { return fs.exists(name) }`})
	main := filepath.Join(dir, "main.js")
	granted := jsrt.Options{Grants: jsrt.Grants{ReadDir: data}}
	for _, tc := range []struct{ fn, arg, want string }{
		{"read", "pipe", `fs.readFile "pipe": not a regular file`},
		{"read", "pipe-link", `fs.readFile "pipe-link": not a regular file`},
		{"read", ".", `fs.readFile ".": not a regular file`},
		{"read", "big.bin", `fs.readFile "big.bin": 16777217 bytes, more than fs.readFile reads (16 MiB)`},
		{"list", "pipe", `fs.readdir "pipe": not a folder`},
		{"list", "a.txt", `fs.readdir "a.txt": not a folder`},
	} {
		start := time.Now()
		_, err := run(t, main, granted, tc.fn, tc.arg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s(%q): %v, want an error containing %q", tc.fn, tc.arg, err, tc.want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s(%q) took %v", tc.fn, tc.arg, d)
		}
	}
	for _, tc := range []struct{ fn, arg, want string }{
		{"exists", "pipe", "true"},
		{"size", "just.bin", "16777216"},
		{"list", ".", `["a.txt","big.bin","just.bin","pipe","pipe-link"]`},
	} {
		v, err := run(t, main, granted, tc.fn, tc.arg)
		if err != nil || v.String() != tc.want {
			t.Errorf("%s(%q) = %v, %v; want %s", tc.fn, tc.arg, v, err, tc.want)
		}
	}
}
