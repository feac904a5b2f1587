package config

import (
	"fmt"
	"slices"
)

// Values of Audit.Arguments: how much of a request's arguments its audit
// record keeps.
const (
	// AuditHash keeps their size and SHA-256 (the default).
	AuditHash = "hash"
	// AuditFull keeps them whole, as sent, besides the size and hash.
	AuditFull = "full"
	// AuditNone keeps their size only.
	AuditNone = "none"
)

// auditArguments lists the accepted Audit.Arguments values.
var auditArguments = []string{AuditHash, AuditFull, AuditNone}

// AuditStdout is the Audit.File that means standard output.
const AuditStdout = "-"

// Audit is the "audit" section: a JSON-lines record of every request that
// passes mcpscript, from any path (the proxy, the CLI, workflows).
type Audit struct {
	// File is where records go, one JSON object a line, appended:
	// a path relative to the config's folder (see Config.Resolve), or
	// AuditStdout. Rotation is left to the system: serve reopens the file
	// on SIGHUP.
	File string `json:"file"`
	// Arguments is AuditHash, AuditFull or AuditNone (AuditHash when
	// empty).
	Arguments string `json:"arguments,omitempty"`
}

func (a *Audit) withDefaults() *Audit {
	if a == nil {
		return nil
	}
	out := *a
	if out.Arguments == "" {
		out.Arguments = AuditHash
	}
	return &out
}

// audit decodes the "audit" section.
func (d *decoder) audit(n *node, path string) *Audit {
	a := &Audit{}
	if !d.object(n, path, objectSpec{
		fields: []field{
			{key: "file", required: true, decode: d.setString(&a.File)},
			{key: "arguments", decode: d.setString(&a.Arguments)},
		},
		missingHint: map[string]string{"file": `where records go: a file such as "audit.jsonl", or "-" for standard output`},
	}) {
		return nil
	}
	return a
}

// validateAudit checks the "audit" section.
func validateAudit(a *Audit, r *collector) {
	if a.File == "" {
		r.add("audit.file", "must not be empty", `a file such as "audit.jsonl", or "-" for standard output`)
	}
	if a.Arguments != "" && !slices.Contains(auditArguments, a.Arguments) {
		hint := didYouMean(a.Arguments, auditArguments)
		if hint == "" {
			hint = `"hash" keeps their size and SHA-256, "full" the arguments themselves, "none" their size only`
		}
		r.add("audit.arguments", fmt.Sprintf("unknown value %q: expected %s", a.Arguments, quoteList(auditArguments)), hint)
	}
}
