package config

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckSecrets(t *testing.T) {
	env := func(vars map[string]string) func(string) (string, bool) {
		return func(name string) (string, bool) { v, ok := vars[name]; return v, ok }
	}
	const strong = "3f9a1c0e5b7d2a4c8e6f1b3d5a7c9e0f"
	for _, tc := range []struct {
		name string
		in   string
		env  map[string]string
		want string // "" for no problem
	}{
		{
			name: "a strong token from a variable",
			in: `{"mcpServers": {"s": {"command": "x"}},
"sseProxy": {"authenticate": {"bearer": {"token": "${MCP_PROXY_TOKEN}"}}}}`,
			env: map[string]string{"MCP_PROXY_TOKEN": strong},
		},
		{
			name: "no proxy",
			in:   `{"mcpServers": {"s": {"command": "x"}}}`,
		},
		{
			name: "the documented placeholder, as the default of an unset variable",
			in: `{"mcpServers": {"s": {"command": "x"}},
"sseProxy": {"authenticate": {"bearer": {"token": "${MCP_PROXY_TOKEN:-your-secure-token-here}"}}}}`,
			want: `s.json:2:51: sseProxy.authenticate.bearer.token: "your-secure-token-here" is a placeholder, not a secret; serve refuses it (set MCP_PROXY_TOKEN to a random secret, e.g. export MCP_PROXY_TOKEN=$(openssl rand -hex 32))`,
		},
		{
			name: "a placeholder set in the variable",
			in: `{"mcpServers": {"s": {"command": "x"}},
"sseProxy": {"authenticate": {"bearer": {"token": "${TOK}"}}}}`,
			env:  map[string]string{"TOK": "CHANGEME"},
			want: `s.json:2:51: sseProxy.authenticate.bearer.token: "CHANGEME" is a placeholder, not a secret; serve refuses it (set TOK to a random secret, e.g. export TOK=$(openssl rand -hex 32))`,
		},
		{
			name: "a short literal token",
			in: `{"mcpServers": {"s": {"command": "x"}},
"sseProxy": {"authenticate": {"bearer": {"token": "t0ken"}}}}`,
			want: `s.json:2:51: sseProxy.authenticate.bearer.token: is 5 bytes long, shorter than the 16 a secret needs; serve refuses it (read it from a variable: write "${MCP_PROXY_TOKEN}" here and export MCP_PROXY_TOKEN=$(openssl rand -hex 32))`,
		},
		{
			name: "one character repeated",
			in: `{"mcpServers": {"s": {"command": "x"}},
"sseProxy": {"authenticate": {"bearer": {"token": "xxxxxxxxxxxxxxxxxxxx"}}}}`,
			want: `"xxxxxxxxxxxxxxxxxxxx" is a placeholder`,
		},
		{
			name: "named tokens: each is checked, the hint names a variable after the token",
			in: `{"mcpServers": {"s": {"command": "x"}},
"sseProxy": {"authenticate": {"bearer": {"tokens": [
  {"name": "ci", "token": "ci-secret"},
  {"name": "web.app", "token": "` + strong + `"},
  {"name": "admin", "token": "${ADMIN_TOKEN:-please-change-me-now}"}]}}}}`,
			want: `s.json:3:27: sseProxy.authenticate.bearer.tokens[0].token: "ci-secret" is a placeholder, not a secret; serve refuses it (read it from a variable: write "${CI_TOKEN}" here and export CI_TOKEN=$(openssl rand -hex 32))
s.json:5:30: sseProxy.authenticate.bearer.tokens[2].token: "please-change-me-now" is a placeholder, not a secret; serve refuses it (set ADMIN_TOKEN to a random secret, e.g. export ADMIN_TOKEN=$(openssl rand -hex 32))`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseWithOptions([]byte(tc.in), "s.json", Options{LookupEnv: env(tc.env)})
			if err != nil {
				t.Fatal(err)
			}
			err = c.CheckSecrets()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected problem: %v", err)
			case tc.want == "":
				return
			case err == nil:
				t.Fatalf("no problem; want %s", tc.want)
			case !strings.Contains(err.Error(), tc.want):
				t.Errorf("wrong message\ngot:  %s\nwant: %s", err, tc.want)
			}
			if !errors.Is(err, ErrWeakSecret) || !errors.Is(err, ErrInvalid) {
				t.Errorf("%v: not ErrWeakSecret and ErrInvalid", err)
			}
		})
	}
}

