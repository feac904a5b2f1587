package main

import (
	"slices"
	"strings"
	"testing"
)

func TestParseSizes(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr string
	}{
		{"100,64KiB,1MiB", []int{100, 64 << 10, 1 << 20}, ""},
		{" 100B , 64k, 2M ", []int{100, 64 << 10, 2 << 20}, ""},
		{"64kib,1mib", []int{64 << 10, 1 << 20}, ""},
		{"64KB", nil, "not a size"},
		{"0", nil, "1 B to 4 MiB"},
		{"5MiB", nil, "1 B to 4 MiB"},
		{"", nil, "not a size"},
	}
	for _, tt := range tests {
		got, err := parseSizes(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseSizes(%q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("parseSizes(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseCounts(t *testing.T) {
	if got, err := parseCounts("1, 8,32,128"); err != nil || !slices.Equal(got, []int{1, 8, 32, 128}) {
		t.Errorf("parseCounts = %v, %v", got, err)
	}
	for _, bad := range []string{"0", "-1", "x", "1,,2"} {
		if _, err := parseCounts(bad); err == nil {
			t.Errorf("parseCounts(%q) accepted", bad)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int]string{100: "100 B", 64 << 10: "64 KiB", 1 << 20: "1 MiB", 1500: "1500 B"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
