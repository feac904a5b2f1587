// Package guest is the Go SDK for mcpscript WebAssembly filters: it
// implements the guest side of "mcpscript filter ABI v1" (docs/wasm-abi.md)
// so that a filter is a plain Go function from Input to Decision.
//
// The registration and host functions (Handle, HandleRaw, Init, Config)
// exist only for GOOS=wasip1; the types and decision helpers (Input,
// Decision, Deny, Result, ...) and Log build everywhere (Log writes to
// stderr outside WebAssembly), so a filter's logic can be unit-tested
// natively with go test. A filter is a main package that
// registers its handler in init, because a reactor module never runs main:
//
//	package main
//
//	import "github.com/mcpscript/mcpscript/scripting/wasm/guest"
//
//	func init() {
//		guest.Handle(func(in *guest.Input) (*guest.Decision, error) {
//			if in.Hook == guest.ToolCall && in.Tool == "delete_everything" {
//				return guest.Deny("not today"), nil
//			}
//			return guest.Continue(), nil
//		})
//	}
//
//	func main() {} // required by the Go toolchain; never called
//
// Build it as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o myfilter.wasm .
//
// Members splits a JSON object (tool arguments, say) into its members
// without decoding their values, and Redact and RedactResult rewrite the
// texts of a result in place: in wasm, where loops written in Go are
// slow, they cost far less than decoding into maps and encoding again
// (docs/wasm-abi.md, "Costs").
//
// The package itself exports the ABI's functions (mcpscript_abi_version,
// mcpscript_init, mcpscript_filter) with //go:wasmexport, so a filter's own
// code declares none. It depends on the standard library only
// (encoding/json for the helpers).
package guest
