package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/configs"
)

// The flags add to a deployment target's ceiling: block.
func TestCeilingFlags(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, os.Mkdir(filepath.Join(dir, "in"), 0o755))
	base := configs.Ceiling{HTTPHosts: []string{"api.openai.com"}, Env: []string{"OPENAI_API_KEY"}, WriteDirs: []string{"/tmp"}, MemoryMiB: 256}

	f := ceilingFlags{shell: true, hosts: []string{"127.0.0.1:8080", "api.openai.com"}, read: []string{"in"}, env: []string{"TARS_SECRET_*"}}
	c, err := f.resolve(base)
	require.NoError(t, err)
	assert.Equal(t, activities.Ceiling{Shell: true, HTTPHosts: []string{"api.openai.com", "127.0.0.1:8080"},
		ReadDirs: []string{filepath.Join(dir, "in")}, WriteDirs: []string{"/tmp"},
		Env: []string{"OPENAI_API_KEY", "TARS_SECRET_*"}, MemoryMiB: 256}, c)
	assert.Equal(t, []string{"api.openai.com"}, base.HTTPHosts, "the target's ceiling is not changed")

	c, err = (&ceilingFlags{memoryMiB: 64}).resolve(base)
	require.NoError(t, err)
	assert.Equal(t, 64, c.MemoryMiB, "--max-memory-mib replaces the target's")

	c, err = (&ceilingFlags{}).resolve(configs.Ceiling{})
	require.NoError(t, err)
	assert.Equal(t, activities.Ceiling{}, c, "no flags, no target: the safe default")

	for _, tt := range []struct {
		f    ceilingFlags
		want string
	}{
		{ceilingFlags{hosts: []string{"https://api.openai.com/v1"}}, "not a URL"},
		{ceilingFlags{read: []string{"missing"}}, "is not a directory on this machine"},
		{ceilingFlags{env: []string{"NOT-A-NAME"}}, "must be a variable name"},
		{ceilingFlags{memoryMiB: -1}, "--max-memory-mib must be at least 1"},
	} {
		_, err := tt.f.resolve(configs.Ceiling{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want)
	}

	for _, c := range []struct {
		name string
		cmd  *cobra.Command
	}{{"dev", newDevCmd(&globals{})}, {"worker", newWorkerCmd(&globals{})}} {
		for _, name := range []string{"allow-shell", "allow-http-host", "allow-read", "allow-write", "allow-env", "max-memory-mib"} {
			assert.NotNil(t, c.cmd.Flags().Lookup(name), "tars %s --%s", c.name, name)
		}
		assert.Contains(t, c.cmd.Long, "PolicyRefused", "tars %s --help explains the ceiling", c.name)
	}
}
