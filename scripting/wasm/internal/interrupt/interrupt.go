// Package interrupt rewrites a WebAssembly module so that its host can stop
// it cheaply. Every loop of the module's code starts by counting down a
// budget of iterations (a global of its own); each time the budget runs out,
// the module reads a flag (a global it exports as Export), traps with
// "unreachable" if the host has set it, and otherwise calls memory.grow(0),
// whose handler in wazero runs in Go: there the goroutine can be preempted,
// so that a garbage collection (which must stop every goroutine) never waits
// for the guest for long. The host sets the flag from another goroutine when
// a call's time is up.
//
// wazero's WithCloseOnContextDone stops a guest at the same places (loop
// headers), but leaves the native code for a call into Go on every
// iteration, which makes loop-heavy guests (every Go guest) many times
// slower; the budget costs a load, a store and a branch per iteration.
//
// Instrument refuses what it cannot rewrite with certainty (an opcode it does
// not know, a malformed module, a module without memory or with a start
// function, a name clash): the host then falls back to wazero's own check.
package interrupt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Export is the name under which an instrumented module exports its flag.
const Export = "mcpscript_interrupt"

// Budget is the number of loop iterations between two looks at the flag
// (and two chances for the Go runtime to preempt the guest): some tens of
// microseconds of a Go guest's work.
const Budget = 4096

// ErrUnsupported wraps every reason Instrument gives for leaving a module alone.
var ErrUnsupported = errors.New("cannot instrument the module")

// Section ids of the binary format.
const (
	secCustom    = 0
	secImport    = 2
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secCode      = 10
	secDataCount = 12
	secTag       = 13
)

// sectionOrder is where each known section goes in a module (the tag
// section, of the exception handling proposal, sits between memory and
// global).
var sectionOrder = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, secTag: 6, secGlobal: 7, secExport: 8, 8: 9, 9: 10, secDataCount: 11, secCode: 12, 11: 13}

type section struct {
	id   byte
	body []byte
}

// Instrument returns a copy of module with the flag global added and
// exported as Export, and a check of it at the start of every loop. Custom
// sections of DWARF debug information are dropped: they point at code
// offsets that the rewrite moves.
func Instrument(module []byte) ([]byte, error) {
	sections, err := split(module)
	if err != nil {
		return nil, err
	}
	var importedGlobals, definedGlobals uint32
	var hasGlobal, hasExport, hasCode, hasMemory bool
	for _, s := range sections {
		switch s.id {
		case secImport:
			var memories uint32
			if importedGlobals, memories, err = countImports(s.body); err != nil {
				return nil, err
			}
			hasMemory = hasMemory || memories > 0
		case secMemory:
			r := reader{b: s.body}
			hasMemory = hasMemory || r.u32() > 0
		case secGlobal:
			hasGlobal = true
			r := reader{b: s.body}
			definedGlobals = r.u32()
			if r.err != nil {
				return nil, unsupported("global section: %v", r.err)
			}
		case secExport:
			hasExport = true
			if err := checkExportNames(s.body); err != nil {
				return nil, err
			}
		case secCode:
			hasCode = true
		case secStart:
			// It runs inside instantiation, before the host has the
			// instance and can arm the flag.
			return nil, unsupported("the module has a start function")
		}
	}
	if !hasMemory {
		return nil, unsupported("the module has no memory") // memory.grow needs one
	}
	flag := importedGlobals + definedGlobals
	if flag+2 < importedGlobals {
		return nil, unsupported("too many globals")
	}
	out := append([]byte(nil), module[:8]...)
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	// The flag, (global (mut i32) (i32.const 0)), then the budget,
	// (global (mut i32) (i32.const Budget)).
	newGlobals := []byte{0x7F, 0x01, 0x41, 0x00, 0x0B, 0x7F, 0x01, 0x41}
	newGlobals = appendS32(newGlobals, Budget)
	newGlobals = append(newGlobals, 0x0B)
	newExport := appendU32(nil, uint32(len(Export)))
	newExport = append(newExport, Export...)
	newExport = append(newExport, 0x03) // a global
	newExport = appendU32(newExport, flag)
	addedGlobal, addedExport := hasGlobal, hasExport
	for _, s := range sections {
		if s.id == secCustom {
			if name, ok := customName(s.body); ok && strings.HasPrefix(name, ".debug_") {
				continue
			}
			emit(s.id, s.body)
			continue
		}
		// Sections this rewrite adds go before the first section that
		// must follow them.
		if !addedGlobal && sectionOrder[s.id] > sectionOrder[secGlobal] {
			emit(secGlobal, append(appendU32(nil, 2), newGlobals...))
			addedGlobal = true
		}
		if !addedExport && sectionOrder[s.id] > sectionOrder[secExport] {
			emit(secExport, append(appendU32(nil, 1), newExport...))
			addedExport = true
		}
		switch s.id {
		case secGlobal:
			body, err := appendItems(s.body, 2, newGlobals)
			if err != nil {
				return nil, unsupported("global section: %v", err)
			}
			emit(s.id, body)
		case secExport:
			body, err := appendItems(s.body, 1, newExport)
			if err != nil {
				return nil, unsupported("export section: %v", err)
			}
			emit(s.id, body)
		case secCode:
			body, err := rewriteCode(s.body, flag)
			if err != nil {
				return nil, err
			}
			emit(s.id, body)
		default:
			emit(s.id, s.body)
		}
	}
	if !hasCode {
		return nil, unsupported("no code section")
	}
	if !addedGlobal || !addedExport {
		return nil, unsupported("sections out of order") // unreachable: the code section comes after both
	}
	return out, nil
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

// split checks the header and cuts the module into its sections, in order.
func split(module []byte) ([]section, error) {
	if len(module) < 8 || !bytes.Equal(module[:8], []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}) {
		return nil, unsupported("not a WebAssembly 1.0 binary module")
	}
	r := reader{b: module, i: 8}
	var out []section
	last := 0
	for r.i < len(r.b) {
		id := r.byte()
		n := r.u32()
		if r.err != nil || uint64(r.i)+uint64(n) > uint64(len(r.b)) {
			return nil, unsupported("malformed section header at offset %d", r.i)
		}
		if id != secCustom {
			order, ok := sectionOrder[id]
			if !ok || order <= last {
				return nil, unsupported("unknown or misplaced section %d", id)
			}
			last = order
		}
		out = append(out, section{id: id, body: r.b[r.i : r.i+int(n)]})
		r.i += int(n)
	}
	return out, nil
}

