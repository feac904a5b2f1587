package oauthrs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Algorithms are the asymmetric signature algorithms accepted by default.
var Algorithms = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// HMACAlgorithms are accepted only with Options.HMACSecret.
var HMACAlgorithms = []string{"HS256", "HS384", "HS512"}

// Defaults of Options.
const (
	DefaultClockSkew          = 30 * time.Second
	DefaultRefreshInterval    = 15 * time.Minute
	DefaultMinRefetchInterval = 30 * time.Second
	DefaultFetchTimeout       = 10 * time.Second
	// MaxTokenBytes is the longest token accepted.
	MaxTokenBytes = 16 << 10
	// MinHMACSecret is the shortest shared secret accepted, in bytes.
	MinHMACSecret = 32
)

// Options configure a Verifier. Exactly one key source is set: JWKSURL,
// KeyFile or HMACSecret.
type Options struct {
	// Issuer is the authorization server's issuer identifier; the iss
	// claim must equal it exactly. Required.
	Issuer string
	// Audiences are the identifiers this resource answers to, usually its
	// canonical URL (https://host/mcp, or one per server path); the aud
	// claim must contain at least one, compared exactly. Required: a
	// token issued for another resource must not work here.
	Audiences []string

	// JWKSURL is the authorization server's jwks_uri.
	JWKSURL string
	// KeyFile is a file holding a JWK Set, a JWK, or PEM public keys or
	// certificates, read once by New (and again by Refresh).
	KeyFile string
	// HMACSecret is a shared secret for HS256/384/512, at least
	// MinHMACSecret bytes, for authorization servers that sign access
	// tokens that way. With it only HMAC algorithms are accepted, and
	// without it never: a verifier never mixes the two families.
	HMACSecret []byte

	// Algorithms are the accepted alg values (default Algorithms, or
	// HMACAlgorithms with HMACSecret). "none" is never accepted.
	Algorithms []string
	// ClockSkew is the tolerance on exp, nbf and iat (default
	// DefaultClockSkew; negative means none).
	ClockSkew time.Duration
	// RequireType, when set, is the typ header the tokens must carry, such
	// as "at+jwt" (RFC 9068), which keeps ID tokens out. Compared without
	// case and without an "application/" prefix.
	RequireType string

	// HTTPClient fetches the JWKS (default: a client with FetchTimeout).
	HTTPClient *http.Client
	// FetchTimeout bounds one JWKS fetch (default DefaultFetchTimeout).
	FetchTimeout time.Duration
	// RefreshInterval is how often the JWKS is fetched in the background
	// (default DefaultRefreshInterval).
	RefreshInterval time.Duration
	// MinRefetchInterval is the least time between two fetches caused by
	// tokens (an unknown kid, no keys yet), so that forged kids cannot make
	// the verifier hammer the authorization server (default
	// DefaultMinRefetchInterval).
	MinRefetchInterval time.Duration

	// Logger receives fetch failures and skipped keys (default
	// slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
}

// Verifier checks JWT access tokens. It is safe for concurrent use; Close
// stops its background refresh.
type Verifier struct {
	issuer    string
	audiences []string
	algs      []jose.SignatureAlgorithm
	skew      time.Duration
	typ       string
	now       func() time.Time

	remote  *remoteKeys            // JWKSURL
	static  atomic.Pointer[keySet] // KeyFile or HMACSecret
	keyFile string
}

