package activities

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Digest returns the sha256 of the file at path as lowercase hex, the form
// the compiler records in the Plan (Step.Digests) and Call.Digest carries.
// It reads the whole file once.
func Digest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("digest of %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// DigestBytes is Digest of bytes already in memory.
func DigestBytes(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// SameDigest compares a Plan's digest with a computed one, accepting an
// optional "sha256:" prefix and either case on the Plan's side.
func SameDigest(want, got string) bool {
	return strings.TrimPrefix(strings.ToLower(want), "sha256:") == got
}

// Artifacts is what a pool whose tools are files (wasm modules, hyperlight
// guests) serves: the built-in ones compiled into the binary, then the
// files NAME<ext> of one operator-chosen directory, which add tools or
// override built-ins of the same name.
//
// A tool resolves by its name alone, and only to one of these: a name is
// never a path, so a Plan cannot make a pool load a file from anywhere
// else, and the error for an unknown name is the same whether or not some
// file of that name exists on the worker.
type Artifacts struct {
	kind    string            // "module", "guest": for messages
	ext     string            // ".wasm", ".elf"
	dir     string            // "" when the pool serves built-ins only
	builtin map[string][]byte // by name
	digests map[string]string // of builtin, by name
}

// Artifact is one tool's module or guest as Lookup found it.
type Artifact struct {
	Name   string
	Digest string // sha256 hex; set for built-ins, "" for files (the pool hashes what it reads)
	// Path is the file in the directory, or "" for a built-in.
	Path string
	// Data is a built-in's content (nil for a file).
	Data []byte
}

// Origin names where the artifact comes from, for messages: its file, or
// "built-in NAME<ext>".
func (a Artifact) Origin(ext string) string {
	if a.Path != "" {
		return a.Path
	}
	return "built-in " + a.Name + ext
}

// NewArtifacts returns the artifacts a pool serves: every file NAME<ext>
// at the top of builtin (nil for none), then dir ("" for none). A dir that
// is set but is not a readable directory is an error: a worker must not
// start silently with fewer tools than its operator asked for.
func NewArtifacts(kind, ext string, builtin fs.FS, dir string) (*Artifacts, error) {
	a := &Artifacts{kind: kind, ext: ext, dir: dir, builtin: map[string][]byte{}, digests: map[string]string{}}
	if builtin != nil {
		entries, err := fs.ReadDir(builtin, ".")
		if err != nil {
			return nil, fmt.Errorf("built-in %ss: %w", kind, err)
		}
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), ext)
			if !ok || !ValidArtifactName(name) || !e.Type().IsRegular() {
				continue
			}
			data, err := fs.ReadFile(builtin, e.Name())
			if err != nil {
				return nil, fmt.Errorf("built-in %s %s: %w", kind, e.Name(), err)
			}
			a.builtin[name] = data
			a.digests[name] = DigestBytes(data)
		}
	}
	if dir != "" {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("%ss directory %s: %w", kind, dir, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%ss directory %s is not a directory", kind, dir)
		}
		if _, err := os.ReadDir(dir); err != nil {
			return nil, fmt.Errorf("%ss directory %s: %w", kind, dir, err)
		}
	}
	return a, nil
}

// ValidArtifactName reports whether name can name a tool of a file-based
// pool: letters, digits, '.', '_' and '-', starting with a letter or a
// digit. Anything else (a '/', "..", a leading '.') could reach outside
// the directory, so it names no tool.
func ValidArtifactName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return !strings.Contains(name, "..")
}

// Dir is the directory of the pool's own files, or "".
func (a *Artifacts) Dir() string { return a.dir }

// Lookup resolves a tool name: the directory's NAME<ext> when it is a
// regular file there, else the built-in NAME. It costs one stat when the
// pool has a directory. ok is false for every name the pool does not
// serve, including names that are not valid tool names.
func (a *Artifacts) Lookup(name string) (Artifact, bool) {
	if !ValidArtifactName(name) {
		return Artifact{}, false
	}
	if a.dir != "" {
		p := filepath.Join(a.dir, name+a.ext)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return Artifact{Name: name, Path: p}, true
		}
	}
	if data, ok := a.builtin[name]; ok {
		return Artifact{Name: name, Digest: a.digests[name], Data: data}, true
	}
	return Artifact{}, false
}

// Names lists every tool served, sorted. It reads the directory.
func (a *Artifacts) Names() []string {
	set := make(map[string]bool, len(a.builtin))
	for n := range a.builtin {
		set[n] = true
	}
	if a.dir != "" {
		entries, _ := os.ReadDir(a.dir)
		for _, e := range entries {
			if n, ok := strings.CutSuffix(e.Name(), a.ext); ok && ValidArtifactName(n) && e.Type().IsRegular() {
				set[n] = true
			}
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Inventory maps every tool served to its digest. It reads every file of
// the directory.
func (a *Artifacts) Inventory() (map[string]string, error) {
	inv := make(map[string]string)
	for _, n := range a.Names() {
		art, ok := a.Lookup(n)
		if !ok {
			continue // removed since Names read the directory
		}
		d := art.Digest
		if art.Path != "" {
			var err error
			if d, err = Digest(art.Path); err != nil {
				return nil, err
			}
		}
		inv[n] = d
	}
	return inv, nil
}

// NotServed is the non-retryable error for a tool name the pool does not
// serve. It names the tools it does serve and nothing about files, so it
// reads the same whether or not a file of that name exists anywhere.
func (a *Artifacts) NotServed(runtime, errType, name string) error {
	return NonRetryable(errType, nil, "%s: this pool serves no tool %q; it serves %s (tools are named, never given as paths)",
		runtime, name, strings.Join(a.Names(), ", "))
}

// ArtifactKind names one file-based pool's artifacts: its runtime (for
// messages), what it calls an artifact, the file extension, and the
// built-ins it serves by default.
type ArtifactKind struct {
	Runtime, Noun, Ext string
	Builtin            fs.FS
}

// Open is NewArtifacts for this kind, with builtin replacing k.Builtin
// when it is not nil; errors name the runtime.
func (k ArtifactKind) Open(builtin fs.FS, dir string) (*Artifacts, error) {
	if builtin == nil {
		builtin = k.Builtin
	}
	a, err := NewArtifacts(k.Noun, k.Ext, builtin, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Runtime, err)
	}
	return a, nil
}

// Inventory is Open followed by Artifacts.Inventory: every tool served,
// with its sha256.
func (k ArtifactKind) Inventory(builtin fs.FS, dir string) (map[string]string, error) {
	a, err := k.Open(builtin, dir)
	if err != nil {
		return nil, err
	}
	return a.Inventory()
}

// SubFS returns the directory dir of an embedded file system, for
// NewArtifacts; it panics on a bad dir, a programming error.
func SubFS(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, path.Clean(dir))
	if err != nil {
		panic(errors.Join(fmt.Errorf("activities: embedded %s", dir), err))
	}
	return sub
}
