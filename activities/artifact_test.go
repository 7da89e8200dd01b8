package activities_test

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
)

func TestArtifactsResolveNamesOnly(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "guests")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "mine.elf"), []byte("mine"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "both.elf"), []byte("from the directory"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "outside.elf"), []byte("outside"), 0o644))
	builtin := fstest.MapFS{
		"both.elf":     {Data: []byte("built in")},
		"only.elf":     {Data: []byte("only built in")},
		"skip.txt":     {Data: []byte("not an artifact")},
		"sub/deep.elf": {Data: []byte("not at the top")},
		".hidden.elf":  {Data: []byte("not a valid name")},
	}
	a, err := activities.NewArtifacts("guest", ".elf", builtin, dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"both", "mine", "only"}, a.Names())

	got, ok := a.Lookup("both")
	require.True(t, ok)
	assert.Equal(t, filepath.Join(dir, "both.elf"), got.Path, "the directory overrides a built-in")
	got, ok = a.Lookup("only")
	require.True(t, ok)
	assert.Equal(t, "only built in", string(got.Data))
	assert.Equal(t, activities.DigestBytes([]byte("only built in")), got.Digest)
	assert.Equal(t, "built-in only.elf", got.Origin(".elf"))

	for _, name := range []string{"", "outside", "../outside", filepath.Join(root, "outside"), "/etc/passwd",
		"..", ".hidden", "mine.elf", "sub/deep", "a\\b", "x y"} {
		_, ok := a.Lookup(name)
		assert.False(t, ok, "%q must not resolve", name)
	}

	inv, err := a.Inventory()
	require.NoError(t, err)
	assert.Equal(t, activities.DigestBytes([]byte("from the directory")), inv["both"])
	assert.Len(t, inv, 3)

	err = a.NotServed("hyperlight", activities.ErrGuestNotFound, "/etc/passwd")
	assert.Contains(t, err.Error(), `serves no tool "/etc/passwd"; it serves both, mine, only`)
}

func TestArtifactsDirectoryMustExist(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	_, err := activities.NewArtifacts("module", ".wasm", nil, missing)
	require.ErrorContains(t, err, missing)
	a, err := activities.NewArtifacts("module", ".wasm", nil, "")
	require.NoError(t, err)
	assert.Empty(t, a.Names())
}
