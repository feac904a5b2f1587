package hostproc

import (
	"bytes"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// Watchdog bounds a helper's memory while it works: armed, it checks
// every WatchInterval the memory the Go runtime holds (mapped, not given
// back to the system) and ends the process with ExitMemory above the
// limit. Idle, it costs nothing.
type Watchdog struct {
	limit   uint64
	armed   atomic.Bool
	t       *time.Timer
	samples []metrics.Sample
}

// WatchInterval is how often an armed Watchdog looks. Touching memory
// runs at a few GB/s, so a helper overshoots its limit by some tens of MiB
// at most before it is stopped.
const WatchInterval = 5 * time.Millisecond

// LimitMemory bounds this helper's memory to limit bytes: the Go garbage
// collector aims below it (debug.SetMemoryLimit), the returned Watchdog,
// armed around each request, ends the process above it, and on Linux an
// address-space limit (RLIMIT_AS) well above it fails at once a single
// allocation too large to be let through (the Go runtime then dies with
// "out of memory", which Exit reports as Memory). The address-space limit
// is left out under the race detector, whose shadow memory takes address
// space in proportion to the heap.
func LimitMemory(limit int64) *Watchdog {
	debug.SetMemoryLimit(limit / 10 * 9)
	if !raceEnabled {
		if vsz, err := addressSpace(); err == nil {
			margin := max(limit, 256<<20)
			var rl syscall.Rlimit
			if syscall.Getrlimit(syscall.RLIMIT_AS, &rl) == nil {
				want := vsz + uint64(limit) + uint64(margin)
				if want < rl.Cur {
					rl.Cur = want
					_ = syscall.Setrlimit(syscall.RLIMIT_AS, &rl)
				}
			}
		}
	}
	w := &Watchdog{limit: uint64(limit), samples: []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}}
	w.t = time.AfterFunc(time.Hour, w.check)
	w.t.Stop()
	return w
}

// Arm starts watching (at the start of a request).
func (w *Watchdog) Arm() {
	w.armed.Store(true)
	w.t.Reset(WatchInterval)
}

// Disarm stops watching (once the request is answered).
func (w *Watchdog) Disarm() {
	w.armed.Store(false)
	w.t.Stop()
}

func (w *Watchdog) check() {
	if !w.armed.Load() {
		return
	}
	metrics.Read(w.samples)
	used := w.samples[0].Value.Uint64() - w.samples[1].Value.Uint64()
	if used > w.limit {
		fmt.Fprintf(os.Stderr, "hostproc: memory limit of %d MiB exceeded (%d MiB in use)\n", w.limit>>20, used>>20)
		os.Exit(ExitMemory)
	}
	if w.armed.Load() {
		w.t.Reset(WatchInterval)
	}
}

// addressSpace returns the process's virtual memory size (VmSize).
func addressSpace() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmSize:")); ok {
			f := bytes.Fields(v)
			if len(f) == 2 && string(f[1]) == "kB" {
				n, err := strconv.ParseUint(string(f[0]), 10, 64)
				return n << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no VmSize in /proc/self/status")
}
