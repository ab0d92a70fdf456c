package webhook

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
)

// Signature headers.
const (
	// SignatureHeader carries the current scheme: base64 Ed25519 over the
	// raw body.
	SignatureHeader = "X-Ghl-Signature"
	// LegacySignatureHeader carries the legacy scheme: base64 RSA-SHA256
	// PKCS#1 v1.5 over the raw body.
	LegacySignatureHeader = "X-Wh-Signature"
)

// Verification errors.
var (
	// ErrMissingSignature: the request carries neither signature header
	// (or only one the verifier has no key for).
	ErrMissingSignature = errors.New("webhook: no signature this verifier can check")
	// ErrInvalidSignature: a signature does not match the body under any
	// configured key.
	ErrInvalidSignature = errors.New("webhook: invalid signature")
)

// Verifier checks webhook signatures over the raw body bytes. The zero
// value verifies nothing and rejects everything; build one with
// NewVerifier. It is safe for concurrent use.
//
// RSA keys are tried in this order: the key that verified the last
// x-wh-signature, then the application's own keys in the order given,
// then PublishedRSAKey; a key given twice is tried once. A signature is
// checked only under the keys of its length (a PKCS #1 v1.5 signature is
// exactly as long as the key's modulus), so a genuine delivery costs one
// RSA verification in the steady state and a forged one at most one per
// distinct trusted key.
type Verifier struct {
	ed          []ed25519.PublicKey
	rsa         []*rsa.PublicKey
	unsigned    bool
	noPublished bool
	// lastRSA is the index in rsa of the key that verified last.
	lastRSA atomic.Int32
	// rsaVerify replaces rsa.VerifyPKCS1v15 when set (tests count calls).
	rsaVerify func(*rsa.PublicKey, crypto.Hash, []byte, []byte) error
}

// Option configures a Verifier.
type Option func(*Verifier) error

// WithEd25519Key trusts an Ed25519 public key (PEM, base64 or hex), the
// key the app's settings show for x-ghl-signature. Give several to rotate.
func WithEd25519Key(key string) Option {
	return func(v *Verifier) error {
		k, err := ParseEd25519Key(key)
		if err != nil {
			return err
		}
		v.ed = append(v.ed, k)
		return nil
	}
}

// WithEd25519PublicKey trusts an already parsed Ed25519 key.
func WithEd25519PublicKey(k ed25519.PublicKey) Option {
	return func(v *Verifier) error {
		if len(k) != ed25519.PublicKeySize {
			return errors.New("webhook: Ed25519 key has the wrong size")
		}
		v.ed = append(v.ed, k)
		return nil
	}
}

// WithRSAKey trusts an RSA public key (PEM, base64 or hex) for the legacy
// x-wh-signature, in addition to the published one (and tried before it).
func WithRSAKey(key string) Option {
	return func(v *Verifier) error {
		k, err := ParseRSAKey(key)
		if err != nil {
			return err
		}
		v.rsa = append(v.rsa, k)
		return nil
	}
}

// WithRSAPublicKey trusts an already parsed RSA key.
func WithRSAPublicKey(k *rsa.PublicKey) Option {
	return func(v *Verifier) error {
		if k == nil {
			return errors.New("webhook: nil RSA key")
		}
		v.rsa = append(v.rsa, k)
		return nil
	}
}

// WithoutPublishedRSAKey stops trusting PublishedRSAKey, e.g. to accept
// only Ed25519 signatures or only a test server's RSA key.
func WithoutPublishedRSAKey() Option {
	return func(v *Verifier) error {
		v.noPublished = true
		return nil
	}
}

// InsecureAcceptUnsignedForLocalDevelopment makes the verifier accept
// requests without any signature header. Never use it in production: anyone
// who can reach the endpoint can then forge events. A request that does
// carry a signature must still verify.
func InsecureAcceptUnsignedForLocalDevelopment() Option {
	return func(v *Verifier) error {
		v.unsigned = true
		return nil
	}
}

// NewVerifier returns a verifier trusting the given keys and the published
// RSA key. Options apply in order.
func NewVerifier(opts ...Option) (*Verifier, error) {
	published, err := ParseRSAKey(PublishedRSAKey)
	if err != nil {
		return nil, fmt.Errorf("webhook: the published key does not parse: %w", err)
	}
	v := &Verifier{}
	for _, o := range opts {
		if err := o(v); err != nil {
			return nil, err
		}
	}
	// The application's own keys first: a verifier given one usually
	// receives deliveries signed by it. A key given twice is tried once.
	if !v.noPublished {
		v.rsa = append(v.rsa, published)
	}
	v.rsa = distinct(v.rsa)
	v.ed = distinct(v.ed)
	if len(v.ed) == 0 && len(v.rsa) == 0 && !v.unsigned {
		return nil, errors.New("webhook: the verifier trusts no key")
	}
	return v, nil
}

// Verify checks the request's signature over body, the exact bytes
// received. x-ghl-signature (Ed25519) is preferred: when the verifier has
// an Ed25519 key and the header is present, it alone decides. Otherwise
// x-wh-signature (RSA) is checked. A request with no signature the verifier
// can check fails with ErrMissingSignature, a wrong one with
// ErrInvalidSignature.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	if v == nil {
		return ErrMissingSignature
	}
	ed, legacy := strings.TrimSpace(h.Get(SignatureHeader)), strings.TrimSpace(h.Get(LegacySignatureHeader))
	switch {
	case ed != "" && len(v.ed) > 0:
		if !v.verifyEd25519(ed, body) {
			return fmt.Errorf("%w (%s)", ErrInvalidSignature, SignatureHeader)
		}
		return nil
	case legacy != "" && len(v.rsa) > 0:
		if !v.verifyRSA(legacy, body) {
			return fmt.Errorf("%w (%s)", ErrInvalidSignature, LegacySignatureHeader)
		}
		return nil
	case ed == "" && legacy == "" && v.unsigned:
		return nil
	}
	return ErrMissingSignature
}

// distinct returns keys without repeats, in the order of first appearance.
func distinct[K interface{ Equal(crypto.PublicKey) bool }](keys []K) []K {
	var out []K
	for _, k := range keys {
		if !slices.ContainsFunc(out, func(o K) bool { return o.Equal(k) }) {
			out = append(out, k)
		}
	}
	return out
}

func decodeSignature(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

func (v *Verifier) verifyEd25519(sig string, body []byte) bool {
	b, ok := decodeSignature(sig)
	if !ok || len(b) != ed25519.SignatureSize {
		return false
	}
	for _, k := range v.ed {
		if ed25519.Verify(k, body, b) {
			return true
		}
	}
	return false
}

func (v *Verifier) verifyRSA(sig string, body []byte) bool {
	b, ok := decodeSignature(sig)
	if !ok {
		return false
	}
	verify := v.rsaVerify
	if verify == nil {
		verify = rsa.VerifyPKCS1v15
	}
	sum := sha256.Sum256(body)
	last := int(v.lastRSA.Load())
	try := func(i int) bool {
		k := v.rsa[i]
		// RFC 8017 8.2.2: a signature is exactly as long as the modulus.
		// One of another length was not made with k: refuse it without
		// the costly verification.
		if len(b) != k.Size() || verify(k, crypto.SHA256, sum[:], b) != nil {
			return false
		}
		if i != last {
			v.lastRSA.Store(int32(i))
		}
		return true
	}
	if last < len(v.rsa) && try(last) {
		return true
	}
	for i := range v.rsa {
		if i != last && try(i) {
			return true
		}
	}
	return false
}
