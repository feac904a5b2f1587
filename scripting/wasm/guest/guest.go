//go:build wasip1

package guest

import (
	"encoding/json"
	"errors"
	"fmt"
	"unsafe"
)

var (
	handler Handler
	raw     RawHandler
	initFns []func() error
)

// Handle registers the filter's handler. Call it from an init function:
// a reactor module never runs main.
func Handle(h Handler) { handler, raw = h, nil }

// HandleRaw registers a handler that reads the Input's JSON and writes the
// Decision's JSON itself (to use another JSON library, or to pass bytes
// through untouched); it replaces any handler registered before.
func HandleRaw(h RawHandler) { handler, raw = nil, h }

// Init registers f to run once per instance, after every init function and
// before the first call; an error refuses the instance (and, for the first
// one, makes loading the filter fail with the error's message). It is the
// place to read and check Config.
func Init(f func() error) { initFns = append(initFns, f) }

// ConfigBytes returns the filter's "config" from the mcpscript configuration,
// as JSON; "{}" when none was given.
func ConfigBytes() []byte {
	n := configRead(nil, 0)
	if n == 0 {
		return []byte("{}")
	}
	b := make([]byte, n)
	configRead(unsafe.Pointer(&b[0]), n)
	return b
}

// Config decodes the filter's config into v (a pointer).
func Config(v any) error {
	if err := json.Unmarshal(ConfigBytes(), v); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Log writes msg to the host's log at level, tagged with the filter's name.
// (Anything written to os.Stdout or os.Stderr is logged too, a line at a
// time.) Outside WebAssembly, as in a filter's native tests, it writes to
// os.Stderr.
func Log(level Level, msg string) {
	if msg == "" {
		hostLog(int32(level), nil, 0)
		return
	}
	hostLog(int32(level), unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}

//go:wasmimport mcpscript input_read
func inputRead(ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport mcpscript output_write
func outputWrite(ptr unsafe.Pointer, n uint32)

//go:wasmimport mcpscript config_read
func configRead(ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport mcpscript log
func hostLog(level int32, ptr unsafe.Pointer, n uint32)

func write(b []byte) {
	if len(b) == 0 {
		outputWrite(nil, 0)
		return
	}
	outputWrite(unsafe.Pointer(&b[0]), uint32(len(b)))
}

// fail writes err's message as the output and returns the error code.
func fail(err error) int32 {
	write([]byte(err.Error()))
	return 1
}

// The exports are called by the host only; this tells linters they are used.
var _ = []any{abiVersion, initInstance, filter}

//go:wasmexport mcpscript_abi_version
func abiVersion() int32 { return ABIVersion }

//go:wasmexport mcpscript_init
func initInstance() int32 {
	for _, f := range initFns {
		if err := f(); err != nil {
			return fail(err)
		}
	}
	return 0
}

//go:wasmexport mcpscript_filter
func filter(n uint32) int32 {
	if handler == nil && raw == nil {
		return fail(errors.New("no handler: call guest.Handle from an init function"))
	}
	buf := make([]byte, n) // not reused: the Input's raw fields point into it
	if n > 0 {
		buf = buf[:inputRead(unsafe.Pointer(&buf[0]), n)]
	}
	if raw != nil {
		out, err := raw(buf)
		if err != nil {
			return fail(err)
		}
		write(out)
		return 0
	}
	in := new(Input)
	if err := decodeInput(buf, in); err != nil {
		return fail(fmt.Errorf("reading the input: %w", err))
	}
	d, err := handler(in)
	if err != nil {
		return fail(err)
	}
	if d.isContinue() {
		write(continueJSON) // the common answer, without encoding/json's reflection
		return 0
	}
	out, err := json.Marshal(d)
	if err != nil {
		return fail(fmt.Errorf("encoding the decision: %w", err))
	}
	write(out)
	return 0
}

var continueJSON = []byte("{}")
