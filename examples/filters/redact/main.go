//go:build wasip1

package main

import "github.com/mcpscript/mcpscript/scripting/wasm/guest"

// The filter's logic (filter.go) builds natively too, so that its tests
// and benchmarks run with go test; only the registration is wasm's.
func init() {
	guest.Init(func() error { return setup(guest.ConfigBytes()) })
	guest.Handle(handle)
}
