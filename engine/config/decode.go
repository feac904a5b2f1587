package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file walks the JSON tree into a Config. It checks what only the
// JSON shows (types, unknown and duplicate keys, missing keys, explicit
// zeros, ${VAR} references) and records where each value is; the rules a
// Config built in Go must also follow are in validate.go.

// decoder turns a JSON tree into a Config, recording problems.
type decoder struct {
	*collector
	lookup func(string) (string, bool)
	// dir is the config file's folder (Options.Dir), for ${workspaceFolder}.
	dir string
	// inputs are the declared VS Code inputs, by id.
	inputs map[string]*Input
	// vars maps the path of each expanded value to the variables its
	// references resolved, for Config.Vars.
	vars map[string][]string
}

// field is a known key of a JSON object and how to decode its value.
type field struct {
	key      string
	required bool
	decode   func(v *node, path string)
}

// objectSpec describes the keys a JSON object may have.
type objectSpec struct {
	fields []field
	// ignored keys are accepted and skipped.
	ignored []string
	// unknownHint, if set, may explain an unknown key better than a
	// did-you-mean suggestion.
	unknownHint func(key string, v *node) string
	// missingHint explains each required key when it is left out.
	missingHint map[string]string
}

// object decodes n, which should be an object at path, member by member.
// Null values of keys that are not required count as left out. It reports
// wrong types, duplicate, unknown and missing keys, and returns false if n
// is not an object.
func (d *decoder) object(n *node, path string, spec objectSpec) bool {
	if n.kind != kindObject {
		d.typeError(n, path, "an object", "")
		return false
	}
	known := make([]string, 0, len(spec.fields))
	for _, f := range spec.fields {
		known = append(known, f.key)
	}
	seen := map[string]bool{}
	for _, m := range n.members {
		p, ok := d.member(m, path, seen)
		if !ok {
			continue
		}
		i := slices.IndexFunc(spec.fields, func(f field) bool { return f.key == m.key })
		switch {
		case i >= 0:
			f := spec.fields[i]
			if m.value.kind == kindNull && !f.required {
				continue // null stands for "not set"
			}
			f.decode(m.value, p)
		case slices.Contains(spec.ignored, m.key):
		default:
			hint := ""
			if spec.unknownHint != nil {
				hint = spec.unknownHint(m.key, m.value)
			}
			if hint == "" {
				hint = didYouMean(m.key, known)
			}
			if hint == "" {
				hint = "expected one of: " + strings.Join(known, ", ")
			}
			d.addAt(m.keyOff, p, fmt.Sprintf("unknown key %q", m.key), hint)
		}
	}
	for _, f := range spec.fields {
		if f.required && !seen[f.key] {
			// Reported at the object, but only the key is marked as done,
			// so the object's other problems are still reported.
			d.record(n.off, path, fmt.Sprintf("missing required key %q", f.key), spec.missingHint[f.key])
			d.done[child(path, f.key)] = true
		}
	}
	return true
}

// typeError reports that the value at path is not of the expected type,
// with an optional hint.
func (d *decoder) typeError(n *node, path, expected, hint string) {
	d.addAt(n.off, path, fmt.Sprintf("expected %s, found %s", expected, n.describe()), hint)
}

func (d *decoder) str(n *node, path string) (string, bool) {
	if n.kind != kindString {
		d.typeError(n, path, "a string", "")
		return "", false
	}
	return n.text, true
}

// setString returns a field decoder that stores a string in *dst.
func (d *decoder) setString(dst *string) func(*node, string) {
	return func(v *node, p string) { *dst, _ = d.str(v, p) }
}

// setDuration returns a field decoder that stores a duration in *dst.
func (d *decoder) setDuration(dst *Duration) func(*node, string) {
	return func(v *node, p string) { *dst = d.duration(v, p) }
}

// setInt returns a field decoder that stores an integer in *dst and reports
// the value check rejects. An explicit 0 is checked too, although 0 stands
// for the default in a Config built in Go: the file asks for the default by
// leaving the key out.
func (d *decoder) setInt(dst *int, check func(int) (msg, hint string)) func(*node, string) {
	return func(v *node, p string) {
		if n, ok := d.integer(v, p); ok {
			*dst = int(n)
			if msg, hint := check(*dst); msg != "" {
				d.addAt(v.off, p, msg, hint)
			}
		}
	}
}

func (d *decoder) boolean(n *node, path string) bool {
	if n.kind != kindBool {
		d.typeError(n, path, "true or false", "")
		return false
	}
	return n.boolean
}

// integer reads a whole number that fits in an int (JSON writes 3000 and
// 3000.0 alike, so an integral fraction is accepted).
func (d *decoder) integer(n *node, path string) (int64, bool) {
	if n.kind != kindNumber {
		hint := ""
		if _, err := strconv.ParseInt(n.text, 10, 64); n.kind == kindString && err == nil {
			hint = "write the number without quotes: " + n.text
		}
		d.typeError(n, path, "an integer", hint)
		return 0, false
	}
	if v, err := strconv.ParseInt(n.text, 10, strconv.IntSize); err == nil {
		return v, true
	}
	f, err := strconv.ParseFloat(n.text, 64)
	whole := err == nil && f == math.Trunc(f)
	switch {
	case whole && math.Abs(f) <= 1<<53:
		return int64(f), true
	case whole || err != nil: // err is a range error: the syntax is valid JSON
		d.addAt(n.off, path, fmt.Sprintf("the number %s is too large", n.text), "")
	default:
		d.addAt(n.off, path, fmt.Sprintf("expected an integer, found %s", n.text), "")
	}
	return 0, false
}

