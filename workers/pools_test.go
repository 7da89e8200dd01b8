package workers

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/plan"
)

// A binary run from an empty directory, with no modules or guests beside
// it, still offers the built-in tools.
func TestInventoryOffersBuiltinsFromAnEmptyDirectory(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, cfg := range []PoolConfig{{}, {ModulesDir: t.TempDir(), GuestsDir: t.TempDir()}} {
		inv, err := Inventory(cfg)
		require.NoError(t, err)
		for _, tool := range []string{"log-scan", "json-check", "text-stats", "sha256", "json-field", "policy-check"} {
			assert.Len(t, inv[plan.RuntimeWASM][tool], 64, "wasm %s", tool)
		}
		for _, tool := range []string{"sha256", "json-field", "policy-check"} {
			assert.Len(t, inv[plan.RuntimeHyperlight][tool], 64, "hyperlight %s", tool)
		}
		assert.NotContains(t, inv[plan.RuntimeWASM], "escape", "test modules are not built in")
		assert.NotContains(t, inv[plan.RuntimeHyperlight], "wild", "test guests are not built in")
	}

	runners, err := Build([]string{plan.RuntimeWASM}, PoolConfig{})
	require.NoError(t, err)
	defer runners[0].Close()
	assert.Contains(t, runners[0].Tools(), "log-scan")
}

// Before, a worker given a directory that does not exist started with an
// empty pool and said nothing.
func TestMissingDirectoriesAreErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nonexistent")
	_, err := Inventory(PoolConfig{ModulesDir: missing})
	require.ErrorContains(t, err, missing)
	_, err = Inventory(PoolConfig{GuestsDir: missing})
	require.ErrorContains(t, err, missing)
	_, err = Build([]string{plan.RuntimeWASM}, PoolConfig{ModulesDir: missing})
	require.ErrorContains(t, err, missing)
	_, err = Build([]string{plan.RuntimeHyperlight}, PoolConfig{GuestsDir: missing})
	require.ErrorContains(t, err, "nonexistent")
}
