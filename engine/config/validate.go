package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/textproto"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file holds the rules every Config must follow, whether it was
// parsed (problems then get a line and column) or built in Go. Zero values
// stand for defaults and are accepted.

// validate checks c, recording problems in r.
func validate(c *Config, r *collector) {
	if c == nil {
		r.add("", "the config is nil", "")
		return
	}
	if len(c.Servers) == 0 {
		r.add(c.ServersKey(), "must define at least one server",
			`e.g. "`+c.ServersKey()+`": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]}}`)
	}
	names := c.ServerNames()
	for _, name := range names {
		p := child(c.ServersKey(), name)
		if msg, hint := checkServerName(name); msg != "" {
			r.addKey(p, msg, hint)
		}
		s := c.Servers[name]
		if s == nil {
			r.add(p, "the server is nil", "")
			continue
		}
		validateServer(s, p, r)
	}
	if c.Proxy != nil {
		validateProxy(c.Proxy, names, r)
	}
	if c.Scripts != nil {
		validateScripts(c.Scripts, r)
	}
	validateFilters(c.Filters, r)
	validateIdentity(c, r)
	if c.Audit != nil {
		validateAudit(c.Audit, r)
	}
}

func validateServer(s *Server, path string, r *collector) {
	switch {
	case s.URL != "" && s.Command != "":
		r.addKey(child(path, "url"), `a server has either "command" (a program to start) or "url" (a remote server), not both`,
			"remove one of them")
	case s.URL != "":
		validateRemote(s, path, r)
	case strings.TrimSpace(s.Command) == "":
		r.add(child(path, "command"), "must not be empty", `the program to start, e.g. "npx"; or "url" for a remote server`)
	}
	if s.URL == "" {
		if s.Type != "" && s.Type != TypeStdio {
			r.add(child(path, "type"), fmt.Sprintf("a %q server needs a \"url\"", s.Type), `add the endpoint, e.g. "url": "https://example.com/mcp", or remove "type" for a command`)
		}
		if s.Headers != nil {
			r.addKey(child(path, "headers"), "only applies to remote servers (with a \"url\")", "")
		}
		if s.OAuth != nil {
			r.addKey(child(path, "oauth"), "only applies to remote servers (with a \"url\")", "")
		}
	}
	if s.Tools != nil {
		validateTools(s.Tools, child(path, "tools"), r)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		p := child(child(path, "env"), k)
		switch {
		case k == "":
			r.addKey(p, "the variable name is empty", "")
		case strings.ContainsAny(k, "=\x00"):
			r.addKey(p, fmt.Sprintf("invalid variable name %q: it must not contain '=' or NUL", k), "")
		}
	}

	rp := child(path, "restart")
	if s.Restart.Policy != "" {
		if msg, hint := checkPolicy(s.Restart.Policy); msg != "" {
			r.add(child(rp, "policy"), msg, hint)
		}
	}
	if m := s.Restart.MaxRetries; m != nil && *m < 0 {
		r.add(child(rp, "maxRetries"), fmt.Sprintf("must not be negative, found %d", *m), "0 means no restarts")
	}
	for _, d := range []struct {
		key string
		d   Duration
	}{
		{"restart.minUptime", s.Restart.MinUptime},
		{"restart.backoff", s.Restart.Backoff},
		{"restart.maxBackoff", s.Restart.MaxBackoff},
		{"startTimeout", s.StartTimeout},
		{"requestTimeout", s.RequestTimeout},
		{"stopTimeout", s.StopTimeout},
		{"sessionIdleTimeout", s.SessionIdleTimeout},
	} {
		if d.d.Duration < 0 {
			r.add(path+"."+d.key, fmt.Sprintf("must not be negative, found %q", d.d.String()), "")
		}
	}
	backoff := orDefault(s.Restart.Backoff.Duration, DefaultBackoff)
	maxBackoff := orDefault(s.Restart.MaxBackoff.Duration, DefaultMaxBackoff)
	if backoff > 0 && maxBackoff > 0 && backoff > maxBackoff {
		at := child(rp, "backoff")
		if s.Restart.Backoff.Duration == 0 {
			at = child(rp, "maxBackoff")
		}
		r.add(at, fmt.Sprintf("backoff (%v) must not be greater than maxBackoff (%v)", backoff, maxBackoff), "")
	}

	if s.MaxFrameBytes != 0 && s.MaxFrameBytes < MinMaxFrameBytes {
		r.add(child(path, "maxFrameBytes"), fmt.Sprintf("must be at least %d, found %d", MinMaxFrameBytes, s.MaxFrameBytes),
			fmt.Sprintf("leave the key out for the default, %d = 16 MiB", DefaultMaxFrameBytes))
	}
	if s.ChildModel != "" {
		if msg, hint := checkChildModel(s.ChildModel); msg != "" {
			r.add(child(path, "childModel"), msg, hint)
		}
	}
	if s.Protocol != "" {
		if msg, hint := checkProtocol(s.Protocol); msg != "" {
			r.add(child(path, "protocol"), msg, hint)
		}
	}
	if s.MaxSessions < 0 {
		r.add(child(path, "maxSessions"), fmt.Sprintf("must be at least 1, found %d", s.MaxSessions),
			fmt.Sprintf("leave the key out for the default, %d", DefaultMaxSessions))
	}
	if !s.PerSession() {
		hint := `set "childModel": "per-session", or remove the key`
		if s.SessionIdleTimeout.Duration != 0 {
			r.add(child(path, "sessionIdleTimeout"), "only applies to per-session servers", hint)
		}
		if s.MaxSessions != 0 {
			r.add(child(path, "maxSessions"), "only applies to per-session servers", hint)
		}
	}
	for i, root := range s.Roots {
		if msg, hint := checkRootURI(root.URI); msg != "" {
			r.add(child(index(child(path, "roots"), i), "uri"), msg, hint)
		}
	}
}

