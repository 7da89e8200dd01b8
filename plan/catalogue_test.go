package plan

import (
	"strings"
	"testing"
)

func TestDigestIgnoresSourceAndNamesContent(t *testing.T) {
	a := &Plan{Schema: SchemaVersion, Name: "x", SHA256: "s", Source: "/a/x.yaml", Steps: []Step{{ID: "s1", Kind: KindTool, Tool: "echo"}},
		Children: map[string]*Plan{"y": {Name: "y", Source: "/a/y.yaml"}}}
	b := *a
	b.Source = "x.yaml"
	b.Children = map[string]*Plan{"y": {Name: "y", Source: "y.yaml"}}
	da, err := Digest(a)
	if err != nil {
		t.Fatal(err)
	}
	db, _ := Digest(&b)
	if da != db {
		t.Fatalf("the same Plan read from two places has two digests: %s %s", da, db)
	}
	if !strings.HasPrefix(da, DigestPrefix) || len(da) != len(DigestPrefix)+64 {
		t.Fatalf("digest %q", da)
	}
	if a.Source != "/a/x.yaml" || a.Children["y"].Source != "/a/y.yaml" {
		t.Fatal("Digest changed the Plan")
	}
	c := b
	c.Steps = []Step{{ID: "s1", Kind: KindTool, Tool: "shell"}}
	if dc, _ := Digest(&c); dc == da {
		t.Fatal("a different step has the same digest")
	}
}

func TestCatalogueOverridesByName(t *testing.T) {
	cat := NewCatalogue()
	e1, err := cat.Add(&Plan{Name: "n", Version: "1"}, "built-in")
	if err != nil {
		t.Fatal(err)
	}
	e2, _ := cat.Add(&Plan{Name: "n", Version: "2"}, "dir")
	if _, err := cat.Add(&Plan{Name: "m"}, "dir"); err != nil {
		t.Fatal(err)
	}
	if cat.Named("n") != e2 || cat.WithDigest(e2.Digest) != e2 {
		t.Fatal("a later Plan of a name is its current one")
	}
	if cat.WithDigest(e1.Digest) != nil {
		t.Fatal("an overridden Plan is no longer served")
	}
	if got := strings.Join(cat.Names(), ","); got != "m,n" || cat.Len() != 2 {
		t.Fatalf("names %s", got)
	}
	var nilCat *Catalogue
	if nilCat.Named("n") != nil || nilCat.WithDigest("x") != nil || nilCat.Len() != 0 {
		t.Fatal("a nil catalogue holds nothing")
	}
}
