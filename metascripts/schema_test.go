package metascripts

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/configs"
)

func loadSchema(t *testing.T) map[string]any {
	var s map[string]any
	require.NoError(t, json.Unmarshal(Schema(), &s), "the schema is valid JSON")
	return s
}

func TestSchemaShape(t *testing.T) {
	s := loadSchema(t)
	assert.Equal(t, "http://json-schema.org/draft-07/schema#", s["$schema"])
	assert.Equal(t, SchemaID, s["$id"])
	assert.Equal(t, []any{"metascript", "steps"}, s["required"])
	defs := s["definitions"].(map[string]any)
	for _, o := range objects {
		if o != metascriptObj {
			assert.Contains(t, defs, o.name)
		}
	}
	// Every $ref resolves.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				name := strings.TrimPrefix(r, "#/definitions/")
				assert.Contains(t, defs, name, r)
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(s)
	assert.Equal(t, Schema(), Schema(), "deterministic")
}

// TestExamplesMatchSchema walks every example against the schema: each key
// must be a property (or allowed by additionalProperties) of some branch.
func TestExamplesMatchSchema(t *testing.T) {
	s := loadSchema(t)
	files, _ := filepath.Glob("examples/*.yaml")
	children, _ := filepath.Glob("testdata/children/*.yaml")
	for _, f := range append(files, children...) {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		var doc yaml.Node
		require.NoError(t, yaml.Unmarshal(src, &doc))
		var bad []string
		schemaWalk(s, s, doc.Content[0], "", &bad)
		assert.Empty(t, bad, f)
	}
}

// TestSchemaRejectsUnknownKeys: the schema and the compiler agree on a
// misspelt key.
func TestSchemaRejectsUnknownKeys(t *testing.T) {
	s := loadSchema(t)
	for file, key := range map[string]string{
		"testdata/invalid/unknown-top-key.yaml":  "setps",
		"testdata/invalid/unknown-step-key.yaml": "steps[0].tol",
		"testdata/invalid/policy.yaml":           "policy.retries",
	} {
		src, err := os.ReadFile(file)
		require.NoError(t, err)
		var doc yaml.Node
		require.NoError(t, yaml.Unmarshal(src, &doc))
		var bad []string
		schemaWalk(s, s, doc.Content[0], "", &bad)
		assert.Contains(t, bad, key, file)
	}
}

func resolve(root, s map[string]any) map[string]any {
	for {
		r, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		s = root["definitions"].(map[string]any)[strings.TrimPrefix(r, "#/definitions/")].(map[string]any)
	}
}

// branches lists the object-typed alternatives of a schema.
func branches(root, s map[string]any) []map[string]any {
	s = resolve(root, s)
	var out []map[string]any
	if one, ok := s["oneOf"].([]any); ok && s["properties"] == nil {
		for _, b := range one {
			out = append(out, branches(root, b.(map[string]any))...)
		}
		return out
	}
	return []map[string]any{s}
}

func schemaWalk(root, s map[string]any, n *yaml.Node, path string, bad *[]string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			p := strings.TrimPrefix(path+"."+k, ".")
			var sub map[string]any
			allowed := false
			for _, b := range branches(root, s) {
				if props, ok := b["properties"].(map[string]any); ok {
					if ps, ok := props[k]; ok {
						sub, allowed = ps.(map[string]any), true
						break
					}
				}
				switch ap := b["additionalProperties"].(type) {
				case map[string]any:
					sub, allowed = ap, true
				case nil:
					if b["type"] == "object" || b["type"] == nil {
						sub, allowed = map[string]any{}, true
					}
				}
			}
			if !allowed {
				*bad = append(*bad, p)
				continue
			}
			schemaWalk(root, sub, v, p, bad)
		}
	case yaml.SequenceNode:
		for i, it := range n.Content {
			for _, b := range branches(root, s) {
				if items, ok := b["items"].(map[string]any); ok {
					schemaWalk(root, items, it, fmt.Sprintf("%s[%d]", path, i), bad)
				}
			}
		}
	}
}

// TestModelKeysAgree: a model is read by package configs in both places;
// the grammar table that the schema is made from must list the same keys.
func TestModelKeysAgree(t *testing.T) {
	assert.Equal(t, configs.ModelKeys, modelObj.keys())
	assert.Equal(t, configs.Providers, modelObj.field("provider").enum)
}