// reservedHeaders are set by the HTTP transports themselves.
var reservedHeaders = []string{
	"Accept", "Content-Type", "Content-Length", "Host", "Last-Event-Id",
	"Mcp-Session-Id", "Mcp-Protocol-Version", "Mcp-Method", "Mcp-Name",
}

// validateRemote checks what only a remote server has, and that it has
// nothing that only a program has.
func validateRemote(s *Server, path string, r *collector) {
	up := child(path, "url")
	if msg, hint := checkURL(s.URL); msg != "" {
		r.add(up, msg, hint)
	}
	switch s.Type {
	case "", TypeHTTP, TypeSSE:
	case TypeStdio:
		r.add(child(path, "type"), `a "stdio" server is started from a "command", not reached at a "url"`,
			`use "http" (Streamable HTTP) or "sse" (legacy HTTP+SSE), or leave "type" out to detect it`)
	default:
		r.add(child(path, "type"), fmt.Sprintf("unknown server type %q: expected %s", s.Type, quoteList([]string{TypeStdio, TypeHTTP, TypeSSE})), "")
	}
	for _, key := range []struct {
		name string
		set  bool
	}{
		{"args", s.Args != nil}, {"env", s.Env != nil}, {"cwd", s.Cwd != ""}, {"envFile", s.EnvFile != ""},
		{"stopTimeout", s.StopTimeout.Duration != 0},
	} {
		if key.set {
			r.addKey(child(path, key.name), `only applies to servers started from a "command", not to a remote "url"`,
				"remove it; a remote server's settings are its url, type, headers and oauth")
		}
	}
	hp := child(path, "headers")
	for _, k := range slices.Sorted(maps.Keys(s.Headers)) {
		p := child(hp, k)
		canon := textproto.CanonicalMIMEHeaderKey(k)
		switch {
		case !validHeaderName(k):
			r.addKey(p, fmt.Sprintf("invalid header name %q", k), "use letters, digits and -")
		case slices.Contains(reservedHeaders, canon):
			r.addKey(p, fmt.Sprintf("the header %q is set by the transport itself", k), "remove it")
		case canon == "Authorization" && s.OAuth != nil:
			r.addKey(p, `both an Authorization header and "oauth" are configured`, "keep one of them")
		case strings.ContainsAny(s.Headers[k], "\r\n\x00"):
			// The value itself stays out of the message: it may be a secret.
			r.add(p, "the value contains a line break or NUL", "")
		}
	}
	if o := s.OAuth; o != nil {
		op := child(path, "oauth")
		if msg, hint := checkURL(o.TokenURL); o.TokenURL == "" || msg != "" {
			if o.TokenURL == "" {
				msg, hint = "must not be empty", `the token endpoint, e.g. "https://auth.example.com/oauth/token"`
			}
			r.add(child(op, "tokenUrl"), msg, hint)
		}
		if strings.TrimSpace(o.ClientID) == "" {
			r.add(child(op, "clientId"), "must not be empty", `e.g. "clientId": "${MCP_CLIENT_ID}"`)
		}
	}
}

// checkURL returns a message and hint when u is not an http(s) URL with a
// host.
func checkURL(u string) (msg, hint string) {
	if strings.TrimSpace(u) == "" {
		return "must not be empty", `the server's MCP endpoint, e.g. "https://example.com/mcp"`
	}
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return "invalid URL", `e.g. "https://example.com/mcp"`
	case p.Scheme == "" && !strings.Contains(u, "://"):
		return fmt.Sprintf("the URL %q has no scheme", redactedURL(p)), fmt.Sprintf("did you mean %q?", "https://"+u)
	case p.Scheme != "http" && p.Scheme != "https":
		return fmt.Sprintf("the URL's scheme must be http or https, not %q", p.Scheme), ""
	case p.Host == "":
		return "the URL has no host", `e.g. "https://example.com/mcp"`
	}
	return "", ""
}

