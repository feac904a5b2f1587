// Package scripting lets users change what flows through the engine: hooks
// (JavaScript in goja, WebAssembly filters in wazero) that run at the points
// named by Phase and answer with a Decision, adapted to engine.Middleware by
// Middleware; and the workflow runner behind `mcpscript run`.
package scripting
