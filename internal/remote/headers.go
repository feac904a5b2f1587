package remote

import (
	"encoding/base64"
	"net/http"
	"strings"
)

// MCP's HTTP headers.
const (
	headerSessionID       = "Mcp-Session-Id"
	headerProtocolVersion = "Mcp-Protocol-Version"
	headerMethod          = "Mcp-Method"
	headerName            = "Mcp-Name"
	headerLastEventID     = "Last-Event-Id"
)

// modernVersion is the first MCP version with per-request headers
// (Mcp-Method, Mcp-Name) and without sessions.
const modernVersion = "2026-07-28"

// isModern reports whether version v is 2026-07-28 or later (MCP versions
// are dates, so they order as strings).
func isModern(v string) bool { return v >= modernVersion }

// setMessageHeaders sets the per-message MCP headers of a POST. version is
// the message's own _meta version if it has one, else the negotiated one.
// Modern servers check Mcp-Method and Mcp-Name against the body; older
// ones never see them.
func setMessageHeaders(h http.Header, m *outgoing, negotiated string) {
	version := m.version
	if version == "" {
		version = negotiated
	}
	if version != "" {
		h.Set(headerProtocolVersion, version)
	}
	if !isModern(version) || m.kind == kindResponse {
		return
	}
	h.Set(headerMethod, encodeHeaderValue(m.method))
	if m.name != "" {
		h.Set(headerName, encodeHeaderValue(m.name))
	}
}

// encodeHeaderValue returns s as is when it is plain printable ASCII without
// surrounding blanks, else in MCP's =?base64?...?= form. A value that looks
// encoded already is encoded, so the server cannot misread it.
func encodeHeaderValue(s string) string {
	plain := !strings.HasPrefix(s, "=?base64?") &&
		!strings.HasPrefix(s, " ") && !strings.HasSuffix(s, " ") &&
		!strings.HasPrefix(s, "\t") && !strings.HasSuffix(s, "\t")
	for i := 0; plain && i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			plain = false
		}
	}
	if plain {
		return s
	}
	return "=?base64?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
}