// redactedURL renders u without user info or query values, which may hold
// credentials.
func redactedURL(u *url.URL) string {
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		c.RawQuery = "..."
	}
	return c.String()
}

// validHeaderName reports whether s is an HTTP header name (an RFC 9110 token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !isAlnum(c) && strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0 {
			return false
		}
	}
	return true
}

// validateTools checks a server's tool curation: patterns, names, pins, and
// overrides that could never apply.
func validateTools(t *Tools, path string, r *collector) {
	if t.Include != nil && len(t.Include) == 0 {
		r.add(child(path, "include"), "is empty, so every tool would be hidden",
			`list the tools to show, or leave "include" out to show them all`)
	}
	for _, list := range []struct {
		key      string
		patterns []string
	}{{"include", t.Include}, {"exclude", t.Exclude}} {
		for i, g := range list.patterns {
			at := index(child(path, list.key), i)
			switch {
			case strings.TrimSpace(g) == "":
				r.add(at, "must not be empty", `a tool name or a glob such as "read_*"`)
			case slices.Index(list.patterns, g) < i:
				r.add(at, fmt.Sprintf("%q is listed twice", g), "")
			}
		}
	}
	op := child(path, "override")
	targets := map[string]string{} // new name -> the tool renamed to it
	for _, name := range slices.Sorted(maps.Keys(t.Override)) {
		o := t.Override[name]
		at := child(op, name)
		if o == nil {
			r.add(at, "the override is nil", "")
			continue
		}
		if !t.Visible(name) {
			r.addKey(at, fmt.Sprintf("the tool %q is hidden by include/exclude, so this override never applies", name),
				"remove the override, or show the tool")
		}
		if o.Name != "" {
			np := child(at, "name")
			switch {
			case !validToolName(o.Name):
				r.add(np, fmt.Sprintf("invalid tool name %q: use 1-128 letters, digits, '_', '-' and '.'", o.Name), "")
			case targets[o.Name] != "":
				r.add(np, fmt.Sprintf("the tools %q and %q are both renamed to %q", targets[o.Name], name, o.Name), "give each its own name")
			}
			if other, ok := t.Override[o.Name]; ok && o.Name != name && (other == nil || other.Name == "") && t.Visible(o.Name) {
				r.add(np, fmt.Sprintf("%q is the name of another tool the server shows", o.Name),
					fmt.Sprintf("rename %q too, or hide it", o.Name))
			}
			targets[o.Name] = name
		}
		if o.Pin != "" {
			if msg, hint := checkPin(o.Pin); msg != "" {
				r.add(child(at, "pin"), msg, hint)
			}
		}
	}
}

// checkPin returns a message and hint when pin is not "sha256:" and 64 hex
// digits.
func checkPin(pin string) (msg, hint string) {
	hexPart, ok := strings.CutPrefix(pin, PinPrefix)
	if ok && len(hexPart) == 64 && strings.Trim(strings.ToLower(hexPart), "0123456789abcdef") == "" {
		return "", ""
	}
	return fmt.Sprintf("invalid pin %q: expected %q and 64 hex digits", pin, PinPrefix),
		"print the current pins with: mcpscript tools --pins"
}

// validToolName reports whether s is a tool name as MCP recommends them:
// 1-128 ASCII letters, digits, '_', '-' and '.'.
func validToolName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.' {
			return false
		}
	}
	return true
}

