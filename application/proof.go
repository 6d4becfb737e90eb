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

// Proof is a login proof of the password as the client sent it
// (docs/api.md, Computing encryption_str): what login, and every request
// that must show the password again (a password change, a phone change,
// an account's deletion), carries.
type Proof struct {
	EncryptionStr string
	RandomStr     string
	// TimeStamp is the decimal text the client hashed, whether it arrived
	// as a JSON string or number.
	TimeStamp string
}

// proofCheck checks login proofs, the one way for login and the
// authenticated requests alike, so that they share the lockout and the
// single-use memory: a proof accepted by one is refused by all, and
// wrong proofs anywhere count toward the one lock of the account.
type proofCheck struct {
	users    Users
	vault    PasswordVault
	lockouts Lockouts
	limits   RateLimits
	nonces   Nonces
	policy   Policy
}

// check checks, in order: the time window, the client network's failure
// budget, the account (login names it by its number, user nil, and it is
// looked up; an authenticated request brings its own), its lock, the
// proof, the extra limit (login's per-account hourly successes; a zero
// rule for none), and only then claims the request's nonce, so that the
// nonce store holds one entry per accepted proof and cannot be filled by
// garbage. An accepted proof resets the account's failures. A failure
// is domain.ErrUserNotFound, domain.ErrWrongPassword (both charged to
// the client network), ErrStaleRequest, ErrReplayedRequest,
// *AccountLockedError, *RateLimitedError or a store's error.
func (c *proofCheck) check(ctx context.Context, phone domain.PhoneNumber, user *domain.User, p Proof, clientNet string, extra rule, now time.Time) (*domain.User, error) {
	ts, err := strconv.ParseInt(p.TimeStamp, 10, 64)
	if err != nil {
		return nil, ErrStaleRequest
	}
	sent := time.Unix(ts, 0)
	if skew := now.Sub(sent); skew > c.policy.LoginTimeWindow || skew < -c.policy.LoginTimeWindow {
		return nil, ErrStaleRequest
	}
	failure, err := take(ctx, c.limits, c.policy.failureRule(clientNet), now)
	if err != nil {
		return nil, err
	}
	if user == nil {
		user, err = c.users.ByPhone(ctx, phone)
	}
	if err == nil {
		err = c.judge(ctx, user, phone, p, extra, sent, now)
	}
	settle(ctx, c.limits, failure, errors.Is(err, domain.ErrUserNotFound) || errors.Is(err, domain.ErrWrongPassword), now)
	if err != nil {
		return nil, err
	}
	return user, nil
}

// judge checks the proof under the account's lock. The attempt takes its
// place in the failure count before the proof is judged, so that however
// many guesses are in flight no more than LoginMaxFailures are judged per
// lock window: a wrong proof leaves the place taken (it is the failure), a
// right one resets the count, and an attempt refused for another reason
// gives its place back.
func (c *proofCheck) judge(ctx context.Context, user *domain.User, phone domain.PhoneNumber, p Proof, extra rule, sent, now time.Time) error {
	lockKey := LoginLockoutKey(phone)
	op := reserveOps.Get().(*reserveOp)
	op.max, op.lockFor, op.now = c.policy.LoginMaxFailures, c.policy.LoginLockout, now
	err := c.lockouts.Update(ctx, lockKey, now, op.fn)
	attempt, retry, ok := op.ticket, op.retry, op.ok
	reserveOps.Put(op)
	if err != nil {
		return fmt.Errorf("reserve login attempt: %w", err)
	}
	if !ok {
		return &AccountLockedError{RetryAfter: retry}
	}
	password, err := c.vault.Open(phone, user.SealedPassword())
	if err != nil {
		c.giveBackAttempt(ctx, lockKey, attempt, now)
		return fmt.Errorf("open password: %w", err)
	}
	if !domain.CheckLoginProof(password, p.RandomStr, p.TimeStamp, p.EncryptionStr) {
		return domain.ErrWrongPassword
	}
	held, err := take(ctx, c.limits, extra, now)
	if err != nil {
		c.giveBackAttempt(ctx, lockKey, attempt, now)
		return err
	}
	// The triple stays replayable only while its time stamp is in the
	// window; past that the window check refuses it anyway.
	//
	// A store short of memory may have forgotten the oldest triples; it
	// then answers stale for every request as old as those, which the
	// client hears as a request to retry with a fresh time stamp.
	claim, err := c.nonces.Claim(ctx, nonceKey(p.EncryptionStr, p.RandomStr, p.TimeStamp), sent.Add(c.policy.LoginTimeWindow+time.Second), now)
	if err != nil || claim != NonceClaimed {
		// Not a proof of the password: a replayed right proof must not
		// reset the count, or replaying one would unlock the account.
		giveBack(ctx, c.limits, held, now)
		c.giveBackAttempt(ctx, lockKey, attempt, now)
	}
	if err != nil {
		return fmt.Errorf("claim nonce: %w", err)
	}
	switch claim {
	case NonceClaimed:
	case NonceReplayed:
		return ErrReplayedRequest
	case NonceStale:
		return ErrStaleRequest
	default:
		return fmt.Errorf("claim nonce: unknown answer %v", claim)
	}
	if err := c.lockouts.Update(ctx, lockKey, now, resetFailures); err != nil {
		return fmt.Errorf("reset lockout: %w", err)
	}
	return nil
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

// LoginLockoutKey is the Lockouts key of the login lock of the account
// at phone: its number's. A store that deletes an account's records
// (Users.Delete) deletes the lock under this key.
func LoginLockoutKey(phone domain.PhoneNumber) string { return "login:" + phone.E164() }

// giveBackAttempt returns the place of an attempt that was not judged. A
// place that cannot be given back (the store failed) stays counted.
func (c *proofCheck) giveBackAttempt(ctx context.Context, key string, t domain.AttemptTicket, now time.Time) {
	_ = c.lockouts.Update(context.WithoutCancel(ctx), key, now, func(f *domain.LoginFailures) error {
		f.GiveBack(t, c.policy.LoginMaxFailures, now)
		return nil
	})
}

// nonceKey names an accepted proof by the proof itself (lowercased: it is
// compared case-insensitively, so a replay in capitals is the same proof)
// with its random_str and time_stamp, hashed so that a long random_str
// costs the store no more than a short one; the separators keep
// ("ab","c") and ("a","bc") apart. Neither the number nor the account
// names it: the proof's hash binds neither, so a key by the number let a
// proof be accepted again once its account moved to another number, and
// a key by the account let a deletion's proof log in to the account that
// registered the number next with the same password. Named by itself, a
// proof is accepted once, anywhere, for as long as its time stamp is in
// the window. (Two accounts with one password whose clients drew the same
// random_str in the same second would share a key: the second hears
// replayed_request and retries; clients draw random strings.)
func nonceKey(proof, random, ts string) string {
	// Built on the stack and hashed in one call: the login path's budget
	// of allocations has no room for a hash.Hash.
	b := make([]byte, 0, 160)
	for i := 0; i < len(proof); i++ {
		c := proof[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	b = append(b, 0)
	b = append(b, random...)
	b = append(b, 0)
	b = append(b, ts...)
	sum := sha256.Sum256(b)
	return "nonce:" + hex.EncodeToString(sum[:16])
}
