package crypto

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of every generated secret: 256 bits.
const KeySize = 32

// DecodeKey decodes a base64 secret (standard or URL alphabet, padded or
// not) and checks it is at least minLen bytes. name is the variable the
// secret came from, for the error message; the secret itself never
// appears in an error.
func DecodeKey(name, b64 string, minLen int) ([]byte, error) {
	s := strings.TrimSpace(b64)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) < minLen {
				return nil, fmt.Errorf("%s: key is %d bytes, need at least %d", name, len(k), minLen)
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("%s: not valid base64", name)
}

// LoadOrCreateKey returns the configured secret if b64 is set; otherwise it
// reads dir/file, creating it with a fresh random key (mode 0600) on first
// run, so a development instance keeps its keys across restarts.
func LoadOrCreateKey(name, b64, dir, file string) ([]byte, error) {
	if strings.TrimSpace(b64) != "" {
		return DecodeKey(name, b64, KeySize)
	}
	path := filepath.Join(dir, file)
	data, err := os.ReadFile(path)
	if err == nil {
		return DecodeKey(path, string(data), KeySize)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: read %s: %w", name, path, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: create %s: %w", name, dir, err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("%s: generate: %w", name, err)
	}
	// O_EXCL: if two processes start at once on one DATA_DIR, one wins
	// and the other reads the winner's key instead of overwriting it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreateKey(name, b64, dir, file)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: create %s: %w", name, path, err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return nil, fmt.Errorf("%s: write %s: %w", name, path, err)
	}
	return key, nil
}
