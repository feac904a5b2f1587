package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// report gathers the cells of a bench run and writes them as markdown.
type report struct {
	machine machine
	rev     string
	callers []int
	sizes   []int
	warmup  time.Duration
	window  time.Duration
	targets []target // in report order, those that ran
	skipped []skippedTarget
	results []cellResult

	notes []string       // footnotes: failures and first errors
	index map[string]int // footnote text -> its number
}

type skippedTarget struct {
	target
	why string
}

func (r *report) add(res cellResult) { r.results = append(r.results, res) }

// finish fills in each cell's ratio to direct stdio at the same concurrency
// and payload.
func (r *report) finish() {
	type key struct{ c, s int }
	direct := map[key]float64{}
	for _, res := range r.results {
		if res.Target == "direct" && res.Fail == "" {
			direct[key{res.Callers, res.Payload}] = res.Rate
		}
	}
	for i, res := range r.results {
		if d := direct[key{res.Callers, res.Payload}]; d > 0 && res.Fail == "" {
			r.results[i].Ratio = res.Rate / d
		}
	}
}

// otherCores sums up how busy the rest of the machine was during the
// windows of the cells that ran.
func (r *report) otherCores() (lo, mean, hi float64, ok bool) {
	n := 0
	for _, res := range r.results {
		if res.Fail != "" {
			continue
		}
		if n == 0 || res.OtherCores < lo {
			lo = res.OtherCores
		}
		hi = max(hi, res.OtherCores)
		mean += res.OtherCores
		n++
	}
	if n == 0 {
		return 0, 0, 0, false
	}
	return lo, mean / float64(n), hi, true
}

// failures counts the cells that failed or saw failed calls.
func (r *report) failures() int {
	n := 0
	for _, res := range r.results {
		if res.Fail != "" || res.Errors > 0 {
			n++
		}
	}
	return n
}

func (r *report) cell(target string, c, s int) (cellResult, bool) {
	for _, res := range r.results {
		if res.Target == target && res.Callers == c && res.Payload == s {
			return res, true
		}
	}
	return cellResult{}, false
}

// note returns the footnote mark for a text, adding it if new.
func (r *report) note(text string) string {
	if r.index == nil {
		r.index = map[string]int{}
	}
	n, ok := r.index[text]
	if !ok {
		r.notes = append(r.notes, text)
		n = len(r.notes)
		r.index[text] = n
	}
	return "[" + strconv.Itoa(n) + "]"
}

// write prints the report: a header with the machine and the method, one
// table per payload size (rows: targets, columns: concurrencies), the
// footnotes, and the targets that were skipped.
func (r *report) write(w io.Writer) {
	m := r.machine
	fmt.Fprintf(w, "## mcpload bench, %s\n\n", m.date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "Machine: %s\n\n", m.line())
	if r.rev != "" {
		fmt.Fprintf(w, "mcpscript: %s. ", r.rev)
	}
	if v := m.peerVersions(); v != "" {
		fmt.Fprintf(w, "Peers: %s.", v)
	}
	fmt.Fprintf(w, "\n\nEach cell: %s warmup, then a %s window; a fresh proxy per cell; "+
		"each HTTP caller has its own session, direct stdio callers share one child.", r.warmup, r.window)
	if lo, mean, hi, ok := r.otherCores(); ok {
		fmt.Fprintf(w, " Other processes kept %.1f cores busy on average during the windows (%.1f to %.1f): "+
			"the more, the less the throughput figures mean.", mean, lo, hi)
	}
	fmt.Fprint(w, "\n\n")
	fmt.Fprintln(w, "Cell: calls/s · ratio to direct stdio · p50/p99 latency · proxy CPU per call · proxy peak RSS · client CPU per call.")
	for _, s := range r.sizes {
		fmt.Fprintf(w, "\n### payload %s\n\n", formatSize(s))
		fmt.Fprint(w, "| target |")
		for _, c := range r.callers {
			fmt.Fprintf(w, " C=%d |", c)
		}
		fmt.Fprint(w, "\n|---|")
		for range r.callers {
			fmt.Fprint(w, "---|")
		}
		fmt.Fprintln(w)
		for _, t := range r.targets {
			fmt.Fprintf(w, "| %s |", t.label)
			for _, c := range r.callers {
				res, ok := r.cell(t.name, c, s)
				if !ok {
					fmt.Fprint(w, " not run |")
					continue
				}
				fmt.Fprintf(w, " %s |", r.formatCell(res))
			}
			fmt.Fprintln(w)
		}
	}
	if len(r.notes) > 0 {
		fmt.Fprintln(w)
		for i, n := range r.notes {
			fmt.Fprintf(w, "%d. %s\n", i+1, escapeCell(n))
		}
	}
	var about []string
	for _, t := range r.targets {
		if t.note != "" {
			about = append(about, "- "+t.note)
		}
	}
	for _, sk := range r.skipped {
		about = append(about, fmt.Sprintf("- skipped %s: %s", sk.name, sk.why))
	}
	if len(about) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(about, "\n"))
	}
}

// formatCell is one cell of a table.
func (r *report) formatCell(res cellResult) string {
	if res.Fail != "" {
		return "fail " + r.note(res.Target+fmt.Sprintf(" C=%d %s: ", res.Callers, formatSize(res.Payload))+res.Fail)
	}
	ratio := "—"
	if res.Ratio > 0 {
		ratio = fmt.Sprintf("%.2fx", res.Ratio)
	}
	proxyCPU, proxyRSS := "—", "—"
	if res.ProxyProcs > 0 {
		proxyCPU, proxyRSS = formatCPU(res.ProxyCPU), formatMiB(res.ProxyHWM)
	}
	s := fmt.Sprintf("%s/s · %s · %s · %s · %s · %s",
		formatCount(res.Rate), ratio, formatLatencyPair(res.P50, res.P99), proxyCPU, proxyRSS, formatCPU(res.ClientCPU))
	if res.Errors > 0 {
		s += fmt.Sprintf(" · %d failed calls %s", res.Errors, r.note(res.Target+": "+res.FirstErr))
	}
	return s
}

// escapeCell keeps a text from breaking a markdown line.
func escapeCell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

// formatCount prints a rate with thousands separators: 12,345.
func formatCount(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// formatLatencyPair prints p50/p99 in the unit that suits p99.
func formatLatencyPair(p50, p99 time.Duration) string {
	if p99 < time.Millisecond {
		return fmt.Sprintf("%.0f/%.0f µs", us(p50), us(p99))
	}
	return fmt.Sprintf("%s/%s ms", trimFloat(ms(p50)), trimFloat(ms(p99)))
}

func formatLatency(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.0fµs", us(d))
	}
	return trimFloat(ms(d)) + "ms"
}

// formatCPU prints CPU time per call in µs (ms from 10 ms up).
func formatCPU(d time.Duration) string {
	if d >= 10*time.Millisecond {
		return trimFloat(ms(d)) + " ms"
	}
	return fmt.Sprintf("%.0f µs", us(d))
}

// formatMiB prints bytes in MiB.
func formatMiB(b uint64) string {
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// trimFloat prints two significant digits below 10, else none after the point.
func trimFloat(v float64) string {
	switch {
	case v < 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}
