package main

import "testing"

func TestParseMemory(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"", 0, false},
		{"none", -1, false},
		{"OFF", -1, false},
		{"512MiB", 512 << 20, false},
		{"512mb", 512 << 20, false},
		{"2G", 2 << 30, false},
		{"1.5GiB", 3 << 29, false},
		{" 64 MiB ", 64 << 20, false},
		{"67108864", 64 << 20, false},
		{"1KiB", 0, true},
		{"lots", 0, true},
		{"MiB", 0, true},
		{"12XB", 0, true},
		{"-1GiB", 0, true},
		{"1e3GiB", 0, true},
	} {
		got, err := parseMemory(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseMemory(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func FuzzParseMemory(f *testing.F) {
	for _, s := range []string{"512MiB", "none", "1.5G", "", "9999999TiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseMemory(s)
		if err == nil && n > 0 && (n < 16<<20 || n > 1<<50) {
			t.Errorf("parseMemory(%q) = %d, outside the bounds", s, n)
		}
	})
}
