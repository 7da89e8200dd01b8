package metascripts

import (
	"fmt"
	"io/fs"
	"os"
	pathpkg "path"
	"path/filepath"

	"github.com/tars-engine/tars/configs"
	"github.com/tars-engine/tars/internal/diag"
	"github.com/tars-engine/tars/plan"
)

// Diagnostic is one fault in a metascript, at file:line:col.
type Diagnostic = diag.Diagnostic

// Diagnostics is every fault found in one pass; it implements error and
// prints one fault per line, sorted by position.
type Diagnostics = diag.Diagnostics

// MaxSourceBytes bounds the size of a metascript the compiler reads.
const MaxSourceBytes = 8 << 20

// Options configure a compilation.
type Options struct {
	// Catalog lists the tools of each runtime: pass the pools' inventory,
	// workers.Inventory. Without one no runtime offers any tool, so every
	// tool and reason step is a fault.
	Catalog Catalog
	// Config is the agent catalogue and tree; nil means configs.Default().
	Config *configs.Config
	// Lookup finds the file of another metascript for a call step. The
	// default looks for NAME.yaml, then NAME.yml, beside the calling file.
	Lookup func(name string) (path string, err error)
	// FS, when set, is where paths are read (the metascript's and those
	// of the metascripts it calls), instead of the operating system's
	// files: the built-in examples compile from an embedded FS.
	FS fs.FS
}

// CompileFile reads and compiles the metascript at path. On faults it
// returns Diagnostics.
func CompileFile(path string, o Options) (*plan.Plan, error) {
	src, err := readSource(path)
	if err != nil {
		return nil, err
	}
	return Compile(path, src, o)
}

// Compile compiles src, read from path (used in positions, in Plan.Source
// and to find called metascripts). On faults it returns Diagnostics, with
// every fault found in one pass; it never returns a partial Plan.
func Compile(path string, src []byte, o Options) (*plan.Plan, error) {
	s := newSession(o)
	p, err := s.compile(path, src, nil)
	if err != nil {
		return nil, err
	}
	return flattenChildren(path, p)
}

// MaxChildren bounds how many distinct metascripts one Plan may call,
// directly or through its children.
const MaxChildren = 256

// flattenChildren gives the root every metascript it calls, directly or
// through others, once, by name, and leaves the called Plans without
// children of their own: a child run gets the root's table. Copying each
// child into its caller instead made Plans grow exponentially with the
// depth of calls (46 small files calling each other in pairs: 5.7 GB at
// depth 18). The table is linear in the number of distinct metascripts,
// and bounded by MaxChildren.
func flattenChildren(path string, root *plan.Plan) (*plan.Plan, error) {
	if len(root.Children) == 0 {
		return root, nil
	}
	all := map[string]*plan.Plan{}
	var walk func(p *plan.Plan) error
	walk = func(p *plan.Plan) error {
		for name, c := range p.Children {
			if prev, seen := all[name]; seen {
				if prev.SHA256 != c.SHA256 {
					return Diagnostics{{File: path, Line: 1, Col: 1, Msg: fmt.Sprintf(
						"two different metascripts named %q are called (%s and %s): a run's metascripts need distinct names", name, prev.Source, c.Source)}}
				}
				continue
			}
			if len(all) == MaxChildren {
				return Diagnostics{{File: path, Line: 1, Col: 1, Msg: fmt.Sprintf(
					"calls more than %d distinct metascripts (directly or through others)", MaxChildren)}}
			}
			all[name] = c
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return nil, err
	}
	out := *root
	out.Children = make(map[string]*plan.Plan, len(all))
	for name, c := range all {
		cp := *c
		cp.Children = nil
		out.Children[name] = &cp
	}
	return &out, nil
}

func readSource(path string) ([]byte, error) { return readSourceFS(nil, path) }

// readSourceFS reads path from fsys, or from the operating system's files
// when fsys is nil, refusing files over MaxSourceBytes.
func readSourceFS(fsys fs.FS, path string) ([]byte, error) {
	if fsys != nil {
		st, err := fs.Stat(fsys, path)
		if err != nil {
			return nil, err
		}
		if st.Size() > MaxSourceBytes {
			return nil, fmt.Errorf("%s: %d bytes is larger than the %d a metascript may have", path, st.Size(), MaxSourceBytes)
		}
		return fs.ReadFile(fsys, path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxSourceBytes {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d a metascript may have", path, st.Size(), MaxSourceBytes)
	}
	return os.ReadFile(path)
}

// session is one top-level compilation: it shares options and the plans
// of called metascripts between the root and its children.
type session struct {
	cat      Catalog
	cfg      *configs.Config
	lookup   func(from, name string) (string, error)
	children map[string]*childResult // by resolved path
	fsys     fs.FS                   // nil: the operating system's files
}

// read reads a metascript's source where the session reads files.
func (s *session) read(path string) ([]byte, error) { return readSourceFS(s.fsys, path) }

type childResult struct {
	plan  *plan.Plan
	diags Diagnostics
}

func newSession(o Options) *session {
	s := &session{cat: o.Catalog, cfg: o.Config, children: map[string]*childResult{}, fsys: o.FS}
	if s.cat == nil {
		s.cat = noCatalog{}
	}
	if s.cfg == nil {
		s.cfg = configs.Default()
	}
	if o.Lookup != nil {
		s.lookup = func(_, name string) (string, error) { return o.Lookup(name) }
	} else if o.FS != nil {
		s.lookup = func(from, name string) (string, error) { return besideLookupFS(o.FS, from, name) }
	} else {
		s.lookup = besideLookup
	}
	return s
}

// besideLookup finds NAME.yaml or NAME.yml in the directory of from.
func besideLookup(from, name string) (string, error) {
	dir := filepath.Dir(from)
	for _, ext := range []string{".yaml", ".yml"} {
		p := filepath.Join(dir, name+ext)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no %s.yaml in %s", name, dir)
}

// besideLookupFS finds NAME.yaml or NAME.yml beside from in fsys.
func besideLookupFS(fsys fs.FS, from, name string) (string, error) {
	dir := pathpkg.Dir(from)
	for _, ext := range []string{".yaml", ".yml"} {
		p := pathpkg.Join(dir, name+ext)
		if st, err := fs.Stat(fsys, p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no %s.yaml in %s", name, dir)
}
