package activities

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
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

// ArtifactNames lists the NAME of every regular file dir/NAME<ext> (not in
// subdirectories), sorted: the tools a directory of modules or guests offers.
func ArtifactNames(dir, ext string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ext); ok && name != "" && e.Type().IsRegular() {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// Inventory maps every tool in dir (files NAME<ext>) to its Digest. It
// reads every file.
func Inventory(dir, ext string) (map[string]string, error) {
	names, err := ArtifactNames(dir, ext)
	if err != nil {
		return nil, err
	}
	inv := make(map[string]string, len(names))
	for _, name := range names {
		d, err := Digest(filepath.Join(dir, name+ext))
		if err != nil {
			return nil, err
		}
		inv[name] = d
	}
	return inv, nil
}

// SameDigest compares a Plan's digest with a computed one, accepting an
// optional "sha256:" prefix and either case on the Plan's side.
func SameDigest(want, got string) bool {
	return strings.TrimPrefix(strings.ToLower(want), "sha256:") == got
}