// duration reads a Go duration string. Zero is rejected: leaving the key
// out is how to ask for the default.
func (d *decoder) duration(n *node, path string) Duration {
	switch n.kind {
	case kindString:
	case kindNumber:
		d.addAt(n.off, path, fmt.Sprintf("expected a duration string, found the number %s", n.text), durationHint(n.text))
		return Duration{}
	default:
		d.typeError(n, path, "a duration string", durationHint(""))
		return Duration{}
	}
	v, err := time.ParseDuration(n.text)
	switch {
	case err != nil:
		d.addAt(n.off, path, fmt.Sprintf("invalid duration %q", n.text), durationHint(n.text))
	case v == 0:
		d.addAt(n.off, path, "the duration must be greater than zero", "leave the key out to use the default")
	}
	// A negative duration is kept for the shared rules to report.
	return Duration{v}
}

// durationHint explains how to write a duration, using number when it is a
// plain decimal number such as 30 or 1.5.
func durationHint(number string) string {
	if plainDecimal.MatchString(number) {
		return fmt.Sprintf(`use a duration string such as "%ss" for seconds or "%sms" for milliseconds`, number, number)
	}
	return `use a duration string such as "30s", "250ms" or "1m30s"`
}

var plainDecimal = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// strings reads an array of strings; an empty array gives nil.
func (d *decoder) strings(n *node, path string) []string {
	if n.kind != kindArray {
		d.typeError(n, path, "an array of strings", "")
		return nil
	}
	var out []string
	for i, e := range n.elems {
		p := index(path, i)
		d.valuePos[p] = e.off
		s, _ := d.str(e, p)
		out = append(out, s)
	}
	return out
}

// member records where an object member stands and returns its path; ok is
// false (and a problem recorded) for a key the object already had.
func (d *decoder) member(m member, path string, seen map[string]bool) (p string, ok bool) {
	p = child(path, m.key)
	if seen[m.key] {
		d.addAt(m.keyOff, p, fmt.Sprintf("duplicate key %q", m.key),
			"each key may appear only once in an object; remove one of them")
		return p, false
	}
	seen[m.key] = true
	d.valuePos[p] = m.value.off
	d.keyPos[p] = m.keyOff
	return p, true
}

// stringMap reads an object with string values; an empty object gives nil.
func (d *decoder) stringMap(n *node, path string) map[string]string {
	if n.kind != kindObject {
		d.typeError(n, path, "an object", "")
		return nil
	}
	var out map[string]string
	seen := map[string]bool{}
	for _, m := range n.members {
		p, ok := d.member(m, path, seen)
		if !ok {
			continue
		}
		var s string
		switch v := m.value; v.kind {
		case kindString:
			s = v.text
		case kindNumber:
			d.typeError(v, p, "a string", fmt.Sprintf(`quote it: %q: "%s"`, m.key, v.text))
		case kindBool:
			d.typeError(v, p, "a string", fmt.Sprintf(`quote it: %q: "%t"`, m.key, v.boolean))
		default:
			d.typeError(v, p, "a string", "")
		}
		if out == nil {
			out = map[string]string{}
		}
		out[m.key] = s
	}
	return out
}

// expand expands ${VAR} references in *s, the string at path, reporting an
// error at the reference when possible, and remembers the variables the
// value came from.
func (d *decoder) expand(s *string, path string) {
	d.expandWith(s, path, nil)
}

// expandSecret is expand for a bearer token: an unset variable gets a hint
// to set a real secret rather than a default.
func (d *decoder) expandSecret(s *string, path string) {
	d.expandWith(s, path, func(name string) string {
		return fmt.Sprintf("${%s} is not set; set it to a random secret of %d or more bytes, e.g. export %s=$(openssl rand -hex 32)",
			name, MinSecretBytes, name)
	})
}

// expandWith is expand; unset, when not nil, words the error for an unset
// variable.
func (d *decoder) expandWith(s *string, path string, unset func(name string) string) {
	var names []string
	lookup := func(name string) (string, bool) {
		env := name
		if id, ok := strings.CutPrefix(name, inputScope); ok {
			env = InputVar(id)
		}
		if name != varWorkspaceFolder && !slices.Contains(names, env) {
			names = append(names, env)
		}
		return d.resolve(name)
	}
	v, err := expand(*s, lookup)
	if err != nil && strings.HasPrefix(err.unset, inputScope) {
		err.msg = d.inputUnset(err.unset[len(inputScope):])
	}
	if len(names) > 0 {
		if d.vars == nil {
			d.vars = map[string][]string{}
		}
		d.vars[path] = names
	}
	if err != nil {
		if err.unset != "" && unset != nil {
			err.msg = unset(err.unset)
		}
		off := -1
		if o, ok := d.valuePos[path]; ok {
			off = o
			// Point at the reference itself when the string has no
			// escapes, so that source and value line up.
			raw := o + 1 + err.index
			if o+1+len(*s) <= len(d.data) && string(d.data[o+1:o+1+len(*s)]) == *s {
				off = raw
			}
		}
		d.addAt(off, path, err.msg, "")
		return
	}
	*s = v
}

