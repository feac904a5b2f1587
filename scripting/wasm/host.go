package wasm

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// hostFunc is one function of the "mcpscript" host module.
type hostFunc struct {
	params, results []api.ValueType
	names           []string
	fn              func(f *Filter) api.GoModuleFunc
}

// hostFuncs is the host module of ABI v1. Each function finds the instance
// being called in its context (instKey), so one host module serves every
// instance of a filter.
var hostFuncs = map[string]hostFunc{
	// input_read(ptr, len) -> copied: copies up to len bytes of the current
	// Input's JSON to guest memory at ptr; returns the number copied.
	"input_read": {sigII, sigI, []string{"ptr", "len"}, func(*Filter) api.GoModuleFunc {
		return func(ctx context.Context, m api.Module, stack []uint64) {
			ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
			var in []byte
			if inst := current(ctx); inst != nil {
				in = inst.in
			}
			if uint64(n) > uint64(len(in)) {
				n = uint32(len(in))
			}
			if n > 0 && !m.Memory().Write(ptr, in[:n]) {
				panic(outOfRange("input_read", ptr, n, m))
			}
			stack[0] = uint64(n)
		}
	}},
	// output_write(ptr, len): appends len bytes at ptr to the call's output
	// (the Decision's JSON, or an error message when the call returns
	// non-zero).
	"output_write": {sigII, nil, []string{"ptr", "len"}, func(*Filter) api.GoModuleFunc {
		return func(ctx context.Context, m api.Module, stack []uint64) {
			ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
			b, ok := m.Memory().Read(ptr, n)
			if !ok {
				panic(outOfRange("output_write", ptr, n, m))
			}
			inst := current(ctx)
			if inst == nil {
				return
			}
			if len(inst.out)+len(b) > MaxOutputBytes {
				panic(fmt.Errorf("output_write: the output is over the limit of %d MiB", MaxOutputBytes>>20))
			}
			inst.out = append(inst.out, b...) // copy: b is a view of guest memory
		}
	}},
	// config_read(ptr, len) -> size: copies up to len bytes of the
	// filter's config JSON to ptr; returns the config's full size, so
	// config_read(0, 0) asks for the size.
	"config_read": {sigII, sigI, []string{"ptr", "len"}, func(f *Filter) api.GoModuleFunc {
		return func(_ context.Context, m api.Module, stack []uint64) {
			ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
			if uint64(n) > uint64(len(f.config)) {
				n = uint32(len(f.config))
			}
			if n > 0 && !m.Memory().Write(ptr, f.config[:n]) {
				panic(outOfRange("config_read", ptr, n, m))
			}
			stack[0] = uint64(len(f.config))
		}
	}},
	// log(level, ptr, len): logs the UTF-8 message at ptr at the slog
	// level (-4 debug, 0 info, 4 warn, 8 error); at most maxLines messages
	// and maxLogBytes per call, the rest dropped.
	"log": {[]api.ValueType{i32, i32, i32}, nil, []string{"level", "ptr", "len"}, func(f *Filter) api.GoModuleFunc {
		return func(ctx context.Context, m api.Module, stack []uint64) {
			level, ptr, n := api.DecodeI32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
			if n > maxLogMessage {
				n = maxLogMessage
			}
			b, ok := m.Memory().Read(ptr, n)
			if !ok {
				panic(outOfRange("log", ptr, n, m))
			}
			args := []any{"filter", f.name}
			if inst := current(ctx); inst != nil {
				if inst.logs >= maxLines || inst.logBytes+len(b) > maxLogBytes {
					inst.logDropped++ // end says so, once
					return
				}
				inst.logs++
				inst.logBytes += len(b)
				if inst.phase != "" {
					args = append(args, "phase", string(inst.phase))
				}
			}
			f.logger.Log(ctx, slog.Level(level), string(b), args...)
		}
	}},
}

// maxLogMessage bounds one log message; longer ones are cut.
const maxLogMessage = 64 << 10

// instantiateHost builds the "mcpscript" host module in f's runtime.
func (f *Filter) instantiateHost(ctx context.Context) error {
	b := f.rt.NewHostModuleBuilder(HostModule)
	for name, h := range hostFuncs {
		b.NewFunctionBuilder().
			WithGoModuleFunction(h.fn(f), h.params, h.results).
			WithParameterNames(h.names...).
			Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// instantiateWASI builds WASI preview 1 in f's runtime, with fd_write
// replaced by fdWrite.
func (f *Filter) instantiateWASI(ctx context.Context) error {
	b := f.rt.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(fdWrite), []api.ValueType{i32, i32, i32, i32}, sigI).
		WithParameterNames("fd", "iovs", "iovs_len", "result.nwritten").
		Export("fd_write")
	_, err := b.Instantiate(ctx)
	return err
}

// maxIovecs bounds the buffers of one fd_write, as Linux's IOV_MAX does.
const maxIovecs = 1024

// WASI errno values.
const (
	errnoBadf  = 8
	errnoFault = 21
	errnoInval = 28
)

// fdWrite is WASI's fd_write(fd, iovs, iovs_len, result.nwritten) ->
// errno, for stdout and stderr, the only files a guest has. wazero's own
// takes any number of buffers (millions fit in a guest's memory), in host
// code that the call's deadline cannot interrupt; this one takes at most
// maxIovecs (more is EINVAL, as on Linux), and the instance's lineLoggers
// bound the rest.
func fdWrite(ctx context.Context, m api.Module, stack []uint64) {
	fd, iovs, n, result := api.DecodeI32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2]), api.DecodeU32(stack[3])
	stack[0] = func() uint64 {
		inst := current(ctx)
		var w *lineLogger
		switch {
		case inst == nil:
			return errnoBadf
		case fd == 1:
			w = inst.stdout
		case fd == 2:
			w = inst.stderr
		default:
			return errnoBadf
		}
		if n > maxIovecs {
			return errnoInval
		}
		mem := m.Memory()
		vec, ok := mem.Read(iovs, n*8)
		if !ok {
			return errnoFault
		}
		var written uint32
		for i := uint32(0); i < n; i++ {
			b, ok := mem.Read(binary.LittleEndian.Uint32(vec[8*i:]), binary.LittleEndian.Uint32(vec[8*i+4:]))
			if !ok {
				return errnoFault
			}
			_, _ = w.Write(b)
			written += uint32(len(b))
		}
		if !mem.WriteUint32Le(result, written) {
			return errnoFault
		}
		return 0
	}()
}

// current returns the instance being called, from a host function's context.
func current(ctx context.Context) *instance {
	inst, _ := ctx.Value(instKey{}).(*instance)
	return inst
}

// outOfRange is the trap of a host function handed a bad buffer.
func outOfRange(fn string, ptr, n uint32, m api.Module) error {
	return fmt.Errorf("%s: the buffer [%d, %d) is outside the guest's memory of %d bytes", fn, ptr, uint64(ptr)+uint64(n), m.Memory().Size())
}
