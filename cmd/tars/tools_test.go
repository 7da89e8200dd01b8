package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `tars tools` from an empty directory lists the built-in modules and
// guests; a --modules or --guests directory that does not exist fails
// (before, the command exited 0 and a worker served an empty pool).
func TestToolsCommand(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("TARS_MODULES", "")
	t.Setenv("TARS_GUESTS", "")
	tars := func(args ...string) (string, error) {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		err := root.Execute()
		return out.String(), err
	}
	out, err := tars("tools")
	require.NoError(t, err, out)
	assert.Regexp(t, `wasm\s+log-scan\s+[0-9a-f]{16}`, out)
	assert.Regexp(t, `wasm\s+policy-check\s+[0-9a-f]{16}`, out)
	assert.Regexp(t, `hyperlight\s+sha256\s+[0-9a-f]{16}`, out)
	assert.Regexp(t, `native\s+policy-check`, out)
	assert.NotContains(t, out, "escape")

	missing := filepath.Join(t.TempDir(), "nonexistent")
	_, err = tars("tools", "--modules", missing)
	require.ErrorContains(t, err, missing)
	_, err = tars("tools", "--guests", missing)
	require.ErrorContains(t, err, missing)
}
