package webhook_test

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gymflow/contacts-go/webhook"
)

// testRSAKeys are two RSA key pairs for the legacy scheme, generated once
// per test binary (each takes a few hundred milliseconds under -race).
var testRSAKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var keys [2]*rsa.PrivateKey
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	return keys
})

// rsaSign returns the x-wh-signature of body under k.
func rsaSign(t testing.TB, k *rsa.PrivateKey, body []byte) string {
	t.Helper()
	sum := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// pkixPEM returns k as a PEM "PUBLIC KEY" block.
func pkixPEM(t testing.TB, k crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func sigHeader(name, value string) http.Header {
	h := http.Header{}
	h.Set(name, value)
	return h
}

// TestPublishedRSAKeyIsTheAPIs compares the key the SDK carries with the
// copy of the API's published key file in testdata.
func TestPublishedRSAKeyIsTheAPIs(t *testing.T) {
	t.Parallel()
	file, err := os.ReadFile(filepath.Join("testdata", "webhook-rsa-public.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace([]byte(webhook.PublishedRSAKey)), bytes.TrimSpace(file)) {
		t.Errorf("PublishedRSAKey differs from testdata/webhook-rsa-public.pem:\n%s\nwant\n%s", webhook.PublishedRSAKey, file)
	}
	block, rest := pem.Decode(file)
	if block == nil || block.Type != "PUBLIC KEY" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("testdata/webhook-rsa-public.pem is not one PEM PUBLIC KEY block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	want, ok := pub.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("the published key is a %T", pub)
	}
	got, err := webhook.ParseRSAKey(webhook.PublishedRSAKey)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Error("PublishedRSAKey parses to another key than the published one")
	}
	if want.N.BitLen() != 4096 || want.E != 65537 {
		t.Errorf("published key: %d bits, e=%d", want.N.BitLen(), want.E)
	}
}

// TestEd25519SignatureDecides: with both schemes trusted, a wrong
// x-ghl-signature is not rescued by a valid x-wh-signature.
func TestEd25519SignatureDecides(t *testing.T) {
	t.Parallel()
	rsaKey := testRSAKeys()[0]
	v, err := webhook.NewVerifier(webhook.WithEd25519PublicKey(fuzzPublic()), webhook.WithRSAPublicKey(&rsaKey.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	body := noteBody("wh-both", fuzzNow, 0)
	legacy := rsaSign(t, rsaKey, body)
	_, otherKey, _ := ed25519.GenerateKey(nil)

	// The legacy signature alone is valid…
	if err := v.Verify(sigHeader(webhook.LegacySignatureHeader, legacy), body); err != nil {
		t.Fatalf("valid x-wh-signature alone: %v", err)
	}
	// …but never outweighs a bad x-ghl-signature.
	for name, ed := range map[string]string{
		"signature of another body": fuzzSign(append(bytes.Clone(body), ' ')),
		"another key's signature":   base64.StdEncoding.EncodeToString(ed25519.Sign(otherKey, body)),
		"not base64":                "%%%",
		"truncated":                 fuzzSign(body)[:40],
	} {
		h := sigHeader(webhook.SignatureHeader, ed)
		h.Set(webhook.LegacySignatureHeader, legacy)
		if err := v.Verify(h, body); !errors.Is(err, webhook.ErrInvalidSignature) {
			t.Errorf("%s in x-ghl-signature with a valid x-wh-signature: %v, want ErrInvalidSignature", name, err)
		}
		if _, err := webhook.VerifyAndParse(v, h, body); !errors.Is(err, webhook.ErrInvalidSignature) {
			t.Errorf("VerifyAndParse, %s: %v, want ErrInvalidSignature", name, err)
		}
	}
	// A valid x-ghl-signature passes whatever x-wh-signature says.
	h := sigHeader(webhook.SignatureHeader, fuzzSign(body))
	h.Set(webhook.LegacySignatureHeader, "AAAA")
	if err := v.Verify(h, body); err != nil {
		t.Errorf("valid x-ghl-signature with a bad x-wh-signature: %v", err)
	}
	// A verifier without an Ed25519 key checks x-wh-signature instead.
	rsaOnly, err := webhook.NewVerifier(webhook.WithRSAPublicKey(&rsaKey.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	h = sigHeader(webhook.SignatureHeader, "AAAA")
	h.Set(webhook.LegacySignatureHeader, legacy)
	if err := rsaOnly.Verify(h, body); err != nil {
		t.Errorf("RSA-only verifier with a valid x-wh-signature: %v", err)
	}
}

// TestKeyRotation: a verifier given several keys of a scheme accepts a
// signature by any of them, whichever its position, and nothing else.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	body := noteBody("wh-rotate", fuzzNow, 0)
	t.Run("Ed25519", func(t *testing.T) {
		t.Parallel()
		oldPub, oldKey, _ := ed25519.GenerateKey(nil)
		newPub, newKey, _ := ed25519.GenerateKey(nil)
		_, unknownKey, _ := ed25519.GenerateKey(nil)
		v, err := webhook.NewVerifier(webhook.WithoutPublishedRSAKey(),
			webhook.WithEd25519Key(pkixPEM(t, oldPub)), webhook.WithEd25519Key(base64.StdEncoding.EncodeToString(newPub)))
		if err != nil {
			t.Fatal(err)
		}
		for name, tc := range map[string]struct {
			key  ed25519.PrivateKey
			want error
		}{
			"second key": {newKey, nil},
			"first key":  {oldKey, nil},
			"unknown":    {unknownKey, webhook.ErrInvalidSignature},
		} {
			h := sigHeader(webhook.SignatureHeader, base64.StdEncoding.EncodeToString(ed25519.Sign(tc.key, body)))
			if err := v.Verify(h, body); !errors.Is(err, tc.want) {
				t.Errorf("signed by the %s: %v, want %v", name, err, tc.want)
			}
		}
	})
	t.Run("RSA", func(t *testing.T) {
		t.Parallel()
		keys := testRSAKeys()
		first, second := keys[0], keys[1]
		v, err := webhook.NewVerifier(webhook.WithoutPublishedRSAKey(),
			webhook.WithRSAKey(pkixPEM(t, &first.PublicKey)), webhook.WithRSAKey(pkixPEM(t, &second.PublicKey)))
		if err != nil {
			t.Fatal(err)
		}
		for name, k := range map[string]*rsa.PrivateKey{"second key": second, "first key": first} {
			if err := v.Verify(sigHeader(webhook.LegacySignatureHeader, rsaSign(t, k, body)), body); err != nil {
				t.Errorf("signed by the %s: %v", name, err)
			}
		}
		// The published key is first by default; a key of ours after it
		// is still tried.
		withPublished, err := webhook.NewVerifier(webhook.WithRSAKey(pkixPEM(t, &second.PublicKey)))
		if err != nil {
			t.Fatal(err)
		}
		if err := withPublished.Verify(sigHeader(webhook.LegacySignatureHeader, rsaSign(t, second, body)), body); err != nil {
			t.Errorf("published key and ours, signed by ours: %v", err)
		}
		// A key the verifier does not trust.
		unknown, err := webhook.NewVerifier(webhook.WithRSAKey(pkixPEM(t, &first.PublicKey)))
		if err != nil {
			t.Fatal(err)
		}
		if err := unknown.Verify(sigHeader(webhook.LegacySignatureHeader, rsaSign(t, second, body)), body); !errors.Is(err, webhook.ErrInvalidSignature) {
			t.Errorf("signed by an unknown key: %v, want ErrInvalidSignature", err)
		}
	})
}

// testRSAKey4096 is an RSA key pair of the published key's size, generated
// once per test binary (a second or so under -race).
var testRSAKey4096 = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 4096)
	if err != nil {
		panic(err)
	}
	return k
})

// BenchmarkVerifyAppKeyRSA: a delivery signed by the app's own RSA key
// (the published key trusted too, as by default). One RSA verification per
// delivery is the floor.
func BenchmarkVerifyAppKeyRSA(b *testing.B) {
	key := testRSAKey4096()
	v, err := webhook.NewVerifier(webhook.WithRSAPublicKey(&key.PublicKey))
	if err != nil {
		b.Fatal(err)
	}
	body := noteBody("wh-bench-app", fuzzNow, 0)
	h := sigHeader(webhook.LegacySignatureHeader, rsaSign(b, key, body))
	for b.Loop() {
		if err := v.Verify(h, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyForgedRSA: forged x-wh-signatures against a verifier
// trusting the published key and the app's own (both 4096-bit): one of
// the keys' length (it must be tried under each key) and one of another
// length (no key can have made it).
func BenchmarkVerifyForgedRSA(b *testing.B) {
	key := testRSAKey4096()
	v, err := webhook.NewVerifier(webhook.WithRSAPublicKey(&key.PublicKey))
	if err != nil {
		b.Fatal(err)
	}
	body := noteBody("wh-bench-forged", fuzzNow, 0)
	for _, bc := range []struct {
		name string
		size int
	}{{"key-length", key.Size()}, {"other-length", 256}} {
		b.Run(bc.name, func(b *testing.B) {
			sig := make([]byte, bc.size)
			rand.Read(sig)
			sig[0] = 0 // below the modulus: a well-formed RSA input
			h := sigHeader(webhook.LegacySignatureHeader, base64.StdEncoding.EncodeToString(sig))
			for b.Loop() {
				if err := v.Verify(h, body); !errors.Is(err, webhook.ErrInvalidSignature) {
					b.Fatal(err)
				}
			}
		})
	}
}