// resolve gives the value of a name a reference asks for: an environment
// variable, an input ("input:ID": its variable, else its default), or one
// of the folders VS Code and Cursor define.
func (d *decoder) resolve(name string) (string, bool) {
	switch {
	case name == varWorkspaceFolder:
		return workspaceFolder(d.dir), true
	case name == varUserHome:
		if home, ok := d.lookup("HOME"); ok && home != "" {
			return home, true
		}
		home, err := os.UserHomeDir()
		return home, err == nil
	}
	if id, ok := strings.CutPrefix(name, inputScope); ok {
		if v, ok := d.lookup(InputVar(id)); ok {
			return v, true
		}
		if in := d.inputs[id]; in != nil && in.Default != "" {
			return in.Default, true
		}
		return "", false
	}
	return d.lookup(name)
}

// inputUnset words the problem of an ${input:ID} without a value.
func (d *decoder) inputUnset(id string) string {
	in := d.inputs[id]
	msg := fmt.Sprintf("${input:%s} has no value: set %s", id, InputVar(id))
	switch {
	case in == nil:
		msg += fmt.Sprintf(` (no input %q is declared in "inputs")`, id)
	case in.Description != "":
		msg += fmt.Sprintf(" to what VS Code would ask for: %q", in.Description)
	}
	return msg
}

// workspaceFolder is what VS Code and Cursor call ${workspaceFolder}: the
// folder that holds .vscode or .cursor when the config is in one, else the
// config's folder, else the working directory.
func workspaceFolder(dir string) string {
	if dir == "" {
		wd, _ := os.Getwd()
		return wd
	}
	if b := filepath.Base(dir); b == ".vscode" || b == ".cursor" {
		return filepath.Dir(dir)
	}
	return dir
}

// topLevelKeys lists the sections of a configuration. To add one, add it
// here (and the field to Config, and its rules to validate.go).
func (d *decoder) topLevelKeys(c *Config) objectSpec {
	return objectSpec{
		fields: []field{
			{key: "mcpServers", decode: func(v *node, p string) { c.Servers = d.servers(v, p) }},
			{key: "servers", decode: func(v *node, p string) { c.Servers = d.servers(v, p) }},
			{key: "inputs", decode: func(*node, string) {}}, // decoded first, by config
			{key: "sseProxy", decode: func(v *node, p string) { c.Proxy = d.proxy(v, p) }},
			{key: "scripts", decode: func(v *node, p string) { c.Scripts = d.scripts(v, p) }},
			{key: "filters", decode: func(v *node, p string) { c.Filters = d.filters(v, p) }},
			{key: "redis", decode: func(v *node, p string) { c.Redis = d.redis(v, p) }},
			{key: "state", decode: func(v *node, p string) { c.State = d.state(v, p) }},
			{key: "limits", decode: func(v *node, p string) { c.Limits = d.limits(v, p) }},
			{key: "audit", decode: func(v *node, p string) { c.Audit = d.audit(v, p) }},
		},
		ignored: []string{"$schema", "globalShortcut", "preferences"},
		unknownHint: func(key string, v *node) string {
			if v.kind == kindObject && slices.ContainsFunc(v.members, func(m member) bool { return m.key == "command" }) {
				return `server definitions go inside "mcpServers": {"mcpServers": {"` + key + `": {...}}}`
			}
			if strings.EqualFold(key, "mcpservers") || strings.EqualFold(key, "servers") {
				return `did you mean "mcpServers"?`
			}
			return ""
		},
	}
}

// config decodes the whole document.
func (d *decoder) config(root *node) *Config {
	c := &Config{}
	if root.kind != kindObject {
		d.addAt(root.off, "", fmt.Sprintf("expected an object at the top level, found %s", root.describe()),
			`a config looks like {"mcpServers": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]}}}`)
		d.done["mcpServers"] = true
		return c
	}
	// Inputs first: references anywhere may use them.
	var mcp, vs *member
	for i, m := range root.members {
		switch m.key {
		case "inputs":
			if m.value.kind != kindNull {
				c.Inputs = d.inputList(m.value, "inputs")
			}
		case "mcpServers":
			mcp = &root.members[i]
		case "servers":
			vs = &root.members[i]
		}
	}
	c.Format = FormatMCPServers
	switch {
	case vs != nil && mcp != nil:
		d.addAt(vs.keyOff, "servers", `both "mcpServers" and "servers" are present`,
			`"servers" is VS Code's name for "mcpServers"; keep one of them`)
		d.done["mcpServers"] = true
	case vs != nil:
		c.Format = FormatVSCode
	case mcp == nil:
		d.record(root.off, "", `missing required key "mcpServers"`,
			`add the servers to run, e.g. "mcpServers": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]}} (or VS Code's "servers")`)
		d.done["mcpServers"] = true
	}
	d.object(root, "", d.topLevelKeys(c))
	return c
}

