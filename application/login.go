package application

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/phoneauth/phoneauth/domain"
)

// Login is the seed's login request; TimeStamp is the decimal text the
// client hashed, whether it arrived as a JSON string or number.
type Login struct {
	Phone         string
	EncryptionStr string
	RandomStr     string
	TimeStamp     string
	// ClientNet names the client's network, the key of every per-client
	// limit: the HTTP edge fills it from the client's address.
	ClientNet string
}

// LoginResult is a successful login.
type LoginResult struct {
	Email     string
	Token     string
	ExpiresIn time.Duration
}

// LoginHandler checks login proofs.
type LoginHandler struct {
	users    Users
	vault    PasswordVault
	lockouts Lockouts
	nonces   Nonces
	tokens   TokenIssuer
	clock    Clock
	policy   Policy
}

// NewLoginHandler builds the login handler.
func NewLoginHandler(users Users, vault PasswordVault, lockouts Lockouts, nonces Nonces, tokens TokenIssuer, clock Clock, policy Policy) *LoginHandler {
	return &LoginHandler{users: users, vault: vault, lockouts: lockouts, nonces: nonces, tokens: tokens, clock: clock, policy: policy}
}

// Handle checks, in order: the time window, the account, its lock, the
// proof, and only then claims the request's nonce, so that the nonce store
// holds one entry per successful login and cannot be filled by garbage.
// A successful login writes nothing durable.
func (h *LoginHandler) Handle(ctx context.Context, in Login) (LoginResult, error) {
	phone, err := domain.ParsePhoneNumber(in.Phone)
	if err != nil {
		return LoginResult{}, err
	}
	now := h.clock.Now()
	ts, err := strconv.ParseInt(in.TimeStamp, 10, 64)
	if err != nil {
		return LoginResult{}, ErrStaleRequest
	}
	sent := time.Unix(ts, 0)
	if skew := now.Sub(sent); skew > h.policy.LoginTimeWindow || skew < -h.policy.LoginTimeWindow {
		return LoginResult{}, ErrStaleRequest
	}
	user, err := h.users.ByPhone(ctx, phone)
	if err != nil {
		return LoginResult{}, err
	}
	lockKey := "login:" + phone.E164()
	lock, err := h.lockouts.Check(ctx, lockKey, now)
	if err != nil {
		return LoginResult{}, fmt.Errorf("read lockout: %w", err)
	}
	if lock.Until.After(now) {
		return LoginResult{}, &AccountLockedError{RetryAfter: lock.Until.Sub(now)}
	}
	password, err := h.vault.Open(phone, user.SealedPassword())
	if err != nil {
		return LoginResult{}, fmt.Errorf("open password: %w", err)
	}
	if !domain.CheckLoginProof(password, in.RandomStr, in.TimeStamp, in.EncryptionStr) {
		if _, err := h.lockouts.Fail(ctx, lockKey, h.policy.LoginMaxFailures, h.policy.LoginLockout, now); err != nil {
			return LoginResult{}, fmt.Errorf("count failure: %w", err)
		}
		return LoginResult{}, domain.ErrWrongPassword
	}
	// The triple stays replayable only while its time stamp is in the
	// window; past that the window check refuses it anyway.
	//
	// A store short of memory may have forgotten the oldest triples; it
	// then answers stale for every request as old as those, which the
	// client hears as a request to retry with a fresh time stamp.
	claim, err := h.nonces.Claim(ctx, nonceKey(phone, in.RandomStr, in.TimeStamp), sent.Add(h.policy.LoginTimeWindow+time.Second), now)
	if err != nil {
		return LoginResult{}, fmt.Errorf("claim nonce: %w", err)
	}
	switch claim {
	case NonceClaimed:
	case NonceReplayed:
		return LoginResult{}, ErrReplayedRequest
	case NonceStale:
		return LoginResult{}, ErrStaleRequest
	default:
		return LoginResult{}, fmt.Errorf("claim nonce: unknown answer %v", claim)
	}
	// Only failures on record need forgetting: most logins follow none,
	// and a reset is a write (a round trip with MongoDB). A failure that
	// races this login may stay counted; it would have been counted had
	// it come a moment later.
	if lock.Failures > 0 {
		if err := h.lockouts.Reset(ctx, lockKey); err != nil {
			return LoginResult{}, fmt.Errorf("reset lockout: %w", err)
		}
	}
	token, expiresIn, err := h.tokens.Issue(user.ID(), newID(), now)
	if err != nil {
		return LoginResult{}, fmt.Errorf("issue token: %w", err)
	}
	return LoginResult{Email: user.Email().String(), Token: token, ExpiresIn: expiresIn}, nil
}

// nonceKey hashes the triple so that a long random_str costs the store
// no more than a short one; the separators keep ("ab","c") and ("a","bc")
// apart.
func nonceKey(phone domain.PhoneNumber, random, ts string) string {
	h := sha256.New()
	h.Write([]byte(phone.E164()))
	h.Write([]byte{0})
	h.Write([]byte(random))
	h.Write([]byte{0})
	h.Write([]byte(ts))
	return "nonce:" + hex.EncodeToString(h.Sum(nil)[:16])
}