func validateProxy(p *Proxy, servers []string, r *collector) {
	if p.Address != "" {
		if msg, hint := checkAddress(p.Address); msg != "" {
			r.add("sseProxy.address", msg, hint)
		}
	}
	if p.Port < 0 || p.Port > 65535 {
		r.add("sseProxy.port", fmt.Sprintf("must be between 1 and 65535, found %d", p.Port), "or 0 for any free port")
	}
	if p.Workers < 0 {
		r.add("sseProxy.workers", fmt.Sprintf("must be at least 1, found %d", p.Workers), "")
	}
	if p.AllowedServers != nil && len(p.AllowedServers) == 0 {
		r.add("sseProxy.allowedServers", "is empty, so no server could be reached",
			`list the servers to expose, or leave "allowedServers" out to expose them all`)
	}
	for i, name := range p.AllowedServers {
		at := index("sseProxy.allowedServers", i)
		switch {
		case slices.Index(p.AllowedServers, name) < i:
			r.add(at, fmt.Sprintf("%q is listed twice", name), "")
		case !slices.Contains(servers, name):
			hint := didYouMean(name, servers)
			if hint == "" && len(servers) > 0 {
				hint = "configured servers: " + strings.Join(servers, ", ")
			}
			r.add(at, fmt.Sprintf("unknown server %q", name), hint)
		}
	}
	if a := p.Authenticate; a != nil {
		if a.Bearer == nil && a.OAuth == nil {
			r.add("sseProxy.authenticate", `missing "bearer" or "oauth"`,
				`e.g. "authenticate": {"bearer": {"token": "${MCP_PROXY_TOKEN}"}}, or leave "authenticate" out`)
		}
		if a.Bearer != nil {
			validateBearer(a.Bearer, p.AllowedServers, servers, r)
		}
		if a.OAuth != nil {
			validateOAuthResource(a.OAuth, r)
		}
	}
	if c := p.CORS; c != nil {
		validateCORS(c, r)
	}
	if p.AllowedHosts != nil && len(p.AllowedHosts) == 0 {
		r.add("sseProxy.allowedHosts", "is empty",
			`list host names such as "mcp.example.com", or leave "allowedHosts" out`)
	}
	for i, h := range p.AllowedHosts {
		at := index("sseProxy.allowedHosts", i)
		if slices.Index(p.AllowedHosts, h) < i {
			r.add(at, fmt.Sprintf("%q is listed twice", h), "")
		} else if msg, hint := checkAllowedHost(h); msg != "" {
			r.add(at, msg, hint)
		}
	}
	if p.MaxBodyBytes != 0 && p.MaxBodyBytes < MinMaxBodyBytes {
		r.add("sseProxy.maxBodyBytes", fmt.Sprintf("must be at least %d, found %d", MinMaxBodyBytes, p.MaxBodyBytes),
			fmt.Sprintf("leave the key out for the default, %d = 4 MiB", DefaultMaxBodyBytes))
	}
	if ss := p.Sessions; ss != nil {
		validateSessions(ss, r)
	}
	checkTimeout(p.DrainTimeout, "sseProxy.drainTimeout", r)
	checkTimeout(p.ListWait, "sseProxy.listWait", r)
}

// validateSessions checks the session limits; zero stands for a default.
func validateSessions(ss *Sessions, r *collector) {
	const at = "sseProxy.sessions"
	if ss.MaxPerCaller < 0 {
		r.add(at+".maxPerCaller", fmt.Sprintf("must be at least 1, found %d", ss.MaxPerCaller),
			fmt.Sprintf("leave the key out for the default, %d", DefaultMaxSessionsPerCaller))
	}
	if ss.MaxTotal < 0 {
		r.add(at+".maxTotal", fmt.Sprintf("must be at least 1, found %d", ss.MaxTotal),
			fmt.Sprintf("leave the key out for the default, %d", DefaultMaxSessionsTotal))
	}
	total := ss.MaxTotal
	if total == 0 {
		total = DefaultMaxSessionsTotal
	}
	if ss.MaxPerCaller > total {
		r.add(at+".maxPerCaller", fmt.Sprintf("is %d, more than the %d sessions allowed in all (maxTotal)", ss.MaxPerCaller, total),
			"raise maxTotal or lower maxPerCaller")
	}
	checkTimeout(ss.IdleTimeout, at+".idleTimeout", r)
}

// validateBearer checks the bearer tokens: secrets set and distinct, names
// valid and unique, server limits naming servers the proxy exposes.
func validateBearer(b *Bearer, allowed, servers []string, r *collector) {
	const at = "sseProxy.authenticate.bearer"
	if strings.TrimSpace(b.Token) == "" && (b.Token != "" || len(b.Tokens) == 0) {
		r.add(at+".token", "must not be empty", `read the secret from a variable, e.g. "token": "${MCP_PROXY_TOKEN}"`)
	}
	if b.Tokens != nil && len(b.Tokens) == 0 {
		r.add(at+".tokens", "is empty",
			`add tokens such as {"name": "ci", "token": "${CI_TOKEN}"}, or leave "tokens" out`)
	}
	for i, t := range b.Tokens {
		tp := index(at+".tokens", i)
		switch {
		case t.Name == "":
			r.add(child(tp, "name"), "must not be empty", `e.g. "name": "ci"`)
		case !validServerName(t.Name):
			r.add(child(tp, "name"), fmt.Sprintf("invalid token name %q: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit", t.Name), "")
		case t.Name == DefaultTokenName && b.Token != "":
			r.add(child(tp, "name"), fmt.Sprintf("the name %q is taken by \"token\"", t.Name), "choose another name")
		case slices.IndexFunc(b.Tokens, func(o Token) bool { return o.Name == t.Name }) < i:
			r.add(child(tp, "name"), fmt.Sprintf("the name %q is used twice", t.Name), "token names must be unique")
		}
		switch {
		case strings.TrimSpace(t.Token) == "":
			r.add(child(tp, "token"), "must not be empty", `read the secret from a variable, e.g. "token": "${CI_TOKEN}"`)
		case t.Token == b.Token:
			r.add(child(tp, "token"), `has the same secret as "token"`, "every token needs its own secret")
		default:
			if j := slices.IndexFunc(b.Tokens, func(o Token) bool { return o.Token == t.Token }); j < i {
				r.add(child(tp, "token"), fmt.Sprintf("has the same secret as tokens[%d]", j), "every token needs its own secret")
			}
		}
		sp := child(tp, "servers")
		if t.Servers != nil && len(t.Servers) == 0 {
			r.add(sp, "is empty, so the token could reach no server",
				`list the servers the token may use, or leave "servers" out for all`)
		}
		for k, name := range t.Servers {
			switch {
			case slices.Index(t.Servers, name) < k:
				r.add(index(sp, k), fmt.Sprintf("%q is listed twice", name), "")
			case !slices.Contains(servers, name):
				hint := didYouMean(name, servers)
				if hint == "" && len(servers) > 0 {
					hint = "configured servers: " + strings.Join(servers, ", ")
				}
				r.add(index(sp, k), fmt.Sprintf("unknown server %q", name), hint)
			case allowed != nil && !slices.Contains(allowed, name):
				r.add(index(sp, k), fmt.Sprintf("server %q is not in sseProxy.allowedServers, so the token could never reach it", name),
					"add it to allowedServers or remove it here")
			}
		}
	}
}

