package metascripts

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxFuzzInput keeps each input small enough that yaml.v3 and CEL finish
// in milliseconds; the compiler's own limit is MaxSourceBytes.
const maxFuzzInput = 64 << 10

// FuzzCompile runs parse → validate → compile on arbitrary input. It must
// never panic or hang, and must return either a Plan that marshals to JSON
// or Diagnostics with real positions. Called metascripts are never found,
// so the target does not depend on files.
func FuzzCompile(f *testing.F) {
	seeds, _ := filepath.Glob("examples/*.yaml")
	invalid, _ := filepath.Glob("testdata/invalid/*.yaml")
	children, _ := filepath.Glob("testdata/children/*.yaml")
	for _, p := range append(append(seeds, invalid...), children...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	o := Options{Catalog: pools(), Lookup: func(name string) (string, error) { return "", errors.New("no files while fuzzing") }}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > maxFuzzInput {
			t.Skip("input over maxFuzzInput: larger sources only slow the fuzzer; TestSourceTooLarge covers the compiler's own cap")
		}
		p, err := Compile("fuzz.yaml", src, o)
		if err != nil {
			var ds Diagnostics
			if !errors.As(err, &ds) || len(ds) == 0 {
				t.Fatalf("want Diagnostics, got %T: %v", err, err)
			}
			for _, d := range ds {
				if d.Line < 1 || d.Col < 1 || d.Msg == "" {
					t.Fatalf("bad diagnostic %+v", d)
				}
			}
			return
		}
		if p == nil {
			t.Fatal("nil plan without error")
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("plan does not marshal: %v", err)
		}
		_ = Graph(p)
	})
}

func TestSourceTooLarge(t *testing.T) {
	src := append([]byte("metascript: big\n# "), bytes.Repeat([]byte("x"), MaxSourceBytes)...)
	_, err := Compile("big.yaml", src, Options{Catalog: pools()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "big.yaml")
	assert.Contains(t, err.Error(), "big.yaml:1:1: metascript is larger than 8 MiB")
}
