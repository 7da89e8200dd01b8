package metascripts

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tars-engine/tars/plan"
)

// CatalogueSource is a directory of metascripts for a catalogue: every
// *.yaml and *.yml file at its top (not below).
type CatalogueSource struct {
	FS     fs.FS  // where the files are
	Origin string // how to name it in listings and faults: "built-in", a path
	// Prefix is put before each file's name in faults and in Plan.Source
	// (a directory path for files on disk; "" for the embedded examples).
	Prefix string
}

// DirSource is a CatalogueSource for a directory on disk. It fails when
// the directory does not exist.
func DirSource(dir string) (CatalogueSource, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return CatalogueSource{}, fmt.Errorf("metascripts directory: %w", err)
	}
	if !st.IsDir() {
		return CatalogueSource{}, fmt.Errorf("metascripts directory %s is not a directory", dir)
	}
	return CatalogueSource{FS: os.DirFS(dir), Origin: dir, Prefix: dir}, nil
}

// LoadCatalogue compiles every metascript of each source, in order, into
// one catalogue: a metascript of a later source replaces one of the same
// name from an earlier source. A metascript that fails to compile is an
// error listing every fault as file:line:col, unless skipBroken: then it is
// left out and its faults come back as warnings.
func LoadCatalogue(srcs []CatalogueSource, o Options, skipBroken bool) (*plan.Catalogue, []string, error) {
	cat := plan.NewCatalogue()
	var warnings []string
	var faults Diagnostics
	var other []string
	for _, src := range srcs {
		entries, err := fs.ReadDir(src.FS, ".")
		if err != nil {
			return nil, nil, fmt.Errorf("metascripts %s: %w", src.Origin, err)
		}
		var files []string
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			if ext := path.Ext(e.Name()); ext == ".yaml" || ext == ".yml" {
				files = append(files, e.Name())
			}
		}
		sort.Strings(files)
		for _, f := range files {
			p, err := compileIn(src, f, o)
			if err != nil {
				if skipBroken {
					warnings = append(warnings, fmt.Sprintf("left out of the catalogue: %v", err))
					continue
				}
				if ds, ok := err.(Diagnostics); ok {
					faults = append(faults, ds...)
				} else {
					other = append(other, err.Error())
				}
				continue
			}
			if _, err := cat.Add(p, src.Origin); err != nil {
				return nil, nil, err
			}
		}
	}
	if len(other) > 0 {
		return nil, nil, fmt.Errorf("catalogue: %s", strings.Join(other, "; "))
	}
	if len(faults) > 0 {
		return nil, nil, faults
	}
	return cat, warnings, nil
}

// compileIn compiles the file f of src.
func compileIn(src CatalogueSource, f string, o Options) (*plan.Plan, error) {
	if src.Prefix != "" {
		// Files on disk compile by their real path: faults name it and
		// calls resolve beside it.
		return CompileFile(filepath.Join(src.Prefix, f), o)
	}
	o.FS = src.FS
	b, err := readSourceFS(src.FS, f)
	if err != nil {
		return nil, err
	}
	return Compile(f, b, o)
}