// inputList decodes VS Code's "inputs": the values ${input:ID} stands for.
func (d *decoder) inputList(n *node, path string) []*Input {
	if n.kind != kindArray {
		d.typeError(n, path, "an array of inputs", `e.g. "inputs": [{"type": "promptString", "id": "api-key", "password": true}]`)
		return nil
	}
	d.inputs = map[string]*Input{}
	var out []*Input
	for i, e := range n.elems {
		p := index(path, i)
		d.valuePos[p] = e.off
		in := &Input{}
		d.object(e, p, objectSpec{
			fields: []field{
				{key: "id", required: true, decode: func(v *node, p string) {
					if id, ok := d.str(v, p); ok {
						in.ID = id
						if !isInputID(id) {
							d.addAt(v.off, p, fmt.Sprintf("invalid input id %q: use letters, digits, '_', '.' and '-'", id), "")
						} else if d.inputs[id] != nil {
							d.addAt(v.off, p, fmt.Sprintf("the input id %q is used twice", id), "input ids must be unique")
						}
					}
				}},
				{key: "type", decode: d.setString(&in.Type)},
				{key: "description", decode: d.setString(&in.Description)},
				{key: "default", decode: d.setString(&in.Default)},
				{key: "password", decode: func(v *node, p string) { in.Password = d.boolean(v, p) }},
			},
			// VS Code's keys of pick lists and commands, which mcpscript
			// never shows: the value comes from the environment.
			ignored:     []string{"options", "command", "args"},
			missingHint: map[string]string{"id": `the name ${input:ID} uses, e.g. "id": "api-key"`},
		})
		if in.ID != "" && d.inputs[in.ID] == nil {
			d.inputs[in.ID] = in
		}
		out = append(out, in)
	}
	return out
}

func (d *decoder) servers(n *node, path string) map[string]*Server {
	if n.kind != kindObject {
		d.typeError(n, path, "an object mapping server names to servers", "")
		return nil
	}
	out := map[string]*Server{}
	for _, m := range n.members {
		p := child(path, m.key)
		if _, dup := out[m.key]; dup {
			d.addAt(m.keyOff, p, fmt.Sprintf("duplicate server name %q", m.key),
				"each server name may appear only once; rename or remove one of them")
			continue
		}
		d.valuePos[p] = m.value.off
		d.keyPos[p] = m.keyOff
		out[m.key] = d.server(m.value, p)
	}
	return out
}

func (d *decoder) server(n *node, path string) *Server {
	s := &Server{}
	str, dur := d.setString, d.setDuration
	spec := objectSpec{
		fields: []field{
			{key: "command", decode: str(&s.Command)},
			{key: "url", decode: func(v *node, p string) {
				if u, ok := d.str(v, p); ok {
					s.URL = u
					if strings.TrimSpace(u) == "" {
						d.addAt(v.off, p, "must not be empty", `the server's MCP endpoint, e.g. "https://example.com/mcp"`)
						d.done[child(path, "command")] = true
					}
				}
			}},
			{key: "headers", decode: func(v *node, p string) { s.Headers = d.stringMap(v, p) }},
			{key: "oauth", decode: func(v *node, p string) { s.OAuth = d.oauth(v, p) }},
			{key: "tools", decode: func(v *node, p string) { s.Tools = d.tools(v, p) }},
			{key: "args", decode: func(v *node, p string) { s.Args = d.strings(v, p) }},
			{key: "env", decode: func(v *node, p string) { s.Env = d.stringMap(v, p) }},
			{key: "cwd", decode: str(&s.Cwd)},
			{key: "envFile", decode: str(&s.EnvFile)},
			{key: "disabled", decode: func(v *node, p string) { s.Disabled = d.boolean(v, p) }},
			{key: "type", decode: func(v *node, p string) { s.Type = d.serverType(v, p) }},
			{key: "restart", decode: func(v *node, p string) { s.Restart = d.restart(v, p) }},
			{key: "startTimeout", decode: dur(&s.StartTimeout)},
			{key: "requestTimeout", decode: dur(&s.RequestTimeout)},
			{key: "stopTimeout", decode: dur(&s.StopTimeout)},
			{key: "maxFrameBytes", decode: func(v *node, p string) {
				if n, ok := d.integer(v, p); ok {
					s.MaxFrameBytes = n
					if n == 0 {
						d.addAt(v.off, p, fmt.Sprintf("must be at least %d", MinMaxFrameBytes),
							fmt.Sprintf("leave the key out for the default, %d = 16 MiB", DefaultMaxFrameBytes))
					}
				}
			}},
			{key: "roots", decode: func(v *node, p string) { s.Roots = d.roots(v, p) }},
			{key: "childModel", decode: func(v *node, p string) {
				if m, ok := d.str(v, p); ok {
					s.ChildModel = m
					if msg, hint := checkChildModel(m); msg != "" {
						d.addAt(v.off, p, msg, hint)
					}
				}
			}},
			{key: "sessionIdleTimeout", decode: dur(&s.SessionIdleTimeout)},
			{key: "protocol", decode: func(v *node, p string) {
				if m, ok := d.str(v, p); ok {
					s.Protocol = m
					if msg, hint := checkProtocol(m); msg != "" {
						d.addAt(v.off, p, msg, hint)
					}
				}
			}},
			{key: "maxSessions", decode: func(v *node, p string) {
				if n, ok := d.integer(v, p); ok {
					s.MaxSessions = n
					if n < 1 {
						d.addAt(v.off, p, fmt.Sprintf("must be at least 1, found %d", n),
							fmt.Sprintf("leave the key out for the default, %d", DefaultMaxSessions))
					}
				}
			}},
		},
		unknownHint: func(key string, _ *node) string {
			if key == "serverUrl" || key == "httpUrl" {
				return `write the endpoint of a remote server in "url"`
			}
			return ""
		},
		// VS Code's debugging settings of a server under development.
		ignored: []string{"dev"},
	}
	if n.kind != kindObject {
		d.typeError(n, path, "an object", `a server looks like {"command": "npx", "args": ["-y", "some-mcp-server"]}`)
		return s
	}
	d.object(n, path, spec)
	if s.Command == "" && s.URL == "" && !d.done[child(path, "command")] && !d.done[child(path, "url")] &&
		!slices.ContainsFunc(n.members, func(m member) bool { return m.key == "command" || m.key == "url" }) {
		d.record(n.off, path, `missing required key "command"`,
			`the program to start, e.g. "command": "npx"; or "url" for a remote server`)
		d.done[child(path, "command")] = true
	}
	if !s.Disabled {
		d.expand(&s.URL, child(path, "url"))
		for _, k := range slices.Sorted(maps.Keys(s.Headers)) {
			v := s.Headers[k]
			d.expand(&v, child(child(path, "headers"), k))
			s.Headers[k] = v
		}
		if o := s.OAuth; o != nil {
			op := child(path, "oauth")
			for _, f := range []struct {
				key string
				v   *string
			}{{"tokenUrl", &o.TokenURL}, {"clientId", &o.ClientID}, {"clientSecret", &o.ClientSecret}, {"audience", &o.Audience}, {"resource", &o.Resource}} {
				d.expand(f.v, child(op, f.key))
			}
		}
		d.expand(&s.Command, child(path, "command"))
		for i := range s.Args {
			d.expand(&s.Args[i], index(child(path, "args"), i))
		}
		for _, k := range slices.Sorted(maps.Keys(s.Env)) {
			v := s.Env[k]
			d.expand(&v, child(child(path, "env"), k))
			s.Env[k] = v
		}
		d.expand(&s.Cwd, child(path, "cwd"))
		d.expand(&s.EnvFile, child(path, "envFile"))
	}
	return s
}

