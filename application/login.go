package application

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
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

// LoginResult is a successful login: the account's email and the first
// pair of the session it opened.
type LoginResult struct {
	Email string
	SessionTokens
}

// LoginHandler checks login proofs.
type LoginHandler struct {
	users    Users
	vault    PasswordVault
	lockouts Lockouts
	limits   RateLimits
	nonces   Nonces
	issuer   *SessionIssuer
	clock    Clock
	policy   Policy
}

// NewLoginHandler builds the login handler.
func NewLoginHandler(users Users, vault PasswordVault, lockouts Lockouts, limits RateLimits, nonces Nonces, issuer *SessionIssuer, clock Clock, policy Policy) *LoginHandler {
	return &LoginHandler{users: users, vault: vault, lockouts: lockouts, limits: limits, nonces: nonces, issuer: issuer, clock: clock, policy: policy}
}

// Handle checks, in order: the time window, the client network's failure
// budget, the account, its lock, the proof, the account's hourly logins,
// and only then claims the request's nonce, so that the nonce store holds
// one entry per successful login and cannot be filled by garbage.
// A successful login opens a session (SessionIssuer.Open) and writes
// nothing durable.
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
	failure, err := take(ctx, h.limits, h.policy.failureRule(in.ClientNet), now)
	if err != nil {
		return LoginResult{}, err
	}
	res, err := h.judge(ctx, in, phone, sent, now)
	settle(ctx, h.limits, failure, errors.Is(err, domain.ErrUserNotFound) || errors.Is(err, domain.ErrWrongPassword), now)
	return res, err
}

// judge looks the account up and checks the proof under the account's
// lock. The attempt takes its place in the failure count before the proof
// is judged, so that however many guesses are in flight no more than
// LoginMaxFailures are judged per lock window: a wrong proof leaves the
// place taken (it is the failure), a right one resets the count, and an
// attempt refused for another reason gives its place back.
func (h *LoginHandler) judge(ctx context.Context, in Login, phone domain.PhoneNumber, sent, now time.Time) (LoginResult, error) {
	user, err := h.users.ByPhone(ctx, phone)
	if err != nil {
		return LoginResult{}, err
	}
	lockKey := "login:" + phone.E164()
	op := reserveOps.Get().(*reserveOp)
	op.max, op.lockFor, op.now = h.policy.LoginMaxFailures, h.policy.LoginLockout, now
	err = h.lockouts.Update(ctx, lockKey, now, op.fn)
	attempt, retry, ok := op.ticket, op.retry, op.ok
	reserveOps.Put(op)
	if err != nil {
		return LoginResult{}, fmt.Errorf("reserve login attempt: %w", err)
	}
	if !ok {
		return LoginResult{}, &AccountLockedError{RetryAfter: retry}
	}
	password, err := h.vault.Open(phone, user.SealedPassword())
	if err != nil {
		h.giveBackAttempt(ctx, lockKey, attempt, now)
		return LoginResult{}, fmt.Errorf("open password: %w", err)
	}
	if !domain.CheckLoginProof(password, in.RandomStr, in.TimeStamp, in.EncryptionStr) {
		return LoginResult{}, domain.ErrWrongPassword
	}
	var login taken
	if h.policy.LoginHourlyLimitPerAccount > 0 {
		login, err = take(ctx, h.limits, rule{LimitLoginHourly, "logins:" + phone.E164(), h.policy.LoginHourlyLimitPerAccount, time.Hour}, now)
		if err != nil {
			h.giveBackAttempt(ctx, lockKey, attempt, now)
			return LoginResult{}, err
		}
	}
	// The triple stays replayable only while its time stamp is in the
	// window; past that the window check refuses it anyway.
	//
	// A store short of memory may have forgotten the oldest triples; it
	// then answers stale for every request as old as those, which the
	// client hears as a request to retry with a fresh time stamp.
	claim, err := h.nonces.Claim(ctx, nonceKey(phone, in.RandomStr, in.TimeStamp), sent.Add(h.policy.LoginTimeWindow+time.Second), now)
	if err != nil || claim != NonceClaimed {
		// Not a proof of the password: a replayed right proof must not
		// reset the count, or replaying one would unlock the account.
		giveBack(ctx, h.limits, login, now)
		h.giveBackAttempt(ctx, lockKey, attempt, now)
	}
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
	if err := h.lockouts.Update(ctx, lockKey, now, resetFailures); err != nil {
		return LoginResult{}, fmt.Errorf("reset lockout: %w", err)
	}
	pair, err := h.issuer.Open(user.ID(), user.SessionGeneration(), now)
	if err != nil {
		return LoginResult{}, fmt.Errorf("open session: %w", err)
	}
	return LoginResult{Email: user.Email().String(), SessionTokens: pair}, nil
}

// reserveOp is one attempt's reservation, passed to Lockouts.Update as
// fn. Pooled with its fn bound once, it costs the login path no
// allocation (a closure over the results would cost two).
type reserveOp struct {
	max     int
	lockFor time.Duration
	now     time.Time
	ticket  domain.AttemptTicket
	retry   time.Duration
	ok      bool
	fn      func(*domain.LoginFailures) error
}

var reserveOps = sync.Pool{New: func() any {
	op := &reserveOp{}
	op.fn = op.reserve
	return op
}}

func (op *reserveOp) reserve(f *domain.LoginFailures) error {
	op.ticket, op.retry, op.ok = f.Reserve(op.max, op.lockFor, op.now)
	return nil
}

func resetFailures(f *domain.LoginFailures) error {
	f.Reset()
	return nil
}

// giveBackAttempt returns the place of an attempt that was not judged. A
// place that cannot be given back (the store failed) stays counted.
func (h *LoginHandler) giveBackAttempt(ctx context.Context, key string, t domain.AttemptTicket, now time.Time) {
	_ = h.lockouts.Update(context.WithoutCancel(ctx), key, now, func(f *domain.LoginFailures) error {
		f.GiveBack(t, h.policy.LoginMaxFailures, now)
		return nil
	})
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
