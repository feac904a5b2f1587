package proxy

import (
	"crypto/subtle"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/mcpscript/mcpscript/engine"
)

// identityKey is the fiber Locals key under which the auth middleware stores
// the caller's engine.Identity (with Transport and Session empty: the
// transports fill them in when they open a gateway session).
const identityKey = "mcpscript.identity"

// identityOf returns the identity the auth middleware stored for this
// request: the zero Identity when auth is off. The result is a deep copy
// (fiber's strings may point into buffers reused after the request, and
// sessions keep the identity).
func identityOf(c *fiber.Ctx) engine.Identity {
	var id engine.Identity
	switch v := c.Locals(identityKey).(type) {
	case engine.Identity:
		id = v
	case *engine.Identity:
		if v != nil {
			id = *v
		}
	}
	if id.Auth == "" {
		id.Auth = engine.AuthNone
	}
	id.Token = strings.Clone(id.Token)
	id.Subject = strings.Clone(id.Subject)
	id.Session = strings.Clone(id.Session)
	id.Transport = strings.Clone(id.Transport)
	id.Scopes = slices.Clone(id.Scopes) // Claims are shared: nothing writes them
	if id.Servers != nil {
		servers := make([]string, len(id.Servers))
		for i, s := range id.Servers {
			servers[i] = strings.Clone(s)
		}
		id.Servers = servers
	}
	return id
}

// sessionOwner is what a session belongs to: the name of the static token
// that opened it, or, for a JWT caller, its subject and OAuth client (so
// that a refreshed token keeps its sessions, and another user's token finds
// none of them). The two cannot collide: token names have no NUL.
func sessionOwner(id engine.Identity) string {
	return id.Principal()
}

// sameToken reports whether two identities carry the same token name (in
// constant time, though names are not secrets).
func sameToken(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
