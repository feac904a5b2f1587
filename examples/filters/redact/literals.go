package main

import (
	"bytes"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A secret pattern is a regular expression, and Go's regexp engine, which
// tries a match at every byte, is slow in WebAssembly: over a 64 KiB result
// the patterns took over 100 ms. Almost every pattern starts with literal
// text ("sk-", "AKIA", a case-insensitive "password"), so the filter looks
// for those literals first, with bytes.IndexByte (the cheapest loop in
// wasm), and runs a pattern only where one of its literals starts.

// pattern is one secret pattern.
type pattern struct {
	re       *regexp.Regexp
	anchored *regexp.Regexp // re, matching only at the start of the text
	literals []literal      // one of them starts every match; nil: unknown
}

// literal is text that a match can start with.
type literal struct {
	text    string // lower case when fold
	fold    bool   // ASCII letters match in either case
	key     int    // the index of its rarest byte, the one searched for
	pattern int    // the index of its pattern
}

// compilePattern compiles a secret pattern and finds its literals.
func compilePattern(expr string) (pattern, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return pattern{}, err
	}
	p := pattern{re: re, anchored: regexp.MustCompile(`^(?:` + expr + `)`)}
	if tree, err := syntax.Parse(expr, syntax.Perl); err == nil {
		p.literals = prefixes(tree.Simplify())
	}
	return p, nil
}

// maxLiterals bounds the literals of one pattern: beyond that, looking for
// each costs more than the pattern.
const maxLiterals = 8

// prefixes returns literals one of which starts every match of re, or nil
// when it cannot tell. A pattern that starts with an assertion (^, \b) gets
// nil: matching it from a literal's position would misjudge the assertion.
func prefixes(re *syntax.Regexp) []literal {
	switch re.Op {
	case syntax.OpLiteral:
		text := string(re.Rune)
		fold := re.Flags&syntax.FoldCase != 0
		if text == "" || fold && !isASCII(text) || strings.ContainsAny(text, "\"\\/") || hasControl(text) {
			// Non-ASCII text folds in ways a byte search cannot follow,
			// and the bytes JSON may escape would be missed in a raw
			// result.
			return nil
		}
		lit := literal{text: text, fold: fold}
		if fold {
			lit.text = strings.ToLower(text)
		}
		if lit.key = keyIndex(lit.text, fold); lit.key < 0 {
			return nil
		}
		return []literal{lit}
	case syntax.OpCapture, syntax.OpPlus:
		return prefixes(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return prefixes(re.Sub[0])
		}
	case syntax.OpConcat:
		if len(re.Sub) > 0 {
			return prefixes(re.Sub[0])
		}
	case syntax.OpAlternate:
		var all []literal
		for _, sub := range re.Sub {
			lits := prefixes(sub)
			if lits == nil || len(all)+len(lits) > maxLiterals {
				return nil
			}
			all = append(all, lits...)
		}
		return all
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7F }) >= 0
}

// scanner finds the places where the patterns' literals start.
type scanner struct {
	patterns []pattern
	keys     []keyByte // one search per distinct byte
	always   []int     // the patterns without literals: run them on everything
}

// keyByte is a byte to look for, and the literals that have it.
type keyByte struct {
	b        byte
	literals []literal
}

// newScanner picks each literal's rarest byte (both cases of a letter,
// when the literal folds) and groups the literals by it.
func newScanner(patterns []pattern) *scanner {
	s := &scanner{patterns: patterns}
	index := map[byte]int{}
	add := func(b byte, lit literal) {
		i, ok := index[b]
		if !ok {
			i = len(s.keys)
			index[b] = i
			s.keys = append(s.keys, keyByte{b: b})
		}
		s.keys[i].literals = append(s.keys[i].literals, lit)
	}
	for pi, p := range patterns {
		if p.literals == nil {
			s.always = append(s.always, pi)
			continue
		}
		for _, lit := range p.literals {
			lit.pattern = pi
			c := lit.text[lit.key]
			add(c, lit)
			if lit.fold && c >= 'a' && c <= 'z' {
				add(c-'a'+'A', lit)
			}
		}
	}
	return s
}

// commonBytes orders bytes from the most to the least common in text and
// JSON, roughly; bytes not listed are rarer still.
const commonBytes = ` etaoinsrhldcu"mfpgwybv,.:0123456789k-ETAOINSRHLDCUMFPGWYBV{}[]xjqzK_/XJQZ`

// keyIndex is the index of the rarest byte of text that a search can rely
// on. When the text folds, that excludes 's' and 'k' and whatever follows
// them: Unicode folds them with the two-byte 'ſ' and the three-byte Kelvin
// sign, which would move the bytes after them. -1: none.
func keyIndex(text string, fold bool) int {
	best, bestRank := -1, -1
	for i := 0; i < len(text); i++ {
		if fold && (text[i] == 's' || text[i] == 'k') {
			break
		}
		rank := strings.IndexByte(commonBytes, text[i])
		if rank < 0 {
			rank = len(commonBytes)
		}
		if rank > bestRank {
			best, bestRank = i, rank
		}
	}
	return best
}

// match reports whether any pattern matches s.
func (sc *scanner) match(s string) bool {
	for _, pi := range sc.always {
		if sc.patterns[pi].re.MatchString(s) {
			return true
		}
	}
	for _, k := range sc.keys {
		for i := 0; ; i++ {
			j := strings.IndexByte(s[i:], k.b)
			if j < 0 {
				break
			}
			i += j
			for _, lit := range k.literals {
				start := i - lit.key
				if at(lit, s, start) && sc.patterns[lit.pattern].anchored.MatchString(s[start:]) {
					return true
				}
			}
		}
	}
	return false
}

// mayMatch is match without running the patterns: whether a literal
// occurs, or a pattern has none. It suits raw JSON, in which an escape
// can stand between a literal and the rest of a match (see redact).
func (sc *scanner) mayMatch(b []byte) bool {
	if len(sc.always) > 0 {
		return true
	}
	for _, k := range sc.keys {
		for i := 0; ; i++ {
			j := bytes.IndexByte(b[i:], k.b)
			if j < 0 {
				break
			}
			i += j
			for _, lit := range k.literals {
				if at(lit, b, i-lit.key) {
					return true
				}
			}
		}
	}
	return false
}

// at reports whether the literal occurs in b at start; a folding one
// matches as the regexp would, Unicode's simple case folding included.
func at[T string | []byte](l literal, b T, start int) bool {
	if start < 0 || start > len(b) {
		return false
	}
	if !l.fold {
		return len(b)-start >= len(l.text) && string(b[start:start+len(l.text)]) == l.text
	}
	i := start
	for j := 0; j < len(l.text); j++ {
		if i >= len(b) {
			return false
		}
		want := l.text[j]
		if c := b[i]; c < utf8.RuneSelf {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != want {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(b[i:min(len(b), i+utf8.UTFMax)]))
		if !foldsTo(r, rune(want)) {
			return false
		}
		i += size
	}
	return true
}

// foldsTo reports whether r is in the case-folding orbit of want.
func foldsTo(r, want rune) bool {
	for f := unicode.SimpleFold(want); f != want; f = unicode.SimpleFold(f) {
		if f == r {
			return true
		}
	}
	return false
}
