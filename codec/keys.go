package codec

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// KeySize is the length of a key in bytes: AES-256.
const KeySize = 32

// Key is one named AES-256 key.
type Key struct {
	ID     string // recorded in every payload the key encrypts; letters, digits, '.', '_', '-'
	Secret []byte // KeySize bytes
}

// String is the key's line in a key file: "id:base64". It prints the secret:
// do not log it.
func (k Key) String() string {
	return k.ID + ":" + base64.StdEncoding.EncodeToString(k.Secret)
}

var reKeyID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (k Key) check() error {
	if !reKeyID.MatchString(k.ID) {
		return fmt.Errorf("key id %q: want 1 to 64 letters, digits, '.', '_' or '-'", k.ID)
	}
	if len(k.Secret) != KeySize {
		return fmt.Errorf("key %q is %d bytes: want %d (AES-256); make one with `tars codec-server --new-key ID`", k.ID, len(k.Secret), KeySize)
	}
	return nil
}

// NewKey makes a key of random bytes from crypto/rand.
func NewKey(id string) (Key, error) {
	k := Key{ID: id, Secret: make([]byte, KeySize)}
	if _, err := rand.Read(k.Secret); err != nil {
		return Key{}, err
	}
	return k, k.check()
}

// ParseKeys reads keys written as "id:base64key", one an entry; entries are
// separated by newlines or commas (so one environment variable can hold
// several), blank entries and lines starting with '#' are skipped. The first
// key is the one that encrypts. source names where the text came from, for
// errors; an error never quotes a secret.
func ParseKeys(text, source string) ([]Key, error) {
	var keys []Key
	seen := map[string]bool{}
	for n, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, entry := range strings.Split(line, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			where := fmt.Sprintf("%s:%d", source, n+1)
			id, b64, ok := strings.Cut(entry, ":")
			if !ok {
				return nil, fmt.Errorf("%s: an entry without ':': want id:base64key", where)
			}
			id = strings.TrimSpace(id)
			secret, err := decodeBase64(strings.TrimSpace(b64))
			if err != nil {
				return nil, fmt.Errorf("%s: key %q is not base64", where, id)
			}
			k := Key{ID: id, Secret: secret}
			if err := k.check(); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			if seen[id] {
				return nil, fmt.Errorf("%s: key id %q is listed twice", where, id)
			}
			seen[id] = true
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no keys (want lines of id:base64key)", source)
	}
	return keys, nil
}

// ReadKeyFile reads a key file (see ParseKeys).
func ReadKeyFile(path string) ([]Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("codec key file: %w", err)
	}
	return ParseKeys(string(b), path)
}

// decodeBase64 takes standard or URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}
