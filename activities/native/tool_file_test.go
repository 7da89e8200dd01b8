//go:build unix

package native

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tars-engine/tars/activities"
)

// fileTree makes base/root (the granted directory) holding a.txt, sub/b.txt,
// a large file, a binary file and symbolic links that point out of it, and
// base/secret.txt outside it.
func fileTree(t *testing.T) (root, secret string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	secret = filepath.Join(base, "secret.txt")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "sub"), 0o755))
	write := func(name, content string) {
		require.NoError(t, os.WriteFile(name, []byte(content), 0o644))
	}
	write(secret, "top secret")
	write(filepath.Join(root, "a.txt"), "héllo")
	write(filepath.Join(root, "sub", "b.txt"), "bee")
	write(filepath.Join(root, "big.txt"), strings.Repeat("x", 300))
	write(filepath.Join(root, "bin"), "\xff\xfe")
	require.NoError(t, os.Symlink(secret, filepath.Join(root, "abs-link")))
	require.NoError(t, os.Symlink("../secret.txt", filepath.Join(root, "rel-link")))
	require.NoError(t, os.Symlink("..", filepath.Join(root, "up")))
	require.NoError(t, os.Symlink("sub/b.txt", filepath.Join(root, "in-link")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	return root, secret
}

func TestFileRead(t *testing.T) {
	root, secret := fileTree(t)
	granted := activities.Grants{ReadDir: root}
	tests := []struct {
		name     string
		path     string
		grants   activities.Grants
		want     string
		wantType string
		wantMsg  string
	}{
		{name: "file", path: "a.txt", grants: granted, want: `{"content": "héllo", "size": 6}`},
		{name: "nested", path: "sub/b.txt", grants: granted, want: `{"content": "bee", "size": 3}`},
		{name: "dot dot that stays inside", path: "sub/../a.txt", grants: granted, want: `{"content": "héllo", "size": 6}`},
		{name: "symlink inside", path: "in-link", grants: granted, want: `{"content": "bee", "size": 3}`},
		{name: "no grant", path: "a.txt", wantType: activities.ErrPolicyRefused, wantMsg: "set policy.grants.read_dir"},
		{name: "write grant is not a read grant", path: "a.txt", grants: activities.Grants{WriteDir: root}, wantType: activities.ErrPolicyRefused},
		{name: "dot dot escape", path: "../secret.txt", grants: granted, wantType: activities.ErrPolicyRefused, wantMsg: "leaves the granted directory"},
		{name: "deep dot dot escape", path: "sub/../../secret.txt", grants: granted, wantType: activities.ErrPolicyRefused},
		{name: "absolute path", path: secret, grants: granted, wantType: activities.ErrPolicyRefused},
		{name: "absolute symlink escape", path: "abs-link", grants: granted, wantType: activities.ErrPolicyRefused, wantMsg: "symbolic link"},
		{name: "relative symlink escape", path: "rel-link", grants: granted, wantType: activities.ErrPolicyRefused, wantMsg: "symbolic link"},
		{name: "directory symlink escape", path: "up/secret.txt", grants: granted, wantType: activities.ErrPolicyRefused},
		{name: "missing", path: "nope.txt", grants: granted, wantType: activities.ErrBadArgs, wantMsg: "does not exist"},
		{name: "directory", path: "sub", grants: granted, wantType: activities.ErrBadArgs, wantMsg: "is a directory"},
		{name: "too large", path: "big.txt", grants: granted, wantType: activities.ErrOutputTooLarge, wantMsg: "300 bytes, over the limit of 256"},
		{name: "fifo", path: "fifo", grants: granted, wantType: activities.ErrBadArgs, wantMsg: "not a regular file"},
		{name: "binary", path: "bin", grants: granted, wantType: activities.ErrBadArgs, wantMsg: "not UTF-8"},
		{name: "empty path", path: "", grants: granted, wantType: activities.ErrBadArgs},
		{name: "grant that does not exist", path: "a.txt", grants: activities.Grants{ReadDir: filepath.Join(root, "nope")},
			wantType: activities.ErrPolicyRefused, wantMsg: "cannot be opened on this worker"},
	}
	r := New(Config{OutputMaxBytes: 256})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := call(t, r, "file.read", map[string]string{"path": tt.path}, tt.grants)
			if tt.wantType != "" {
				appErr := requireAppError(t, err, tt.wantType, true)
				assert.Contains(t, appErr.Message(), tt.wantMsg)
				assert.NotContains(t, appErr.Message(), "top secret")
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(res.Output))
		})
	}
}

func TestFileWrite(t *testing.T) {
	root, secret := fileTree(t)
	granted := activities.Grants{WriteDir: root}
	tests := []struct {
		name     string
		args     map[string]any
		grants   activities.Grants
		want     string
		file     string // relative to root
		content  string
		wantType string
		wantMsg  string
	}{
		{name: "new file", args: map[string]any{"path": "out.txt", "content": "hi"}, grants: granted,
			want: `{"written": 2}`, file: "out.txt", content: "hi"},
		{name: "overwrite", args: map[string]any{"path": "a.txt", "content": "new"}, grants: granted,
			want: `{"written": 3}`, file: "a.txt", content: "new"},
		{name: "append", args: map[string]any{"path": "sub/b.txt", "content": "!", "append": true}, grants: granted,
			want: `{"written": 1}`, file: "sub/b.txt", content: "bee!"},
		{name: "creates parents", args: map[string]any{"path": "x/y/z.txt", "content": ""}, grants: granted,
			want: `{"written": 0}`, file: "x/y/z.txt", content: ""},
		{name: "no grant", args: map[string]any{"path": "out.txt", "content": "x"}, grants: activities.Grants{ReadDir: root},
			wantType: activities.ErrPolicyRefused, wantMsg: "set policy.grants.write_dir"},
		{name: "dot dot escape", args: map[string]any{"path": "../evil.txt", "content": "x"}, grants: granted,
			wantType: activities.ErrPolicyRefused},
		{name: "symlink escape", args: map[string]any{"path": "abs-link", "content": "pwned"}, grants: granted,
			wantType: activities.ErrPolicyRefused},
		{name: "directory symlink escape", args: map[string]any{"path": "up/evil.txt", "content": "pwned"}, grants: granted,
			wantType: activities.ErrPolicyRefused},
		{name: "content required", args: map[string]any{"path": "out.txt"}, grants: granted,
			wantType: activities.ErrBadArgs, wantMsg: `"content" is required`},
		{name: "onto a directory", args: map[string]any{"path": "sub", "content": "x"}, grants: granted,
			wantType: activities.ErrBadArgs},
	}
	r := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := call(t, r, "file.write", tt.args, tt.grants)
			if tt.wantType != "" {
				appErr := requireAppError(t, err, tt.wantType, true)
				assert.Contains(t, appErr.Message(), tt.wantMsg)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(res.Output))
			got, err := os.ReadFile(filepath.Join(root, tt.file))
			require.NoError(t, err)
			assert.Equal(t, tt.content, string(got))
		})
	}
	got, err := os.ReadFile(secret)
	require.NoError(t, err)
	assert.Equal(t, "top secret", string(got), "the file outside the grant is untouched")
	assert.NoFileExists(t, filepath.Join(filepath.Dir(root), "evil.txt"))
}
