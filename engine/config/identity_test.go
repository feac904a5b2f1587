package config

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestIdentitySections(t *testing.T) {
	env := func(name string) (string, bool) {
		v, ok := map[string]string{"REDIS_PASSWORD": "pw", "HMAC": "0123456789abcdef0123456789abcdef01234567"}[name]
		return v, ok
	}
	c, err := ParseWithOptions([]byte(`{
  "mcpServers": {"fs": {"command": "npx"}},
  "sseProxy": {"authenticate": {"oauth": {
    "issuer": "https://auth.example.com",
    "audiences": ["https://mcp.example.com/mcp"],
    "jwksUrl": "https://auth.example.com/jwks.json",
    "algorithms": ["RS256", "ES256"],
    "clockSkew": "10s",
    "requireType": "at+jwt",
    "resource": "https://mcp.example.com",
    "resourceName": "Example MCP",
    "scopesSupported": ["mcp", "tools:call"],
    "requiredScopes": ["mcp"]
  }}},
  "redis": {"url": "redis://:${REDIS_PASSWORD}@127.0.0.1:6379/0"},
  "state": {"maxValueSize": 1024},
  "limits": {"onError": "open", "rules": [
    {"name": "per-user", "per": ["subject"], "rate": "10/s", "burst": 20},
    {"per": ["claim:tenant", "tool"], "tools": ["search*"], "quota": "1000/month"}
  ]}
}`), "test.json", Options{LookupEnv: env})
	if err != nil {
		t.Fatal(err)
	}
	want := &OAuthResource{
		Issuer: "https://auth.example.com", Audiences: []string{"https://mcp.example.com/mcp"},
		JWKSURL: "https://auth.example.com/jwks.json", Algorithms: []string{"RS256", "ES256"},
		ClockSkew: d(10 * time.Second), RequireType: "at+jwt", Resource: "https://mcp.example.com",
		ResourceName: "Example MCP", ScopesSupported: []string{"mcp", "tools:call"}, RequiredScopes: []string{"mcp"},
		AuthorizationServers: []string{"https://auth.example.com"}, // the issuer by default
	}
	if got := c.Proxy.Authenticate.OAuth; !reflect.DeepEqual(got, want) {
		t.Errorf("oauth\n%s\nwant\n%s", dump(got), dump(want))
	}
	if got, want := c.Redis, (&Redis{URL: "redis://:pw@127.0.0.1:6379/0", Prefix: DefaultRedisPrefix}); !reflect.DeepEqual(got, want) {
		t.Errorf("redis %+v, want %+v", got, want)
	}
	if got, want := c.State, (&State{Store: StoreRedis, MaxValueSize: 1024, OnError: FailClosed}); !reflect.DeepEqual(got, want) {
		t.Errorf("state %+v, want %+v", got, want)
	}
	wantLimits := &Limits{Store: StoreRedis, OnError: FailOpen, Rules: []LimitRule{
		{Name: "per-user", Per: []string{"subject"}, Rate: "10/s", Burst: 20},
		{Per: []string{"claim:tenant", "tool"}, Tools: []string{"search*"}, Quota: "1000/month"},
	}}
	if !reflect.DeepEqual(c.Limits, wantLimits) {
		t.Errorf("limits\n%s\nwant\n%s", dump(c.Limits), dump(wantLimits))
	}
	if c.Proxy.Authenticate.Bearer != nil {
		t.Error("bearer set")
	}

	// Round trip.
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ParseWithOptions(data, "again.json", Options{LookupEnv: env})
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(c2.Limits, c.Limits) || !reflect.DeepEqual(c2.Proxy.Authenticate.OAuth, c.Proxy.Authenticate.OAuth) {
		t.Errorf("round trip changed the config: %s", data)
	}

	// Without redis the stores default to memory.
	c = parse(t, `{"mcpServers": {"a": {"command": "x"}}, "state": {}, "limits": {"rules": [{"rate": "1/s"}]}}`)
	if c.State.Store != StoreMemory || c.Limits.Store != StoreMemory || c.Limits.OnError != FailClosed {
		t.Errorf("defaults: state %+v, limits %+v", c.State, c.Limits)
	}

	// An HMAC secret is a secret: serve refuses a weak one.
	c, err = ParseWithOptions([]byte(`{"mcpServers": {"a": {"command": "x"}}, "sseProxy": {"authenticate": {"oauth": {
	  "issuer": "https://as.example", "audiences": ["x"], "hmacSecret": "${HMAC}"}}}}`), "h.json", Options{LookupEnv: env})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckSecrets(); err != nil {
		t.Errorf("a 40-byte secret: %v", err)
	}
	c.Proxy.Authenticate.OAuth.HMACSecret = strings.Repeat("changeme", 5)
	if err := c.CheckSecrets(); !errors.Is(err, ErrWeakSecret) || !strings.Contains(err.Error(), "set HMAC to a random secret") {
		t.Errorf("a placeholder secret: %v", err)
	}
}

