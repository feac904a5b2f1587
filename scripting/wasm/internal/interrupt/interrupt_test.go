package interrupt

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// module assembles a module from its sections (id, then body).
func module(sections ...[]byte) []byte {
	m := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	for _, s := range sections {
		m = append(m, s[0])
		m = appendU32(m, uint32(len(s)-1))
		m = append(m, s[1:]...)
	}
	return m
}

func sec(id byte, body ...byte) []byte { return append([]byte{id}, body...) }

// vec is a vector of already encoded items.
func vec(items ...[]byte) []byte {
	b := appendU32(nil, uint32(len(items)))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

// code is a function body with its size.
func code(body ...byte) []byte { return append(appendU32(nil, uint32(len(body))), body...) }

func export(name string, kind byte, index uint32) []byte {
	b := appendU32(nil, uint32(len(name)))
	b = append(b, name...)
	return appendU32(append(b, kind), index)
}

var (
	// (func (param i32) (result i32)): counts its argument down to 0 in a
	// loop and returns how many times it went round.
	countBody = []byte{0x01, 0x01, 0x7F, // one i32 local
		0x02, 0x40, 0x03, 0x40, // block loop
		0x20, 0x00, 0x45, 0x0D, 0x01, // local.get 0, i32.eqz, br_if 1
		0x20, 0x01, 0x41, 0x01, 0x6A, 0x21, 0x01, // acc++
		0x20, 0x00, 0x41, 0x01, 0x6B, 0x21, 0x00, // n--
		0x0C, 0x00, 0x0B, 0x0B, // br 0, end, end
		0x20, 0x01, 0x0B} // local.get 1, end
	// (func): loops forever.
	spinBody = []byte{0x00, 0x03, 0x40, 0x0C, 0x00, 0x0B, 0x0B}
)

// testModule has the functions count (0) and spin (1), a memory and a
// global of its own.
func testModule() []byte {
	return module(
		sec(1, vec([]byte{0x60, 0x01, 0x7F, 0x01, 0x7F}, []byte{0x60, 0x00, 0x00})...),
		sec(3, vec([]byte{0x00}, []byte{0x01})...),
		sec(5, vec([]byte{0x00, 0x01})...),
		sec(6, vec([]byte{0x7E, 0x01, 0x42, 0x07, 0x0B})...),
		sec(7, vec(export("count", 0, 0), export("spin", 0, 1), export("memory", 2, 0))...),
		sec(10, vec(code(countBody...), code(spinBody...))...),
		sec(0, append(append(appendU32(nil, 11), ".debug_info"...), 1, 2, 3)...),
		sec(0, append(append(appendU32(nil, 4), "keep"...), 1, 2, 3)...),
	)
}

func instantiate(t *testing.T, wasm []byte) api.Module {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(false))
	t.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

func TestInstrumentKeepsBehaviour(t *testing.T) {
	out, err := Instrument(testModule())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(".debug_info")) || !bytes.Contains(out, []byte("keep")) {
		t.Error("want DWARF sections dropped and other custom sections kept")
	}
	mod := instantiate(t, out)
	for _, n := range []uint64{0, 1, Budget - 1, Budget, Budget + 1, 3*Budget + 5} {
		res, err := mod.ExportedFunction("count").Call(context.Background(), n)
		if err != nil || res[0] != n {
			t.Errorf("count(%d) = %v, %v", n, res, err)
		}
	}
	if g := mod.ExportedGlobal(Export); g == nil || g.Get() != 0 {
		t.Errorf("flag %v, want an exported global at 0", g)
	}
}

// A guest in an endless loop lets the garbage collector stop it, and
// stops when the flag is set.
func TestInstrumentStopsLoops(t *testing.T) {
	out, err := Instrument(testModule())
	if err != nil {
		t.Fatal(err)
	}
	mod := instantiate(t, out)
	done := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction("spin").Call(context.Background())
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let it spin
	gc := make(chan struct{})
	go func() {
		runtime.GC() // stops the world: waits for the spinning goroutine
		close(gc)
	}()
	select {
	case <-gc:
	case <-time.After(10 * time.Second):
		t.Fatal("a garbage collection waited for the guest for 10s")
	}
	select {
	case err := <-done:
		t.Fatalf("spin returned before the flag was set: %v", err)
	default:
	}
	mod.ExportedGlobal(Export).(api.MutableGlobal).Set(1)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Errorf("spin: %v, want the unreachable trap", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("spin still runs 10s after the flag was set")
	}
}

func TestInstrumentRefuses(t *testing.T) {
	// A module that reads the global the flag would get: it could clear it.
	sneaky := module(
		sec(1, vec([]byte{0x60, 0x00, 0x00})...),
		sec(3, vec([]byte{0x00})...),
		sec(5, vec([]byte{0x00, 0x01})...),
		sec(10, vec(code(0x00, 0x41, 0x00, 0x24, 0x00, 0x0B))...), // i32.const 0, global.set 0
	)
	noMemory := module(
		sec(1, vec([]byte{0x60, 0x00, 0x00})...),
		sec(3, vec([]byte{0x00})...),
		sec(10, vec(code(spinBody...))...),
	)
	clash := module(
		sec(1, vec([]byte{0x60, 0x00, 0x00})...),
		sec(3, vec([]byte{0x00})...),
		sec(5, vec([]byte{0x00, 0x01})...),
		sec(7, vec(export(Export, 0, 0))...),
		sec(10, vec(code(spinBody...))...),
	)
	unknownOp := module(
		sec(1, vec([]byte{0x60, 0x00, 0x00})...),
		sec(3, vec([]byte{0x00})...),
		sec(5, vec([]byte{0x00, 0x01})...),
		sec(10, vec(code(0x00, 0x06, 0x40, 0x0B, 0x0B))...), // legacy try
	)
	start := module(
		sec(1, vec([]byte{0x60, 0x00, 0x00})...),
		sec(3, vec([]byte{0x00})...),
		sec(5, vec([]byte{0x00, 0x01})...),
		sec(8, 0x00),
		sec(10, vec(code(spinBody...))...),
	)
	truncated := testModule()
	truncated = truncated[:len(truncated)-30]
	for _, c := range []struct {
		name string
		wasm []byte
		want string
	}{
		{"empty", nil, "not a WebAssembly"},
		{"text", []byte("(module)"), "not a WebAssembly"},
		{"sneaky", sneaky, "global index 0 out of range"},
		{"no memory", noMemory, "no memory"},
		{"clash", clash, "already exports"},
		{"unknown opcode", unknownOp, "unknown opcode 0x06"},
		{"start function", start, "start function"},
		{"truncated", truncated, "malformed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Instrument(c.wasm)
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want ErrUnsupported saying %q", err, c.want)
			}
		})
	}
}

// Whatever the input, Instrument returns an error or a module; a module
// that wazero accepts stays one that it accepts.
func FuzzInstrument(f *testing.F) {
	f.Add(testModule())
	f.Add(module(sec(5, vec([]byte{0x00, 0x01})...), sec(10, vec()...)))
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := Instrument(wasm)
		if err != nil {
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error %v is not ErrUnsupported", err)
			}
			return
		}
		ctx := context.Background()
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(false))
		defer rt.Close(ctx)
		if _, err := rt.CompileModule(ctx, wasm); err != nil {
			return
		}
		if _, err := rt.CompileModule(ctx, out); err != nil {
			t.Fatalf("the module compiles, but not once instrumented: %v", err)
		}
	})
}