// typeSpellings maps the server types other MCP clients write to ours.
var typeSpellings = map[string]string{
	TypeStdio: TypeStdio, TypeHTTP: TypeHTTP, TypeSSE: TypeSSE,
	"streamable-http": TypeHTTP, "streamableHttp": TypeHTTP, "streamable_http": TypeHTTP,
}

// serverTypes are the types a config may name, for suggestions.
var serverTypes = []string{TypeStdio, TypeHTTP, TypeSSE, "streamable-http", "streamableHttp"}

// serverType reads a server's "type", in any spelling of typeSpellings,
// and returns it as TypeStdio, TypeHTTP or TypeSSE ("" when it is wrong).
func (d *decoder) serverType(n *node, path string) string {
	t, ok := d.str(n, path)
	if !ok {
		return ""
	}
	if norm, ok := typeSpellings[t]; ok {
		return norm
	}
	hint := didYouMean(t, serverTypes)
	switch strings.ToLower(t) {
	case "ws", "websocket":
		hint = `WebSocket servers are not supported; use "http" (Streamable HTTP) or "sse" if the server offers it`
	case "":
		hint = `remove "type", or set it to "stdio", "http" or "sse"`
	}
	d.addAt(n.off, path, fmt.Sprintf("unknown server type %q: expected %s", t, quoteList([]string{TypeStdio, TypeHTTP, TypeSSE})), hint)
	return ""
}

// oauth decodes a remote server's OAuth client credentials.
func (d *decoder) oauth(n *node, path string) *OAuth {
	o := &OAuth{}
	if !d.object(n, path, objectSpec{
		fields: []field{
			{key: "tokenUrl", required: true, decode: d.setString(&o.TokenURL)},
			{key: "clientId", required: true, decode: d.setString(&o.ClientID)},
			{key: "clientSecret", decode: d.setString(&o.ClientSecret)},
			{key: "scopes", decode: func(v *node, p string) { o.Scopes = d.strings(v, p) }},
			{key: "audience", decode: d.setString(&o.Audience)},
			{key: "resource", decode: d.setString(&o.Resource)},
		},
		missingHint: map[string]string{
			"tokenUrl": `the authorization server's token endpoint, e.g. "tokenUrl": "https://auth.example.com/oauth/token"`,
			"clientId": `e.g. "clientId": "${MCP_CLIENT_ID}"`,
		},
	}) {
		return nil
	}
	return o
}

