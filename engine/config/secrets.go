package config

import (
	"fmt"
	"strings"
)

// MinSecretBytes is the length below which [Config.CheckSecrets] calls a
// bearer token too short to guard a server.
const MinSecretBytes = 16

// ErrWeakSecret is the Kind of the [*Error] that [Config.CheckSecrets]
// returns. It wraps ErrInvalid, so errors.Is(err, ErrInvalid) holds too.
var ErrWeakSecret = fmt.Errorf("%w: weak secret", ErrInvalid)

// placeholders are tokens copied from documentation and examples: each is
// public, so none may guard a server. Compared without regard to case.
var placeholders = []string{
	"your-secure-token-here", "your-secure-token", "your-secret-token-here", "your-secret-token",
	"your-token-here", "your-token", "your-secret-here", "your-secret", "your-api-key-here",
	"changeme", "change-me", "change_me", "replace-me", "replace_me", "replaceme",
	"secret", "password", "token", "placeholder", "example", "admin-secret", "ci-secret",
	"test", "test-token", "dev-token", "mytoken", "my-token", "<token>", "<your-token>",
}

// placeholderParts mark a token as a placeholder wherever they appear in it
// ("please-change-me-now", "REPLACE_WITH_YOUR_TOKEN").
var placeholderParts = []string{
	"your-secure", "your_secure", "yoursecure", "changeme", "change-me", "change_me",
	"replace-me", "replace_me", "replaceme", "replace-with", "replace_with", "placeholder",
	"token-here", "token_here", "secret-here", "secret_here",
}

// CheckSecrets reports every bearer token (and OAuth HMAC secret) of the
// proxy that must not guard a server: an empty one, one shorter than MinSecretBytes, and a
// placeholder from documentation such as "your-secure-token-here" or
// "changeme" (or one character repeated). Each problem names the variable
// to set: the one the token was expanded from (see [Config.Vars]), else a
// name to read it from. It returns nil when there is no such token (or no
// proxy), else an [*Error] of Kind ErrWeakSecret.
//
// Parse does not apply this rule, since commands that do not serve never
// send the tokens; `mcpscript serve` and `mcpscript check` do.
func (c *Config) CheckSecrets() error {
	if c == nil || c.Proxy == nil || c.Proxy.Authenticate == nil {
		return nil
	}
	const at = "sseProxy.authenticate.bearer"
	b := c.Proxy.Authenticate.Bearer
	o := c.Proxy.Authenticate.OAuth
	col := newCollector(nil)
	check := func(path, token, suggested string) {
		msg := weakness(token)
		if msg == "" {
			return
		}
		hint := ""
		if vars := c.Vars(path); len(vars) > 0 {
			hint = fmt.Sprintf("set %s to a random secret, e.g. export %s=$(openssl rand -hex 32)", vars[0], vars[0])
		} else {
			hint = fmt.Sprintf(`read it from a variable: write "${%s}" here and export %s=$(openssl rand -hex 32)`, suggested, suggested)
		}
		col.problems = append(col.problems, c.Problem(path, msg+"; serve refuses it", hint))
	}
	if b != nil && (b.Token != "" || len(b.Tokens) == 0) {
		check(at+".token", b.Token, "MCP_PROXY_TOKEN")
	}
	if b != nil {
		for i, t := range b.Tokens {
			check(child(index(at+".tokens", i), "token"), t.Token, envName(t.Name)+"_TOKEN")
		}
	}
	if o != nil && o.HMACSecret != "" {
		check("sseProxy.authenticate.oauth.hmacSecret", o.HMACSecret, "OAUTH_HMAC_SECRET")
	}
	return col.err(c.Source, ErrWeakSecret)
}

// weakness says what is wrong with token as a secret, or "" if nothing is.
func weakness(token string) string {
	lower := strings.ToLower(strings.TrimSpace(token))
	switch {
	case lower == "":
		return "is empty"
	case isPlaceholder(lower):
		return fmt.Sprintf("%q is a placeholder, not a secret", token)
	case len(token) < MinSecretBytes:
		return fmt.Sprintf("is %d bytes long, shorter than the %d a secret needs", len(token), MinSecretBytes)
	}
	return ""
}

func isPlaceholder(lower string) bool {
	for _, p := range placeholders {
		if lower == p {
			return true
		}
	}
	for _, p := range placeholderParts {
		if strings.Contains(lower, p) {
			return true
		}
	}
	return strings.Count(lower, lower[:1]) == len(lower) // "xxxxxxxxxxxxxxxx"
}

// envName turns a token name such as "ci" or "web.app" into a variable
// name stem, "CI" or "WEB_APP".
func envName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(name) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	switch {
	case s == "":
		return "MCP_PROXY"
	case s[0] >= '0' && s[0] <= '9':
		return "MCP_" + s
	}
	return s
}
