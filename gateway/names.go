package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Limits of aggregate names (see the scheme in the Gateway doc comment).
const (
	maxNameLen   = 64 // a namespaced tool or prompt name
	maxPrefixLen = 24 // the server part of it
	nsSeparator  = "__"
	shortHashLen = 6 // hex digits of SHA-256 appended to an altered name
	longHashLen  = 12
)

func validNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// sanitizeName replaces every character outside [A-Za-z0-9_-] with '_'.
func sanitizeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !validNameChar(c) {
			b[i] = '_'
		}
	}
	return string(b)
}

func nameHash(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

// fitName returns s when it is a valid name of at most limit characters, and
// otherwise s sanitized, cut to fit limit and followed by "_" and hashLen hex
// digits of the SHA-256 of the original s. force always appends the hash.
func fitName(s string, limit, hashLen int, force bool) string {
	t := sanitizeName(s)
	if !force && t == s && t != "" && len(t) <= limit {
		return t
	}
	suffix := "_" + nameHash(s, hashLen)
	if keep := limit - len(suffix); len(t) > keep {
		t = t[:max(keep, 0)]
	}
	return t + suffix
}

// serverPrefix returns the namespace prefix of a server: its name when that
// is valid, at most maxPrefixLen long, holds no "__" and does not end in
// '_'; otherwise the name sanitized, runs of '_' collapsed, cut, and
// followed by "_" and a hash of the name. A prefix therefore never contains
// the separator "__" nor ends in '_', so the first "__" of a namespaced name
// is the separator and prefixes never collide through what follows them.
func serverPrefix(name string, hashLen int, force bool) string {
	t := sanitizeName(name)
	if !force && t == name && t != "" && len(t) <= maxPrefixLen && !strings.Contains(t, "__") && !strings.HasSuffix(t, "_") {
		return t
	}
	for strings.Contains(t, "__") {
		t = strings.ReplaceAll(t, "__", "_")
	}
	keep := maxPrefixLen - 1 - hashLen
	if len(t) > keep {
		t = t[:keep]
	}
	t = strings.TrimRight(t, "_")
	if t == "" {
		return "s_" + nameHash(name, hashLen)
	}
	return t + "_" + nameHash(name, hashLen)
}

// serverPrefixes assigns distinct prefixes to servers (sorted first so the
// outcome does not depend on the order given).
func serverPrefixes(names []string) map[string]string { return serverPrefixesKeeping(names, nil) }

// serverPrefixesKeeping is serverPrefixes where the names that keep (the
// prefixes before a reload) has keep their prefix: a client that holds a
// prefixed name of a server the reload did not touch can still call it.
func serverPrefixesKeeping(names []string, keep map[string]string) map[string]string {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	out := make(map[string]string, len(sorted))
	taken := map[string]bool{}
	for _, n := range sorted {
		if p, ok := keep[n]; ok && !taken[p] {
			out[n], taken[p] = p, true
		}
	}
	for _, n := range sorted {
		if _, ok := out[n]; ok {
			continue
		}
		p := serverPrefix(n, shortHashLen, false)
		for i := 0; taken[p]; i++ {
			p = serverPrefix(n, longHashLen, true)
			if i > 0 {
				p = fmt.Sprintf("%s%d", p[:len(p)-len(fmt.Sprint(i))], i)
			}
		}
		taken[p] = true
		out[n] = p
	}
	return out
}

// namespaceItems assigns the aggregate names of one server's tools or
// prompts: prefix + "__" + the item's name fitted into what is left of 64
// characters. Items are processed by sorted original name, so the result
// depends only on the server's set of names; a name already taken by an
// earlier item gets a longer hash, then a counter. Duplicate original names
// map to the same entry (the first wins).
func namespaceItems(prefix string, names []string) map[string]string {
	budget := maxNameLen - len(prefix) - len(nsSeparator)
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	out := make(map[string]string, len(sorted))
	taken := map[string]bool{}
	for _, n := range sorted {
		if _, dup := out[n]; dup {
			continue
		}
		full := prefix + nsSeparator + fitName(n, budget, shortHashLen, false)
		for i := 0; taken[full]; i++ {
			part := fitName(n, budget, longHashLen, true)
			if i > 0 {
				suffix := fmt.Sprint(i)
				part = part[:len(part)-len(suffix)] + suffix
			}
			full = prefix + nsSeparator + part
		}
		taken[full] = true
		out[n] = full
	}
	return out
}

// templateRegexp compiles an RFC 6570 URI template into a loose matcher:
// literal parts must match, simple expressions match one path segment,
// reserved ({+x}) and fragment ({#x}) expressions match anything, and
// path-style, query and continuation expressions match their optional tail.
func templateRegexp(t string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			b.WriteString(regexp.QuoteMeta(t))
			break
		}
		b.WriteString(regexp.QuoteMeta(t[:i]))
		j := strings.IndexByte(t[i:], '}')
		if j < 0 {
			return nil
		}
		expr := t[i+1 : i+j]
		t = t[i+j+1:]
		op := byte(0)
		if expr != "" {
			op = expr[0]
		}
		switch op {
		case '+', '#':
			b.WriteString(".*")
		case '/':
			b.WriteString("(?:/.*)?")
		case '?', '&':
			b.WriteString(`(?:[?&].*)?`)
		default:
			b.WriteString("[^/?#]*")
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil
	}
	return re
}
