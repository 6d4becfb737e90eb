package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/phoneauth/phoneauth/client"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // the service refused, or could not be reached
	exitUsage   = 2
)

const usageText = `usage: phoneauth-client [flags] <command> [flags]

commands:
  register         send a code, then verify it, set the password and the email
  login            log in and keep the session
  me               show the account of the session
  refresh          renew the session's tokens now
  logout           end the session (-all: every session of the account)
  reset-password   send a code to the number, then set a new password with it
  change-password  replace the password (-password the current one, -new-password the new)
  change-phone     send a code to -new-phone, then move the account to it
  delete-account   delete the account of the session

flags:
`

// errUsage marks a usage error; its text is printed with the usage.
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func usagef(format string, a ...any) error { return errUsage{fmt.Sprintf(format, a...)} }

// errStopped ends a command early without failing: the code was sent and
// standard input ended before a code came.
var errStopped = errors.New("stopped")

// settings are the command line's values, flags first, then the
// environment.
type settings struct {
	baseURL, phone, password, newPassword, code, email, newPhone, sessionFile string
	all                                                                       bool
}

// run is the whole command: args without the program name, the
// environment, and the standard streams. It returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	var s settings
	fs := flag.NewFlagSet("phoneauth-client", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&s.baseURL, "base-url", "", "the service's base URL (env PHONEAUTH_URL)")
	fs.StringVar(&s.phone, "phone", "", "the account's phone number (env PHONEAUTH_PHONE)")
	fs.StringVar(&s.password, "password", "", "the password: the one to set for register and reset-password, else the current one (env PHONEAUTH_PASSWORD; else asked)")
	fs.StringVar(&s.newPassword, "new-password", "", "change-password: the new password (env PHONEAUTH_NEW_PASSWORD; else asked)")
	fs.StringVar(&s.code, "code", "", "the SMS code; given, the send step is skipped (else asked after the send)")
	fs.StringVar(&s.email, "email", "", "register: the account's email (env PHONEAUTH_EMAIL; else asked)")
	fs.StringVar(&s.newPhone, "new-phone", "", "change-phone: the number to move the account to")
	fs.BoolVar(&s.all, "all", false, "logout: end every session of the account")
	fs.StringVar(&s.sessionFile, "session-file", "", "where the session is kept (env PHONEAUTH_SESSION_FILE; default phoneauth/session.json in the user's configuration directory)")
	usage := func(err error) int {
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "phoneauth-client: %v\n", err)
		}
		fmt.Fprint(stderr, usageText)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}

	// Flags may come before the command, after it, or both.
	if err := fs.Parse(args); err != nil {
		return usage(err)
	}
	if fs.NArg() == 0 {
		return usage(usagef("no command"))
	}
	command := fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return usage(err)
	}
	if fs.NArg() > 0 {
		return usage(usagef("unexpected argument %q", fs.Arg(0)))
	}
	for _, v := range []struct {
		dst *string
		env string
	}{
		{&s.baseURL, "PHONEAUTH_URL"}, {&s.phone, "PHONEAUTH_PHONE"}, {&s.password, "PHONEAUTH_PASSWORD"},
		{&s.newPassword, "PHONEAUTH_NEW_PASSWORD"}, {&s.email, "PHONEAUTH_EMAIL"}, {&s.sessionFile, "PHONEAUTH_SESSION_FILE"},
	} {
		if *v.dst == "" {
			*v.dst = getenv(v.env)
		}
	}
	cmd, ok := commands[command]
	if !ok {
		return usage(usagef("unknown command %q", command))
	}
	if s.baseURL == "" {
		return usage(usagef("no service: set -base-url or PHONEAUTH_URL"))
	}
	if s.sessionFile == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return usage(usagef("no place for the session (%v): set -session-file", err))
		}
		s.sessionFile = filepath.Join(dir, "phoneauth", "session.json")
	}

	store := &sessionFile{path: s.sessionFile, baseURL: strings.TrimRight(s.baseURL, "/")}
	saved, err := store.load()
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return exitFailure
	}
	opts := []client.Option{client.OnSessionChange(store.save)}
	if saved != nil {
		opts = append(opts, client.WithSession(*saved))
	}
	r := &runner{
		s:   s,
		c:   client.New(s.baseURL, opts...),
		in:  newInput(stdin, stderr),
		out: stdout,
	}
	err = cmd(ctx, r)
	if store.err != nil && err == nil {
		err = store.err
	}
	switch {
	case err == nil, errors.Is(err, errStopped):
		return exitOK
	case errors.As(err, new(errUsage)):
		return usage(err)
	}
	fmt.Fprintln(stderr, "error: "+describe(err))
	return exitFailure
}