// New checks opts and returns a verifier. With a JWKS URL it starts fetching
// in the background and does not wait: if the authorization server is down,
// New still succeeds and Verify fails with ErrKeysUnavailable until the keys
// arrive (call Refresh to wait for them, or to fail at startup).
func New(opts Options) (*Verifier, error) {
	if opts.Issuer == "" {
		return nil, errors.New("oauthrs: Issuer is required (the authorization server's issuer URL)")
	}
	if len(opts.Audiences) == 0 || slices.Contains(opts.Audiences, "") {
		return nil, errors.New("oauthrs: Audiences is required (this resource's canonical URL, as the tokens' aud claim carries it)")
	}
	sources := 0
	for _, set := range []bool{opts.JWKSURL != "", opts.KeyFile != "", opts.HMACSecret != nil} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return nil, errors.New("oauthrs: set exactly one of JWKSURL, KeyFile and HMACSecret")
	}
	accepted := Algorithms
	if opts.HMACSecret != nil {
		if len(opts.HMACSecret) < MinHMACSecret {
			return nil, fmt.Errorf("oauthrs: HMACSecret is %d bytes; at least %d are needed", len(opts.HMACSecret), MinHMACSecret)
		}
		accepted = HMACAlgorithms
	}
	algs := opts.Algorithms
	if len(algs) == 0 {
		algs = accepted
	}
	v := &Verifier{issuer: opts.Issuer, audiences: slices.Clone(opts.Audiences), keyFile: opts.KeyFile}
	for _, a := range algs {
		if !slices.Contains(accepted, a) {
			why := "not a supported asymmetric algorithm (" + strings.Join(Algorithms, ", ") + ")"
			switch {
			case strings.EqualFold(a, "none"):
				why = "never accepted"
			case opts.HMACSecret != nil:
				why = "not an HMAC algorithm, and with HMACSecret only " + strings.Join(HMACAlgorithms, ", ") + " are accepted"
			case strings.HasPrefix(a, "HS"):
				why = "an HMAC algorithm, accepted only with HMACSecret"
			}
			return nil, fmt.Errorf("oauthrs: algorithm %q is %s", a, why)
		}
		v.algs = append(v.algs, jose.SignatureAlgorithm(a))
	}
	v.skew = opts.ClockSkew
	switch {
	case v.skew == 0:
		v.skew = DefaultClockSkew
	case v.skew < 0:
		v.skew = 0
	}
	v.typ = normalizeType(opts.RequireType)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	v.now = opts.Now
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = DefaultFetchTimeout
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: opts.FetchTimeout}
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = DefaultRefreshInterval
	}
	if opts.MinRefetchInterval <= 0 {
		opts.MinRefetchInterval = DefaultMinRefetchInterval
	}
	switch {
	case opts.HMACSecret != nil:
		v.static.Store(newKeySet([]key{{pub: slices.Clone(opts.HMACSecret)}}, nil))
	case opts.KeyFile != "":
		set, err := loadKeyFile(opts.KeyFile)
		if err != nil {
			return nil, err
		}
		v.static.Store(set)
	default:
		if !strings.HasPrefix(opts.JWKSURL, "https://") && !strings.HasPrefix(opts.JWKSURL, "http://") {
			return nil, fmt.Errorf("oauthrs: JWKSURL %q is not an http(s) URL", opts.JWKSURL)
		}
		v.remote = newRemoteKeys(opts.JWKSURL, &opts)
	}
	return v, nil
}

func loadKeyFile(path string) (*keySet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("oauthrs: key file: %w", err)
	}
	set, err := parseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("oauthrs: key file %s: %w", path, err)
	}
	return set, nil
}

// Refresh loads the keys now: it fetches the JWKS (ignoring the rate limit)
// or rereads the key file, and returns why it failed. The keys in use stay
// unchanged on failure.
func (v *Verifier) Refresh(ctx context.Context) error {
	switch {
	case v.remote != nil:
		_, err := v.remote.fetch(ctx, true)
		return err
	case v.keyFile != "":
		set, err := loadKeyFile(v.keyFile)
		if err != nil {
			return err
		}
		v.static.Store(set)
	}
	return nil
}

// Close stops the background refresh of a JWKS URL.
func (v *Verifier) Close() error {
	if v.remote != nil {
		v.remote.close()
	}
	return nil
}

func normalizeType(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}

// Verify checks a bearer token (without the "Bearer " prefix) and returns
// the identity it carries, or a *TokenError saying why it is refused.
func (v *Verifier) Verify(ctx context.Context, token string) (*Identity, error) {
	if token == "" {
		return nil, tokenErr(ErrMalformed, "empty token")
	}
	if len(token) > MaxTokenBytes {
		return nil, tokenErr(ErrMalformed, "%d bytes, more than %d", len(token), MaxTokenBytes)
	}
	tok, err := jwt.ParseSigned(token, v.algs)
	if err != nil {
		var alg *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &alg) {
			return nil, tokenErr(ErrDisallowedAlgorithm, "alg %s; accepted: %s", quote(string(alg.Got)), v.algNames())
		}
		return nil, &TokenError{Reason: ErrMalformed, Detail: "not a signed JWT in compact form", Cause: err}
	}
	if len(tok.Headers) != 1 {
		return nil, tokenErr(ErrMalformed, "%d signatures, want 1", len(tok.Headers))
	}
	h := tok.Headers[0]
	if v.typ != "" {
		typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
		if normalizeType(typ) != v.typ {
			return nil, tokenErr(ErrMalformed, "typ header %s, want %q", quote(typ), v.typ)
		}
	}
	keys, err := v.candidates(ctx, h.KeyID, h.Algorithm)
	if err != nil {
		return nil, err
	}
	claims, all, err := verifySignature(tok, keys)
	if err != nil {
		return nil, err
	}
	if err := v.validate(claims); err != nil {
		return nil, err
	}
	return identity(claims, all), nil
}