// tools decodes a server's tool curation.
func (d *decoder) tools(n *node, path string) *Tools {
	t := &Tools{}
	if !d.object(n, path, objectSpec{fields: []field{
		{key: "include", decode: func(v *node, p string) {
			t.Include = d.strings(v, p)
			if t.Include == nil && v.kind == kindArray {
				t.Include = []string{}
			}
		}},
		{key: "exclude", decode: func(v *node, p string) { t.Exclude = d.strings(v, p) }},
		{key: "override", decode: func(v *node, p string) {
			if v.kind != kindObject {
				d.typeError(v, p, "an object mapping tool names to changes", `e.g. "override": {"search": {"name": "find_docs"}}`)
				return
			}
			if len(v.members) == 0 {
				return // an empty override changes nothing; nil keeps a round trip equal
			}
			t.Override = map[string]*ToolOverride{}
			seen := map[string]bool{}
			for _, m := range v.members {
				at, ok := d.member(m, p, seen)
				if !ok {
					continue
				}
				o := &ToolOverride{}
				d.object(m.value, at, objectSpec{fields: []field{
					{key: "name", decode: d.setString(&o.Name)},
					{key: "title", decode: d.setString(&o.Title)},
					{key: "description", decode: d.setString(&o.Description)},
					{key: "pin", decode: d.setString(&o.Pin)},
				}})
				t.Override[m.key] = o
			}
		}},
	}}) {
		return nil
	}
	return t
}

func (d *decoder) restart(n *node, path string) Restart {
	var r Restart
	switch n.kind {
	case kindString:
		r.Policy = n.text
		if msg, hint := checkPolicy(r.Policy); msg != "" {
			d.addAt(n.off, path, msg, hint)
		}
		return r
	case kindObject:
	default:
		d.typeError(n, path, "a string or an object", `e.g. "on-failure" or {"policy": "on-failure", "maxRetries": 5}`)
		return r
	}
	dur := d.setDuration
	d.object(n, path, objectSpec{fields: []field{
		{key: "policy", decode: func(v *node, p string) {
			if s, ok := d.str(v, p); ok {
				r.Policy = s
				if msg, hint := checkPolicy(s); msg != "" {
					d.addAt(v.off, p, msg, hint)
				}
			}
		}},
		{key: "maxRetries", decode: func(v *node, p string) {
			if n, ok := d.integer(v, p); ok {
				i := int(n)
				r.MaxRetries = &i
			}
		}},
		{key: "minUptime", decode: dur(&r.MinUptime)},
		{key: "backoff", decode: dur(&r.Backoff)},
		{key: "maxBackoff", decode: dur(&r.MaxBackoff)},
	}})
	return r
}

func (d *decoder) roots(n *node, path string) []Root {
	if n.kind != kindArray {
		d.typeError(n, path, "an array", "")
		return nil
	}
	var out []Root
	for i, e := range n.elems {
		p := index(path, i)
		d.valuePos[p] = e.off
		var r Root
		switch e.kind {
		case kindString:
			r.URI = e.text
			if msg, hint := checkRootURI(r.URI); msg != "" {
				d.addAt(e.off, p, msg, hint)
			}
		case kindObject:
			d.object(e, p, objectSpec{
				fields: []field{
					{key: "uri", required: true, decode: func(v *node, p string) { r.URI, _ = d.str(v, p) }},
					{key: "name", decode: func(v *node, p string) { r.Name, _ = d.str(v, p) }},
				},
				missingHint: map[string]string{"uri": `e.g. {"uri": "file:///home/me/project", "name": "project"}`},
			})
		default:
			d.typeError(e, p, "a file:// URI string or an object", "")
		}
		out = append(out, r)
	}
	return out
}

func (d *decoder) proxy(n *node, path string) *Proxy {
	p := &Proxy{}
	if !d.object(n, path, objectSpec{fields: []field{
		{key: "address", decode: func(v *node, at string) {
			if s, ok := d.str(v, at); ok {
				p.Address = s
				if s == "" {
					d.addAt(v.off, at, "must not be empty", `use an IP address or host name such as "127.0.0.1", or leave the key out`)
				}
			}
		}},
		{key: "port", decode: func(v *node, at string) {
			if n, ok := d.integer(v, at); ok {
				p.Port = int(n)
				p.anyPort = n == 0
			}
		}},
		{key: "workers", decode: func(v *node, at string) {
			if n, ok := d.integer(v, at); ok {
				p.Workers = int(n)
				if n == 0 {
					d.addAt(v.off, at, "must be at least 1", "")
				}
			}
		}},
		{key: "allowedServers", decode: func(v *node, at string) {
			p.AllowedServers = d.strings(v, at)
			if p.AllowedServers == nil && v.kind == kindArray {
				p.AllowedServers = []string{}
			}
		}},
		{key: "authenticate", decode: func(v *node, at string) { p.Authenticate = d.authenticate(v, at) }},
		{key: "cors", decode: func(v *node, at string) { p.CORS = d.cors(v, at) }},
		{key: "allowedHosts", decode: func(v *node, at string) {
			p.AllowedHosts = d.strings(v, at)
			if p.AllowedHosts == nil && v.kind == kindArray {
				p.AllowedHosts = []string{}
			}
		}},
		{key: "console", decode: func(v *node, at string) {
			on := d.boolean(v, at)
			p.Console = &on
		}},
		{key: "maxBodyBytes", decode: func(v *node, at string) {
			if n, ok := d.integer(v, at); ok {
				p.MaxBodyBytes = n
				if n == 0 {
					d.addAt(v.off, at, fmt.Sprintf("must be at least %d", MinMaxBodyBytes),
						fmt.Sprintf("leave the key out for the default, %d = 4 MiB", DefaultMaxBodyBytes))
				}
			}
		}},
		{key: "sessions", decode: func(v *node, at string) { p.Sessions = d.sessions(v, at) }},
		{key: "drainTimeout", decode: d.setDuration(&p.DrainTimeout)},
		{key: "listWait", decode: d.setDuration(&p.ListWait)},
	}}) {
		return nil
	}
	return p
}

