package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// input reads the values not given by flags or the environment: from a
// terminal with a prompt (passwords without echo), else one line each
// from standard input.
type input struct {
	r        *bufio.Reader
	fd       int
	terminal bool
	prompts  io.Writer
}

func newInput(stdin io.Reader, prompts io.Writer) *input {
	in := &input{r: bufio.NewReader(stdin), prompts: prompts}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		in.fd, in.terminal = int(f.Fd()), true
	}
	return in
}

// line reads one line (prompting on a terminal). io.EOF when the input
// ended before any character of it.
func (in *input) line(prompt string) (string, error) {
	if in.terminal {
		fmt.Fprint(in.prompts, prompt)
	}
	s, err := in.r.ReadString('\n')
	if errors.Is(err, io.EOF) && s != "" {
		err = nil
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return "", io.EOF
		}
		return "", fmt.Errorf("read standard input: %w", err)
	}
	return trimLine(s), nil
}

// secret reads a password: without echo on a terminal, else as a line.
// The input ending first is a usage error: the value was never given.
func (in *input) secret(prompt string) (string, error) {
	if !in.terminal {
		s, err := in.line(prompt)
		if errors.Is(err, io.EOF) {
			return "", usagef("no password: set -password or PHONEAUTH_PASSWORD, or give it on standard input")
		}
		return s, err
	}
	fmt.Fprint(in.prompts, prompt)
	b, err := term.ReadPassword(in.fd)
	fmt.Fprintln(in.prompts)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	return string(b), nil
}
