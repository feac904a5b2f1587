package proxy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/internal/testenv"
	"github.com/mcpscript/mcpscript/internal/testserver"
)

// TestSoak runs load through the proxy for $MCPSCRIPT_SOAK (a duration,
// e.g. 5m) while a child is SIGKILLed every $MCPSCRIPT_SOAK_KILL_EVERY
// (default 3s), and reports calls, errors, lost responses (a call without
// exactly one answer: must be 0) and the process's RSS, goroutines and
// fds over time. It is not part of CI: run scripts/soak.sh.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("MCPSCRIPT_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("set MCPSCRIPT_SOAK to a duration (scripts/soak.sh) to run the soak test")
	}
	every := 3 * time.Second
	if v, err := time.ParseDuration(os.Getenv("MCPSCRIPT_SOAK_KILL_EVERY")); err == nil && v > 0 {
		every = v
	}
	testenv.NoLeaks(t)
	servers := map[string][2]string{"k1": {testserver.ModeNormal, ""}, "k2": {testserver.ModeNormal, ""}}
	e := startFaultProxy(t, servers, "", nil)
	client := &http.Client{Timeout: time.Minute}
	defer client.CloseIdleConnections()

	const callers = 8
	var calls, errs, lost atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	for c := range callers {
		sid := e.initialize("/mcp", "")
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				id := c*100_000_000 + i
				tool, args := "k1__echo", `{"text":"soak"}`
				if i%2 == 1 {
					tool, args = "k2__slow", `{"steps":2,"delayMs":5}`
				}
				msgs, err := callOnStream(context.Background(), client, e.base+"/mcp", "", sid, id, tool, args)
				calls.Add(1)
				a := answersTo(msgs, id)
				switch {
				case err != nil || len(a) != 1:
					lost.Add(1)
					t.Errorf("call %d: %d answers, err %v", id, len(a), err)
				case a[0].Error != nil:
					errs.Add(1)
				}
			}
		})
	}
	var kills atomic.Int64
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for !stop.Load() {
			<-tick.C
			name := []string{"k1", "k2"}[rand.IntN(2)]
			if st, err := e.r.Status(name); err == nil && st.PID > 0 {
				if syscall.Kill(-st.PID, syscall.SIGKILL) == nil {
					kills.Add(1)
				}
			}
		}
	})
	start := time.Now()
	sample := func() string {
		return fmt.Sprintf("t=%-6s calls=%-7d errors=%-5d lost=%d kills=%-3d rss=%dMiB goroutines=%d fds=%d",
			time.Since(start).Round(time.Second), calls.Load(), errs.Load(), lost.Load(), kills.Load(), testenv.RSS()>>20, runtime.NumGoroutine(), testenv.OpenFDs())
	}
	report := time.NewTicker(10 * time.Second)
	for time.Since(start) < d {
		select {
		case <-report.C:
			t.Log(sample())
			fmt.Println("soak:", sample())
		case <-time.After(time.Until(start.Add(d))):
		}
	}
	report.Stop()
	stop.Store(true)
	wg.Wait()
	fmt.Println("soak: final:", sample())
	t.Log("final:", sample())
	if lost.Load() != 0 {
		t.Errorf("%d lost responses", lost.Load())
	}
}
