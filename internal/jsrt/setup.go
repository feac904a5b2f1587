package jsrt

import (
	"fmt"
	"log/slog"

	"github.com/dop251/goja"
)

// Setup is New for a runtime the caller made (an event loop's, say): it sets
// the field name mapper, the call stack limit, console, process.env and fs
// by opts, runs s and returns its exports. Globals the caller set before
// (setTimeout, its own host objects) are kept, so the script's top level
// can already use them.
func Setup(vm *goja.Runtime, s *Script, opts Options) (*goja.Object, error) {
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
	if _, err := vm.RunProgram(s.Program); err != nil {
		return nil, fmt.Errorf("script %s: %w", s.Path, Describe(err))
	}
	obj, ok := vm.Get(exportsVar).(*goja.Object)
	if !ok {
		return nil, fmt.Errorf("script %s: it exports nothing", s.Path)
	}
	return obj, nil
}
