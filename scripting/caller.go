package scripting

import (
	"encoding/binary"
	"encoding/json"
	"reflect"
	"sync/atomic"

	"github.com/mcpscript/mcpscript/engine"
)

// Caller is who made the request, as hooks see it: read from the
// request's engine.Identity. The caller's credentials (a bearer token, a
// JWT) are never part of it: a static token shows as its configured name,
// an OAuth token as its verified claims.
type Caller struct {
	Token     string `json:"token"`     // the static bearer token's name; "" for a JWT or without auth
	Session   string `json:"session"`   // the proxy session id; "" outside the proxy
	Transport string `json:"transport"` // "streamable-http", "sse", "reference-sse", "go", "cli", "workflow"
	// Auth is how the caller authenticated: "jwt" (an OAuth access
	// token), "bearer" (a static token) or "none" (no authentication, and
	// every caller outside the proxy).
	Auth     string   `json:"auth"`
	Subject  string   `json:"subject"`  // a JWT's sub: the user (or the client of a client-credentials token); "" otherwise
	ClientID string   `json:"clientId"` // the OAuth client a JWT was issued to; "" otherwise
	Scopes   []string `json:"scopes"`   // the scopes a JWT grants; [] otherwise
	// Claims are every claim of the verified JWT, as a JSON object; {}
	// for other callers.
	Claims   json.RawMessage `json:"claims"`
	Client   ClientInfo      `json:"client"`   // the MCP client, from its initialize
	Protocol string          `json:"protocol"` // the MCP version the caller speaks ("2025-11-25", "2026-07-28"); "" when unknown
}

// ClientInfo is the clientInfo an MCP client sent in its initialize
// request; empty until it did, and outside the proxy.
type ClientInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// appendKey appends to b a key that differs between callers that differ
// in any field: each field's length, then its bytes.
func (c *Caller) appendKey(b []byte) []byte {
	str := func(v string) {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	for _, v := range [...]string{c.Token, c.Session, c.Transport, c.Auth, c.Subject, c.ClientID,
		c.Client.Name, c.Client.Version, c.Protocol} {
		str(v)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Scopes)))
	for _, v := range c.Scopes {
		str(v)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Claims)))
	return append(b, c.Claims...)
}

// callerOf is the Caller of an identity. Identity.Token is the name of a
// static token (the proxy never puts the secret there), so no credential
// crosses into a hook.
func callerOf(id engine.Identity) Caller {
	auth := id.Auth
	if auth == "" {
		auth = engine.AuthNone
	}
	scopes := id.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return Caller{
		Token: id.Token, Session: id.Session, Transport: id.Transport,
		Auth: auth, Subject: id.Subject, ClientID: id.ClientID, Scopes: scopes,
		Claims:   claimsJSON(id.Claims),
		Client:   ClientInfo{Name: id.ClientName, Version: id.ClientVersion},
		Protocol: id.Protocol,
	}
}

// claimsCache remembers the JSON of recent claims maps. The proxy keeps a
// verified token's identity, claims map included, for as long as it
// caches the token, and never writes to the map: the same map (the same
// pointer) comes back with each request of a session, and is encoded once.
// An entry holds its map, so that a pointer in the cache cannot be reused
// by another map.
var claimsCache [64]atomic.Pointer[claimsEntry]

type claimsEntry struct {
	m   map[string]any
	raw json.RawMessage
}

// claimsJSON returns claims as a JSON object ({} when there are none).
func claimsJSON(claims map[string]any) json.RawMessage {
	if len(claims) == 0 {
		return emptyObject
	}
	p := reflect.ValueOf(claims).UnsafePointer()
	slot := &claimsCache[(uintptr(p)>>6)%uintptr(len(claimsCache))]
	if e := slot.Load(); e != nil && reflect.ValueOf(e.m).UnsafePointer() == p {
		return e.raw
	}
	raw, err := json.Marshal(claims)
	if err != nil {
		// Decoded JSON always encodes; anything else is not a claim set.
		return emptyObject
	}
	slot.Store(&claimsEntry{m: claims, raw: raw})
	return raw
}
