package activities

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
)

func TestCeilingClip(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "in")
	require.NoError(t, os.Mkdir(sub, 0o755))
	outside := t.TempDir()
	// A link under the allowed directory that leads out of it.
	link := filepath.Join(dir, "out")
	require.NoError(t, os.Symlink(outside, link))

	asked := Grants{Shell: true, HTTPHosts: []string{"api.example.com", "*.corp.net", "evil.net"},
		ReadDir: sub, WriteDir: link, Env: []string{"TARS_SECRET_X", "HOME", "AWS_SECRET_ACCESS_KEY"},
		MemoryMiB: 512, HostFuncs: []string{"sha256"}}
	tests := []struct {
		name    string
		ceiling Ceiling
		want    Grants
		excess  []string
	}{
		{"default ceiling: nothing beyond the sandboxes", Ceiling{},
			Grants{MemoryMiB: 512, HostFuncs: []string{"sha256"}},
			[]string{"shell", "http host api.example.com", "http host *.corp.net", "http host evil.net",
				"read_dir " + sub, "write_dir " + link, "env TARS_SECRET_X", "env HOME", "env AWS_SECRET_ACCESS_KEY"}},
		{"wide ceiling", Ceiling{Shell: true, HTTPHosts: []string{"*"}, ReadDirs: []string{dir}, WriteDirs: []string{dir, outside},
			Env: []string{"*"}, MemoryMiB: 1024}, asked, nil},
		{"narrow ceiling", Ceiling{HTTPHosts: []string{"api.example.com", "git.corp.net"}, ReadDirs: []string{dir}, WriteDirs: []string{dir},
			Env: []string{"TARS_SECRET_*", "HOME"}, MemoryMiB: 256},
			Grants{HTTPHosts: []string{"api.example.com", "git.corp.net"}, ReadDir: sub,
				Env: []string{"TARS_SECRET_X", "HOME"}, MemoryMiB: 256, HostFuncs: []string{"sha256"}},
			[]string{"shell", "http host *.corp.net", "http host evil.net", "write_dir " + link,
				"env AWS_SECRET_ACCESS_KEY", "memory_mib 512"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ex := tt.ceiling.Clip(asked)
			assert.Equal(t, tt.want, got)
			var names []string
			for _, e := range ex {
				names = append(names, e.String())
			}
			assert.Equal(t, tt.excess, names)
			assert.Equal(t, ex, tt.ceiling.Exceeds(asked))
		})
	}
	t.Run("relative directories are never within", func(t *testing.T) {
		_, ex := Ceiling{ReadDirs: []string{"/"}}.Clip(Grants{ReadDir: "tmp"})
		require.Len(t, ex, 1)
		assert.Equal(t, "read_dir tmp", ex[0].String())
	})
	t.Run("a sibling with a common prefix is not within", func(t *testing.T) {
		assert.False(t, dirWithin(dir+"-other", []string{dir}))
		assert.True(t, dirWithin(dir+"/in/../in", []string{dir + "/"}))
	})
}

func TestCeilingCheck(t *testing.T) {
	dir := t.TempDir()
	assert.NoError(t, Ceiling{Shell: true, HTTPHosts: []string{"api.example.com", "*.corp.net", "127.0.0.1:8080", "*"},
		ReadDirs: []string{dir}, WriteDirs: []string{dir}, Env: []string{"HOME", "TARS_SECRET_*"}, MemoryMiB: 64}.Check())
	for _, tt := range []struct {
		c    Ceiling
		want string
	}{
		{Ceiling{HTTPHosts: []string{"https://api.example.com/v1"}}, "not a URL"},
		{Ceiling{HTTPHosts: []string{"api.*.com"}}, "a wildcard is written *.example.com"},
		{Ceiling{HTTPHosts: []string{" "}}, "must not be empty"},
		{Ceiling{ReadDirs: []string{"data"}}, `read dir "data" must be an absolute path`},
		{Ceiling{WriteDirs: []string{filepath.Join(dir, "missing")}}, "is not a directory on this machine"},
		{Ceiling{Env: []string{"A-B"}}, "must be a variable name"},
		{Ceiling{MemoryMiB: -1}, "must not be negative"},
	} {
		err := tt.c.Check()
		require.Error(t, err, "%+v", tt.c)
		assert.Contains(t, err.Error(), tt.want)
	}
}

func TestCeilingRefusal(t *testing.T) {
	c := Ceiling{HTTPHosts: []string{"api.example.com"}}
	_, ex := c.Clip(Grants{Shell: true, HTTPHosts: []string{"*.example.com"}, Env: []string{"OPENAI_API_KEY"}})
	ctx := WithCeilingRefusals(context.Background(), "tars@host:123/native", ex)
	call := Call{Step: "x"}

	err := CeilingRefusal(ctx, call, GrantShell, "", nil)
	assertRefused(t, err, `step "x" asks for shell, but worker tars@host:123/native does not allow it (its ceiling: shell off; start it with --allow-shell)`)

	err = CeilingRefusal(ctx, call, GrantHTTPHosts, "web.example.com", func(v string) bool { return hostCovers(v, "web.example.com") })
	assertRefused(t, err, `step "x" asks for http host web.example.com (its policy grants *.example.com), but worker tars@host:123/native does not allow it `+
		`(its ceiling: http hosts: api.example.com; start it with --allow-http-host web.example.com)`)

	err = CeilingRefusal(ctx, call, GrantEnv, "OPENAI_API_KEY", func(v string) bool { return v == "OPENAI_API_KEY" })
	assertRefused(t, err, `step "x" asks for env OPENAI_API_KEY, but worker tars@host:123/native does not allow it (its ceiling: env: none; start it with --allow-env OPENAI_API_KEY)`)

	assert.NoError(t, CeilingRefusal(ctx, call, GrantReadDir, "", nil), "nothing of read_dir was taken")
	assert.NoError(t, CeilingRefusal(ctx, call, GrantEnv, "HOME", func(v string) bool { return v == "HOME" }), "HOME was never asked")
	assert.NoError(t, CeilingRefusal(context.Background(), call, GrantShell, "", nil), "no ceiling in the context: the policy's own refusal applies")

	err = RefuseSecret("y", "w/native", "token", Ceiling{Env: []string{"HOME"}})
	assertRefused(t, err, `step "y" uses secret input token (TARS_SECRET_TOKEN), but worker w/native does not allow it (its ceiling: env: HOME; start it with --allow-env TARS_SECRET_TOKEN)`)
}

func TestSecretNames(t *testing.T) {
	args := []byte(`{"a":"` + SecretRef("token") + `","b":["` + SecretRef("other") + `x` + SecretRef("token") + `"]}`)
	assert.Equal(t, []string{"token", "other"}, SecretNames(args))
	assert.Empty(t, SecretNames([]byte(`{"a":1}`)))
}

func assertRefused(t *testing.T, err error, msg string) {
	t.Helper()
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae), "want an application error, got %v", err)
	assert.Equal(t, ErrPolicyRefused, ae.Type())
	assert.True(t, ae.NonRetryable())
	assert.Equal(t, msg, ae.Message())
}
