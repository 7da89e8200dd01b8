//go:build linux && amd64

package hyperlight

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
)

// Needs no KVM: the directory is checked before the device.
func TestMissingGuestsDirIsAnError(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := New(Config{GuestsDir: missing})
	require.ErrorContains(t, err, missing)
	_, err = Inventory(nil, missing)
	require.ErrorContains(t, err, missing)

	inv, err := Inventory(nil, "")
	require.NoError(t, err)
	assert.Equal(t, []string{"hello", "json-field", "policy-check", "sha256"}, sortedKeys(inv), "the example guests are built in, the test guests are not")
}

// A Plan names guests; it never names files. Before, a tool name with '/'
// or ending in ".elf" was a path, so a hand-made Plan could boot any ELF
// on the worker and tell whether a file existed.
func TestGuestsResolveOnlyToTheInventory(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "guests")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Mkdir(filepath.Join(root, "outside"), 0o755))
	copyFile(t, "guests/test/bin/echo.elf", filepath.Join(root, "outside", "evil.elf"))
	r := newRunner(t, Config{GuestsDir: dir})
	for _, tool := range []string{filepath.Join(root, "outside", "evil.elf"), "../outside/evil.elf", "../outside/evil", "/etc/passwd", "/etc/none"} {
		_, err := runWithin(r, 5*time.Second, call(tool, `{}`))
		ae := appError(t, err, activities.ErrGuestNotFound)
		msg := strings.ReplaceAll(ae.Error(), tool, "TOOL")
		assert.NotContains(t, msg, root)
		assert.NotContains(t, msg, "no such file")
		assert.Contains(t, msg, `serves no tool "TOOL"`)
	}
	// The built-ins run from an empty directory.
	res, err := runWithin(r, 5*time.Second, call("sha256", `"abc"`))
	require.NoError(t, err)
	assert.Equal(t, `"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"`, string(res.Output))
}
