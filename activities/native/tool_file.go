package native

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/tars-engine/tars/activities"
)

type fileReadArgs struct {
	Path string `json:"path"`
}

type fileWriteArgs struct {
	Path    string  `json:"path"`
	Content *string `json:"content"`
	Append  bool    `json:"append"`
}

// runFileRead returns the text of a file under the read_dir grant as
// {"content": ..., "size": bytes}.
func (r *Runner) runFileRead(ctx context.Context, call activities.Call) (activities.Result, error) {
	const tool = "file.read"
	var args fileReadArgs
	if err := decodeArgs(tool, call.Args, &args); err != nil {
		return activities.Result{}, err
	}
	if err := ceilingDir(ctx, call, activities.GrantReadDir, call.Grants.ReadDir); err != nil {
		return activities.Result{}, err
	}
	root, err := openGrantedRoot(tool, "read_dir", call.Grants.ReadDir, args.Path)
	if err != nil {
		return activities.Result{}, err
	}
	defer root.Close()

	// Stat before opening: opening a FIFO would block until a writer came.
	info, err := root.Stat(args.Path)
	if err != nil {
		return activities.Result{}, fileError(tool, "read_dir", args.Path, err)
	}
	if info.IsDir() {
		return activities.Result{}, badArgs(tool, "%q is a directory", args.Path)
	}
	if !info.Mode().IsRegular() {
		return activities.Result{}, badArgs(tool, "%q is not a regular file", args.Path)
	}
	f, err := root.Open(args.Path)
	if err != nil {
		return activities.Result{}, fileError(tool, "read_dir", args.Path, err)
	}
	defer f.Close()
	limit := r.cfg.OutputMaxBytes
	if info.Size() > limit {
		return activities.Result{}, tooLarge(tool, "%q is %d bytes, over the limit of %d (Config.OutputMaxBytes)", args.Path, info.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1)) // the file may grow after Stat
	if err != nil {
		return activities.Result{}, fileError(tool, "read_dir", args.Path, err)
	}
	if int64(len(data)) > limit {
		return activities.Result{}, tooLarge(tool, "%q is over the limit of %d bytes (Config.OutputMaxBytes)", args.Path, limit)
	}
	// JSON would silently turn invalid UTF-8 into U+FFFD.
	if !utf8.Valid(data) {
		return activities.Result{}, badArgs(tool, "%q is not UTF-8 text; file.read returns text only", args.Path)
	}
	return output(tool, map[string]any{"content": string(data), "size": len(data)})
}

// runFileWrite writes (or appends) text to a file under the write_dir
// grant, creating missing parent directories, and returns {"written": n}.
// A retried append appends again: make such steps idempotent or
// non-retried.
func (r *Runner) runFileWrite(ctx context.Context, call activities.Call) (activities.Result, error) {
	const tool = "file.write"
	var args fileWriteArgs
	if err := decodeArgs(tool, call.Args, &args); err != nil {
		return activities.Result{}, err
	}
	if args.Content == nil {
		return activities.Result{}, badArgs(tool, `"content" is required (use "" for an empty file)`)
	}
	if err := ceilingDir(ctx, call, activities.GrantWriteDir, call.Grants.WriteDir); err != nil {
		return activities.Result{}, err
	}
	root, err := openGrantedRoot(tool, "write_dir", call.Grants.WriteDir, args.Path)
	if err != nil {
		return activities.Result{}, err
	}
	defer root.Close()

	if dir := filepath.Dir(args.Path); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return activities.Result{}, fileError(tool, "write_dir", args.Path, err)
		}
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if args.Append {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := root.OpenFile(args.Path, flags, 0o644)
	if err != nil {
		return activities.Result{}, fileError(tool, "write_dir", args.Path, err)
	}
	n, err := f.WriteString(*args.Content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return activities.Result{}, fileError(tool, "write_dir", args.Path, err)
	}
	return output(tool, map[string]int{"written": n})
}

// ceilingDir refuses a file call whose policy grants a directory that the
// worker's ceiling took away (the effective grant is then empty).
func ceilingDir(ctx context.Context, call activities.Call, grant, dir string) error {
	if dir != "" {
		return nil
	}
	return activities.CeilingRefusal(ctx, call, grant, "", nil)
}

// openGrantedRoot opens the granted directory as an os.Root, which refuses
// any name that leaves it, by ".." or through a symbolic link, at the time
// of the open (no check-then-use race). Names that are visibly not local
// are refused before touching the disk, with a clearer message.
func openGrantedRoot(tool, grant, dir, name string) (*os.Root, error) {
	if dir == "" {
		return nil, refused(tool, "no directory is granted; set policy.grants.%s", grant)
	}
	if name == "" {
		return nil, badArgs(tool, `"path" is required`)
	}
	if !filepath.IsLocal(name) {
		return nil, refused(tool, "path %q leaves the granted directory; give a path relative to policy.grants.%s, without '..'", name, grant)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, refused(tool, "policy.grants.%s %q cannot be opened on this worker: %v", grant, dir, err)
	}
	return root, nil
}

// fileError maps an os.Root error to a stable type. os.Root reports an
// escape with an unexported error whose text is "path escapes from
// parent"; matching the text is the only way to tell it apart.
func fileError(tool, grant, name string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return badArgs(tool, "%q does not exist under policy.grants.%s", name, grant)
	case strings.Contains(err.Error(), "escapes"):
		return refused(tool, "path %q leaves the granted directory through a symbolic link; policy.grants.%s confines it", name, grant)
	case errors.Is(err, fs.ErrPermission):
		return badArgs(tool, "%q: permission denied", name)
	case errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOTDIR):
		return badArgs(tool, "%q: %v", name, err)
	}
	return failed(tool, err, "%q", name)
}
