package testenv

import (
	"os"
	"testing"
)

// fakeTB records what NoLeaks reports, and runs its cleanups on demand.
type fakeTB struct {
	testing.TB
	cleanups []func()
	failed   bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Cleanup(fn func())     { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Errorf(string, ...any) { f.failed = true }
func (f *fakeTB) end()                  { f.cleanups[0]() }

func TestNoLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 10s for a leak")
	}
	ok := &fakeTB{TB: t}
	NoLeaks(ok)
	ok.end()
	if ok.failed {
		t.Error("NoLeaks reported a leak where there was none")
	}

	leaky := &fakeTB{TB: t}
	NoLeaks(leaky)
	var files []*os.File
	for range 5 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	stop := make(chan struct{})
	for range 5 {
		go func() { <-stop }()
	}
	leaky.end()
	close(stop)
	for _, f := range files {
		f.Close()
	}
	if !leaky.failed {
		t.Error("NoLeaks missed 5 goroutines and 5 files left open")
	}
}
