package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned by Backend.Get for a key the backend does not
// hold (never written, or swept).
var ErrNotFound = errors.New("blob not found")

// Backend holds blobs by key. Keys are lowercase hex sha256 digests of the
// blob's bytes (Key); a Backend may rely on that. Implementations are safe
// for concurrent use.
type Backend interface {
	// Put stores data under key. Storing a key that exists is not an error
	// (the content is the same) and renews the blob's age.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the blob stored under key, or an error wrapping
	// ErrNotFound. Reading renews the blob's age where the backend can.
	Get(ctx context.Context, key string) ([]byte, error)
}

// Sweeper is a Backend that can delete blobs by age.
type Sweeper interface {
	// Sweep deletes blobs last written or read before cutoff and says how
	// many it deleted.
	Sweep(ctx context.Context, cutoff time.Time) (int, error)
}

// Key is the key of data: the lowercase hex sha256 of its bytes.
func Key(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ValidKey reports whether key is a lowercase hex sha256 digest.
func ValidKey(key string) bool {
	if len(key) != sha256.Size*2 {
		return false
	}
	for _, c := range key {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func checkKey(key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("blob key %q is not a sha256 hex digest", key)
	}
	return nil
}

// Memory is a Backend in process memory, for `tars dev` without --db.
// Its zero value is not usable; use NewMemory.
type Memory struct {
	mu    sync.Mutex
	blobs map[string]memBlob
	now   func() time.Time
}

type memBlob struct {
	data []byte
	used time.Time
}

// NewMemory returns an empty in-memory backend.
func NewMemory() *Memory { return &Memory{blobs: map[string]memBlob{}, now: time.Now} }

// Put implements Backend.
func (m *Memory) Put(_ context.Context, key string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[key]
	if !ok {
		b.data = append([]byte(nil), data...)
	}
	b.used = m.now()
	m.blobs[key] = b
	return nil
}

// Get implements Backend.
func (m *Memory) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[key]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	b.used = m.now()
	m.blobs[key] = b
	return b.data, nil
}

// Sweep implements Sweeper.
func (m *Memory) Sweep(_ context.Context, cutoff time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, b := range m.blobs {
		if b.used.Before(cutoff) {
			delete(m.blobs, k)
			n++
		}
	}
	return n, nil
}

// Len is the number of blobs held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.blobs)
}

// Dir is a Backend in a directory: one file per blob, named by its key
// under a two-character fan-out (ab/abcdef...), its modification time
// being its age. Several processes on one machine may share a Dir.
type Dir struct {
	root string
}

// NewDir returns a backend in root, creating the directory if needed.
func NewDir(root string) (*Dir, error) {
	if root == "" {
		return nil, errors.New("blob directory: empty path")
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("blob directory: %w", err)
	}
	return &Dir{root: root}, nil
}

// Root is the directory the blobs are in.
func (d *Dir) Root() string { return d.root }

func (d *Dir) path(key string) string { return filepath.Join(d.root, key[:2], key) }

// Put implements Backend. The blob is written to a temporary file and
// renamed into place, so a reader never sees half a blob.
func (d *Dir) Put(_ context.Context, key string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	p := d.path(key)
	now := time.Now()
	if err := os.Chtimes(p, now, now); err == nil {
		return nil // already there: renew its age
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), p); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// Get implements Backend.
func (d *Dir) Get(_ context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	p := d.path(key)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return nil, err
	}
	now := time.Now()
	_ = os.Chtimes(p, now, now)
	return b, nil
}

// Sweep implements Sweeper: it deletes blob files (and leftover temporary
// files) last modified before cutoff.
func (d *Dir) Sweep(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := filepath.WalkDir(d.root, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if e.IsDir() {
			return nil
		}
		name := e.Name()
		if !ValidKey(name) && !strings.HasPrefix(name, ".put-") {
			return nil // not ours
		}
		info, err := e.Info()
		if err != nil {
			return nil
		}
		if info.ModTime().Before(cutoff) {
			if os.Remove(p) == nil && ValidKey(name) {
				n++
			}
		}
		return nil
	})
	return n, err
}
