package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/phoneauth/phoneauth/client"
)

// sessionFile keeps the session between runs: JSON, readable and
// writable by its owner alone, for one service (a session saved for
// another base URL is ignored, and replaced at the next login).
type sessionFile struct {
	path    string
	baseURL string
	err     error // the first failure to save
}

type savedSession struct {
	BaseURL string         `json:"base_url"`
	Session client.Session `json:"session"`
}

// load reads the saved session of the service; nil when there is none.
func (f *sessionFile) load() (*client.Session, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the session: %w", err)
	}
	var s savedSession
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read the session %s: %w", f.path, err)
	}
	if s.BaseURL != f.baseURL {
		return nil, nil
	}
	return &s.Session, nil
}

// save writes the session (the zero Session removes the file), through a
// temporary file renamed into place, so that a crash leaves the old
// session or the new one. It is the client's OnSessionChange hook.
func (f *sessionFile) save(s client.Session) {
	if err := f.write(s); err != nil && f.err == nil {
		f.err = err
	}
}

func (f *sessionFile) write(s client.Session) error {
	if s == (client.Session{}) {
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the session: %w", err)
		}
		return nil
	}
	b, err := json.MarshalIndent(savedSession{BaseURL: f.baseURL, Session: s}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save the session: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".session-*") // mode 0600
	if err != nil {
		return fmt.Errorf("save the session: %w", err)
	}
	defer os.Remove(tmp.Name()) // once renamed, there is nothing to remove
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save the session: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save the session: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("save the session: %w", err)
	}
	return nil
}