func (v *Verifier) algNames() string {
	names := make([]string, len(v.algs))
	for i, a := range v.algs {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}

// candidates finds the keys for kid and alg, refetching a remote set once
// (rate-limited) when the kid is unknown.
func (v *Verifier) candidates(ctx context.Context, kid, alg string) ([]key, error) {
	set := v.static.Load()
	if v.remote != nil {
		var err error
		if set, err = v.remote.keys(ctx); err != nil {
			return nil, err
		}
	}
	keys, known := set.candidates(kid, alg)
	var refetchErr error
	if !known && v.remote != nil {
		var fresh *keySet
		fresh, refetchErr = v.remote.fetch(ctx, false)
		if fresh != nil {
			keys, known = fresh.candidates(kid, alg)
		}
	}
	if len(keys) > 0 {
		return keys, nil
	}
	e := tokenErr(ErrUnknownKey, "no key for kid %s and alg %s", quote(kid), alg)
	if kid == "" {
		e.Detail = "no key for alg " + alg + " (and the token has no kid)"
	} else if known {
		e.Detail = fmt.Sprintf("the key with kid %s is not an %s key", quote(kid), alg)
	}
	e.Cause = refetchErr
	return nil, e
}

// verifySignature checks the signature with each candidate key and decodes
// the claims with the first that verifies.
func verifySignature(tok *jwt.JSONWebToken, keys []key) (jwt.Claims, map[string]any, error) {
	for _, k := range keys {
		var claims jwt.Claims
		var all map[string]any
		err := tok.Claims(k.pub, &claims, &all)
		switch {
		case err == nil:
			if all == nil {
				return claims, nil, tokenErr(ErrMalformed, "the payload is not a JSON object")
			}
			return claims, all, nil
		case errors.Is(err, jose.ErrCryptoFailure):
			continue
		default:
			return claims, nil, &TokenError{Reason: ErrMalformed, Detail: "the claims cannot be read", Cause: err}
		}
	}
	detail := "the signature does not verify"
	if len(keys) > 1 {
		detail = fmt.Sprintf("the signature does not verify with any of %d keys", len(keys))
	}
	return jwt.Claims{}, nil, tokenErr(ErrBadSignature, "%s", detail)
}

func (v *Verifier) validate(c jwt.Claims) error {
	if c.Expiry == nil {
		return tokenErr(ErrMalformed, "no exp claim; access tokens must expire")
	}
	now := v.now()
	err := c.ValidateWithLeeway(jwt.Expected{Issuer: v.issuer, AnyAudience: v.audiences, Time: now}, v.skew)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return tokenErr(ErrWrongIssuer, "iss is %s, want %q", quote(c.Issuer), v.issuer)
	case errors.Is(err, jwt.ErrInvalidAudience):
		aud := make([]string, len(c.Audience))
		for i, a := range c.Audience {
			aud[i] = quote(a)
		}
		return tokenErr(ErrWrongAudience, "aud is [%s], this resource is %s", strings.Join(aud, ", "), strings.Join(v.audiences, " or "))
	case errors.Is(err, jwt.ErrExpired):
		exp := c.Expiry.Time()
		return tokenErr(ErrExpired, "expired at %s, %v ago (clock skew allowed: %v)", exp.UTC().Format(time.RFC3339), now.Sub(exp).Round(time.Second), v.skew)
	case errors.Is(err, jwt.ErrNotValidYet):
		nbf := c.NotBefore.Time()
		return tokenErr(ErrNotYetValid, "valid from %s, in %v (clock skew allowed: %v)", nbf.UTC().Format(time.RFC3339), nbf.Sub(now).Round(time.Second), v.skew)
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		iat := c.IssuedAt.Time()
		return tokenErr(ErrNotYetValid, "issued at %s, %v in the future (clock skew allowed: %v)", iat.UTC().Format(time.RFC3339), iat.Sub(now).Round(time.Second), v.skew)
	default:
		return &TokenError{Reason: ErrMalformed, Detail: "the claims do not validate", Cause: err}
	}
}

func identity(c jwt.Claims, all map[string]any) *Identity {
	id := &Identity{
		Subject:  c.Subject,
		Issuer:   c.Issuer,
		Audience: []string(c.Audience),
		Expiry:   c.Expiry.Time(),
		Claims:   all,
	}
	if c.IssuedAt != nil {
		id.IssuedAt = c.IssuedAt.Time()
	}
	if s, ok := all["client_id"].(string); ok {
		id.ClientID = s
	} else if s, ok := all["azp"].(string); ok {
		id.ClientID = s
	}
	add := func(s string) {
		if s != "" && !slices.Contains(id.Scopes, s) {
			id.Scopes = append(id.Scopes, s)
		}
	}
	if s, ok := all["scope"].(string); ok {
		for _, f := range strings.Fields(s) {
			add(f)
		}
	}
	switch scp := all["scp"].(type) {
	case string:
		for _, f := range strings.Fields(scp) {
			add(f)
		}
	case []any:
		for _, x := range scp {
			if s, ok := x.(string); ok {
				add(s)
			}
		}
	}
	return id
}
