package procman

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"
)

// BenchmarkStderrFlood measures what reading a flood of stderr costs:
// 100-byte lines through drain into a text logger (as serve logs), per
// MiB. Before the bound, every line was formatted and written.
//
//	go test ./procman -run XXX -bench StderrFlood
func BenchmarkStderrFlood(b *testing.B) {
	line := append(bytes.Repeat([]byte("x"), 99), '\n')
	chunk := bytes.Repeat(line, (1<<20)/len(line))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.SetBytes(int64(len(chunk)))
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	inst := &Instance{name: "flood", stderr: r, tail: tailBuffer{max: 8 << 10}, drained: make(chan struct{})}
	go inst.drain(log)
	start := time.Now()
	for b.Loop() {
		if _, err := w.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	w.Close()
	<-inst.drained
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/MiB")
}