// validateCORS checks the CORS settings.
func validateCORS(c *CORS, r *collector) {
	const at = "sseProxy.cors.allowedOrigins"
	if len(c.AllowedOrigins) == 0 {
		r.add(at, "is empty", `list the origins of the web pages that may call the proxy, e.g. ["http://localhost:5173"], or leave "cors" out`)
	}
	for i, o := range c.AllowedOrigins {
		switch {
		case slices.Index(c.AllowedOrigins, o) < i:
			r.add(index(at, i), fmt.Sprintf("%q is listed twice", o), "")
		case o == "*":
			if c.AllowCredentials {
				r.add("sseProxy.cors.allowCredentials", `cannot be true with the origin "*"`,
					"browsers refuse credentials with a wildcard origin; list the origins instead")
			}
		default:
			if msg, hint := checkOrigin(o); msg != "" {
				r.add(index(at, i), msg, hint)
			}
		}
	}
}

// checkOrigin returns a message and hint when o is not a web origin
// (scheme://host[:port]).
func checkOrigin(o string) (msg, hint string) {
	u, err := url.Parse(o)
	switch {
	case err != nil || u.Opaque != "" || u.Scheme == "" || u.Host == "":
		if !strings.Contains(o, "://") {
			return fmt.Sprintf("invalid origin %q: expected scheme://host[:port]", o), fmt.Sprintf("did you mean %q?", "http://"+o)
		}
		return fmt.Sprintf("invalid origin %q: expected scheme://host[:port]", o), `e.g. "http://localhost:5173"`
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return fmt.Sprintf("invalid origin %q: an origin has no user, query or fragment", o), fmt.Sprintf("did you mean %q?", u.Scheme+"://"+u.Host)
	case u.Path != "":
		return fmt.Sprintf("invalid origin %q: an origin has no path", o), fmt.Sprintf("did you mean %q?", u.Scheme+"://"+u.Host)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("invalid origin %q: bad port %q", o, port), ""
		}
	}
	if h := u.Hostname(); net.ParseIP(h) == nil && !validHostName(h) {
		return fmt.Sprintf("invalid origin %q: bad host %q", o, h), ""
	}
	return "", ""
}

// checkAllowedHost returns a message and hint when h is neither "*" nor a
// host name or IP address with an optional port.
func checkAllowedHost(h string) (msg, hint string) {
	if h == "*" {
		return "", ""
	}
	if u, err := url.Parse(h); err == nil && u.Scheme != "" && u.Host != "" {
		return fmt.Sprintf("invalid host %q: expected a host name or IP address, optionally with :port", h),
			fmt.Sprintf("give the host only, e.g. %q", u.Host)
	}
	host, port := h, ""
	if strings.HasPrefix(h, "[") || strings.Count(h, ":") == 1 {
		var err error
		if host, port, err = net.SplitHostPort(h); err != nil {
			return fmt.Sprintf("invalid host %q: expected a host name or IP address, optionally with :port", h), ""
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("invalid host %q: bad port %q", h, port), ""
		}
	}
	if net.ParseIP(host) != nil || validHostName(host) {
		return "", ""
	}
	return fmt.Sprintf("invalid host %q: expected a host name or IP address, optionally with :port", h), ""
}

