package config

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file holds the identity, state and limits settings: the proxy's
// OAuth resource server (sseProxy.authenticate.oauth), the shared Redis
// server ("redis"), the state store ("state") and the config-level rate
// limits and quotas ("limits"):
//
//	"redis": {"url": "${REDIS_URL}", "prefix": "mcpscript:"},
//	"state": {"store": "redis", "maxKeys": 100000, "maxValueSize": 65536},
//	"limits": {"store": "redis", "onError": "closed", "rules": [
//	  {"name": "per-user", "per": ["subject"], "rate": "10/s", "burst": 20},
//	  {"name": "monthly", "per": ["claim:tenant"], "tools": ["search*"], "quota": "10000/month"}]},
//	"sseProxy": {"authenticate": {"oauth": {
//	  "issuer": "https://auth.example.com", "audiences": ["https://mcp.example.com/mcp"],
//	  "jwksUrl": "https://auth.example.com/.well-known/jwks.json",
//	  "resource": "https://mcp.example.com", "requiredScopes": ["mcp"]}}}

// Stores, the values of State.Store and Limits.Store.
const (
	StoreMemory = "memory"
	StoreRedis  = "redis"
)

var stores = []string{StoreMemory, StoreRedis}

// DefaultRedisPrefix is the default Redis.Prefix.
const DefaultRedisPrefix = "mcpscript:"

// Redis is the Redis server that the state store and the limiter share (one
// client for both).
type Redis struct {
	// URL is a redis:// or rediss:// URL, such as
	// "redis://:${REDIS_PASSWORD}@127.0.0.1:6379/0" (${VAR} references are
	// expanded). Required.
	URL string `json:"url"`
	// Prefix is put before every key (DefaultRedisPrefix when empty), so
	// that several deployments can share a database.
	Prefix string `json:"prefix,omitempty"`
}

// State configures the state store policies keep between requests (values
// with expiry, counters).
type State struct {
	// Store is StoreMemory (this process only) or StoreRedis (shared by
	// every process using the same Redis and prefix); default StoreRedis
	// when the config has a "redis" section, else StoreMemory.
	Store string `json:"store,omitempty"`
	// MaxKeys bounds the memory store's keys (default 100000).
	MaxKeys int `json:"maxKeys,omitempty"`
	// MaxValueSize bounds a value, in bytes, in both stores (default 65536).
	MaxValueSize int `json:"maxValueSize,omitempty"`
	// OnError is what a policy does when the store fails (Redis down):
	// FailClosed (default) refuses the request, FailOpen lets it through.
	OnError string `json:"onError,omitempty"`
}

// Limits are rate limits and quotas applied to every request, with no
// script.
type Limits struct {
	// Store keeps the counters: StoreMemory or StoreRedis (default as for
	// State.Store). With Redis, every process sharing it shares each limit.
	Store string `json:"store,omitempty"`
	// MaxKeys bounds the memory limiter's counters (default 100000).
	MaxKeys int `json:"maxKeys,omitempty"`
	// OnError is what happens when the counters cannot be reached:
	// FailClosed (default) refuses the request, FailOpen lets it through.
	OnError string `json:"onError,omitempty"`
	// Rules are the limits, each applying to the requests it matches.
	Rules []LimitRule `json:"rules"`
}

// LimitRule is one rate limit or quota (or both).
type LimitRule struct {
	// Name identifies the rule in errors, metrics and counter keys
	// (default "rule N").
	Name string `json:"name,omitempty"`
	// Per lists what is counted separately: "subject", "token", "client",
	// "claim:NAME", "server", "method", "tool". Empty: one shared counter.
	Per []string `json:"per,omitempty"`
	// Servers, Methods and Tools are glob patterns (*, ?, [a-z]) on the
	// server, the JSON-RPC method and the tool; empty means any. Tools
	// restricts the rule to tools/call.
	Servers []string `json:"servers,omitempty"`
	Methods []string `json:"methods,omitempty"`
	Tools   []string `json:"tools,omitempty"`
	// Rate is a token bucket, "COUNT/UNIT" such as "10/s" or "600/min".
	Rate string `json:"rate,omitempty"`
	// Burst is the bucket's capacity (default the rate's count).
	Burst int64 `json:"burst,omitempty"`
	// Quota is a fixed window, "COUNT/UNIT" or "COUNT/month".
	Quota string `json:"quota,omitempty"`
}

