package wasm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/internal/testenv"

	"github.com/mcpscript/mcpscript/engine"
)

// TestRunawayGuests runs the cases of the JavaScript hooks' limits test
// (scripting.TestHookLimits) as a Go guest: a huge slice filled, a 1 GiB
// string, a push loop, a busy loop, endless recursion, a huge JSON
// encoding, at the default timeout and at 30s. Each fails in time with the
// error of the limit it hit (wazero's memory cap, WithCloseOnContextDone
// at the deadline), another instance serves calls meanwhile, this
// process's memory grows by at most the cap, and the next call works.
// The cases run one after the other: the guests' memory is this
// process's.
func TestRunawayGuests(t *testing.T) {
	const limitMiB = 64
	slack := 5 * time.Second
	if raceEnabled {
		slack = 20 * time.Second
	}
	const byTimeout, byMemory = "timeout", "memory"
	for _, tc := range []struct {
		tool    string
		timeout time.Duration
		want    []string
	}{
		{"bigslice", time.Second, []string{byMemory}},
		{"bigslice", 30 * time.Second, []string{byMemory}},
		{"midslice", time.Second, []string{byMemory}},
		{"midslice", 30 * time.Second, []string{byMemory}},
		{"repeat", time.Second, []string{byMemory}},
		{"repeat", 30 * time.Second, []string{byMemory}},
		{"pushloop", time.Second, []string{byTimeout, byMemory}},
		{"pushloop", 30 * time.Second, []string{byMemory}},
		{"loop", time.Second, []string{byTimeout}},
		{"loop", 30 * time.Second, []string{byTimeout}},
		{"recursion", time.Second, []string{byTimeout, byMemory}},
		{"recursion", 30 * time.Second, []string{byMemory}},
		{"marshal", time.Second, []string{byTimeout, byMemory}},
		{"marshal", 30 * time.Second, []string{byMemory}},
	} {
		t.Run(fmt.Sprintf("%s/%v", tc.tool, tc.timeout), func(t *testing.T) {
			if tc.tool == "loop" && tc.timeout > time.Second && testing.Short() {
				t.Skip("spins for 30s")
			}
			f := load(t, guestWasm, Options{Name: "tg", Pool: 2, MemoryLimitMiB: limitMiB})
			h := chain(f, tc.timeout)
			ctx := testCtx(t)
			if _, err := callTool(ctx, h, "nil", nil); err != nil {
				t.Fatal(err)
			}
			rss0 := testenv.RSS()
			var peak atomic.Int64
			stop := testenv.WatchRSS(&peak)
			start := time.Now()
			done := make(chan error, 1)
			go func() {
				_, err := callTool(ctx, h, tc.tool, nil)
				done <- err
			}()
			served := 0
			var err error
		wait:
			for {
				select {
				case err = <-done:
					break wait
				default:
				}
				if _, err := callTool(ctx, h, "nil", nil); err != nil {
					t.Errorf("a call while %s runs: %v", tc.tool, err)
					break
				}
				served++
				time.Sleep(20 * time.Millisecond)
			}
			took := time.Since(start)
			stop()
			got := "other"
			switch {
			case err == nil:
				got = "none"
			case strings.Contains(err.Error(), fmt.Sprintf("memory limit of %d MiB reached", limitMiB)):
				got = byMemory
			case errors.Is(err, context.DeadlineExceeded) && strings.Contains(err.Error(), "ran past its "):
				got = byTimeout
			}
			if !contains(tc.want, got) || !errors.Is(err, engine.ErrHook) {
				t.Errorf("outcome %q (%v), want one of %v", got, err, tc.want)
			}
			if bound := tc.timeout + slack; took > bound {
				t.Errorf("took %v, more than %v", took, bound)
			}
			if served == 0 && took > time.Second {
				t.Errorf("no call served in %v", took)
			}
			// The guest's memory is this process's: at most the cap of each
			// of the (at most two) instances, and what wazero keeps beside
			// (it grows a memory by copying it). The race detector's shadow
			// memory doubles that and more.
			bound := int64(2*limitMiB<<20 + 64<<20)
			if raceEnabled {
				bound *= 3
			}
			if grew := peak.Load() - rss0; grew > bound {
				t.Errorf("this process grew by %d MiB", grew>>20)
			}
			if _, err := callTool(ctx, h, "nil", nil); err != nil {
				t.Errorf("the next call: %v", err)
			}
			t.Logf("%s: %v after %v, %d calls served meanwhile, RSS +%d MiB", tc.tool, err, took.Round(time.Millisecond), served, (peak.Load()-rss0)>>20)
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
