package webhook

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// costKeys are RSA key pairs for the cost tests, generated once per test
// binary: one of the published key's size (4096 bits) and two of 2048.
var costKeys = sync.OnceValue(func() [3]*rsa.PrivateKey {
	var keys [3]*rsa.PrivateKey
	var wg sync.WaitGroup
	for i, bits := range []int{4096, 2048, 2048} {
		wg.Go(func() {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	return keys
})

// countVerifications makes v count its RSA verifications in n.
func countVerifications(v *Verifier, n *atomic.Int64) {
	v.rsaVerify = func(k *rsa.PublicKey, h crypto.Hash, hashed, sig []byte) error {
		n.Add(1)
		return rsa.VerifyPKCS1v15(k, h, hashed, sig)
	}
}

func legacyHeader(sig []byte) http.Header {
	h := http.Header{}
	h.Set(LegacySignatureHeader, base64.StdEncoding.EncodeToString(sig))
	return h
}

func signLegacy(t *testing.T, k *rsa.PrivateKey, body []byte) http.Header {
	t.Helper()
	sum := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return legacyHeader(sig)
}

// forgedHeader returns an x-wh-signature of size random bytes.
func forgedHeader(size int) http.Header {
	sig := make([]byte, size)
	rand.Read(sig)
	sig[0] = 0 // below any modulus of that size: a well-formed RSA input
	return legacyHeader(sig)
}

// TestRSAVerificationCost counts the RSA verifications a Verifier makes:
// one for a delivery signed by the app's own key even though the
// published key (of the same size) is trusted too; for a forged signature
// at most one per distinct trusted key of the signature's length, and
// none when no trusted key has that length.
func TestRSAVerificationCost(t *testing.T) {
	t.Parallel()
	keys := costKeys()
	own, a, b := keys[0], keys[1], keys[2]
	body := []byte(`{"type":"NoteCreate","webhookId":"wh-cost"}`)
	published, err := ParseRSAKey(PublishedRSAKey)
	if err != nil {
		t.Fatal(err)
	}

	// verifications returns how many RSA verifications v made for one
	// Verify of h, and whether it accepted.
	verifications := func(v *Verifier, h http.Header) (int64, bool) {
		var n atomic.Int64
		countVerifications(v, &n)
		err := v.Verify(h, body)
		return n.Load(), err == nil
	}

	t.Run("own key beside the published one", func(t *testing.T) {
		t.Parallel()
		v, err := NewVerifier(WithRSAPublicKey(&own.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		if own.Size() != published.Size() {
			t.Fatalf("own key of %d bytes, published %d: the case proves nothing", own.Size(), published.Size())
		}
		genuine := signLegacy(t, own, body)
		for i := range 3 {
			if n, ok := verifications(v, genuine); !ok || n != 1 {
				t.Errorf("delivery %d signed by the own key: accepted %t after %d RSA verifications, want accepted after 1", i, ok, n)
			}
		}
		forged := forgedHeader(own.Size())
		if n, ok := verifications(v, forged); ok || n != 2 {
			t.Errorf("forged signature of the keys' length: accepted %t after %d RSA verifications, want refused after 2 (one per key)", ok, n)
		}
		for _, size := range []int{1, 256, 511, 513, 1024} {
			if n, ok := verifications(v, forgedHeader(size)); ok || n != 0 {
				t.Errorf("forged signature of %d bytes (no key's length): accepted %t after %d RSA verifications, want refused after 0", size, ok, n)
			}
		}
	})

	t.Run("a key given twice is tried once", func(t *testing.T) {
		t.Parallel()
		v, err := NewVerifier(WithRSAKey(PublishedRSAKey), WithRSAPublicKey(published))
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := verifications(v, forgedHeader(published.Size())); ok || n != 1 {
			t.Errorf("forged signature: accepted %t after %d RSA verifications, want refused after 1", ok, n)
		}
	})

	t.Run("the key that verified last is tried first", func(t *testing.T) {
		t.Parallel()
		v, err := NewVerifier(WithoutPublishedRSAKey(), WithRSAPublicKey(&a.PublicKey), WithRSAPublicKey(&b.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		byA, byB := signLegacy(t, a, body), signLegacy(t, b, body)
		for _, step := range []struct {
			name string
			h    http.Header
			want int64
		}{
			{"first delivery signed by the second key", byB, 2},
			{"next delivery signed by the second key", byB, 1},
			{"another signed by the second key", byB, 1},
			{"first delivery signed by the first key again", byA, 2},
			{"next delivery signed by the first key", byA, 1},
		} {
			if n, ok := verifications(v, step.h); !ok || n != step.want {
				t.Errorf("%s: accepted %t after %d RSA verifications, want accepted after %d", step.name, ok, n, step.want)
			}
		}
	})

	t.Run("concurrent deliveries under rotating keys", func(t *testing.T) {
		t.Parallel()
		v, err := NewVerifier(WithRSAPublicKey(&a.PublicKey), WithRSAPublicKey(&b.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		byA, byB := signLegacy(t, a, body), signLegacy(t, b, body)
		forged := forgedHeader(a.Size())
		var n atomic.Int64
		countVerifications(v, &n)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for j := range 10 {
					h := byA
					if (i+j)%2 == 1 {
						h = byB
					}
					if err := v.Verify(h, body); err != nil {
						t.Errorf("genuine delivery refused: %v", err)
					}
					if err := v.Verify(forged, body); err == nil {
						t.Error("forged delivery accepted")
					}
				}
			})
		}
		wg.Wait()
		// Each genuine delivery costs at most 2, each forged one exactly
		// 2 (the published key is of another size).
		if got, most := n.Load(), int64(8*10*(2+2)); got > most {
			t.Errorf("%d RSA verifications for 80 genuine and 80 forged deliveries, want at most %d", got, most)
		}
	})
}