func (d *decoder) authenticate(n *node, path string) *Authenticate {
	a := &Authenticate{}
	d.object(n, path, objectSpec{fields: []field{
		{key: "bearer", decode: func(v *node, p string) { a.Bearer = d.bearer(v, p) }},
		{key: "oauth", decode: func(v *node, p string) { a.OAuth = d.oauthResource(v, p) }},
		{key: "queryTokens", decode: func(v *node, p string) { a.QueryTokens = d.boolean(v, p) }},
		{key: "tokenlessStreams", decode: func(v *node, p string) { a.TokenlessStreams = d.boolean(v, p) }},
	}})
	return a
}

func (d *decoder) bearer(n *node, path string) *Bearer {
	b := &Bearer{}
	secret := func(dst *string) func(*node, string) {
		return func(v *node, p string) {
			if s, ok := d.str(v, p); ok {
				*dst = s
				if s == "" {
					d.addAt(v.off, p, "must not be empty", `read the secret from a variable, e.g. "token": "${MCP_PROXY_TOKEN}"`)
					return
				}
				d.expandSecret(dst, p)
			}
		}
	}
	if !d.object(n, path, objectSpec{fields: []field{
		{key: "token", decode: secret(&b.Token)},
		{key: "tokens", decode: func(v *node, p string) {
			if v.kind != kindArray {
				d.typeError(v, p, "an array of tokens", `e.g. [{"name": "ci", "token": "${CI_TOKEN}", "servers": ["fetch"]}]`)
				return
			}
			b.Tokens = []Token{}
			for i, e := range v.elems {
				at := index(p, i)
				d.valuePos[at] = e.off
				var t Token
				d.object(e, at, objectSpec{
					fields: []field{
						{key: "name", required: true, decode: func(v *node, p string) { t.Name, _ = d.str(v, p) }},
						{key: "token", required: true, decode: secret(&t.Token)},
						{key: "servers", decode: func(v *node, p string) {
							t.Servers = d.strings(v, p)
							if t.Servers == nil && v.kind == kindArray {
								t.Servers = []string{}
							}
						}},
					},
					missingHint: map[string]string{
						"name":  `a name for logs and the engine, e.g. "name": "ci"`,
						"token": `the secret, e.g. "token": "${CI_TOKEN}"`,
					},
				})
				b.Tokens = append(b.Tokens, t)
			}
		}},
	}}) {
		return b
	}
	if !slices.ContainsFunc(n.members, func(m member) bool {
		return (m.key == "token" || m.key == "tokens") && m.value.kind != kindNull
	}) {
		d.addAt(n.off, path, `missing "token" or "tokens"`,
			`e.g. {"token": "${MCP_PROXY_TOKEN}"} or {"tokens": [{"name": "ci", "token": "${CI_TOKEN}"}]}`)
	}
	return b
}

// sessions decodes the session limits.
func (d *decoder) sessions(n *node, path string) *Sessions {
	ss := &Sessions{}
	limit := func(dst *int, def int) func(*node, string) {
		return d.setInt(dst, func(n int) (string, string) {
			if n < 1 {
				return fmt.Sprintf("must be at least 1, found %d", n), fmt.Sprintf("leave the key out for the default, %d", def)
			}
			return "", ""
		})
	}
	d.object(n, path, objectSpec{fields: []field{
		{key: "maxPerCaller", decode: limit(&ss.MaxPerCaller, DefaultMaxSessionsPerCaller)},
		{key: "maxTotal", decode: limit(&ss.MaxTotal, DefaultMaxSessionsTotal)},
		{key: "idleTimeout", decode: d.setDuration(&ss.IdleTimeout)},
	}})
	return ss
}

// cors decodes the CORS settings.
func (d *decoder) cors(n *node, path string) *CORS {
	c := &CORS{}
	d.object(n, path, objectSpec{
		fields: []field{
			{key: "allowedOrigins", required: true, decode: func(v *node, p string) {
				c.AllowedOrigins = d.strings(v, p)
				if c.AllowedOrigins == nil && v.kind == kindArray {
					c.AllowedOrigins = []string{}
				}
			}},
			{key: "allowCredentials", decode: func(v *node, p string) { c.AllowCredentials = d.boolean(v, p) }},
		},
		missingHint: map[string]string{"allowedOrigins": `the web origins allowed to call the proxy, e.g. "allowedOrigins": ["http://localhost:5173"]`},
	})
	return c
}

