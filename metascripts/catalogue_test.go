package metascripts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	builtin "github.com/tars-engine/tars/metascripts/examples"
)

func TestLoadCatalogue(t *testing.T) {
	o := Options{Catalog: pools()}
	builtin := CatalogueSource{FS: builtin.FS, Origin: "built-in"}
	cat, warnings, err := LoadCatalogue([]CatalogueSource{builtin}, o, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 || cat.Named("release-notes") == nil || cat.Named("weekly-briefing") == nil {
		t.Fatalf("the built-in examples, calls included, compile from the embedded FS: %v %v", cat.Names(), warnings)
	}

	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("notes.yaml", "metascript: release-notes\nsteps:\n  - {id: a, tool: echo, with: {v: 1}}\n")
	write("README.md", "not a metascript")
	src, err := DirSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat, _, err = LoadCatalogue([]CatalogueSource{builtin, src}, o, false)
	if err != nil {
		t.Fatal(err)
	}
	if e := cat.Named("release-notes"); e.Origin != dir || len(e.Plan.Steps) != 1 {
		t.Fatalf("a directory overrides the built-in of the same name: %+v", e)
	}

	write("broken.yaml", "metascript: broken\nsteps:\n  - {id: a, tool: no-such-tool}\n")
	_, _, err = LoadCatalogue([]CatalogueSource{src}, o, false)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "broken.yaml")+":3:") {
		t.Fatalf("a broken metascript stops the load with file:line:col: %v", err)
	}
	cat, warnings, err = LoadCatalogue([]CatalogueSource{src}, o, true)
	if err != nil || cat.Named("broken") != nil || cat.Named("release-notes") == nil || len(warnings) != 1 {
		t.Fatalf("skipBroken leaves it out with a warning: %v %v %v", err, cat.Names(), warnings)
	}
	if _, err := DirSource(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing directory is an error")
	}
}
