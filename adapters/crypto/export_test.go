package crypto

import "time"

// VerifyAccess is ParseAccess without the memory of accepted tokens: the
// whole check, every time (for benchmarks and comparisons).
func (t *Tokens) VerifyAccess(token string, now time.Time) error {
	_, err := t.verifyAccess(token, now)
	return err
}

// RememberedTokens is how many accepted access tokens t remembers.
func (t *Tokens) RememberedTokens() int { return t.verified.size() }