// scripts decodes the "scripts" section. Its values are kept as written:
// ${VAR} references are not expanded, since scripts read the variables they
// are granted through "env" themselves.
func (d *decoder) scripts(n *node, path string) *Scripts {
	s := &Scripts{}
	if !d.object(n, path, objectSpec{fields: []field{
		{key: "hooks", decode: func(v *node, p string) { s.Hooks = d.hooks(v, p) }},
		{key: "timeout", decode: d.setDuration(&s.Timeout)},
		{key: "onError", decode: d.setString(&s.OnError)},
		{key: "env", decode: func(v *node, p string) { s.Env = d.strings(v, p) }},
		{key: "readDir", decode: d.setString(&s.ReadDir)},
		{key: "pool", decode: d.setInt(&s.Pool, checkPool)},
		{key: "maxCallStackSize", decode: d.setInt(&s.MaxCallStackSize, checkMaxCallStackSize)},
		{key: "isolation", decode: d.setString(&s.Isolation)},
		{key: "memoryLimitMiB", decode: d.setInt(&s.MemoryLimitMiB, checkHookMemoryLimit)},
	}}) {
		return nil
	}
	return s
}

// hooks decodes the hook scripts: each a path string or an object.
func (d *decoder) hooks(n *node, path string) []*Hook {
	if n.kind != kindArray {
		d.typeError(n, path, "an array of hook scripts", `e.g. "hooks": ["policy.ts", {"path": "audit.js", "onError": "open"}]`)
		return nil
	}
	var out []*Hook
	for i, e := range n.elems {
		p := index(path, i)
		d.valuePos[p] = e.off
		h := &Hook{}
		switch e.kind {
		case kindString:
			// Checked here so that the problem names the string, not a
			// "path" key the user did not write.
			h.Path = e.text
			if msg, hint := checkHookPath(h.Path); msg != "" {
				d.addAt(e.off, p, msg, hint)
			}
		case kindObject:
			d.object(e, p, objectSpec{
				fields: []field{
					{key: "path", required: true, decode: d.setString(&h.Path)},
					{key: "timeout", decode: d.setDuration(&h.Timeout)},
					{key: "onError", decode: d.setString(&h.OnError)},
				},
				missingHint: map[string]string{"path": `the script to run, e.g. {"path": "policy.ts"}`},
			})
		default:
			d.typeError(e, p, "a script path or an object", `e.g. "policy.ts" or {"path": "audit.js", "timeout": "50ms"}`)
		}
		out = append(out, h)
	}
	return out
}

// filters decodes the "filters" section. Like scripts, its values are kept
// as written.
func (d *decoder) filters(n *node, path string) []*Filter {
	if n.kind != kindArray {
		d.typeError(n, path, "an array of filters", `e.g. "filters": [{"wasm": "filters/redact.wasm"}]`)
		return nil
	}
	var out []*Filter
	for i, e := range n.elems {
		p := index(path, i)
		d.valuePos[p] = e.off
		out = append(out, d.filter(e, p))
	}
	return out
}

func (d *decoder) filter(n *node, path string) *Filter {
	f := &Filter{}
	if n.kind != kindObject {
		d.typeError(n, path, "an object", `a filter looks like {"wasm": "filters/redact.wasm", "hooks": ["toolCall"]}`)
		return f
	}
	d.object(n, path, objectSpec{
		fields: []field{
			{key: "wasm", required: true, decode: d.setString(&f.Wasm)},
			{key: "name", decode: func(v *node, p string) {
				if s, ok := d.str(v, p); ok {
					f.Name = s
					if s == "" {
						d.addAt(v.off, p, "must not be empty", `leave the key out to name the filter after its file`)
					}
				}
			}},
			{key: "config", decode: func(v *node, p string) { f.Config = d.rawObject(v, p) }},
			{key: "hooks", decode: func(v *node, p string) {
				f.Hooks = d.strings(v, p)
				if f.Hooks == nil && v.kind == kindArray {
					f.Hooks = []string{}
				}
			}},
			{key: "timeout", decode: d.setDuration(&f.Timeout)},
			{key: "memoryLimitMiB", decode: d.setInt(&f.MemoryLimitMiB, checkMemoryLimit)},
			{key: "onError", decode: d.setString(&f.OnError)},
			{key: "pool", decode: d.setInt(&f.Pool, checkPool)},
		},
		missingHint: map[string]string{"wasm": `the WebAssembly module, e.g. "wasm": "filters/redact.wasm"`},
	})
	return f
}

// rawObject returns the JSON text of the object n, compacted and with
// HTML characters escaped as json.Marshal writes it, so that a Config
// marshals and parses back to the same bytes.
func (d *decoder) rawObject(n *node, path string) json.RawMessage {
	if n.kind != kindObject {
		d.typeError(n, path, "an object", filterConfigHint)
		return nil
	}
	raw, err := json.Marshal(json.RawMessage(d.data[n.off:n.end]))
	if err != nil { // not expected: the parser accepted the text
		d.addAt(n.off, path, "invalid JSON: "+err.Error(), "")
		return nil
	}
	return raw
}