// OAuthResource makes the proxy an OAuth 2.1 resource server
// (sseProxy.authenticate.oauth): bearer tokens that are JWTs are verified
// (signature, issuer, audience, expiry), next to any static bearer tokens.
type OAuthResource struct {
	// Issuer is the authorization server's issuer URL; the iss claim must
	// equal it. Required.
	Issuer string `json:"issuer"`
	// Audiences are the identifiers tokens must be issued for (their aud
	// claim), usually the proxy's public URLs such as
	// "https://mcp.example.com/mcp". Required.
	Audiences []string `json:"audiences"`
	// JWKSURL, KeyFile and HMACSecret are the key sources; exactly one is
	// set. KeyFile (a JWK Set, a JWK or PEM public keys) is relative to
	// the config's folder; HMACSecret (for HS256/384/512, 32 bytes or
	// more) is read from a variable: "${OAUTH_HMAC_SECRET}".
	JWKSURL    string `json:"jwksUrl,omitempty"`
	KeyFile    string `json:"keyFile,omitempty"`
	HMACSecret string `json:"hmacSecret,omitempty"`
	// Algorithms accepted (default: RS*, PS*, ES*, EdDSA; HS* with
	// HMACSecret). "none" never is.
	Algorithms []string `json:"algorithms,omitempty"`
	// ClockSkew is the tolerance on exp, nbf and iat (default 30s).
	ClockSkew Duration `json:"clockSkew,omitzero"`
	// RequireType is a typ header tokens must carry, such as "at+jwt".
	RequireType string `json:"requireType,omitempty"`
	// Resource is the proxy's public base URL ("https://mcp.example.com"),
	// from which the protected resource metadata (RFC 9728) names each
	// endpoint; default the request's own http://HOST.
	Resource string `json:"resource,omitempty"`
	// ResourceName is a human-readable name for the metadata.
	ResourceName string `json:"resourceName,omitempty"`
	// ScopesSupported are the scopes the metadata lists.
	ScopesSupported []string `json:"scopesSupported,omitempty"`
	// RequiredScopes must all be granted to a JWT caller (403
	// insufficient_scope otherwise).
	RequiredScopes []string `json:"requiredScopes,omitempty"`
	// AuthorizationServers are the issuer URLs the metadata names
	// (default [Issuer]).
	AuthorizationServers []string `json:"authorizationServers,omitempty"`
}

// oauthAlgorithms are the algorithm names OAuth.Algorithms may hold.
var oauthAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512"}

// limitDimensions are the values of LimitRule.Per besides "claim:NAME".
var limitDimensions = []string{"subject", "token", "client", "server", "method", "tool"}

// redis decodes the "redis" section.
func (d *decoder) redis(n *node, p string) *Redis {
	r := &Redis{}
	if !d.object(n, p, objectSpec{
		fields: []field{
			{key: "url", required: true, decode: func(v *node, at string) {
				if s, ok := d.str(v, at); ok {
					r.URL = s
					d.expand(&r.URL, at)
				}
			}},
			{key: "prefix", decode: d.setString(&r.Prefix)},
		},
		missingHint: map[string]string{"url": `e.g. "url": "redis://127.0.0.1:6379/0"`},
	}) {
		return nil
	}
	return r
}

// state decodes the "state" section.
func (d *decoder) state(n *node, p string) *State {
	s := &State{}
	if !d.object(n, p, objectSpec{fields: []field{
		{key: "store", decode: d.setString(&s.Store)},
		{key: "maxKeys", decode: d.setInt(&s.MaxKeys, checkPositive)},
		{key: "maxValueSize", decode: d.setInt(&s.MaxValueSize, checkPositive)},
		{key: "onError", decode: d.setString(&s.OnError)},
	}}) {
		return nil
	}
	return s
}