// describe is the failure line: "<reason>: <message>", with the wait.
func describe(err error) string {
	var e *client.Error
	switch {
	case errors.As(err, &e):
		s := e.Reason + ": " + e.Message
		if e.RetryAfter > 0 {
			s += fmt.Sprintf(" (retry after %ds)", int64(e.RetryAfter/time.Second))
		}
		if errors.Is(err, client.ErrLoginRequired) {
			s += "; log in again"
		}
		return s
	case errors.Is(err, client.ErrLoginRequired):
		return "not logged in: run phoneauth-client login"
	}
	return err.Error()
}

// runner is what a command works with.
type runner struct {
	s   settings
	c   *client.Client
	in  *input
	out io.Writer
}

func (r *runner) print(lines ...string) {
	for _, l := range lines {
		fmt.Fprintln(r.out, l)
	}
}

// needPhone fails with a usage error when no number is given.
func (r *runner) needPhone() error {
	if r.s.phone == "" {
		return usagef("no number: set -phone or PHONEAUTH_PHONE")
	}
	return nil
}

// password is the given password, else one read (on a terminal: asked
// without echo).
func (r *runner) passwordOr(given, prompt string) (string, error) {
	if given != "" {
		return given, nil
	}
	return r.in.secret(prompt)
}

// newPassword is a password to set and its confirmation: the given one
// twice, else read; on a terminal it is asked twice.
func (r *runner) newPassword(given, prompt string) (pw, confirm string, err error) {
	if given != "" {
		return given, given, nil
	}
	if pw, err = r.in.secret(prompt); err != nil {
		return "", "", err
	}
	if !r.in.terminal {
		return pw, pw, nil
	}
	confirm, err = r.in.secret("Repeat it: ")
	return pw, confirm, err
}

// codeOr is the given code, else one read after send succeeded (its
// message printed). When the input ends before a code, the command stops
// there (the send succeeded).
func (r *runner) codeOr(given string, send func() (*client.Reply, error)) (string, error) {
	if given != "" {
		return given, nil
	}
	sent, err := send()
	if err != nil {
		return "", err
	}
	r.print(sent.Message)
	code, err := r.in.line("SMS code: ")
	if errors.Is(err, io.EOF) {
		fmt.Fprintln(r.in.prompts, "no code read: run again with -code to continue")
		return "", errStopped
	}
	return code, err
}

var commands = map[string]func(context.Context, *runner) error{
	"register":        register,
	"login":           login,
	"me":              me,
	"refresh":         refresh,
	"logout":          logout,
	"reset-password":  resetPassword,
	"change-password": changePassword,
	"change-phone":    changePhone,
	"delete-account":  deleteAccount,
}