// checkServerName returns a message and hint when name is not a valid
// server name.
func checkServerName(name string) (msg, hint string) {
	if validServerName(name) {
		return "", ""
	}
	msg = "invalid server name: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
	// Suggest a cleaned-up name.
	b := []byte(name)
	for i, c := range b {
		if !isNameChar(c) {
			b[i] = '-'
		}
	}
	s := strings.TrimLeft(string(b), "-_.")
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	s = strings.Trim(s[:min(len(s), 64)], "-")
	if s != "" && s != name && validServerName(s) {
		hint = fmt.Sprintf("try %q", s)
	}
	return msg, hint
}

func validServerName(name string) bool {
	if len(name) == 0 || len(name) > 64 || !isAlnum(name[0]) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isNameChar(name[i]) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isNameChar(c byte) bool { return isAlnum(c) || c == '_' || c == '.' || c == '-' }

// checkPolicy returns a message and hint when p is not a restart policy.
func checkPolicy(p string) (msg, hint string) {
	if slices.Contains(restartPolicies, p) {
		return "", ""
	}
	return fmt.Sprintf("unknown restart policy %q: expected %s", p, quoteList(restartPolicies)),
		didYouMean(p, restartPolicies)
}

// checkChildModel returns a message and hint when m is not a child model.
func checkChildModel(m string) (msg, hint string) {
	if slices.Contains(childModels, m) {
		return "", ""
	}
	return fmt.Sprintf("unknown child model %q: expected %s", m, quoteList(childModels)),
		didYouMean(m, childModels)
}

// checkProtocol returns a message and hint when m is not a protocol era.
func checkProtocol(m string) (msg, hint string) {
	if slices.Contains(protocols, m) {
		return "", ""
	}
	return fmt.Sprintf("unknown protocol %q: expected %s", m, quoteList(protocols)),
		didYouMean(m, protocols)
}

// checkRootURI returns a message and hint when uri is not a usable
// file:// URI.
func checkRootURI(uri string) (msg, hint string) {
	if uri == "" {
		return "expected a file:// URI, found an empty string", `e.g. "file:///home/me/project"`
	}
	if isWindowsPath(uri) {
		return fmt.Sprintf("expected a file:// URI, found the path %q", uri),
			fmt.Sprintf("did you mean %q?", "file:///"+strings.ReplaceAll(uri, `\`, "/"))
	}
	u, err := url.Parse(uri)
	switch {
	case err != nil:
		return fmt.Sprintf("invalid URI %q", uri), `use a file:// URI, e.g. "file:///home/me/project"`
	case u.Scheme == "":
		if strings.HasPrefix(uri, "/") {
			return fmt.Sprintf("expected a file:// URI, found the path %q", uri),
				fmt.Sprintf("did you mean %q?", "file://"+uri)
		}
		return fmt.Sprintf("expected a file:// URI, found %q", uri),
			`roots are absolute file:// URIs, e.g. "file:///home/me/project"`
	case !strings.EqualFold(u.Scheme, "file"):
		return fmt.Sprintf("only file:// roots are supported, found %q", uri), ""
	case u.Host != "" && u.Host != "localhost":
		return fmt.Sprintf("the file URI %q names the host %q", uri, u.Host),
			fmt.Sprintf("file URIs have three slashes: did you mean %q?", "file:///"+u.Host+u.Path)
	case u.Path == "" || !strings.HasPrefix(u.Path, "/"):
		return fmt.Sprintf("the file URI %q has no absolute path", uri), `e.g. "file:///home/me/project"`
	}
	return "", ""
}

func isWindowsPath(s string) bool {
	return len(s) >= 3 && (s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') &&
		s[1] == ':' && (s[2] == '\\' || s[2] == '/')
}

// checkAddress returns a message and hint when addr is neither an IP
// address nor a host name.
func checkAddress(addr string) (msg, hint string) {
	if net.ParseIP(addr) != nil || validHostName(addr) {
		return "", ""
	}
	msg = fmt.Sprintf("invalid address %q: expected an IP address or host name", addr)
	if u, err := url.Parse(addr); err == nil && u.Scheme != "" && u.Host != "" {
		return msg, fmt.Sprintf("give the host only, e.g. %q", u.Hostname())
	}
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if _, err := strconv.Atoi(port); err == nil {
			return msg, fmt.Sprintf(`put the port in "port": "address": %q, "port": %s`, host, port)
		}
	}
	if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		return msg, fmt.Sprintf("write IPv6 addresses without brackets: %q", addr[1:len(addr)-1])
	}
	return msg, ""
}

// validHostName reports whether s is a DNS host name: dot-separated labels
// of letters, digits and '-', not starting or ending with '-'.
func validHostName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if !isAlnum(label[i]) && label[i] != '-' {
				return false
			}
		}
	}
	return true
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// hookExtensions are the file extensions of hook scripts.
var hookExtensions = []string{".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"}