// customName is a custom section's name.
func customName(body []byte) (string, bool) {
	r := reader{b: body}
	n := r.u32()
	if r.err != nil || uint64(r.i)+uint64(n) > uint64(len(body)) {
		return "", false
	}
	return string(body[r.i : r.i+int(n)]), true
}

// appendItems adds n items, encoded in items, at the end of a section that
// is a vector.
func appendItems(body []byte, n uint32, items []byte) ([]byte, error) {
	r := reader{b: body}
	count := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	if count+n < count {
		return nil, errors.New("too many items")
	}
	out := appendU32(nil, count+n)
	out = append(out, body[r.i:]...)
	return append(out, items...), nil
}

// countImports reads the import section: how many globals and memories.
func countImports(body []byte) (globals, memories uint32, err error) {
	r := reader{b: body}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case 0x00: // function: type index
			r.u32()
		case 0x01: // table: reftype, limits
			r.byte()
			r.limits()
		case 0x02: // memory: limits
			r.limits()
			memories++
		case 0x03: // global: valtype, mutability
			r.byte()
			r.byte()
			globals++
		case 0x04: // tag: attribute, type index
			r.byte()
			r.u32()
		default:
			return 0, 0, unsupported("import of unknown kind %d", kind)
		}
	}
	if r.err != nil || r.i != len(r.b) {
		return 0, 0, unsupported("malformed import section")
	}
	return globals, memories, nil
}

// checkExportNames refuses a module that already exports Export.
func checkExportNames(body []byte) error {
	r := reader{b: body}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		if r.name() == Export {
			return unsupported("the module already exports %q", Export)
		}
		r.byte()
		r.u32()
	}
	if r.err != nil || r.i != len(r.b) {
		return unsupported("malformed export section")
	}
	return nil
}

// check is what every loop starts with (flag and flag+1 are the indices of
// the flag and the budget):
//
//	global.get $budget
//	i32.const 1
//	i32.sub
//	global.set $budget
//	global.get $budget
//	i32.eqz
//	if
//	  i32.const Budget
//	  global.set $budget
//	  global.get $flag
//	  if
//	    unreachable
//	  end
//	  i32.const 0
//	  memory.grow 0
//	  drop
//	end
func check(flag uint32) []byte {
	budget := flag + 1
	b := append([]byte{0x23}, appendU32(nil, budget)...)
	b = append(b, 0x41, 0x01, 0x6B, 0x24)
	b = appendU32(b, budget)
	b = append(b, 0x23)
	b = appendU32(b, budget)
	b = append(b, 0x45, 0x04, 0x40, 0x41)
	b = appendS32(b, Budget)
	b = append(b, 0x24)
	b = appendU32(b, budget)
	b = append(b, 0x23)
	b = appendU32(b, flag)
	b = append(b, 0x04, 0x40, 0x00, 0x0B, 0x41, 0x00, 0x40, 0x00, 0x1A, 0x0B)
	return b
}

