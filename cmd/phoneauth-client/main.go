// Command phoneauth-client talks to a phoneauth service from a terminal
// or a script, through the Go client package
// (github.com/phoneauth/phoneauth/client).
//
//	phoneauth-client [flags] <command> [flags]
//
// Commands: register, login, me, refresh, logout, reset-password,
// change-password, change-phone, delete-account. Each prints the
// service's message (and `me` the account); a failure prints
// "error: <reason>: <message>" on standard error, with the wait when the
// service gives one, and exits 1; a usage error exits 2.
//
// Values come from flags, else from the environment (PHONEAUTH_URL,
// PHONEAUTH_PHONE, PHONEAUTH_PASSWORD, PHONEAUTH_NEW_PASSWORD,
// PHONEAUTH_EMAIL, PHONEAUTH_SESSION_FILE), else from standard input: on
// a terminal the command prompts, hiding passwords; otherwise it reads
// one line per value. A command that sends a code (register,
// reset-password, change-phone) run without -code sends it and asks for
// it; when standard input ends instead, it stops after the send, and a
// second run with -code continues.
//
// The session (the token pair) is kept in a file readable by its owner
// alone, so that me, refresh, logout and the account changes work
// across runs: -session-file, else phoneauth/session.json under the
// user's configuration directory.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
