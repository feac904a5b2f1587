package suggest

import "testing"

func TestClosest(t *testing.T) {
	tools := []string{"echo", "add", "count", "read_file", "write_file"}
	for _, tc := range []struct{ word, want string }{
		{"ecoh", "echo"}, // transposition
		{"ECHO", "echo"}, // case
		{"read-file", "read_file"},
		{"cont", "count"},
		{"zzz", ""}, // nothing close
		{"ad", "add"},
		{"x", ""},    // too short to guess from
		{"echo", ""}, // exact names are not suggestions
	} {
		if got := Closest(tc.word, tools); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
}