// rewriteCode rewrites every function body of the code section.
func rewriteCode(body []byte, flag uint32) ([]byte, error) {
	r := reader{b: body}
	n := r.u32()
	if r.err != nil {
		return nil, unsupported("malformed code section")
	}
	chk := check(flag)
	out := appendU32(make([]byte, 0, len(body)+len(body)/8), n)
	var fn []byte
	for i := uint32(0); i < n; i++ {
		size := r.u32()
		if r.err != nil || uint64(r.i)+uint64(size) > uint64(len(r.b)) {
			return nil, unsupported("malformed body of function %d", i)
		}
		var err error
		fn, err = rewriteFunction(fn[:0], r.b[r.i:r.i+int(size)], flag, chk)
		if err != nil {
			return nil, unsupported("function %d: %v", i, err)
		}
		r.i += int(size)
		out = appendU32(out, uint32(len(fn)))
		out = append(out, fn...)
	}
	if r.i != len(r.b) {
		return nil, unsupported("data after the last function body")
	}
	return out, nil
}

// rewriteFunction appends body to out with chk after every loop opcode.
// Reading a global the module does not have (the flag's index, say) is
// refused: only this rewrite may use the flag.
func rewriteFunction(out, body []byte, flag uint32, chk []byte) ([]byte, error) {
	r := reader{b: body}
	for groups := r.u32(); groups > 0 && r.err == nil; groups-- { // locals
		r.u32()
		r.byte()
	}
	if r.err != nil {
		return nil, r.err
	}
	start := 0
	depth := 1 // the function's own block
	for depth > 0 {
		if r.i >= len(r.b) {
			return nil, errors.New("no end")
		}
		op := r.byte()
		switch {
		case op == 0x02 || op == 0x04: // block, if
			r.blockType()
			depth++
		case op == 0x03: // loop
			r.blockType()
			depth++
			if r.err == nil {
				out = append(out, r.b[start:r.i]...)
				out = append(out, chk...)
				start = r.i
			}
		case op == 0x0B: // end
			depth--
		case op == 0x1F: // try_table blocktype vec(catch)
			r.blockType()
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				switch kind := r.byte(); kind {
				case 0x00, 0x01: // catch, catch_ref: tag, label
					r.u32()
					r.u32()
				case 0x02, 0x03: // catch_all, catch_all_ref: label
					r.u32()
				default:
					return nil, fmt.Errorf("unknown catch kind %d", kind)
				}
			}
			depth++
		case op == 0x23 || op == 0x24: // global.get, global.set
			if g := r.u32(); r.err == nil && g >= flag {
				return nil, fmt.Errorf("global index %d out of range", g)
			}
		default:
			if err := r.skipImmediates(op); err != nil {
				return nil, err
			}
		}
		if r.err != nil {
			return nil, r.err
		}
	}
	if r.i != len(r.b) {
		return nil, errors.New("code after the function's end")
	}
	return append(out, r.b[start:]...), nil
}

// skipImmediates reads the immediates of op, any opcode but the block
// instructions and global accesses.
func (r *reader) skipImmediates(op byte) error {
	switch {
	case op == 0x00, op == 0x01, op == 0x05, op == 0x0A, op == 0x0F, op == 0x1A, op == 0x1B, op == 0xD1:
		// unreachable, nop, else, throw_ref, return, drop, select, ref.is_null
	case op >= 0x45 && op <= 0xC4: // numeric instructions, sign extension
	case op == 0x08, op == 0x0C, op == 0x0D, op == 0x10, op == 0x12, op == 0xD2:
		// throw, br, br_if, call, return_call, ref.func
		r.u32()
	case op == 0x0E: // br_table
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x11, op == 0x13: // call_indirect, return_call_indirect: type, table
		r.u32()
		r.u32()
	case op == 0x1C: // select t*
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.byte()
		}
	case op >= 0x20 && op <= 0x22, op == 0x25, op == 0x26: // locals, table.get/set
		r.u32()
	case op >= 0x28 && op <= 0x3E: // loads and stores
		r.memarg()
	case op == 0x3F, op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41:
		r.leb(32, true)
	case op == 0x42:
		r.leb(64, true)
	case op == 0x43:
		r.skip(4)
	case op == 0x44:
		r.skip(8)
	case op == 0xD0: // ref.null t
		r.byte()
	case op == 0xFC:
		return r.skipMisc(r.u32())
	case op == 0xFD:
		return r.skipSIMD(r.u32())
	case op == 0xFE:
		return r.skipAtomic(r.u32())
	default:
		return fmt.Errorf("unknown opcode 0x%02x at offset %d", op, r.i-1)
	}
	return nil
}

