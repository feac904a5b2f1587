package main

import (
	"fmt"
	"strconv"
	"strings"
)

// parseCounts reads a comma-separated list of positive integers: "1,8,32".
func parseCounts(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive whole number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// Size suffixes parseSizes accepts, longest first so that "KiB" wins over "B".
var sizeUnits = []struct {
	suffix string
	bytes  int
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"K", 1 << 10}, {"M", 1 << 20}, {"B", 1}, {"", 1},
}

// maxPayload keeps a payload inside the limits every target accepts by
// default (mcpscript's 4 MiB request bodies).
const maxPayload = 4 << 20

// parseSizes reads a comma-separated list of byte sizes: "100,64KiB,1MiB"
// (suffixes B, K or KiB, M or MiB, in any letter case).
func parseSizes(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		n, err := parseSize(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func parseSize(f string) (int, error) {
	for _, u := range sizeUnits {
		if len(f) < len(u.suffix) || !strings.EqualFold(f[len(f)-len(u.suffix):], u.suffix) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(f[:len(f)-len(u.suffix)]))
		if err != nil {
			break
		}
		n *= u.bytes
		if n <= 0 || n > maxPayload {
			return 0, fmt.Errorf("%q: a payload must be 1 B to 4 MiB", f)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%q is not a size (write e.g. 100, 64KiB or 1MiB)", f)
}

// formatSize prints a size the way the report names it: 100 B, 64 KiB, 1 MiB.
func formatSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " B"
}
