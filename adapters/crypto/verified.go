package crypto

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/phoneauth/phoneauth/application"
)

// verifiedTokens remembers, in bounded memory, the access tokens that
// ParseAccess has verified, so that a token presented again costs a
// SHA-256 and a map lookup instead of golang-jwt's decoding and an
// Ed25519 verification (~53 µs of CPU, more than the rest of an
// authenticated request). An app presents one access token on every call
// for the token's whole life, so nearly every authenticated request is
// such a repeat.
//
// A hit is as good as a verification: an entry is keyed by the SHA-256 of
// the exact token string, and an access token has exactly one accepted
// spelling (see ParseAccess), so the same key means the same token, whose
// signature, header and claims were checked, under keys that do not
// change for the life of a Tokens. What can change is time: the expiry is
// checked against now on every hit, exactly as the verification does
// (a token is live while now is before exp). Only accepted tokens are
// remembered, and only tokens without "nbf" (IssueAccess never writes
// one), so no other claim depends on the time. Revocation is not this
// cache's business: the application reads the session and the account on
// every request.
//
// It holds nothing secret beyond what the token itself says: the hash of
// the token (not the token, which could be presented) and the claims.
// Memory is bounded: each of verifiedShards shards keeps two generations
// of at most verifiedPerShard entries; when the current one is full it
// becomes the previous one and the former previous one is dropped, and
// an entry found in the previous generation moves to the current one, so
// that the tokens in use stay. At most 2 × verifiedShards ×
// verifiedPerShard entries, ~150 bytes each (BENCHMARKS.md). It is safe
// for concurrent use: one mutex per shard, the shard chosen by the hash.
type verifiedTokens struct {
	shards [verifiedShards]verifiedShard
}

const (
	verifiedShards   = 16
	verifiedPerShard = 2048
	// verifiedMax is the most entries the cache holds.
	verifiedMax = 2 * verifiedShards * verifiedPerShard
)

type verifiedShard struct {
	mu        sync.Mutex
	cur, prev map[[sha256.Size]byte]verifiedClaims
	_         [40]byte // one shard per cache line
}

// verifiedClaims is an accepted token's claims, times in the whole
// seconds a JWT carries them in.
type verifiedClaims struct {
	userID, sessionID string
	generation        uint64
	issuedAt          int64
	expiresAt         int64
}

func toVerified(c application.AccessClaims) verifiedClaims {
	return verifiedClaims{userID: c.UserID, sessionID: c.SessionID, generation: c.Generation,
		issuedAt: c.IssuedAt.Unix(), expiresAt: c.ExpiresAt.Unix()}
}

func (v verifiedClaims) claims() application.AccessClaims {
	return application.AccessClaims{UserID: v.userID, SessionID: v.sessionID, Generation: v.generation,
		IssuedAt: time.Unix(v.issuedAt, 0).UTC(), ExpiresAt: time.Unix(v.expiresAt, 0).UTC()}
}

// tokenKey is the cache key of a token: the SHA-256 of its exact string.
func tokenKey(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

func (c *verifiedTokens) shard(key *[sha256.Size]byte) *verifiedShard {
	return &c.shards[key[0]%verifiedShards]
}

// get returns the claims remembered under key, moving them to the current
// generation if they were in the previous one.
func (c *verifiedTokens) get(key *[sha256.Size]byte) (verifiedClaims, bool) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.cur[*key]; ok {
		return v, true
	}
	v, ok := s.prev[*key]
	if ok {
		delete(s.prev, *key)
		s.putLocked(key, v)
	}
	return v, ok
}

// put remembers the claims of an accepted token under its key.
func (c *verifiedTokens) put(key *[sha256.Size]byte, v verifiedClaims) {
	s := c.shard(key)
	s.mu.Lock()
	s.putLocked(key, v)
	s.mu.Unlock()
}

func (s *verifiedShard) putLocked(key *[sha256.Size]byte, v verifiedClaims) {
	if s.cur == nil || len(s.cur) >= verifiedPerShard {
		s.prev, s.cur = s.cur, make(map[[sha256.Size]byte]verifiedClaims)
	}
	s.cur[*key] = v
}

// size is how many entries the cache holds (for tests).
func (c *verifiedTokens) size() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.cur) + len(s.prev)
		s.mu.Unlock()
	}
	return n
}
