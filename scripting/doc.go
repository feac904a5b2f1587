// Package scripting will hold the JavaScript (goja) hooks, the WebAssembly
// (wazero) filters and the workflow runner behind `mcpscript run`. It is
// empty until that work lands; see the project's issues.
package scripting
