// Package resulttext says where an MCP result carries text: the one map
// that the JavaScript hooks' redact() and the WebAssembly guest SDK's
// Redact both walk, so that the two cannot disagree about what a
// redaction must reach. It has no dependencies, so that the guest SDK
// (built for wasip1) can use it.
package resulttext

import "strings"

// Role is what a JSON value is, for a walk over a result: which of its
// members hold text.
type Role int

// The roles.
const (
	None    Role = iota // nothing in it is text to transform
	Result              // a result: content, structuredContent, contents, messages
	Content             // a content block: text, resource
	Text                // a resource's contents: text
	All                 // every string, at any depth (structuredContent)
	Message             // a prompt message: content
)

// Member says what the member key of a value of role r holds, and
// whether that is an array of such values. Keys match whatever their case,
// as encoding/json matches them (a Go client reads "StructuredContent" as
// structuredContent).
func Member(r Role, key string) (Role, bool) {
	is := func(name string) bool { return strings.EqualFold(key, name) }
	switch r {
	case Result:
		switch {
		case is("content"):
			return Content, true
		case is("structuredContent"):
			return All, false
		case is("contents"):
			return Text, true
		case is("messages"):
			return Message, true
		}
	case Content:
		switch {
		case is("text"):
			return All, false
		case is("resource"):
			return Text, false
		}
	case Text:
		if is("text") {
			return All, false
		}
	case Message:
		if is("content") {
			return Content, false
		}
	case All:
		return All, false
	}
	return None, false
}