// limits decodes the "limits" section.
func (d *decoder) limits(n *node, p string) *Limits {
	l := &Limits{}
	if !d.object(n, p, objectSpec{
		fields: []field{
			{key: "store", decode: d.setString(&l.Store)},
			{key: "maxKeys", decode: d.setInt(&l.MaxKeys, checkPositive)},
			{key: "onError", decode: d.setString(&l.OnError)},
			{key: "rules", required: true, decode: func(v *node, at string) {
				if v.kind != kindArray {
					d.typeError(v, at, "an array of rules", `e.g. "rules": [{"name": "per-user", "per": ["subject"], "rate": "10/s"}]`)
					return
				}
				l.Rules = []LimitRule{}
				for i, e := range v.elems {
					ep := index(at, i)
					d.valuePos[ep] = e.off
					l.Rules = append(l.Rules, d.limitRule(e, ep))
				}
			}},
		},
		missingHint: map[string]string{"rules": `e.g. "rules": [{"name": "per-user", "per": ["subject"], "rate": "10/s"}]`},
	}) {
		return nil
	}
	return l
}

func (d *decoder) limitRule(n *node, p string) LimitRule {
	var r LimitRule
	list := func(dst *[]string) func(*node, string) {
		return func(v *node, at string) {
			*dst = d.strings(v, at)
			if *dst == nil && v.kind == kindArray {
				*dst = []string{}
			}
		}
	}
	d.object(n, p, objectSpec{fields: []field{
		{key: "name", decode: d.setString(&r.Name)},
		{key: "per", decode: list(&r.Per)},
		{key: "servers", decode: list(&r.Servers)},
		{key: "methods", decode: list(&r.Methods)},
		{key: "tools", decode: list(&r.Tools)},
		{key: "rate", decode: d.setString(&r.Rate)},
		{key: "burst", decode: func(v *node, at string) {
			if n, ok := d.integer(v, at); ok {
				r.Burst = n
				if n < 1 {
					d.addAt(v.off, at, fmt.Sprintf("must be at least 1, found %d", n), "leave the key out for a burst of the rate's count")
				}
			}
		}},
		{key: "quota", decode: d.setString(&r.Quota)},
	}})
	return r
}

// oauthResource decodes sseProxy.authenticate.oauth.
func (d *decoder) oauthResource(n *node, p string) *OAuthResource {
	o := &OAuthResource{}
	list := func(dst *[]string) func(*node, string) {
		return func(v *node, at string) { *dst = d.strings(v, at) }
	}
	d.object(n, p, objectSpec{
		fields: []field{
			{key: "issuer", required: true, decode: d.setString(&o.Issuer)},
			{key: "audiences", required: true, decode: func(v *node, at string) {
				o.Audiences = d.strings(v, at)
				if o.Audiences == nil && v.kind == kindArray {
					o.Audiences = []string{}
				}
			}},
			{key: "jwksUrl", decode: d.setString(&o.JWKSURL)},
			{key: "keyFile", decode: d.setString(&o.KeyFile)},
			{key: "hmacSecret", decode: func(v *node, at string) {
				if s, ok := d.str(v, at); ok {
					o.HMACSecret = s
					d.expandSecret(&o.HMACSecret, at)
				}
			}},
			{key: "algorithms", decode: list(&o.Algorithms)},
			{key: "clockSkew", decode: d.setDuration(&o.ClockSkew)},
			{key: "requireType", decode: d.setString(&o.RequireType)},
			{key: "resource", decode: d.setString(&o.Resource)},
			{key: "resourceName", decode: d.setString(&o.ResourceName)},
			{key: "scopesSupported", decode: list(&o.ScopesSupported)},
			{key: "requiredScopes", decode: list(&o.RequiredScopes)},
			{key: "authorizationServers", decode: list(&o.AuthorizationServers)},
		},
		unknownHint: func(key string, _ *node) string {
			switch strings.ToLower(key) {
			case "jwks_uri", "jwksuri", "jwks":
				return `did you mean "jwksUrl"?`
			case "audience", "aud":
				return `did you mean "audiences"? (a list: "audiences": ["https://mcp.example.com/mcp"])`
			case "hmacsecretenv":
				return `write the secret's variable into "hmacSecret": "${OAUTH_HMAC_SECRET}"`
			}
			return ""
		},
		missingHint: map[string]string{
			"issuer":    `the authorization server's issuer URL, e.g. "issuer": "https://auth.example.com"`,
			"audiences": `the URLs tokens must be issued for, e.g. "audiences": ["https://mcp.example.com/mcp"]`,
		},
	})
	return o
}

// checkPositive returns a message when n is not at least 1.
func checkPositive(n int) (msg, hint string) {
	if n >= 1 {
		return "", ""
	}
	return fmt.Sprintf("must be at least 1, found %d", n), "leave the key out for the default"
}

