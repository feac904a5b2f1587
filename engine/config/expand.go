package config

import (
	"fmt"
	"os"
	"strings"
)

// Expand replaces variable references in s with values from lookup (the
// process environment, os.LookupEnv, when lookup is nil):
//
//   - ${VAR} is the value of VAR; it is an error if VAR is not set.
//     ${env:VAR}, as VS Code and Cursor write it, is the same.
//   - ${VAR:-default} is the value of VAR, or default when VAR is unset or
//     empty. default may itself contain references.
//   - ${input:ID}, ${workspaceFolder} and ${userHome} are passed to lookup
//     as "input:ID", "workspaceFolder" and "userHome"; [Parse] resolves
//     them as VS Code's configs mean them (see [InputVar]).
//   - $$ is a literal $.
//   - A lone $, or $NAME without braces, is left as it is.
//
// Variable names are letters, digits and '_', not starting with a digit.
// An unterminated ${ is an error.
func Expand(s string, lookup func(string) (string, bool)) (string, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	out, err := expand(s, lookup)
	if err != nil {
		return "", err
	}
	return out, nil
}

// Names that VS Code and Cursor define in their configs, resolved by the
// lookup of Parse rather than read from the environment.
const (
	varWorkspaceFolder = "workspaceFolder"
	varUserHome        = "userHome"
	inputScope         = "input:"
)

// expandError is an error from Expand, with the byte index in the input of
// the reference that caused it.
type expandError struct {
	index int
	msg   string
	unset string // the variable that is not set, when that is the problem
}

func (e *expandError) Error() string { return e.msg }

func expand(s string, lookup func(string) (string, bool)) (string, *expandError) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '{':
			end := closingBrace(s, i+2)
			if end < 0 {
				return "", &expandError{i, fmt.Sprintf(
					"unterminated %q: add the closing } (or write $$ for a literal $)", snippet(s[i:])), ""}
			}
			v, err := reference(s[i:end+1], lookup)
			if err != nil {
				err.index += i
				return "", err
			}
			b.WriteString(v)
			i = end + 1
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), nil
}

// reference resolves one complete reference ref, "${...}". Error indexes
// are relative to ref.
func reference(ref string, lookup func(string) (string, bool)) (string, *expandError) {
	body := ref[2 : len(ref)-1]
	name, def, hasDef := strings.Cut(body, ":-")
	key := name // what lookup is asked for
	if scope, v, ok := strings.Cut(name, ":"); ok {
		switch {
		case scope == "env" && isVarName(v):
			key, name = v, v
		case scope == "input" && isInputID(v):
			key = name
		case scope == "input":
			return "", &expandError{0, fmt.Sprintf(
				"invalid input id %q in %s: use letters, digits, '_', '.' and '-'", v, snippet(ref)), ""}
		case isVarName(scope) && v != "" && strings.IndexByte("-=?+", v[0]) >= 0:
			return "", &expandError{0, fmt.Sprintf(
				"unsupported %s: only ${%s} and ${%s:-default} are supported", snippet(ref), scope, scope), ""}
		default:
			return "", &expandError{0, fmt.Sprintf(
				"unsupported %s: mcpscript expands ${VAR}, ${VAR:-default}, ${env:VAR}, ${input:ID}, ${workspaceFolder} and ${userHome}", snippet(ref)), ""}
		}
	} else if k := strings.IndexAny(name, "-=?+"); !hasDef && k > 0 && isVarName(name[:k]) {
		return "", &expandError{0, fmt.Sprintf(
			"unsupported %s: only ${%s} and ${%s:-default} are supported", ref, name[:k], name[:k]), ""}
	}
	switch {
	case name == "":
		return "", &expandError{0, fmt.Sprintf("missing variable name in %s: put one between the braces, as in ${HOME}", ref), ""}
	case !strings.HasPrefix(key, inputScope) && !isVarName(key):
		return "", &expandError{0, fmt.Sprintf(
			"invalid variable name %q in %s: use letters, digits and _, not starting with a digit", name, snippet(ref)), ""}
	}
	v, ok := lookup(key)
	if hasDef && (!ok || v == "") {
		d, err := expand(def, lookup)
		if err != nil {
			err.index += 2 + len(body) - len(def)
			return "", err
		}
		return d, nil
	}
	if !ok {
		if strings.HasPrefix(key, inputScope) {
			return "", &expandError{0, fmt.Sprintf("${%s} has no value; set %s", key, InputVar(key[len(inputScope):])), key}
		}
		return "", &expandError{0, fmt.Sprintf("${%s} is not set; set it or write ${%s:-default}", name, name), name}
	}
	return v, nil
}

// isInputID reports whether s can be the id of a VS Code input.
func isInputID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// closingBrace returns the index of the '}' closing a reference whose body
// starts at from, allowing nested references in defaults, or -1.
func closingBrace(s string, from int) int {
	depth := 1
	for j := from; j < len(s); j++ {
		switch {
		case s[j] == '$' && j+1 < len(s) && s[j+1] == '$':
			j++
		case s[j] == '$' && j+1 < len(s) && s[j+1] == '{':
			depth++
			j++
		case s[j] == '}':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

func isVarName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// snippet shortens s for use in a message.
func snippet(s string) string {
	const max = 24
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "..."
}
