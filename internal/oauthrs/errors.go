package oauthrs

import (
	"errors"
	"fmt"
)

// Reasons a token is refused. Verify returns a *TokenError that matches
// exactly one of them with errors.Is. None of the messages quotes the token.
var (
	// ErrMalformed: not a compact JWS with a JSON payload, too long, or
	// missing a required claim (exp).
	ErrMalformed = errors.New("malformed token")
	// ErrDisallowedAlgorithm: the header's alg is not among the accepted
	// algorithms ("none" and, without a shared secret, HS* never are).
	ErrDisallowedAlgorithm = errors.New("signing algorithm not accepted")
	// ErrUnknownKey: no key with the token's kid (or no key fit for its
	// alg), even after refetching the key set.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrKeysUnavailable: no keys could be loaded at all (the JWKS URL
	// has never answered, the key file is unreadable). Unlike the other
	// reasons it says nothing about the token; the proxy may answer 503.
	ErrKeysUnavailable = errors.New("signing keys unavailable")
	// ErrBadSignature: the signature does not verify with the key.
	ErrBadSignature = errors.New("bad signature")
	// ErrExpired: exp is in the past, beyond the allowed clock skew.
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: nbf, or iat, is in the future beyond the clock skew.
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrWrongIssuer: iss is not the configured issuer.
	ErrWrongIssuer = errors.New("wrong issuer")
	// ErrWrongAudience: aud names none of the configured audiences (the
	// token was issued for another resource).
	ErrWrongAudience = errors.New("wrong audience")
)

// TokenError is why a token was refused: Reason is one of the Err* values
// above, Detail says what exactly, and Cause is the underlying error, if any.
type TokenError struct {
	Reason error
	Detail string
	Cause  error
}

func (e *TokenError) Error() string {
	msg := "oauthrs: " + e.Reason.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap returns the reason and the cause, so errors.Is matches both.
func (e *TokenError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Reason}
	}
	return []error{e.Reason, e.Cause}
}

func tokenErr(reason error, format string, args ...any) *TokenError {
	return &TokenError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// quote shows a claim value in a message, cut short: values come from a
// token that failed a check, so they are bounded but not trusted.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		s = s[:max] + "…"
	}
	return fmt.Sprintf("%q", s)
}
