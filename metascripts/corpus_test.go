package metascripts

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/invalid")

// corpusOptions finds called metascripts in testdata/invalid, then in
// testdata/children (valid helpers that are not cases themselves).
func corpusOptions() Options {
	return Options{Catalog: pools(), Lookup: func(name string) (string, error) {
		for _, dir := range []string{"testdata/invalid", "testdata/children"} {
			p := filepath.Join(dir, name+".yaml")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		return "", fmt.Errorf("no %s.yaml in testdata", name)
	}}
}

// TestInvalidCorpus compiles every file of testdata/invalid and compares
// the diagnostics, exactly, with NAME.yaml.golden.
func TestInvalidCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 40, "the negative corpus must hold at least 40 cases")
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			_, err := CompileFile(f, corpusOptions())
			require.Error(t, err, "an invalid metascript compiled")
			var ds Diagnostics
			require.True(t, errors.As(err, &ds), "want Diagnostics, got %T: %v", err, err)
			got := err.Error() + "\n"
			golden := f + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
				return
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -run TestInvalidCorpus -update to create it")
			assert.Equal(t, string(want), got)
		})
	}
}

// TestGoldenFilesHaveCases keeps the corpus tidy: no golden file without
// its metascript.
func TestGoldenFilesHaveCases(t *testing.T) {
	goldens, _ := filepath.Glob("testdata/invalid/*.golden")
	for _, g := range goldens {
		_, err := os.Stat(strings.TrimSuffix(g, ".golden"))
		assert.NoError(t, err, "golden file without a case: %s", g)
	}
}
