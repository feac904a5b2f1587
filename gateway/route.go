package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mcpscript/mcpscript/internal/rawjson"
	"github.com/mcpscript/mcpscript/internal/suggest"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// resolve finds the server and original name of a namespaced tool or prompt.
func (s *Session) resolve(ctx context.Context, rq *request, kind listKind, full string) (server, name string, err error) {
	noun := kindInfo[kind].noun
	if i := strings.Index(full, nsSeparator); i > 0 {
		for srv, prefix := range rq.sc.tab.prefix {
			if prefix == full[:i] {
				server = srv
				break
			}
		}
	}
	if server != "" {
		if !rq.sc.may[server] { // say nothing of servers this session may not see
			return "", "", invalidParamsf("unknown %s %q", noun, full)
		}
		for _, maxAge := range []time.Duration{0, time.Second} {
			l, err := s.g.list(ctx, rq, server, kind, maxAge)
			if err != nil {
				return "", "", err
			}
			if l == nil {
				break
			}
			if i, ok := l.byFull[full]; ok {
				return server, l.items[i].key, nil
			}
		}
		if s.g.r.HasMiddleware() {
			// Not a name the server has: a hook may have renamed it in
			// the list, so the hooks get the call under that name.
			return server, full[len(rq.sc.tab.prefix[server])+len(nsSeparator):], nil
		}
	}
	var known []string
	for _, r := range s.g.lists(ctx, rq, rq.sc.servers, kind, 0) {
		if r.list != nil {
			for _, it := range r.list.items {
				if !it.dup {
					known = append(known, it.full)
				}
			}
		}
	}
	msg := fmt.Sprintf("unknown %s %q", noun, full)
	if hint := suggest.Closest(full, known); hint != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", hint)
	} else if server == "" {
		msg += fmt.Sprintf("; aggregate names are <server>%s<name>, see %s", nsSeparator, kindInfo[kind].method)
	}
	return "", "", invalidParamsf("%s", msg)
}

// callParams are the members of tools/call params the aggregate routes by.
type callParams struct {
	name, server, tool string
	hasName, hasServer bool
	hasTool            bool
	bad                string // a member that is not a string
}

func readCallParams(params json.RawMessage) (p callParams, err error) {
	if !rawjson.Present(params) || params[0] != '{' {
		return p, invalidParamsf("invalid tools/call params: expected an object")
	}
	str := func(m rawjson.Member, dst *string, has *bool) {
		v, ok := rawjson.Unquote(m.Value)
		if !ok {
			p.bad = m.Name()
			return
		}
		*dst, *has = v, true
	}
	rawjson.EachValid(params, func(m rawjson.Member) {
		switch {
		case m.Is("name"):
			str(m, &p.name, &p.hasName)
		case m.Is("server"):
			str(m, &p.server, &p.hasServer)
		case m.Is("tool"):
			str(m, &p.tool, &p.hasTool)
		}
	})
	if p.bad != "" {
		return p, invalidParamsf("invalid tools/call params: %q must be a string", p.bad)
	}
	return p, nil
}

func (s *Session) callTool(ctx context.Context, rq *request, params json.RawMessage) (json.RawMessage, error) {
	p, err := readCallParams(params)
	if err != nil {
		return nil, err
	}
	if p.hasServer { // the reference's shape: {server, tool or name, arguments}
		tool, has := p.tool, p.hasTool
		if !has {
			tool, has = p.name, p.hasName
		}
		if !has {
			return nil, invalidParamsf(`invalid tools/call params: with "server", give the tool's name in "tool" (or "name")`)
		}
		if err := s.checkServer(p.server); err != nil {
			return nil, err
		}
		if err := s.checkTool(ctx, rq, p.server, tool); err != nil {
			return nil, err
		}
		np := rawjson.ApplyValid(params, rawjson.Edit{Set: []rawjson.Field{{Key: "name", Value: rawjson.Quote(tool)}}, Delete: []string{"server", "tool"}})
		return s.forward(ctx, rq, p.server, "tools/call", np)
	}
	if !p.hasName {
		return nil, invalidParamsf(`invalid tools/call params: "name" is missing`)
	}
	server, name, err := s.resolve(ctx, rq, kindTools, p.name)
	if err != nil {
		return nil, err
	}
	np := rawjson.ApplyValid(params, rawjson.Edit{Set: []rawjson.Field{{Key: "name", Value: rawjson.Quote(name)}}})
	return s.forward(ctx, rq, server, "tools/call", np)
}

