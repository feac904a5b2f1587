package gateway

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

var validAggregateName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func TestGatewayServerPrefixes(t *testing.T) {
	names := []string{"a", "fs", "a.b", "a_b", "a__b", "x_", "my-server", strings.Repeat("s", 24), strings.Repeat("s", 25),
		strings.Repeat("l", 64), strings.Repeat("l", 63) + ".", "9lives", "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q"}
	got := serverPrefixes(names)
	seen := map[string]string{}
	for _, n := range names {
		p := got[n]
		if other, dup := seen[p]; dup {
			t.Errorf("servers %q and %q share the prefix %q", n, other, p)
		}
		seen[p] = n
		if !validAggregateName.MatchString(p) || len(p) > maxPrefixLen || strings.Contains(p, "__") || strings.HasSuffix(p, "_") {
			t.Errorf("prefix of %q is %q", n, p)
		}
	}
	for n, want := range map[string]string{"a": "a", "fs": "fs", "a_b": "a_b", "my-server": "my-server", strings.Repeat("s", 24): strings.Repeat("s", 24)} {
		if got[n] != want {
			t.Errorf("prefix of %q = %q, want the name itself", n, got[n])
		}
	}
	if p := got["a.b"]; !regexp.MustCompile(`^a_b_[0-9a-f]{6}$`).MatchString(p) {
		t.Errorf("prefix of a.b = %q", p)
	}
	// Collisions between an altered name and a server literally named like it.
	clash := serverPrefix("a.b", shortHashLen, false)
	two := serverPrefixes([]string{clash, "a.b"})
	if two[clash] == two["a.b"] {
		t.Errorf("%q and a.b both got %q", clash, two[clash])
	}
	if again := serverPrefixes([]string{"a.b", clash}); fmt.Sprint(again) != fmt.Sprint(two) {
		t.Errorf("prefixes depend on the order given: %v vs %v", again, two)
	}
}

func TestGatewayNamespaceItems(t *testing.T) {
	for _, prefix := range []string{"a", strings.Repeat("p", 24)} {
		names := []string{"echo", "read.file", "read_file", "read-file", "", strings.Repeat("x", 128), strings.Repeat("x", 127) + "y",
			"ünïcode", "a/b", "a b", "echo"}
		// An unaltered name that equals what an altered one becomes.
		names = append(names, fitName("read.file", maxNameLen-len(prefix)-2, shortHashLen, false))
		got := namespaceItems(prefix, names)
		seen := map[string]string{}
		for _, n := range names {
			full := got[n]
			if !validAggregateName.MatchString(full) || !strings.HasPrefix(full, prefix+"__") {
				t.Errorf("prefix %q: %q became %q", prefix, n, full)
			}
			if other, dup := seen[full]; dup && other != n {
				t.Errorf("prefix %q: %q and %q both became %q", prefix, n, other, full)
			}
			seen[full] = n
		}
		if got["echo"] != prefix+"__echo" || got["read_file"] != prefix+"__read_file" {
			t.Errorf("valid names were changed: %v", got)
		}
	}
}

func TestGatewayTemplateMatch(t *testing.T) {
	for _, tc := range []struct {
		tmpl, uri string
		want      bool
	}{
		{"test://item/{id}", "test://item/7", true},
		{"test://item/{id}", "test://item/7/x", false},
		{"test://item/{id}", "test://other/7", false},
		{"file:///{+path}", "file:///a/b/c.txt", true},
		{"db://{table}/rows{?limit,offset}", "db://users/rows?limit=1", true},
		{"db://{table}/rows{?limit,offset}", "db://users/rows", true},
		{"x://a.b/{id}", "x://aXb/1", false},
	} {
		re := templateRegexp(tc.tmpl)
		if got := re != nil && re.MatchString(tc.uri); got != tc.want {
			t.Errorf("%s matches %s: %v, want %v", tc.tmpl, tc.uri, got, tc.want)
		}
	}
}