// skipMisc reads the immediates of the 0xFC-prefixed instructions
// (saturating conversions, bulk memory, tables).
func (r *reader) skipMisc(sub uint32) error {
	switch {
	case sub <= 7: // trunc_sat
	case sub == 8, sub == 10, sub == 12, sub == 14: // memory.init, memory.copy, table.init, table.copy
		r.u32()
		r.u32()
	case sub == 9, sub == 11, sub == 13, sub >= 15 && sub <= 17: // data.drop, memory.fill, elem.drop, table.grow/size/fill
		r.u32()
	default:
		return fmt.Errorf("unknown opcode 0xfc %d", sub)
	}
	return nil
}

// skipSIMD reads the immediates of the 0xFD-prefixed instructions.
func (r *reader) skipSIMD(sub uint32) error {
	switch {
	case sub <= 0x0B, sub == 0x5C, sub == 0x5D: // loads and stores
		r.memarg()
	case sub == 0x0C, sub == 0x0D: // v128.const, i8x16.shuffle
		r.skip(16)
	case sub >= 0x15 && sub <= 0x22: // extract and replace lane
		r.byte()
	case sub >= 0x54 && sub <= 0x5B: // load and store lane
		r.memarg()
		r.byte()
	case sub <= 0x113: // the rest have no immediates (relaxed SIMD included)
	default:
		return fmt.Errorf("unknown opcode 0xfd %d", sub)
	}
	return nil
}

// skipAtomic reads the immediates of the 0xFE-prefixed instructions (threads).
func (r *reader) skipAtomic(sub uint32) error {
	switch {
	case sub == 0x03: // atomic.fence
		r.byte()
	case sub <= 0x02, sub >= 0x10 && sub <= 0x4E:
		r.memarg()
	default:
		return fmt.Errorf("unknown opcode 0xfe %d", sub)
	}
	return nil
}

// reader decodes the binary format; the first error sticks.
type reader struct {
	b   []byte
	i   int
	err error
}

var errShort = errors.New("unexpected end")

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.i >= len(r.b) {
		r.err = errShort
		return 0
	}
	c := r.b[r.i]
	r.i++
	return c
}

func (r *reader) skip(n int) {
	if r.err == nil && r.i+n > len(r.b) {
		r.err = errShort
		return
	}
	r.i += n
}

// leb reads a LEB128 number of at most bits bits and returns it unsigned.
func (r *reader) leb(bits uint, signed bool) uint64 {
	var v uint64
	var shift uint
	for n := uint(0); ; n++ {
		if n >= (bits+6)/7 {
			r.err = errors.New("LEB128 number too long")
			return 0
		}
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7F) << shift
		shift += 7
		if c&0x80 == 0 {
			break
		}
	}
	if !signed && bits < 64 && v>>bits != 0 {
		r.err = errors.New("LEB128 number out of range")
	}
	return v
}

func (r *reader) u32() uint32 { return uint32(r.leb(32, false)) }

// name reads a name (a length and UTF-8 bytes).
func (r *reader) name() string {
	n := r.u32()
	if r.err != nil {
		return ""
	}
	if uint64(r.i)+uint64(n) > uint64(len(r.b)) {
		r.err = errShort
		return ""
	}
	s := string(r.b[r.i : r.i+int(n)])
	r.i += int(n)
	return s
}

// limits reads a table's or memory's limits (flags, min, optional max).
func (r *reader) limits() {
	flags := r.byte()
	if flags > 0x07 {
		r.err = fmt.Errorf("unknown limits flags %d", flags)
		return
	}
	r.leb(64, false)
	if flags&0x01 != 0 {
		r.leb(64, false)
	}
}

// blockType reads a block type: 0x40, a value type or a type index (s33).
func (r *reader) blockType() { r.leb(33, true) }

// memarg reads alignment and offset; a memory index (multiple memories)
// is refused.
func (r *reader) memarg() {
	align := r.u32()
	if r.err == nil && align >= 64 {
		r.err = errors.New("multiple memories are not supported")
		return
	}
	r.leb(64, false)
}

// appendS32 appends v as signed LEB128.
func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7F)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// appendU32 appends v as unsigned LEB128.
func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