// validateIdentity checks the redis, state and limits sections.
func validateIdentity(c *Config, r *collector) {
	if c.Redis != nil {
		u, err := url.Parse(c.Redis.URL)
		switch {
		case strings.TrimSpace(c.Redis.URL) == "":
			r.add("redis.url", "must not be empty", `e.g. "url": "redis://127.0.0.1:6379/0"`)
		case err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") || u.Host == "" && u.Scheme != "unix":
			r.add("redis.url", fmt.Sprintf("%q is not a redis:// or rediss:// URL", redactURL(c.Redis.URL)), `e.g. "redis://127.0.0.1:6379/0" or "rediss://:${REDIS_PASSWORD}@redis.example.com:6380/0"`)
		}
	}
	checkStore := func(store, at string) {
		switch {
		case store == "":
		case !slices.Contains(stores, store):
			hint := didYouMean(store, stores)
			if hint == "" {
				hint = `"memory" keeps it in this process, "redis" shares it through the "redis" section's server`
			}
			r.add(at, fmt.Sprintf("unknown store %q: expected %s", store, quoteList(stores)), hint)
		case store == StoreRedis && c.Redis == nil:
			r.add(at, `is "redis", but the config has no "redis" section`, `add "redis": {"url": "redis://127.0.0.1:6379/0"} at the top level`)
		}
	}
	if s := c.State; s != nil {
		checkStore(s.Store, "state.store")
		checkFailMode(s.OnError, "state.onError", r)
		checkSet(s.MaxKeys, "state.maxKeys", checkPositive, r)
		checkSet(s.MaxValueSize, "state.maxValueSize", checkPositive, r)
	}
	if l := c.Limits; l != nil {
		checkStore(l.Store, "limits.store")
		checkFailMode(l.OnError, "limits.onError", r)
		checkSet(l.MaxKeys, "limits.maxKeys", checkPositive, r)
		if l.Rules != nil && len(l.Rules) == 0 {
			r.add("limits.rules", "is empty", `add a rule such as {"name": "per-user", "per": ["subject"], "rate": "10/s"}, or leave "limits" out`)
		}
		for i, rule := range l.Rules {
			validateLimitRule(l.Rules, i, rule, r)
		}
	}
}

// validateLimitRule checks one rule: what the limits package will accept.
func validateLimitRule(rules []LimitRule, i int, rule LimitRule, r *collector) {
	at := index("limits.rules", i)
	name := rule.Name
	if name == "" {
		name = fmt.Sprintf("rule %d", i+1)
	}
	if j := slices.IndexFunc(rules, func(o LimitRule) bool { return o.Name == rule.Name }); rule.Name != "" && j < i {
		r.add(child(at, "name"), fmt.Sprintf("the name %q is used by limits.rules[%d] too", rule.Name, j), "names key the counters, so they must be unique")
	}
	for k, per := range rule.Per {
		pp := index(child(at, "per"), k)
		claim, isClaim := strings.CutPrefix(per, "claim:")
		switch {
		case isClaim && claim == "":
			r.add(pp, fmt.Sprintf("%q names no claim", per), `e.g. "claim:tenant"`)
		case !isClaim && !slices.Contains(limitDimensions, per):
			hint := didYouMean(per, limitDimensions)
			if hint == "" {
				hint = "or claim:NAME for a claim of the caller's token"
			}
			r.add(pp, fmt.Sprintf("unknown dimension %q: expected %s or claim:NAME", per, quoteList(limitDimensions)), hint)
		case slices.Index(rule.Per, per) < k:
			r.add(pp, fmt.Sprintf("%q is listed twice", per), "")
		}
	}
	for field, globs := range map[string][]string{"servers": rule.Servers, "methods": rule.Methods, "tools": rule.Tools} {
		for k, g := range globs {
			if _, err := path.Match(g, ""); err != nil || g == "" {
				r.add(index(child(at, field), k), fmt.Sprintf("%q is not a valid pattern", g), `use * and ? and [a-z], e.g. "search_*"`)
			}
		}
	}
	switch {
	case rule.Rate == "" && rule.Quota == "":
		r.add(at, fmt.Sprintf("rule %q sets neither \"rate\" nor \"quota\"", name), `e.g. "rate": "10/s" or "quota": "1000/month"`)
	case rule.Rate == "" && rule.Burst != 0:
		r.add(child(at, "burst"), `is set without a "rate"`, `a burst is a rate's capacity: add "rate": "10/s"`)
	}
	if rule.Rate != "" {
		if msg := checkRate(rule.Rate, false); msg != "" {
			r.add(child(at, "rate"), msg, `e.g. "10/s", "600/min", "5/500ms"`)
		}
	}
	if rule.Quota != "" {
		if msg := checkRate(rule.Quota, true); msg != "" {
			r.add(child(at, "quota"), msg, `e.g. "1000/day" or "10000/month"`)
		}
	}
	if rule.Burst > 1_000_000_000 {
		r.add(child(at, "burst"), fmt.Sprintf("%d is more than 1000000000", rule.Burst), "")
	}
}

