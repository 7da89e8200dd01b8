package metascripts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
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

// compilerOnly lists the cases whose faults the schema does not express,
// with why; TestSchemaAgreesWithCompiler skips them, and fails when one
// of them no longer disagrees (so that the list stays true). The reasons
// are the classes that docs/metascripts.md lists as compiler-only.
var compilerOnly = map[string]string{
	// testdata/invalid
	"block-positions":         "meaning: expressions read undefined inputs",
	"call-cycle-a":            "meaning: called metascripts (a call cycle)",
	"call-cycle-b":            "meaning: called metascripts (a call cycle)",
	"call-inputs":             "meaning: called metascripts (their inputs and names)",
	"cel-syntax":              "expression syntax",
	"data-flow-not-needed":    "meaning: the DAG (reading a step not needed)",
	"duplicate-step-id":       "meaning: the DAG (a step id used twice)",
	"expr-types":              "expression types",
	"foreach-not-list":        "expression types",
	"grants-needed":           "meaning: the tools a step runs and the grants they need",
	"inherited-chain":         "meaning: inherited runtime chains and the tool catalogue",
	"item-index-output-scope": "expression scope",
	"needs-cycle":             "meaning: the DAG (a cycle)",
	"reason-no-model":         "meaning: the agent catalogue (an agent without a model)",
	"steps-whole-and-self":    "expression scope",
	"tool-not-allowed":        "meaning: the policy's allowed tools against a step's tool",
	"tool-not-offered":        "meaning: the tool catalogue",
	"undefined-input":         "meaning: expressions read undefined inputs",
	"undefined-step-ref":      "meaning: expressions read undefined steps",
	"unknown-agent":           "meaning: the agent catalogue",
	"unknown-closure":         "expression: unknown names",
	"unknown-needs":           "meaning: the DAG (needs an unknown step)",
	"unterminated-template":   "expression syntax (templates)",
	"when-not-bool":           "expression types and syntax",
	// testdata/schema
	"bad-max-steps-below-steps":     "compares two values (max_steps and the number of steps)",
	"bad-max-backoff-below-backoff": "compares two values (max_backoff and backoff)",
	"bad-unknown-tool":              "meaning: the tool catalogue",
	"bad-when-capital-true":         "meaning: YAML reads True as a boolean, CEL as an unknown name",
	"bad-attempts-float":            "YAML typing: 2.0 is an integer to JSON Schema, a float to YAML",
}

// schemaValidator compiles Schema() with a real JSON Schema validator.
func schemaValidator(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource(SchemaID, doc))
	s, err := c.Compile(SchemaID)
	require.NoError(t, err, "the schema compiles")
	return s
}

// yamlJSON decodes a YAML file to the values a JSON Schema validator
// (or an editor's YAML language server) sees: mappings keyed by the key's
// text, scalars by their YAML type. It fails on YAML that JSON cannot
// carry (anchors, aliases, tags, NaN); the compiler refuses those too.
func yamlJSON(src []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	var extra yaml.Node
	if dec.Decode(&extra) == nil {
		return nil, fmt.Errorf("more than one YAML document")
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("empty document")
	}
	return nodeJSON(doc.Content[0])
}