func TestIdentityErrors(t *testing.T) {
	env := func(string) (string, bool) { return "", false }
	for _, tc := range []struct {
		name string
		in   string
		want string
	}{
		{
			name: "oauth without issuer, audiences and key source",
			in:   `{"mcpServers": {"a": {"command": "x"}}, "sseProxy": {"authenticate": {"oauth": {"jwks_uri": "https://as/jwks"}}}}`,
			want: `c.json:1:80: sseProxy.authenticate.oauth: missing required key "issuer" (the authorization server's issuer URL, e.g. "issuer": "https://auth.example.com")
c.json:1:80: sseProxy.authenticate.oauth: missing required key "audiences" (the URLs tokens must be issued for, e.g. "audiences": ["https://mcp.example.com/mcp"])
c.json:1:80: sseProxy.authenticate.oauth: sets no key source: set one of "jwksUrl", "keyFile" and "hmacSecret" (usually the authorization server's JWKS: "jwksUrl": "https://auth.example.com/.well-known/jwks.json")
c.json:1:81: sseProxy.authenticate.oauth.jwks_uri: unknown key "jwks_uri" (did you mean "jwksUrl"?)`,
		},
		{
			name: "oauth: none, HMAC with a public key, two sources, a resource with a path, a bad scope",
			in: `{"mcpServers": {"a": {"command": "x"}}, "sseProxy": {"authenticate": {"oauth": {
  "issuer": "https://as.example", "audiences": ["https://mcp/mcp"], "jwksUrl": "https://as.example/jwks", "keyFile": "k.pem",
  "algorithms": ["none", "HS256", "RS265"], "resource": "https://mcp.example.com/mcp", "requiredScopes": ["a b"]}}}}`,
			want: `c.json:2:118: sseProxy.authenticate.oauth.keyFile: "jwksUrl" is set too: a verifier has one key source (keep the one your authorization server signs with)
c.json:3:18: sseProxy.authenticate.oauth.algorithms[0]: "none" means unsigned tokens, which are never accepted (remove it)
c.json:3:26: sseProxy.authenticate.oauth.algorithms[1]: "HS256" needs "hmacSecret" (HMAC tokens are verified only with a shared secret, never with a public key)
c.json:3:35: sseProxy.authenticate.oauth.algorithms[2]: unknown algorithm "RS265" (did you mean "RS256"?)
c.json:3:57: sseProxy.authenticate.oauth.resource: "https://mcp.example.com/mcp" is not a base URL (the proxy's public URL without a path, e.g. "https://mcp.example.com")
c.json:3:107: sseProxy.authenticate.oauth.requiredScopes[0]: "a b" is not a scope (printable ASCII without spaces, quotes or backslashes)`,
		},
		{
			name: "limits: bad rules and a redis store without redis",
			in: `{"mcpServers": {"a": {"command": "x"}}, "limits": {"store": "redis", "onError": "opne", "rules": [
  {"name": "r", "per": ["subjet", "claim:"], "rate": "10/month", "burst": 0},
  {"name": "r", "tools": ["[a"], "quota": "ten/day"},
  {"burst": 5}]}}`,
			want: `c.json:1:61: limits.store: is "redis", but the config has no "redis" section (add "redis": {"url": "redis://127.0.0.1:6379/0"} at the top level)
c.json:1:81: limits.onError: unknown fail mode "opne": expected "closed" or "open" (did you mean "open"?)
c.json:2:25: limits.rules[0].per[0]: unknown dimension "subjet": expected "subject", "token", "client", "server", "method" or "tool" or claim:NAME (did you mean "subject"?)
c.json:2:35: limits.rules[0].per[1]: "claim:" names no claim (e.g. "claim:tenant")
c.json:2:54: limits.rules[0].rate: "10/month": a month is a quota's window, not a rate (use "quota", or a rate per day) (e.g. "10/s", "600/min", "5/500ms")
c.json:2:75: limits.rules[0].burst: must be at least 1, found 0 (leave the key out for a burst of the rate's count)
c.json:3:12: limits.rules[1].name: the name "r" is used by limits.rules[0] too (names key the counters, so they must be unique)
c.json:3:27: limits.rules[1].tools[0]: "[a" is not a valid pattern (use * and ? and [a-z], e.g. "search_*")
c.json:3:43: limits.rules[1].quota: "ten/day": the count must be a whole number from 1 to 1000000000 (e.g. "1000/day" or "10000/month")
c.json:4:3: limits.rules[2]: rule "rule 3" sets neither "rate" nor "quota" (e.g. "rate": "10/s" or "quota": "1000/month")`,
		},
		{
			name: "redis: not a URL; state: unknown store",
			in:   `{"mcpServers": {"a": {"command": "x"}}, "redis": {"url": "127.0.0.1:6379"}, "state": {"store": "redsi", "maxKeys": 0}}`,
			want: `c.json:1:58: redis.url: "127.0.0.1:6379" is not a redis:// or rediss:// URL (e.g. "redis://127.0.0.1:6379/0" or "rediss://:${REDIS_PASSWORD}@redis.example.com:6380/0")
c.json:1:96: state.store: unknown store "redsi": expected "memory" or "redis" (did you mean "redis"?)
c.json:1:116: state.maxKeys: must be at least 1, found 0 (leave the key out for the default)`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseWithOptions([]byte(tc.in), "c.json", Options{LookupEnv: env})
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("not ErrInvalid: %v", err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestRateSyntax keeps checkRate in step with the limits package's parser:
// these are the strings its tests accept and refuse.
func TestRateSyntax(t *testing.T) {
	for _, s := range []string{"10/s", "600/min", "5/500ms", "1000/24h", "1/week", " 3 / Second "} {
		if msg := checkRate(s, false); msg != "" {
			t.Errorf("rate %q refused: %s", s, msg)
		}
	}
	for _, s := range []string{"1000/month", "5/mo", "100/day"} {
		if msg := checkRate(s, true); msg != "" {
			t.Errorf("quota %q refused: %s", s, msg)
		}
	}
	for _, s := range []string{"10", "0/s", "-1/s", "10/fortnight", "10/0s", "1/11y", "10000000000/s", "2000000/1ms", "5/month"} {
		if checkRate(s, false) == "" {
			t.Errorf("rate %q accepted", s)
		}
	}
}
