package wasm

import "encoding/binary"

// A tiny WebAssembly binary writer for hand-made test modules: wazero has
// no text-format compiler, and these modules must be wrong in exact ways.

type wfunc struct {
	typ  int    // index into types
	body []byte // instructions, without the locals vector and the final end
}

type wexport struct {
	name string
	kind byte // 0 function, 2 memory
	idx  int
}

type wimport struct {
	module, name string
	typ          int
}

type wtype struct{ params, results []byte }

type wmodule struct {
	types   []wtype
	imports []wimport
	funcs   []wfunc
	pages   int // memory 0's minimum; 0: no memory
	exports []wexport
	data    []byte // placed at offset 0
}

const (
	wI32 = 0x7f

	opCall     = 0x10
	opLocalGet = 0x20
	opI32Const = 0x41
	opDrop     = 0x1a
	opLoop     = 0x03
	opBr       = 0x0c
	opEnd      = 0x0b
	opVoid     = 0x40
	opIf       = 0x04
	opI32GtU   = 0x4b
)

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		done := (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0)
		if !done {
			c |= 0x80
		}
		b = append(b, c)
		if done {
			return b
		}
	}
}

func wname(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func wvec(items ...[]byte) []byte {
	b := uleb(uint64(len(items)))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func section(id byte, content []byte) []byte {
	return append(append([]byte{id}, uleb(uint64(len(content)))...), content...)
}

// i32c is i32.const v.
func i32c(v int32) []byte { return append([]byte{opI32Const}, sleb(int64(v))...) }

func (m wmodule) bytes() []byte {
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	var items [][]byte
	for _, t := range m.types {
		items = append(items, append(append([]byte{0x60}, wvec(bytesOf(t.params)...)...), wvec(bytesOf(t.results)...)...))
	}
	out = append(out, section(1, wvec(items...))...)
	if len(m.imports) > 0 {
		items = nil
		for _, im := range m.imports {
			e := append(wname(im.module), wname(im.name)...)
			items = append(items, append(append(e, 0), uleb(uint64(im.typ))...))
		}
		out = append(out, section(2, wvec(items...))...)
	}
	items = nil
	for _, f := range m.funcs {
		items = append(items, uleb(uint64(f.typ)))
	}
	out = append(out, section(3, wvec(items...))...)
	if m.pages > 0 {
		out = append(out, section(5, wvec(append([]byte{0}, uleb(uint64(m.pages))...)))...)
	}
	items = nil
	for _, e := range m.exports {
		items = append(items, append(append(wname(e.name), e.kind), uleb(uint64(e.idx))...))
	}
	out = append(out, section(7, wvec(items...))...)
	items = nil
	for _, f := range m.funcs {
		body := append(append([]byte{0}, f.body...), opEnd) // no locals
		items = append(items, append(uleb(uint64(len(body))), body...))
	}
	out = append(out, section(10, wvec(items...))...)
	if len(m.data) > 0 {
		seg := append([]byte{0}, i32c(0)...)
		seg = append(seg, opEnd)
		seg = append(seg, uleb(uint64(len(m.data)))...)
		seg = append(seg, m.data...)
		out = append(out, section(11, wvec(seg))...)
	}
	return out
}

func bytesOf(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i, c := range b {
		out[i] = []byte{c}
	}
	return out
}

// handModule returns a minimal ABI v1 filter that writes {} (or the
// output given) and returns code, declaring version as its ABI version;
// mutate changes it before encoding.
func handModule(version, code int32, output string, mutate func(*wmodule)) []byte {
	var body []byte
	body = append(body, i32c(0)...)
	body = append(body, i32c(int32(len(output)))...)
	body = append(body, opCall, 0) // output_write(0, len)
	body = append(body, i32c(code)...)
	m := wmodule{
		types: []wtype{
			{params: []byte{wI32, wI32}},                   // 0: (i32, i32)
			{results: []byte{wI32}},                        // 1: () -> i32
			{[]byte{wI32}, []byte{wI32}},                   // 2: (i32) -> i32
			{},                                             // 3: ()
			{[]byte{wI32, wI32}, []byte{wI32}},             // 4: (i32, i32) -> i32
			{[]byte{wI32, wI32, wI32}, []byte{}},           // 5: (i32, i32, i32)
			{[]byte{wI32, wI32, wI32, wI32}, []byte{wI32}}, // 6: (i32, i32, i32, i32) -> i32
		},
		imports: []wimport{{"mcpscript", "output_write", 0}},
		funcs: []wfunc{
			{1, i32c(version)}, // func 1: mcpscript_abi_version
			{2, body},          // func 2: mcpscript_filter
		},
		pages: 1,
		exports: []wexport{
			{"memory", 2, 0},
			{"mcpscript_abi_version", 0, 1},
			{"mcpscript_filter", 0, 2},
		},
		data: []byte(output),
	}
	if mutate != nil {
		mutate(&m)
	}
	return m.bytes()
}

// bodyModule is an ABI v1 module whose mcpscript_filter has the body
// given: it imports output_write (function 0) and then imports (functions
// 1, 2, ...), and its memory of pages pages starts with data.
func bodyModule(imports []wimport, pages int, data, body []byte) []byte {
	return handModule(1, 0, "", func(m *wmodule) {
		m.imports = append(m.imports, imports...)
		m.exports[1].idx += len(imports)
		m.exports[2].idx += len(imports)
		m.funcs[1].body = body
		m.pages = pages
		m.data = data
	})
}

// code concatenates instructions.
func code(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// le32 is the little-endian encoding of v, for data segments.
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
