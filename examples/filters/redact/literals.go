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
		if searchable(lit) == 0 {
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
		if len(re.Sub) == 0 {
			return nil
		}
		texts := alternatives(re.Sub[0])
		if texts == nil {
			return prefixes(re.Sub[0])
		}
		// While the parts are exact texts, longer literals make rarer
		// keys: "gh[pousr]_" gives ghp_, gho_, ... whose key is the '_'
		// they share with github_pat_.
		for _, sub := range re.Sub[1:] {
			next := alternatives(sub)
			if next == nil || len(texts)*len(next) > maxLiterals {
				break
			}
			var longer []string
			for _, t := range texts {
				for _, n := range next {
					longer = append(longer, t+n)
				}
			}
			texts = longer
		}
		lits := make([]literal, len(texts))
		for i, t := range texts {
			lits[i] = literal{text: t}
		}
		return lits
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

// alternatives returns the texts re matches when it is a case-sensitive
// literal or a small class of characters; nil otherwise.
func alternatives(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		text := string(re.Rune)
		if re.Flags&syntax.FoldCase != 0 || strings.ContainsAny(text, "\"\\/") || hasControl(text) {
			return nil
		}
		return []string{text}
	case syntax.OpCharClass:
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if len(out) == maxLiterals || r == '"' || r == '\\' || r == '/' || r < 0x20 || r >= 0x7F {
					return nil
				}
				out = append(out, string(r))
			}
		}
		return out
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
	escape   bool // the backslash of JSON escapes, for mayMatch only
	// prev and next hold the bytes that can come before and after b in
	// its literals: most places where b occurs are ruled out by its
	// neighbours, without trying each literal.
	prev, next byteSet
}

// byteSet is a set of bytes, a bit each.
type byteSet [4]uint64

func (s *byteSet) add(c byte)      { s[c>>6] |= 1 << (c & 63) }
func (s *byteSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }
func (s *byteSet) addAll()         { *s = byteSet{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)} }
func (s *byteSet) addLetter(c byte, fold bool) {
	s.add(c)
	if fold {
		if c >= 'a' && c <= 'z' {
			s.add(c - 'a' + 'A')
		}
		for n := 0x80; n < 0x100; n++ {
			s.add(byte(n)) // a non-ASCII character may fold to c
		}
	}
}

// neighbours reports whether the bytes around b[i] (the key) can be part
// of a literal.
func neighbours[T string | []byte](k *keyByte, b T, i int) bool {
	return (i == 0 || k.prev.has(b[i-1])) && (i+1 == len(b) || k.next.has(b[i+1]))
}

// newScanner picks each literal's key, the byte to search for: a byte it
// shares with a literal already placed, if that byte is rare enough, so
// that one search serves both; else its rarest byte. A folding literal
// is searched for both cases of its key.
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
		k := &s.keys[i]
		k.literals = append(k.literals, lit)
		if lit.key == 0 {
			k.prev.addAll()
		} else {
			k.prev.addLetter(lit.text[lit.key-1], lit.fold)
		}
		if lit.key+1 == len(lit.text) {
			k.next.addAll()
		} else {
			k.next.addLetter(lit.text[lit.key+1], lit.fold)
		}
	}
	// In raw JSON, \u002d is "-" and \/ is "/": an escape could hide a
	// literal (the literals hold no other byte that JSON escapes).
	add('\\', literal{text: `\u`, pattern: -1})
	add('\\', literal{text: `\/`, pattern: -1})
	s.keys[0].escape = true
	for pi, p := range patterns {
		if p.literals == nil {
			s.always = append(s.always, pi)
			continue
		}
		for _, lit := range p.literals {
			lit.pattern = pi
			lit.key = chooseKey(lit, index)
			c := lit.text[lit.key]
			add(c, lit)
			if lit.fold && c >= 'a' && c <= 'z' {
				add(c-'a'+'A', lit)
			}
		}
	}
	return s
}

// searchable is how many bytes at the start of lit a search can rely on.
// A folding literal stops before 's' and 'k': Unicode folds them with the
// two-byte 'ſ' and the three-byte Kelvin sign, which would move the bytes
// after them.
func searchable(lit literal) int {
	if !lit.fold {
		return len(lit.text)
	}
	if i := strings.IndexAny(lit.text, "sk"); i >= 0 {
		return i
	}
	return len(lit.text)
}

// shareRank is how rare (in commonBytes) a byte must be for a literal to
// use it because another literal's search already looks for it.
var shareRank = strings.IndexByte(commonBytes, 'k')

// chooseKey returns the index of lit's key, given the bytes already searched.
func chooseKey(lit literal, searched map[byte]int) int {
	best, bestRank := -1, -1
	shared := -1
	for i := 0; i < searchable(lit); i++ {
		r := rank(lit.text[i])
		if _, ok := searched[lit.text[i]]; ok && r >= shareRank && !lit.fold {
			shared = i
		}
		if r >= bestRank {
			best, bestRank = i, r
		}
	}
	if shared >= 0 {
		return shared
	}
	return best
}

// commonBytes orders bytes from the most to the least common in text and
// JSON, roughly; bytes not listed are rarer still.
const commonBytes = ` etaoinsrhldcu"mfpgwybv,.:0123456789k-ETAOINSRHLDCUMFPGWYBV{}[]xjqzK_/XJQZ`

// rank is c's place in commonBytes: the higher, the rarer.
func rank(c byte) int {
	if r := strings.IndexByte(commonBytes, c); r >= 0 {
		return r
	}
	return len(commonBytes)
}

// match reports whether any pattern matches s.
func (sc *scanner) match(s string) bool {
	for _, pi := range sc.always {
		if sc.patterns[pi].re.MatchString(s) {
			return true
		}
	}
	for _, k := range sc.keys {
		if k.escape {
			continue
		}
		for i := 0; ; i++ {
			j := strings.IndexByte(s[i:], k.b)
			if j < 0 {
				break
			}
			i += j
			if !neighbours(&k, s, i) {
				continue
			}
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

// mayMatch is match without running the patterns, for raw JSON: whether
// a literal or an escape that could hide one occurs, or a pattern has no
// literals. (A match cannot be judged on raw JSON: an escape such as \t
// can stand between a literal and the rest of a match.)
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
			if !neighbours(&k, b, i) {
				continue
			}
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