// rateUnits are the words a rate or quota may use after the slash (as the
// limits package reads them), besides Go durations.
var rateUnits = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hour": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour,
	"week": 7 * 24 * time.Hour,
}

// checkRate returns what is wrong with a rate ("COUNT/UNIT") or, with
// quota, a quota (which may also be "COUNT/month"), or "".
func checkRate(s string, quota bool) string {
	n, u, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return fmt.Sprintf("%q is not COUNT/UNIT", s)
	}
	count, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
	if err != nil || count < 1 || count > 1_000_000_000 {
		return fmt.Sprintf("%q: the count must be a whole number from 1 to 1000000000", s)
	}
	u = strings.ToLower(strings.TrimSpace(u))
	if u == "month" || u == "mo" {
		if !quota {
			return fmt.Sprintf("%q: a month is a quota's window, not a rate (use \"quota\", or a rate per day)", s)
		}
		return ""
	}
	per, ok := rateUnits[u]
	if !ok {
		if per, err = time.ParseDuration(u); err != nil {
			return fmt.Sprintf("%q: unit %q is not a duration (like 90s or 720h) nor one of s, min, h, day, week, month", s, u)
		}
	}
	if per < time.Millisecond || per > 10*366*24*time.Hour {
		return fmt.Sprintf("%q: the period must be from 1ms to 10 years", s)
	}
	if !quota && per/time.Duration(count) < time.Microsecond {
		return fmt.Sprintf("%q is faster than one event per microsecond", s)
	}
	return ""
}

