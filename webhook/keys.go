package webhook

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// PublishedRSAKey is the RSA public key the API publishes for the legacy
// x-wh-signature header. Verifiers trust it unless WithoutPublishedRSAKey
// is given.
const PublishedRSAKey = `-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
`

// ParseEd25519Key reads an Ed25519 public key given as PEM ("PUBLIC KEY",
// PKIX), or as base64 or hex of either the raw 32-byte key or its PKIX DER.
func ParseEd25519Key(s string) (ed25519.PublicKey, error) {
	der, err := keyBytes(s)
	if err != nil {
		return nil, err
	}
	if len(der) == ed25519.PublicKeySize {
		return ed25519.PublicKey(der), nil
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("webhook: Ed25519 key: %w", err)
	}
	k, ok := pub.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("webhook: the key is a %T, not an Ed25519 key", pub)
	}
	return k, nil
}

// ParseRSAKey reads an RSA public key given as PEM ("PUBLIC KEY" PKIX or
// "RSA PUBLIC KEY" PKCS#1), or as base64 or hex of its DER.
func ParseRSAKey(s string) (*rsa.PublicKey, error) {
	der, err := keyBytes(s)
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS1PublicKey(der)
	if err != nil {
		pub, perr := x509.ParsePKIXPublicKey(der)
		if perr != nil {
			return nil, fmt.Errorf("webhook: RSA key: %w", perr)
		}
		var ok bool
		if k, ok = pub.(*rsa.PublicKey); !ok {
			return nil, fmt.Errorf("webhook: the key is a %T, not an RSA key", pub)
		}
	}
	if k.N.BitLen() < 2048 {
		return nil, fmt.Errorf("webhook: RSA key of %d bits is too short", k.N.BitLen())
	}
	return k, nil
}

// keyBytes decodes PEM, base64 (standard or URL, padded or not) or hex.
func keyBytes(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("webhook: empty key")
	}
	if strings.HasPrefix(s, "-----BEGIN") {
		block, _ := pem.Decode([]byte(s))
		if block == nil {
			return nil, errors.New("webhook: malformed PEM key")
		}
		return block.Bytes, nil
	}
	compact := strings.Join(strings.Fields(s), "")
	if b, err := hex.DecodeString(compact); err == nil && len(compact)%2 == 0 {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(compact); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("webhook: the key is neither PEM, base64 nor hex")
}
