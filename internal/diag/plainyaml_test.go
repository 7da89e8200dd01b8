package diag

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// yamlV3 parses src as Parse did before parsePlain: the first document's
// top node, and whether yaml.v3 read exactly one document without error.
func yamlV3(src []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc, extra yaml.Node
	if err := dec.Decode(&doc); err != nil || len(doc.Content) == 0 {
		return nil, false
	}
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return doc.Content[0], true
}

// sameTree compares what the compiler reads of a node: everything but
// comments (parsePlain keeps none; nothing reads them).
func sameTree(a, b *yaml.Node, path string) error {
	if a.Kind != b.Kind || a.Style != b.Style || a.Tag != b.Tag || a.Value != b.Value ||
		a.Anchor != b.Anchor || a.Line != b.Line || a.Column != b.Column || (a.Alias == nil) != (b.Alias == nil) {
		return fmt.Errorf("%s: plain {kind %d style %d tag %s value %q at %d:%d} != yaml.v3 {kind %d style %d tag %s value %q at %d:%d}",
			path, a.Kind, a.Style, a.Tag, a.Value, a.Line, a.Column, b.Kind, b.Style, b.Tag, b.Value, b.Line, b.Column)
	}
	if len(a.Content) != len(b.Content) {
		return fmt.Errorf("%s (%d:%d): %d children != yaml.v3's %d", path, a.Line, a.Column, len(a.Content), len(b.Content))
	}
	if (a.Content == nil) != (b.Content == nil) {
		return fmt.Errorf("%s: nil children differ", path)
	}
	for i := range a.Content {
		if err := sameTree(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", path, i)); err != nil {
			return err
		}
	}
	return nil
}

// checkPlain fails when parsePlain returns a tree that differs from
// yaml.v3's, or returns one for a file yaml.v3 refuses. It reports
// whether parsePlain took the file.
func checkPlain(t *testing.T, src []byte) bool {
	t.Helper()
	got, ok := parsePlain(src)
	if !ok {
		return false
	}
	want, wantOK := yamlV3(src)
	require.True(t, wantOK, "parsePlain took a file yaml.v3 refuses:\n%s", src)
	require.NoError(t, sameTree(got, want, ""), "source:\n%s", src)
	return true
}