func nodeJSON(n *yaml.Node) (any, error) {
	if n.Anchor != "" || n.Kind == yaml.AliasNode || (strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!")) {
		return nil, fmt.Errorf("line %d: anchors, aliases and tags have no JSON form", n.Line)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				return nil, fmt.Errorf("line %d: a key JSON cannot carry", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			v, err := nodeJSON(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			v, err := nodeJSON(e)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	}
	switch n.Tag {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		err := n.Decode(&b)
		return b, err
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			return nil, err
		}
		return json.Number(strconv.FormatInt(i, 10)), nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("line %d: %s has no JSON form", n.Line, n.Value)
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	}
	return n.Value, nil
}

// TestSchemaAgreesWithCompiler runs every example, every invalid golden
// case and the schema corpus through the JSON Schema (with a real
// validator) and through the compiler, and fails where one accepts what
// the other refuses, except for the cases declared in compilerOnly.
func TestSchemaAgreesWithCompiler(t *testing.T) {
	v := schemaValidator(t)
	var files []string
	for _, g := range []string{"examples/*.yaml", "testdata/children/*.yaml", "testdata/invalid/*.yaml", "testdata/schema/*.yaml"} {
		m, err := filepath.Glob(g)
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.Greater(t, len(files), 150)
	seen := map[string]bool{}
	var disagree []string
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		seen[name] = true
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		opts := Options{Catalog: pools()}
		if strings.HasPrefix(f, "testdata/invalid/") {
			opts = corpusOptions()
		}
		_, cerr := Compile(f, src, opts)
		compiled := cerr == nil
		var schemaOK bool
		var serr error
		if doc, err := yamlJSON(src); err != nil {
			serr = err // no JSON form: the schema cannot accept it
		} else {
			serr = v.Validate(doc)
			schemaOK = serr == nil
		}
		if strings.HasPrefix(f, "testdata/schema/") {
			assert.Equal(t, strings.HasPrefix(name, "ok-"), compiled, "%s: the compiler's verdict is not the case's name: %v", f, cerr)
		}
		why, declared := compilerOnly[name]
		switch {
		case compiled == schemaOK && declared:
			t.Errorf("%s is declared compiler-only (%s), but the schema and the compiler agree on it: remove it from compilerOnly", f, why)
		case compiled == schemaOK:
		case declared:
			t.Logf("skip %s: compiler-only (%s)", f, why)
		case compiled:
			disagree = append(disagree, fmt.Sprintf("%s: the compiler accepts it, the schema refuses it:\n%v", f, serr))
		default:
			first := strings.SplitN(cerr.Error(), "\n", 2)[0]
			disagree = append(disagree, fmt.Sprintf("%s: the schema accepts it, the compiler refuses it: %s", f, first))
		}
	}
	for name := range compilerOnly {
		assert.True(t, seen[name], "compilerOnly names %s, which is no case", name)
	}
	assert.Empty(t, disagree, "%d disagreements:\n%s", len(disagree), strings.Join(disagree, "\n"))
}

// TestSchemaNeverRefusesWhatCompiles replaces each scalar of every example
// and every ok- case, one at a time, with values that break common rules
// (zero, negative, blank, a dash, a leading digit, past a limit, a list, a
// mapping, null, a template), and checks that whatever the schema refuses
// the compiler refuses too. (What the schema accepts may still be a fault
// of meaning; TestSchemaAgreesWithCompiler covers those by name.)
func TestSchemaNeverRefusesWhatCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a few thousand variants")
	}
	v := schemaValidator(t)
	files, _ := filepath.Glob("testdata/schema/ok-*.yaml")
	ex, _ := filepath.Glob("examples/*.yaml")
	files = append(files, ex...)
	probes := []string{"0", "-1", "' '", "x-y", "1abc", "10001", "auto", "[]", "{}", "~", "3", "'${1}'"}
	checked := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		var root yaml.Node
		require.NoError(t, yaml.Unmarshal(src, &root))
		var scalars []*yaml.Node
		var walk func(n *yaml.Node)
		walk = func(n *yaml.Node) {
			switch n.Kind {
			case yaml.MappingNode:
				for i := 1; i < len(n.Content); i += 2 {
					walk(n.Content[i])
				}
			case yaml.SequenceNode:
				for _, c := range n.Content {
					walk(c)
				}
			case yaml.ScalarNode:
				scalars = append(scalars, n)
			}
		}
		walk(root.Content[0])
		for _, sn := range scalars {
			for _, p := range probes {
				var pn yaml.Node
				require.NoError(t, yaml.Unmarshal([]byte(p), &pn))
				saved := *sn
				*sn = *pn.Content[0]
				out, err := yaml.Marshal(&root)
				*sn = saved
				require.NoError(t, err)
				doc, err := yamlJSON(out)
				require.NoError(t, err)
				if v.Validate(doc) == nil {
					continue
				}
				checked++
				_, cerr := Compile(filepath.Join(filepath.Dir(f), "variant.yaml"), out, Options{Catalog: pools()})
				assert.Error(t, cerr, "%s with %q replaced by %s: the schema refuses it, the compiler accepts it", f, saved.Value, p)
			}
		}
	}
	assert.Greater(t, checked, 1000)
	t.Logf("%d variants the schema refuses, all refused by the compiler", checked)
}
