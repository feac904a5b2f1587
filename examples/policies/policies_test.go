// The example policies, loaded from their configs, applied by the limits
// middleware as mcpscript serve applies them (after any hooks), with
// callers as the proxy identifies them.
package policies_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/mcpscript/mcpscript/engine"
	"github.com/mcpscript/mcpscript/engine/config"
	"github.com/mcpscript/mcpscript/internal/policy"
	"github.com/mcpscript/mcpscript/internal/redistest"
	"github.com/mcpscript/mcpscript/internal/wire"
)

// load builds the policy of a config file and returns its middleware
// around a server that answers every request.
func load(t *testing.T, path string) engine.Handler {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p.Middleware()(func(context.Context, *engine.Request) (json.RawMessage, error) { return json.RawMessage(`{}`), nil })
}

// refusedBy returns the limit that refused err, or "" when err is nil.
func refusedBy(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeRateLimited {
		t.Fatalf("not a rate-limit error: %v", err)
	}
	var data struct{ Limit string }
	_ = json.Unmarshal(we.Data, &data)
	return data.Limit
}

func call(h engine.Handler, who engine.Identity, tool string) error {
	_, err := h(context.Background(), &engine.Request{Server: "demo", Method: "tools/call",
		Params: json.RawMessage(`{"name":"` + tool + `","arguments":{}}`), Caller: who})
	return err
}

func TestPerUserRate(t *testing.T) {
	t.Setenv("CI_TOKEN", "ci-0123456789abcdef")
	h := load(t, "config.json")
	alice := engine.Identity{Auth: engine.AuthJWT, Subject: "alice"}
	for i := range 10 { // the burst
		if err := call(h, alice, "echo"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if by := refusedBy(t, call(h, alice, "echo")); by != "per-user" {
		t.Errorf("alice's 11th call at once: refused by %q", by)
	}
	// Others have their own buckets; other methods are not limited.
	for _, who := range []engine.Identity{{Auth: engine.AuthJWT, Subject: "bob"}, {Auth: engine.AuthBearer, Token: "ci"}} {
		if err := call(h, who, "echo"); err != nil {
			t.Errorf("%+v: %v", who, err)
		}
	}
	if _, err := h(context.Background(), &engine.Request{Server: "demo", Method: "resources/read", Caller: alice}); err != nil {
		t.Errorf("resources/read: %v", err)
	}
}

func TestMonthlyQuota(t *testing.T) {
	rs := redistest.Start(t)
	t.Setenv("REDIS_URL", rs.URL)
	h := load(t, "monthly-quota.json")
	acme := func(sub string) engine.Identity {
		return engine.Identity{Auth: engine.AuthJWT, Subject: sub, Claims: map[string]any{"tenant": "acme"}}
	}
	// The expensive tool: 5 at once, then one a second, 100 a day.
	for i := range 5 {
		if err := call(h, acme("alice"), "count"); err != nil {
			t.Fatalf("count %d: %v", i, err)
		}
	}
	if by := refusedBy(t, call(h, acme("alice"), "count")); by != "expensive-day" {
		t.Errorf("6th count at once: refused by %q", by)
	}
	// The tenant's month: 10000 calls, whoever makes them (5 made above:
	// the refused one used no quota).
	start := time.Now()
	for i := 5; i < 10000; i++ {
		if err := call(h, acme("user"+string(rune('a'+i%26))), "echo"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	t.Logf("10000 calls against Redis in %v", time.Since(start))
	if by := refusedBy(t, call(h, acme("zed"), "echo")); by != "tenant-month" {
		t.Errorf("call 10001 of the month: refused by %q", by)
	}
	other := engine.Identity{Auth: engine.AuthJWT, Subject: "zed", Claims: map[string]any{"tenant": "globex"}}
	if err := call(h, other, "echo"); err != nil {
		t.Errorf("another tenant: %v", err)
	}
}