var plainCases = []struct {
	name  string
	src   string
	plain bool // parsePlain takes it; else it leaves it to yaml.v3
}{
	{"scalars", "a: b\nn: 12\nneg: -3\nf: 0.25\ne: 1e5\nt: true\nF: False\nnull: ~\nn2: null\nd: 30s\nv: 1.4.0\nurl: http://x/y?z=1\n", true},
	{"comments", "# head\na: b # line\n\n  # indented\nc: d#not a comment\n", true},
	{"nested", "a:\n  b:\n    c: d\n  e: f\ng: h\n", true},
	{"sequences", "a:\n  - x\n  - y\nb:\n- 1\n- 2\nc: d\n", true},
	{"compact mappings", "steps:\n  - id: a\n    tool: echo\n  -   id: b\n      needs: [a]\n", true},
	{"flow", "a: {b: c, d: [1, 2, {e: f}], g: \"h, i\", j: 'k''l'}\nm: []\nn: {}\n", true},
	{"flow over lines", "a: {b: c,\n  d: e}\nf: [1,\n  2\n  ]\n", true},
	{"quoted", "a: \"x\\ty\\n\\\"\\u00e9\\x41\\'\"\nb: 'it''s'\n\"c\": d\n'e': f\n", true},
	{"escapes", "a: \"\\0\\a\\b\\v\\f\\r\\e\\ \\\\\\U0001F600\"\n", true},
	{"unicode columns", "é: {ü: ñ, x: y}\nk: \"日本\"\n", true},
	{"literal", "a: |\n  one\n    two\n\n  three\nb: x\n", true},
	{"literal chomping", "a: |-\n  one\n\nb: |+\n  two\n\n\nc: x\n", true},
	{"folded", "a: >\n  one\n  two\n\n  three\nb: x\n", true},
	{"block in list", "a:\n  - |\n    text\n  - id: b\n    prompt: >-\n      x\n      y\n", true},
	{"templates", "with: {item: \"${tag(item, index)}\", prev: \"${steps.a.output}\"}\nwhen: steps.s3.status == \"ok\" && inputs.n > 1\nforeach: ${inputs.items}\n", true},
	{"no final newline", "a: b", true},

	{"empty value", "a:\nb: c\n", false},
	{"anchor", "a: &x b\nc: *x\n", false},
	{"tag", "a: !!str 1\n", false},
	{"merge", "a: {b: c}\nd:\n  <<: x\n", false},
	{"multi-line plain", "a: b\n  c\n", false},
	{"multi-line quoted", "a: \"b\n  c\"\n", false},
	{"two documents", "a: b\n---\nc: d\n", false},
	{"directive", "%YAML 1.2\n---\na: b\n", false},
	{"tab", "a:\tb\n", false},
	{"crlf", "a: b\r\nc: d\r\n", false},
	{"octal", "a: 0755\n", false},
	{"hex", "a: 0x1f\n", false},
	{"timestamp", "a: 2026-12-02\n", false},
	{"underscore", "a: 1_000\n", false},
	{"dot", "a: .inf\n", false},
	{"bad indentation", "a:\n  b: c\n d: e\n", false},
	{"mapping in value", "a: b: c\n", false},
	{"root list", "- a\n- b\n", false},
	{"root scalar", "a\n", false},
	{"empty", "", false},
	{"comments only", "# nothing\n", false},
	{"question in flow", "a: {b: c?}\n", false},
	{"trailing comma", "a: [1, 2,]\n", false},
	{"flow single pair", "a: [b: c]\n", false},
	{"unclosed flow", "a: [1, 2\n", false},
	{"block indentation indicator", "a: |2\n   x\n", false},
	{"folded more indented", "a: >\n  x\n    y\n", false},
	{"literal leading blank line", "a: |\n\n  x\n", false},
	{"key with spaces before colon", "a : b\n", false},
	{"nested dash", "a:\n  - - b\n", false},
	{"dash alone", "a:\n  -\n    b: c\n", false},
	{"complex key", "? a\n: b\n", false},
	{"long key", strings.Repeat("k", 1001) + ": v\n", false},
	{"long quoted key", "\"" + strings.Repeat("k", 1001) + "\": v\n", false},
	{"long flow key", "a: {" + strings.Repeat("k", 1001) + ": v}\n", false},
	{"duplicate keys", "a: b\na: c\n", true},
	{"unknown escape", "a: \"\\N\"\n", false},
	{"slash escape", "a: \"\\/\"\n", false},
	{"surrogate escape", "a: \"\\ud800\"\n", false},
}

func TestPlainMatchesYAMLv3(t *testing.T) {
	for _, c := range plainCases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.plain, checkPlain(t, []byte(c.src)), "whether parsePlain takes it")
		})
	}
}

// The files of this repository: every metascript, config and manifest
// parsePlain takes must give yaml.v3's tree, and it must take the
// examples (the path a compile takes in practice).
func TestPlainMatchesYAMLv3OnRepositoryFiles(t *testing.T) {
	var files []string
	require.NoError(t, filepath.WalkDir("../..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") {
			files = append(files, p)
		}
		return nil
	}))
	require.NotEmpty(t, files)
	took := 0
	for _, p := range files {
		src, err := os.ReadFile(p)
		require.NoError(t, err)
		if checkPlain(t, src) {
			took++
		} else if strings.Contains(p, "metascripts/examples/") {
			t.Errorf("parsePlain leaves the example %s to yaml.v3", p)
		}
	}
	t.Logf("parsePlain took %d of %d YAML files", took, len(files))
}

// FuzzPlainYAML: whatever parsePlain takes, yaml.v3 reads to the same
// tree.
func FuzzPlainYAML(f *testing.F) {
	for _, c := range plainCases {
		f.Add([]byte(c.src))
	}
	for _, pattern := range []string{"../../metascripts/examples/*.yaml", "../../metascripts/testdata/invalid/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, p := range files {
			if src, err := os.ReadFile(p); err == nil {
				f.Add(src)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 64<<10 {
			t.Skip("small inputs only")
		}
		checkPlain(t, src)
	})
}