// checkTool refuses a tool the server does not list; when the list cannot
// be had, the server decides.
func (s *Session) checkTool(ctx context.Context, rq *request, server, tool string) error {
	if s.g.r.HasMiddleware() {
		return nil // a hook may answer or rename tools the server does not list
	}
	var l *serverList
	for _, maxAge := range []time.Duration{0, time.Second} {
		var err error
		if l, err = s.g.list(ctx, rq, server, kindTools, maxAge); err != nil || l == nil {
			return nil
		}
		if _, ok := l.byKey[tool]; ok {
			return nil
		}
	}
	known := make([]string, 0, len(l.items))
	for _, it := range l.items {
		known = append(known, it.key)
	}
	msg := fmt.Sprintf("unknown tool %q on server %q", tool, server)
	if hint := suggest.Closest(tool, known); hint != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", hint)
	}
	return invalidParamsf("%s", msg)
}

func (s *Session) getPrompt(ctx context.Context, rq *request, params json.RawMessage) (json.RawMessage, error) {
	full, ok := rawjson.GetString(params, "name")
	if !ok {
		return nil, invalidParamsf(`invalid prompts/get params: "name" is missing`)
	}
	server, name, err := s.resolve(ctx, rq, kindPrompts, full)
	if err != nil {
		return nil, err
	}
	np := rawjson.ApplyValid(params, rawjson.Edit{Set: []rawjson.Field{{Key: "name", Value: rawjson.Quote(name)}}})
	return s.forward(ctx, rq, server, "prompts/get", np)
}

func resourceURI(method string, params json.RawMessage) (string, error) {
	uri, ok := rawjson.GetString(params, "uri")
	if !ok || uri == "" {
		return "", invalidParamsf(`invalid %s params: "uri" is missing`, method)
	}
	return uri, nil
}

func (s *Session) readResource(ctx context.Context, rq *request, params json.RawMessage) (json.RawMessage, error) {
	uri, err := resourceURI("resources/read", params)
	if err != nil {
		return nil, err
	}
	server, err := s.resourceOwner(ctx, rq, uri)
	if err != nil {
		return nil, err
	}
	return s.forward(ctx, rq, server, "resources/read", params)
}

// resourceOwner finds the server a URI (or URI template) belongs to: the
// first, in sorted order, that lists it as a resource, then as a template,
// then with a template that matches it; failing that, the only server that
// offers resources at all.
func (s *Session) resourceOwner(ctx context.Context, rq *request, uri string) (string, error) {
	var offering []string
	var firstErr error
	for _, maxAge := range []time.Duration{0, time.Second} {
		offering, firstErr = nil, nil
		res := s.g.lists(ctx, rq, rq.sc.servers, kindResources, maxAge)
		for _, r := range res {
			if r.err != nil && firstErr == nil {
				firstErr = r.err
			}
			if r.list == nil {
				continue
			}
			offering = append(offering, r.server)
			if _, ok := r.list.byKey[uri]; ok {
				return r.server, nil
			}
		}
		tmpls := s.g.lists(ctx, rq, offering, kindTemplates, maxAge)
		for _, r := range tmpls {
			if r.list != nil {
				if _, ok := r.list.byKey[uri]; ok {
					return r.server, nil
				}
			}
		}
		for _, r := range tmpls {
			if r.list == nil {
				continue
			}
			for _, it := range r.list.items {
				if it.re != nil && it.re.MatchString(uri) {
					return r.server, nil
				}
			}
		}
	}
	if len(offering) == 1 && firstErr == nil {
		return offering[0], nil
	}
	if len(offering) == 0 && firstErr != nil {
		return "", firstErr
	}
	return "", wire.Errorf(wire.CodeResourceNotFound, "resource not found: no server offers %q", uri).WithData(map[string]string{"uri": uri})
}

func (s *Session) complete(ctx context.Context, rq *request, params json.RawMessage) (json.RawMessage, error) {
	ref, ok := rawjson.GetValid(params, "ref")
	if !ok || len(ref) == 0 || ref[0] != '{' {
		return nil, invalidParamsf(`invalid completion/complete params: "ref" is missing`)
	}
	typ, _ := rawjson.GetString(ref, "type")
	switch typ {
	case "ref/prompt":
		full, _ := rawjson.GetString(ref, "name")
		server, name, err := s.resolve(ctx, rq, kindPrompts, full)
		if err != nil {
			return nil, err
		}
		nref := rawjson.ApplyValid(ref, rawjson.Edit{Set: []rawjson.Field{{Key: "name", Value: rawjson.Quote(name)}}})
		np := rawjson.ApplyValid(params, rawjson.Edit{Set: []rawjson.Field{{Key: "ref", Value: nref}}})
		return s.forward(ctx, rq, server, "completion/complete", np)
	case "ref/resource":
		uri, _ := rawjson.GetString(ref, "uri")
		server, err := s.resourceOwner(ctx, rq, uri)
		if err != nil {
			return nil, err
		}
		return s.forward(ctx, rq, server, "completion/complete", params)
	}
	return nil, invalidParamsf("invalid completion/complete params: unknown ref type %q (use ref/prompt or ref/resource)", typ)
}