func register(ctx context.Context, r *runner) error {
	if err := r.needPhone(); err != nil {
		return err
	}
	code, err := r.codeOr(r.s.code, func() (*client.Reply, error) { return r.c.SendCode(ctx, r.s.phone) })
	if err != nil {
		return err
	}
	// Every value is read before the code is checked, so that a missing
	// one stops the command before the code is spent.
	pw, confirm, err := r.newPassword(r.s.password, "Password: ")
	if err != nil {
		return err
	}
	email := r.s.email
	if email == "" {
		if email, err = r.in.line("Email: "); errors.Is(err, io.EOF) {
			return usagef("no email: set -email or PHONEAUTH_EMAIL, or give it on standard input")
		} else if err != nil {
			return err
		}
	}
	v, err := r.c.VerifyCode(ctx, r.s.phone, code)
	if err != nil {
		return err
	}
	r.print(v.Message)
	set, err := r.c.SetPassword(ctx, r.s.phone, pw, confirm)
	if err != nil {
		return err
	}
	r.print(set.Message)
	done, err := r.c.CompleteProfile(ctx, r.s.phone, email)
	if err != nil {
		return err
	}
	r.print(done.Message)
	return nil
}

func login(ctx context.Context, r *runner) error {
	if err := r.needPhone(); err != nil {
		return err
	}
	pw, err := r.passwordOr(r.s.password, "Password: ")
	if err != nil {
		return err
	}
	in, err := r.c.Login(ctx, r.s.phone, pw)
	if err != nil {
		return err
	}
	r.print(in.Message)
	return nil
}

func me(ctx context.Context, r *runner) error {
	a, err := r.c.Me(ctx)
	if err != nil {
		return err
	}
	r.print(a.Message, "phone_number: "+a.PhoneNumber, "email: "+a.Email, "created_at: "+a.CreatedAt.UTC().Format(time.RFC3339))
	return nil
}

func refresh(ctx context.Context, r *runner) error {
	rn, err := r.c.Refresh(ctx)
	if err != nil {
		return err
	}
	r.print(rn.Message)
	return nil
}

func logout(ctx context.Context, r *runner) error {
	out, err := r.c.Logout(ctx, r.s.all)
	if err != nil {
		return err
	}
	r.print(out.Message)
	return nil
}

func resetPassword(ctx context.Context, r *runner) error {
	if err := r.needPhone(); err != nil {
		return err
	}
	code, err := r.codeOr(r.s.code, func() (*client.Reply, error) { return r.c.ResetPasswordSend(ctx, r.s.phone) })
	if err != nil {
		return err
	}
	pw, confirm, err := r.newPassword(r.s.password, "New password: ")
	if err != nil {
		return err
	}
	done, err := r.c.ResetPassword(ctx, r.s.phone, code, pw, confirm)
	if err != nil {
		return err
	}
	r.print(done.Message)
	return nil
}

func changePassword(ctx context.Context, r *runner) error {
	current, err := r.passwordOr(r.s.password, "Current password: ")
	if err != nil {
		return err
	}
	pw, confirm, err := r.newPassword(r.s.newPassword, "New password: ")
	if err != nil {
		return err
	}
	rn, err := r.c.ChangePassword(ctx, current, pw, confirm)
	if err != nil {
		return err
	}
	r.print(rn.Message)
	return nil
}

func changePhone(ctx context.Context, r *runner) error {
	if r.s.newPhone == "" {
		return usagef("no new number: set -new-phone")
	}
	code, err := r.codeOr(r.s.code, func() (*client.Reply, error) {
		pw, err := r.passwordOr(r.s.password, "Password: ")
		if err != nil {
			return nil, err
		}
		return r.c.ChangePhoneSend(ctx, r.s.newPhone, pw)
	})
	if err != nil {
		return err
	}
	rn, err := r.c.ChangePhone(ctx, r.s.newPhone, code)
	if err != nil {
		return err
	}
	r.print(rn.Message)
	return nil
}

func deleteAccount(ctx context.Context, r *runner) error {
	pw, err := r.passwordOr(r.s.password, "Password: ")
	if err != nil {
		return err
	}
	done, err := r.c.DeleteAccount(ctx, pw)
	if err != nil {
		return err
	}
	r.print(done.Message)
	return nil
}

// trimLine is a line read without its end.
func trimLine(s string) string { return strings.TrimRight(s, "\r\n") }
