// Package client is a Go client of the phoneauth service: one typed call
// for each endpoint, the login proof computed inside, and a session that
// refreshes itself. It uses the standard library only.
//
// # Registration
//
// Four calls, in order, for one number:
//
//	c := client.New("https://api.example.com")
//	c.SendCode(ctx, phone)                     // the number receives a code
//	c.VerifyCode(ctx, phone, code)             // keeps the registration token
//	c.SetPassword(ctx, phone, pw, pw)          // sends the token by itself
//	c.CompleteProfile(ctx, phone, email)       // the account exists
//
// # Login
//
// Login sends the proof the service checks, never the password: the
// lowercase hex SHA-256 of password ‖ random_str ‖ time_stamp, with a
// fresh random string from crypto/rand and the current Unix time in
// decimal (LoginProof). It keeps the token pair it answers: the client
// now holds a session, which Session returns and OnSessionChange reports,
// so that an app can save it and give it back with WithSession.
//
// # Sessions
//
// Authenticated calls (Me, ChangePassword, ChangePhoneSend, ChangePhone,
// DeleteAccount) send the access token. Before each, if the token has
// expired or is about to (WithRefreshMargin), the client refreshes it
// first; concurrent calls share one refresh request and wait for its
// answer, as the service expects an app to serialise its refreshes. If
// the service refuses a token the client held as live (401
// unauthorized: revoked, or the clocks disagree), the client refreshes
// once and retries the call once. A refused refresh
// (invalid_refresh_token, refresh_token_reused: the session has ended)
// drops the session and fails with ErrLoginRequired; the client never
// tries again by itself. Every answer that carries a fresh pair (a
// refresh, a password change, a phone change) replaces the pair held.
// Logout sends the refresh token, so it works after the access token has
// expired, and drops the session. Keys fetches the public keys that
// other services verify access tokens with.
//
// # Recovery and changes
//
// ResetPasswordSend and ResetPassword set a new password with a code sent
// to the number (then log in). ChangePassword, ChangePhoneSend and
// ChangePhone, and DeleteAccount prove the password as a login does;
// each ends every other session of the account.
//
// # Errors
//
// A failure the service answers is an *Error carrying the HTTP status,
// the body's code and message, the reason (its `error` field) and, on a
// 429, RetryAfter. Test reasons with errors.Is and the Err… sentinels
// (errors.Is(err, client.ErrRateLimited)); read the wait with errors.As.
// Failures of the network are returned as they come, wrapped.
package client
