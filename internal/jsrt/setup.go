package jsrt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/dop251/goja"
)

// ErrNoExports means a script ran but exports nothing (no export
// statement, no module.exports): hooks and workflows each explain what
// they expect it to export.
var ErrNoExports = errors.New("it exports nothing")

// Setup is New for a runtime the caller made (an event loop's, say): it sets
// the field name mapper, the call stack limit, console, process.env and fs
// by opts, runs s and returns its exports. Globals the caller set before
// (setTimeout, its own host objects) are kept, so the script's top level
// can already use them.
func Setup(vm *goja.Runtime, s *Script, opts Options) (*goja.Object, error) {
	return SetupContext(context.Background(), vm, s, opts)
}

// SetupContext is Setup with the script's top-level code interrupted when
// ctx ends. When it returns without error, vm carries no pending interrupt.
func SetupContext(ctx context.Context, vm *goja.Runtime, s *Script, opts Options) (*goja.Object, error) {
	vm.SetFieldNameMapper(goja.TagFieldNameMapper("json", true))
	depth := opts.MaxCallStackSize
	if depth <= 0 {
		depth = 1024
	}
	vm.SetMaxCallStackSize(depth)
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("script", s.Name)
	if err := setConsole(vm, logger); err != nil {
		return nil, err
	}
	if err := setProcess(vm, opts.Grants.Env); err != nil {
		return nil, err
	}
	if err := setFS(vm, opts); err != nil {
		return nil, err
	}
	if err := setRedact(vm); err != nil {
		return nil, err
	}
	if opts.Setup != nil {
		if err := opts.Setup(vm); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("script %s: %w", s.Path, context.Cause(ctx))
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		vm.Interrupt(context.Cause(ctx))
		close(fired)
	})
	_, err := vm.RunProgram(s.Program)
	if !stop() {
		// The interrupt came (or is coming): let it land, then clear it so
		// that it cannot hit the runtime's next use.
		<-fired
		vm.ClearInterrupt()
	}
	if err != nil {
		return nil, fmt.Errorf("script %s: %w", s.Path, Describe(err))
	}
	obj, ok := vm.Get(exportsVar).(*goja.Object)
	if !ok {
		return nil, fmt.Errorf("script %s: %w", s.Path, ErrNoExports)
	}
	return obj, nil
}