// failModes lists the accepted onError values.
var failModes = []string{FailClosed, FailOpen}

// filterHooks lists the phases a filter may handle, the names of
// scripting.Phases (which this package cannot import).
var filterHooks = []string{"toolCall", "toolResult", "listTools", "listPrompts",
	"listResources", "listResourceTemplates", "request", "response"}

const filterConfigHint = `e.g. "config": {"folder": "/srv/data"}`

// validateScripts checks the "scripts" section. Files are not looked up:
// whether they exist is for the loaders to say.
func validateScripts(s *Scripts, r *collector) {
	for i, h := range s.Hooks {
		p := index("scripts.hooks", i)
		if h == nil {
			r.add(p, "the hook is nil", "")
			continue
		}
		if msg, hint := checkHookPath(h.Path); msg != "" {
			r.add(child(p, "path"), msg, hint)
		}
		checkTimeout(h.Timeout, child(p, "timeout"), r)
		checkFailMode(h.OnError, child(p, "onError"), r)
	}
	checkTimeout(s.Timeout, "scripts.timeout", r)
	checkFailMode(s.OnError, "scripts.onError", r)
	for i, name := range s.Env {
		at := index("scripts.env", i)
		switch {
		case !isVarName(name):
			r.add(at, fmt.Sprintf("invalid variable name %q: use letters, digits and _, not starting with a digit", name), "")
		case slices.Index(s.Env, name) < i:
			r.add(at, fmt.Sprintf("%q is listed twice", name), "")
		}
	}
	checkSet(s.Pool, "scripts.pool", checkPool, r)
	checkSet(s.MaxCallStackSize, "scripts.maxCallStackSize", checkMaxCallStackSize, r)
	if s.Isolation != "" && !slices.Contains(isolations, s.Isolation) {
		hint := didYouMean(s.Isolation, isolations)
		if hint == "" {
			hint = `"process" runs hooks in memory-capped host processes, "none" inside mcpscript, "auto" the first when it can`
		}
		r.add("scripts.isolation", fmt.Sprintf("unknown isolation %q: expected %s", s.Isolation, quoteList(isolations)), hint)
	}
	checkSet(s.MemoryLimitMiB, "scripts.memoryLimitMiB", checkHookMemoryLimit, r)
}

// isolations lists the accepted scripts.isolation values.
var isolations = []string{IsolationAuto, IsolationProcess, IsolationNone}

// checkHookMemoryLimit returns a message and hint when n MiB is out of
// the range of hook host memory limits.
func checkHookMemoryLimit(n int) (msg, hint string) {
	if n >= MinHookMemoryMiB && n <= MaxHookMemoryMiB {
		return "", ""
	}
	return fmt.Sprintf("must be between %d and %d, found %d", MinHookMemoryMiB, MaxHookMemoryMiB, n),
		fmt.Sprintf("the limit is in MiB; leave the key out for the default, %d", DefaultHookMemoryMiB)
}

// validateFilters checks the "filters" section, including that no two
// filters end up with the same name.
func validateFilters(fs []*Filter, r *collector) {
	first := map[string]int{} // filter name -> index of the first filter with it
	for i, f := range fs {
		p := index("filters", i)
		if f == nil {
			r.add(p, "the filter is nil", "")
			continue
		}
		if msg, hint := checkWasmPath(f.Wasm); msg != "" {
			r.add(child(p, "wasm"), msg, hint)
		}
		if len(f.Config) > 0 {
			if raw := bytes.TrimLeft(f.Config, " \t\r\n"); !json.Valid(f.Config) || raw[0] != '{' {
				r.add(child(p, "config"), "must be a JSON object", filterConfigHint)
			}
		}
		hp := child(p, "hooks")
		if f.Hooks != nil && len(f.Hooks) == 0 {
			r.add(hp, "is empty",
				`list the hooks the filter handles, or leave "hooks" out for every hook`)
		}
		for k, h := range f.Hooks {
			switch {
			case !slices.Contains(filterHooks, h):
				r.add(index(hp, k), fmt.Sprintf("unknown hook %q: expected %s", h, quoteList(filterHooks)), didYouMean(h, filterHooks))
			case slices.Index(f.Hooks, h) < k:
				r.add(index(hp, k), fmt.Sprintf("%q is listed twice", h), "")
			}
		}
		checkTimeout(f.Timeout, child(p, "timeout"), r)
		checkSet(f.MemoryLimitMiB, child(p, "memoryLimitMiB"), checkMemoryLimit, r)
		checkFailMode(f.OnError, child(p, "onError"), r)
		checkSet(f.Pool, child(p, "pool"), checkPool, r)

		name := filterName(f)
		if name == "" {
			continue // the wasm path is reported
		}
		j, dup := first[name]
		if !dup {
			first[name] = i
			continue
		}
		at := child(p, "name")
		if f.Name == "" {
			at = child(p, "wasm")
		}
		r.add(at, fmt.Sprintf("the name %q is used twice, by filters[%d] (%q) and filters[%d] (%q)", name, j, fs[j].Wasm, i, f.Wasm),
			`filter names must be unique and default to the file's base name; set "name" on one of them`)
	}
}

