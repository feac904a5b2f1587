package proxy

import (
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/mcpscript/mcpscript/console"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// The web console: GET / and /console redirect to /console/, which serves
// the embedded page and its files. They need no token (the page asks for
// it; its API calls carry it) but pass the Host and Origin checks. With
// sseProxy.console false (the default off loopback) neither the page nor
// the console's API (api.go) is served.

// consoleCSP keeps the page to its own scripts and styles, and to its own
// origin for requests; tool results may show images as data: URLs.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"media-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// consoleRoutes mounts the console's page, before authentication.
func (s *Server) consoleRoutes(app *fiber.App) {
	files := console.Files()
	app.Get("/", func(c *fiber.Ctx) error { return c.Redirect("/console/", fiber.StatusFound) })
	app.Get("/console/*", func(c *fiber.Ctx) error {
		if c.Path() == "/console" { // the page's relative URLs need the slash
			return c.Redirect("/console/", fiber.StatusFound)
		}
		return serveConsoleFile(c, files, c.Params("*"))
	})
}

// apiRoutes mounts the console's API, after authentication.
func (s *Server) apiRoutes(app *fiber.App) {
	app.Get("/api/events", s.apiEvents)
	app.Post("/api/servers/:name/:action", s.apiControl)
	app.Get("/api/audit/stream", s.apiAuditStream)
	app.Get("/api/hooks", s.apiHooks)
}

// serveConsoleFile answers with one file of the console.
func serveConsoleFile(c *fiber.Ctx, files fs.FS, name string) error {
	if name == "" {
		name = "index.html"
	}
	name = path.Clean(name)
	if !fs.ValidPath(name) || strings.HasPrefix(name, ".") {
		return refuse(fiber.StatusNotFound, wire.CodeInvalidRequest, "not found: /console/%s", name)
	}
	data, err := fs.ReadFile(files, name)
	if err != nil {
		return refuse(fiber.StatusNotFound, wire.CodeInvalidRequest, "not found: /console/%s", name)
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if path.Ext(name) == ".js" {
		ctype = "text/javascript; charset=utf-8" // whatever the system's table says: modules need it
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	c.Set(fiber.HeaderContentType, ctype)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("Content-Security-Policy", consoleCSP)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	return c.Send(data)
}

// ConsoleOn reports whether the proxy serves the web console and its API
// (sseProxy.console, by default on when it listens on loopback).
func (s *Server) ConsoleOn() bool { return s.console }
