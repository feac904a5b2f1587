package oauthrs

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// minRSABits is the smallest RSA key accepted (RFC 7518 §3.3 requires 2048).
const minRSABits = 2048

// maxCandidates bounds the signature checks one token can cause when its kid
// does not single out a key.
const maxCandidates = 8

// key is one verification key: a public key, or the shared secret.
type key struct {
	kid string
	alg string // the JWK's alg, "" when it has none
	pub any    // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte
}

// keySet is an immutable set of keys, looked up by kid.
type keySet struct {
	byKid map[string][]key
	noKid []key // PEM keys and JWKs without kid: candidates for any kid
	all   []key
	// skipped says why keys of the source were not used, for messages.
	skipped []string
}

func newKeySet(keys []key, skipped []string) *keySet {
	s := &keySet{byKid: map[string][]key{}, all: keys, skipped: skipped}
	for _, k := range keys {
		if k.kid == "" {
			s.noKid = append(s.noKid, k)
		} else {
			s.byKid[k.kid] = append(s.byKid[k.kid], k)
		}
	}
	return s
}

// candidates returns the keys that may have signed a token with this kid and
// alg. knownKid is false when the token names a kid the set lacks, the case
// in which a remote set is worth refetching.
func (s *keySet) candidates(kid, alg string) (keys []key, knownKid bool) {
	var pool []key
	if kid == "" {
		pool, knownKid = s.all, true
	} else {
		byKid, ok := s.byKid[kid]
		pool, knownKid = append(byKid[:len(byKid):len(byKid)], s.noKid...), ok
	}
	for _, k := range pool {
		if fits(k, alg) && len(keys) < maxCandidates {
			keys = append(keys, k)
		}
	}
	return keys, knownKid
}

// fits reports whether k can verify alg: the key's type and curve match the
// algorithm, and the JWK, if it names an alg, names this one. This is what
// makes key confusion (an RSA public key used as an HMAC secret) impossible.
func fits(k key, alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch p := k.pub.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return p.Curve == elliptic.P256()
		case "ES384":
			return p.Curve == elliptic.P384()
		case "ES512":
			return p.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	case []byte:
		return strings.HasPrefix(alg, "HS")
	}
	return false
}

// publicKey checks a parsed public key and says why it is unusable.
func publicKey(pub any) (any, error) {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if p.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits, fewer than %d", p.N.BitLen(), minRSABits)
		}
		return p, nil
	case *ecdsa.PublicKey:
		switch p.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return p, nil
		}
		return nil, fmt.Errorf("EC key on unsupported curve %s", p.Curve.Params().Name)
	case ed25519.PublicKey:
		return p, nil
	}
	return nil, fmt.Errorf("unsupported key type %T", pub)
}

// parseJWKS reads a JWK Set, or a single JWK. Keys that cannot verify
// signatures here (encryption keys, symmetric keys, private-only material,
// weak or unknown types) are skipped and listed; it fails when none is left.
func parseJWKS(data []byte) (*keySet, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if set.Keys == nil {
		// A single JWK (a file may hold one key).
		set.Keys = []json.RawMessage{data}
	}
	var keys []key
	var skipped []string
	for i, raw := range set.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		name := fmt.Sprintf("key %d (kid %q)", i, jwk.KeyID)
		if jwk.Use != "" && jwk.Use != "sig" {
			skipped = append(skipped, name+": use is "+jwk.Use)
			continue
		}
		if _, symmetric := jwk.Key.([]byte); symmetric {
			// A shared secret is never taken from a key set: anyone who can
			// read the set could sign.
			skipped = append(skipped, name+": symmetric key")
			continue
		}
		pub := jwk.Key
		if !jwk.IsPublic() {
			pub = jwk.Public().Key
		}
		p, err := publicKey(pub)
		if err != nil {
			skipped = append(skipped, name+": "+err.Error())
			continue
		}
		keys = append(keys, key{kid: jwk.KeyID, alg: jwk.Algorithm, pub: p})
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no usable signature key (%s)", strings.Join(append(skipped, fmt.Sprintf("%d keys", len(set.Keys))), "; "))
	}
	return newKeySet(keys, skipped), nil
}

// parsePEM reads public keys and certificates in PEM. Private keys are
// refused: a resource server needs only public keys.
func parsePEM(data []byte) (*keySet, error) {
	var keys []key
	for n := 0; ; n++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		var pub any
		var err error
		switch b.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(b.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(b.Bytes); err == nil {
				pub = c.PublicKey
			}
		default:
			if strings.Contains(b.Type, "PRIVATE") {
				return nil, fmt.Errorf("PEM block %d is a %s: give the public key (openssl pkey -pubout) instead", n, b.Type)
			}
			return nil, fmt.Errorf("PEM block %d is a %s, not a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", n, b.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", n, b.Type, err)
		}
		p, err := publicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		keys = append(keys, key{pub: p})
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM block found")
	}
	return newKeySet(keys, nil), nil
}

// parseKeyFile reads a key file: a JWK Set or JWK in JSON, or PEM.
func parseKeyFile(data []byte) (*keySet, error) {
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "{") {
		return parseJWKS(data)
	}
	return parsePEM(data)
}
