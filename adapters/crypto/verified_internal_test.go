package crypto

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/phoneauth/phoneauth/application"
)

// TestParseAccessAnswersFromMemory: a string remembered as accepted is
// answered from memory, without a verification: here a string that is no
// token at all, planted in the memory, is accepted. (ParseAccess only
// ever plants tokens it verified: TestParseAccessRemembersOnlyAccepted.)
func TestParseAccessAnswersFromMemory(t *testing.T) {
	tk, err := NewTokens([]ed25519.PrivateKey{ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))}, make([]byte, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	const planted = "not-a-token"
	if _, err := tk.ParseAccess(planted, now); !errors.Is(err, application.ErrInvalidToken) {
		t.Fatalf("verified: %v", err)
	}
	key := tokenKey(planted)
	tk.verified.put(&key, toVerified(application.AccessClaims{UserID: "u", SessionID: "s", Generation: 2, IssuedAt: now, ExpiresAt: now.Add(time.Minute)}))
	c, err := tk.ParseAccess(planted, now)
	if err != nil || c.UserID != "u" || c.SessionID != "s" || c.Generation != 2 || !c.IssuedAt.Equal(now) || !c.ExpiresAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("remembered claims not answered: %+v, %v", c, err)
	}
	if _, err := tk.ParseAccess(planted, now.Add(time.Minute)); !errors.Is(err, application.ErrInvalidToken) {
		t.Fatalf("remembered token accepted at its exp: %v", err)
	}
}

// TestVerifiedTokensBounded: however many tokens pass, the memory holds at
// most verifiedMax; a token in use (looked up between every few new ones)
// stays, the ones not seen again go.
func TestVerifiedTokensBounded(t *testing.T) {
	var c verifiedTokens
	keyOf := func(i int) [sha256.Size]byte {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(i))
		return sha256.Sum256(b[:])
	}
	hot := keyOf(-1)
	c.put(&hot, verifiedClaims{userID: "hot"})
	for i := range 4 * verifiedMax {
		k := keyOf(i)
		c.put(&k, verifiedClaims{userID: "cold"})
		if i%64 == 0 {
			if v, ok := c.get(&hot); !ok || v.userID != "hot" {
				t.Fatalf("the token in use was dropped after %d others", i)
			}
		}
		if i%1000 == 0 {
			if n := c.size(); n > verifiedMax {
				t.Fatalf("holds %d, bound %d", n, verifiedMax)
			}
		}
	}
	if n := c.size(); n > verifiedMax || n < verifiedMax/2 {
		t.Fatalf("holds %d, want between %d and %d", n, verifiedMax/2, verifiedMax)
	}
	first := keyOf(0)
	if _, ok := c.get(&first); ok {
		t.Fatal("a token not seen again for 4 bounds' worth is still held")
	}
}

// BenchmarkRememberedBytesPerToken fills the memory of accepted tokens to
// its bound (both generations of every shard full) with the claims the
// service's tokens carry (32-character ids), and reports the Go heap it
// holds per token, after a collection.
func BenchmarkRememberedBytesPerToken(b *testing.B) {
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c := new(verifiedTokens)
		for i := 0; c.size() < verifiedMax; i++ {
			key := tokenKey(fmt.Sprintf("token-%d", i))
			if s := c.shard(&key); len(s.cur) == verifiedPerShard && len(s.prev) == verifiedPerShard {
				continue
			}
			c.put(&key, verifiedClaims{userID: fmt.Sprintf("%032x", i), sessionID: fmt.Sprintf("%032x", -i), generation: 1,
				issuedAt: 1_800_000_000, expiresAt: 1_800_000_900})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if n := c.size(); n != verifiedMax {
			b.Fatalf("holds %d", n)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(verifiedMax), "B/token")
		runtime.KeepAlive(c)
	}
}
