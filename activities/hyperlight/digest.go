package hyperlight

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
// the compiler records in the Plan and Call.Digest carries.
func Digest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hyperlight: digest of %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Inventory lists the guests in dir (not its subdirectories) by tool name
// (the file name without ".elf") with their Digest. It reads every guest.
func Inventory(dir string) (map[string]string, error) {
	names, err := guestNames(dir)
	if err != nil {
		return nil, err
	}
	inv := make(map[string]string, len(names))
	for _, name := range names {
		d, err := Digest(filepath.Join(dir, name+".elf"))
		if err != nil {
			return nil, err
		}
		inv[name] = d
	}
	return inv, nil
}

// guestNames lists the NAME of every dir/NAME.elf, sorted.
func guestNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("hyperlight: listing guests in %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".elf"); ok && name != "" && e.Type().IsRegular() {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// sameDigest compares digests, accepting an optional "sha256:" prefix and
// either case on the Plan's side.
func sameDigest(want, got string) bool {
	return strings.TrimPrefix(strings.ToLower(want), "sha256:") == got
}