func TestCheckSecretsOfGoValues(t *testing.T) {
	c := &Config{Proxy: &Proxy{Authenticate: &Authenticate{Bearer: &Bearer{Token: "short"}}}}
	err := c.CheckSecrets()
	if err == nil || err.Error() != `sseProxy.authenticate.bearer.token: is 5 bytes long, shorter than the 16 a secret needs; serve refuses it (read it from a variable: write "${MCP_PROXY_TOKEN}" here and export MCP_PROXY_TOKEN=$(openssl rand -hex 32))` {
		t.Errorf("CheckSecrets = %v", err)
	}
}

// An unset token variable is a parse error whose hint asks for a secret,
// never for a default.
func TestUnsetSecret(t *testing.T) {
	_, err := ParseWithOptions([]byte(`{"mcpServers": {"s": {"command": "x"}},
"sseProxy": {"authenticate": {"bearer": {"token": "${MCP_PROXY_TOKEN}"}}}}`),
		"s.json", Options{LookupEnv: testEnv})
	want := `s.json:2:52: sseProxy.authenticate.bearer.token: ${MCP_PROXY_TOKEN} is not set; set it to a random secret of 16 or more bytes, e.g. export MCP_PROXY_TOKEN=$(openssl rand -hex 32)`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestOrigin(t *testing.T) {
	c, err := ParseWithOptions([]byte(`{"mcpServers": {
  "a.b": {"command": "${CMD:-node}", "args": ["${NOPE:-${HOME}}/x", "plain"], "cwd": "w"},
  "off": {"command": "${UNSET}", "disabled": true}
}}`), "o.json", Options{LookupEnv: testEnv})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path      string
		line, col int
		vars      []string
	}{
		{Path("mcpServers", "a.b", "command"), 2, 22, []string{"CMD"}},
		{Path("mcpServers", "a.b", "args") + "[0]", 2, 47, []string{"NOPE", "HOME"}},
		{Path("mcpServers", "a.b", "args") + "[1]", 2, 69, nil},
		{Path("mcpServers", "off", "command"), 3, 22, nil}, // disabled: not expanded
		{"mcpServers.nope", 0, 0, nil},
	} {
		line, col := c.Position(tc.path)
		if line != tc.line || col != tc.col {
			t.Errorf("Position(%s) = %d:%d, want %d:%d", tc.path, line, col, tc.line, tc.col)
		}
		if got := c.Vars(tc.path); strings.Join(got, ",") != strings.Join(tc.vars, ",") {
			t.Errorf("Vars(%s) = %v, want %v", tc.path, got, tc.vars)
		}
	}
	if p := Path("mcpServers", "a.b", "cwd"); p != `mcpServers["a.b"].cwd` {
		t.Errorf("Path = %s", p)
	}
	// The origin survives WithDefaults; a Config built in Go has none.
	if line, _ := c.WithDefaults().Position(Path("mcpServers", "a.b", "cwd")); line != 2 {
		t.Errorf("WithDefaults lost the positions: line %d", line)
	}
	if line, _ := (&Config{}).Position("mcpServers"); line != 0 {
		t.Errorf("Go config has position line %d", line)
	}
	if got := c.Problem(Path("mcpServers", "a.b", "cwd"), "is missing", "create it").String(); got != `2:86: mcpServers["a.b"].cwd: is missing (create it)` {
		t.Errorf("Problem = %s", got)
	}
}