// validateOAuthResource checks sseProxy.authenticate.oauth.
func validateOAuthResource(o *OAuthResource, r *collector) {
	const at = "sseProxy.authenticate.oauth"
	httpURL := func(s string) bool {
		u, err := url.Parse(s)
		return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
	}
	if strings.TrimSpace(o.Issuer) == "" {
		r.add(at+".issuer", "must not be empty", `the authorization server's issuer URL, e.g. "https://auth.example.com"`)
	} else if !httpURL(o.Issuer) {
		r.add(at+".issuer", fmt.Sprintf("%q is not an http(s) URL", o.Issuer), `e.g. "https://auth.example.com"`)
	}
	if len(o.Audiences) == 0 {
		r.add(at+".audiences", "must list at least one audience", `the URLs tokens must be issued for, e.g. ["https://mcp.example.com/mcp"]`)
	}
	for i, a := range o.Audiences {
		switch {
		case strings.TrimSpace(a) == "":
			r.add(index(at+".audiences", i), "must not be empty", "")
		case slices.Index(o.Audiences, a) < i:
			r.add(index(at+".audiences", i), fmt.Sprintf("%q is listed twice", a), "")
		}
	}
	sources, first := 0, ""
	for _, src := range []struct{ key, value string }{{"jwksUrl", o.JWKSURL}, {"keyFile", o.KeyFile}, {"hmacSecret", o.HMACSecret}} {
		if src.value == "" {
			continue
		}
		sources++
		if first == "" {
			first = src.key
		} else {
			r.add(at+"."+src.key, fmt.Sprintf("%q is set too: a verifier has one key source", first), "keep the one your authorization server signs with")
		}
	}
	if sources == 0 {
		r.add(at, `sets no key source: set one of "jwksUrl", "keyFile" and "hmacSecret"`,
			`usually the authorization server's JWKS: "jwksUrl": "https://auth.example.com/.well-known/jwks.json"`)
	}
	if o.JWKSURL != "" && !httpURL(o.JWKSURL) {
		r.add(at+".jwksUrl", fmt.Sprintf("%q is not an http(s) URL", o.JWKSURL), "")
	}
	if o.HMACSecret != "" && len(o.HMACSecret) < 32 {
		r.add(at+".hmacSecret", fmt.Sprintf("is %d bytes; an HMAC secret needs at least 32", len(o.HMACSecret)), "")
	}
	for i, a := range o.Algorithms {
		p := index(at+".algorithms", i)
		switch {
		case strings.EqualFold(a, "none"):
			r.add(p, `"none" means unsigned tokens, which are never accepted`, "remove it")
		case !slices.Contains(oauthAlgorithms, a):
			hint := didYouMean(a, oauthAlgorithms)
			if hint == "" {
				hint = "expected one of " + strings.Join(oauthAlgorithms, ", ")
			}
			r.add(p, fmt.Sprintf("unknown algorithm %q", a), hint)
		case strings.HasPrefix(a, "HS") != (o.HMACSecret != "") && sources > 0:
			if o.HMACSecret != "" {
				r.add(p, fmt.Sprintf("%q does not use the HMAC secret", a), "with hmacSecret only HS256, HS384 and HS512 are accepted")
			} else {
				r.add(p, fmt.Sprintf("%q needs \"hmacSecret\"", a), "HMAC tokens are verified only with a shared secret, never with a public key")
			}
		}
	}
	checkTimeout(o.ClockSkew, at+".clockSkew", r)
	if o.Resource != "" {
		if u, err := url.Parse(o.Resource); err != nil || !httpURL(o.Resource) || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
			r.add(at+".resource", fmt.Sprintf("%q is not a base URL", o.Resource), `the proxy's public URL without a path, e.g. "https://mcp.example.com"`)
		}
	}
	for i, as := range o.AuthorizationServers {
		if !httpURL(as) {
			r.add(index(at+".authorizationServers", i), fmt.Sprintf("%q is not an http(s) URL", as), "")
		}
	}
	for _, list := range []struct {
		name   string
		scopes []string
	}{{"scopesSupported", o.ScopesSupported}, {"requiredScopes", o.RequiredScopes}} {
		for i, s := range list.scopes {
			if !scopeToken.MatchString(s) {
				r.add(index(at+"."+list.name, i), fmt.Sprintf("%q is not a scope (printable ASCII without spaces, quotes or backslashes)", s), "")
			}
		}
	}
}

// scopeToken is a scope-token of RFC 6749 §3.3.
var scopeToken = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+$`)

// redactURL hides a URL's password.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// withDefaults returns a copy of r with its prefix set.
func (r *Redis) withDefaults() *Redis {
	if r == nil {
		return nil
	}
	out := *r
	if out.Prefix == "" {
		out.Prefix = DefaultRedisPrefix
	}
	return &out
}

// storeDefault is the default store: Redis when the config has it.
func storeDefault(store string, redis *Redis) string {
	switch {
	case store != "":
		return store
	case redis != nil:
		return StoreRedis
	}
	return StoreMemory
}

func (s *State) withDefaults(redis *Redis) *State {
	if s == nil {
		return nil
	}
	out := *s
	out.Store = storeDefault(s.Store, redis)
	if out.OnError == "" {
		out.OnError = FailClosed
	}
	return &out
}

func (l *Limits) withDefaults(redis *Redis) *Limits {
	if l == nil {
		return nil
	}
	out := *l
	out.Store = storeDefault(l.Store, redis)
	if out.OnError == "" {
		out.OnError = FailClosed
	}
	out.Rules = make([]LimitRule, len(l.Rules))
	for i, r := range l.Rules {
		r.Per = slices.Clone(r.Per)
		r.Servers = slices.Clone(r.Servers)
		r.Methods = slices.Clone(r.Methods)
		r.Tools = slices.Clone(r.Tools)
		out.Rules[i] = r
	}
	return &out
}

func (o *OAuthResource) withDefaults() *OAuthResource {
	if o == nil {
		return nil
	}
	out := *o
	out.Audiences = slices.Clone(o.Audiences)
	out.Algorithms = slices.Clone(o.Algorithms)
	out.ScopesSupported = slices.Clone(o.ScopesSupported)
	out.RequiredScopes = slices.Clone(o.RequiredScopes)
	out.AuthorizationServers = slices.Clone(o.AuthorizationServers)
	if len(out.AuthorizationServers) == 0 && o.Issuer != "" {
		out.AuthorizationServers = []string{o.Issuer}
	}
	return &out
}
