package limits

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
)

// Rule is one configured limit, as it appears in the config's
// "limits.rules" array. A rule applies to a request when every filter it
// sets matches; it then takes from its rate (a token bucket) and its quota
// (a window), counted separately for each combination of the values named
// by Per.
type Rule struct {
	// Name identifies the rule in errors, logs and counter keys (default
	// "rule N", N counting from 1). Renaming a rule starts its counters anew.
	Name string `json:"name,omitempty"`
	// Per lists what the rule counts separately: "token" (the static bearer
	// token's name), "subject", "client" (OAuth client id), "claim:NAME"
	// (a claim's value, such as claim:tenant), "server", "method" and
	// "tool". Empty means one counter shared by every request the rule
	// applies to. A request without a value (an anonymous caller, a token
	// without the claim) shares the counter of all such requests.
	Per []string `json:"per,omitempty"`
	// Servers, Methods and Tools are glob patterns (path.Match syntax:
	// *, ?, [a-z]) on the server name, the JSON-RPC method and the tool
	// name. Empty means any. Setting Tools restricts the rule to
	// tools/call.
	Servers []string `json:"servers,omitempty"`
	Methods []string `json:"methods,omitempty"`
	Tools   []string `json:"tools,omitempty"`
	// Rate is a token bucket's rate, "COUNT/UNIT" (see ParseRate).
	Rate string `json:"rate,omitempty"`
	// Burst is the bucket's capacity (default: the rate's count).
	Burst int64 `json:"burst,omitempty"`
	// Quota is a fixed-window quota, "COUNT/UNIT" or "COUNT/month" (see
	// ParseQuota).
	Quota string `json:"quota,omitempty"`
}

// Request is what the rules look at: who is calling and what.
type Request struct {
	// Token is the name of the static bearer token used, if any.
	Token string
	// Subject is the verified identity's subject, if any.
	Subject string
	// ClientID is the OAuth client id, if any.
	ClientID string
	// Claims are the verified token's claims, if any.
	Claims map[string]any
	// Server is the target server's name ("" for the aggregate endpoint).
	Server string
	// Method is the JSON-RPC method.
	Method string
	// Tool is the tool's name for tools/call.
	Tool string
}

// Match is one limit that applies to a request: take Limit under Key.
type Match struct {
	Rule  string
	Key   string
	Limit Limit
}

// compiled is a validated Rule.
type compiled struct {
	name    string
	per     []string
	servers []string
	methods []string
	tools   []string
	limits  []Limit
}

var dimensions = []string{"token", "subject", "client", "server", "method", "tool"}

func compile(i int, r Rule) (compiled, error) {
	c := compiled{name: r.Name, servers: r.Servers, methods: r.Methods, tools: r.Tools}
	if c.name == "" {
		c.name = fmt.Sprintf("rule %d", i+1)
	}
	where := fmt.Sprintf("limits.rules[%d] (%q)", i, c.name)
	for _, p := range r.Per {
		p = strings.TrimSpace(p)
		name, isClaim := strings.CutPrefix(p, "claim:")
		switch {
		case isClaim && name == "":
			return c, fmt.Errorf("%s: per %q names no claim (write claim:tenant)", where, p)
		case !isClaim && !slices.Contains(dimensions, p):
			return c, fmt.Errorf("%s: per %q is not one of %s or claim:NAME", where, p, strings.Join(dimensions, ", "))
		case slices.Contains(c.per, p):
			return c, fmt.Errorf("%s: per %q is listed twice", where, p)
		}
		c.per = append(c.per, p)
	}
	for field, globs := range map[string][]string{"servers": r.Servers, "methods": r.Methods, "tools": r.Tools} {
		for _, g := range globs {
			if _, err := path.Match(g, ""); err != nil || g == "" {
				return c, fmt.Errorf("%s: %s pattern %q is not a valid glob (use *, ? and [a-z])", where, field, g)
			}
		}
	}
	if r.Rate == "" && r.Quota == "" {
		return c, fmt.Errorf("%s: sets neither rate (like \"10/s\") nor quota (like \"1000/month\")", where)
	}
	if r.Rate != "" {
		count, per, err := ParseRate(r.Rate)
		if err != nil {
			return c, fmt.Errorf("%s: %w", where, err)
		}
		l := TokenBucket(count, per, r.Burst)
		if err := l.Validate(); err != nil {
			return c, fmt.Errorf("%s: rate %q: %w", where, r.Rate, err)
		}
		c.limits = append(c.limits, l)
	} else if r.Burst != 0 {
		return c, fmt.Errorf("%s: burst is set without a rate", where)
	}
	if r.Quota != "" {
		l, err := ParseQuota(r.Quota)
		if err != nil {
			return c, fmt.Errorf("%s: %w", where, err)
		}
		c.limits = append(c.limits, l)
	}
	return c, nil
}

func matchAny(globs []string, s string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

func (c *compiled) applies(r Request) bool {
	if len(c.tools) > 0 && (r.Method != "tools/call" || !matchAny(c.tools, r.Tool)) {
		return false
	}
	return matchAny(c.servers, r.Server) && matchAny(c.methods, r.Method)
}

// key names the rule and the request's value of each Per dimension. Values
// are escaped so that no value can forge another's key, and long values are
// hashed to keep keys short.
func (c *compiled) key(r Request) string {
	var b strings.Builder
	b.WriteString(url.QueryEscape(c.name))
	for _, p := range c.per {
		b.WriteByte('|')
		b.WriteString(p)
		b.WriteByte('=')
		b.WriteString(keyPart(value(p, r)))
	}
	return b.String()
}

func value(p string, r Request) string {
	switch p {
	case "token":
		return r.Token
	case "subject":
		return r.Subject
	case "client":
		return r.ClientID
	case "server":
		return r.Server
	case "method":
		return r.Method
	case "tool":
		return r.Tool
	}
	name := strings.TrimPrefix(p, "claim:")
	v, ok := r.Claims[name]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

const maxKeyPart = 96

func keyPart(v string) string {
	e := url.QueryEscape(v)
	if len(e) <= maxKeyPart {
		return e
	}
	sum := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(sum[:])
}