// filterName returns the filter's name: Name, or else the base name of its
// module without ".wasm".
func filterName(f *Filter) string {
	if f.Name != "" || f.Wasm == "" {
		return f.Name
	}
	return strings.TrimSuffix(filepath.Base(f.Wasm), ".wasm")
}

// checkHookPath returns a message and hint when p is not the path of a
// JavaScript or TypeScript file.
func checkHookPath(p string) (msg, hint string) {
	if strings.TrimSpace(p) == "" {
		return "must not be empty", `the script to run, e.g. "policy.ts"`
	}
	ext := filepath.Ext(p)
	if slices.Contains(hookExtensions, ext) {
		return "", ""
	}
	msg = fmt.Sprintf("%q is not a JavaScript or TypeScript file", p)
	if slices.Contains(hookExtensions, strings.ToLower(ext)) {
		return msg, fmt.Sprintf("did you mean %q?", strings.TrimSuffix(p, ext)+strings.ToLower(ext))
	}
	return msg, "hook scripts end in " + strings.Join(hookExtensions, ", ")
}

// checkWasmPath returns a message and hint when p is not the path of a
// .wasm file.
func checkWasmPath(p string) (msg, hint string) {
	switch {
	case strings.TrimSpace(p) == "":
		return "must not be empty", `the WebAssembly module, e.g. "filters/redact.wasm"`
	case filepath.Base(p) == ".wasm":
		return fmt.Sprintf("%q has no name before .wasm", p), `e.g. "filters/redact.wasm"`
	case strings.HasSuffix(p, ".wasm"):
		return "", ""
	case strings.HasSuffix(strings.ToLower(p), ".wasm"):
		return fmt.Sprintf("%q is not a .wasm file", p), fmt.Sprintf("did you mean %q?", p[:len(p)-5]+".wasm")
	case strings.HasSuffix(p, ".wat"):
		return fmt.Sprintf("%q is not a .wasm file", p), "compile the text format to a binary module, e.g. with wat2wasm"
	}
	return fmt.Sprintf("%q is not a .wasm file", p), "filters are WebAssembly modules, compiled to a .wasm file"
}

// checkTimeout reports a negative timeout; zero stands for the default.
func checkTimeout(d Duration, path string, r *collector) {
	if d.Duration < 0 {
		r.add(path, fmt.Sprintf("must not be negative, found %q", d.String()), "")
	}
}

// checkFailMode reports an onError value other than "closed" and "open";
// "" stands for the default.
func checkFailMode(mode, path string, r *collector) {
	if mode == "" || slices.Contains(failModes, mode) {
		return
	}
	hint := didYouMean(mode, failModes)
	if hint == "" {
		hint = `"closed" refuses the request, "open" lets it through`
	}
	r.add(path, fmt.Sprintf("unknown fail mode %q: expected %s", mode, quoteList(failModes)), hint)
}

// checkSet reports n, the value at path, when it is set (not 0, which
// stands for the default) and check rejects it.
func checkSet(n int, path string, check func(int) (msg, hint string), r *collector) {
	if n == 0 {
		return
	}
	if msg, hint := check(n); msg != "" {
		r.add(path, msg, hint)
	}
}

// checkPool returns a message and hint when n is not a pool size.
func checkPool(n int) (msg, hint string) {
	if n >= 1 {
		return "", ""
	}
	return fmt.Sprintf("must be at least 1, found %d", n), "leave the key out for the default, GOMAXPROCS"
}

// checkMaxCallStackSize returns a message and hint when n is too small a
// call stack for scripts.
func checkMaxCallStackSize(n int) (msg, hint string) {
	const least = 16
	if n >= least {
		return "", ""
	}
	return fmt.Sprintf("must be at least %d, found %d", least, n),
		fmt.Sprintf("leave the key out for the default, %d", DefaultMaxCallStackSize)
}

// checkMemoryLimit returns a message and hint when n MiB is out of the
// range of filter memory limits.
func checkMemoryLimit(n int) (msg, hint string) {
	if n >= MinFilterMemoryMiB && n <= MaxFilterMemoryMiB {
		return "", ""
	}
	return fmt.Sprintf("must be between %d and %d, found %d", MinFilterMemoryMiB, MaxFilterMemoryMiB, n),
		fmt.Sprintf("the limit is in MiB; leave the key out for the default, %d", DefaultFilterMemoryMiB)
}
