package metascripts

import (
	"encoding/json"
	"sync"
)

// SchemaID is the $id of the JSON Schema that Schema returns.
const SchemaID = "https://tars.dev/schemas/metascript-v1.json"

// durationPattern matches what time.ParseDuration accepts for positive
// durations written the usual way (30s, 1h30m, 1.5h, 250ms).
const durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`

var (
	schemaOnce  sync.Once
	schemaBytes []byte
)

// Schema returns a JSON Schema (draft-07) of the metascript language, for
// editors that use yaml-language-server:
//
//	# yaml-language-server: $schema=./metascript.schema.json
//
// It is generated from the grammar tables the compiler reads with, so the
// keys it allows are exactly the keys the compiler accepts. It checks
// shape only; the compiler checks meaning (names, types, the DAG).
func Schema() []byte {
	schemaOnce.Do(func() {
		defs := map[string]any{}
		for _, o := range objects {
			if o != metascriptObj {
				defs[o.name] = objectSchema(o)
			}
		}
		root := objectSchema(metascriptObj)
		root["$schema"] = "http://json-schema.org/draft-07/schema#"
		root["$id"] = SchemaID
		root["title"] = "TARS metascript"
		root["definitions"] = defs
		b, err := json.MarshalIndent(root, "", "  ")
		if err != nil {
			panic(err)
		}
		schemaBytes = append(b, '\n')
	})
	return append([]byte(nil), schemaBytes...)
}

func objectSchema(o *object) map[string]any {
	props := map[string]any{}
	for _, f := range o.fields {
		props[f.name] = fieldSchema(f)
	}
	s := map[string]any{
		"type":                 "object",
		"additionalProperties": false,
		"properties":           props,
	}
	if o.doc != "" {
		s["description"] = o.doc
	}
	if len(o.required) > 0 {
		s["required"] = o.required
	}
	if o == stepObj {
		one := make([]any, len(kindKeys))
		for i, k := range kindKeys {
			one[i] = map[string]any{"required": []string{k}}
		}
		s["oneOf"] = one
	}
	return s
}

func ref(o *object) map[string]any { return map[string]any{"$ref": "#/definitions/" + o.name} }

func fieldSchema(f *field) map[string]any {
	var s map[string]any
	str := func() map[string]any {
		if len(f.enum) > 0 {
			return map[string]any{"type": "string", "enum": f.enum}
		}
		return map[string]any{"type": "string"}
	}
	switch f.shape {
	case shString:
		s = map[string]any{"type": "string"}
		if f.name == "version" {
			s["type"] = []string{"string", "number"}
		}
	case shInt:
		s = map[string]any{"type": "integer"}
	case shNumber:
		s = map[string]any{"type": "number"}
	case shBool:
		s = map[string]any{"type": "boolean"}
	case shDuration:
		s = map[string]any{"type": "string", "pattern": durationPattern}
	case shEnum:
		s = map[string]any{"type": "string", "enum": f.enum}
	case shExpr, shTemplate:
		s = map[string]any{"type": "string"}
	case shValue:
		s = map[string]any{}
	case shStrings:
		s = map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
	case shStringOrList:
		s = map[string]any{"oneOf": []any{str(), map[string]any{"type": "array", "items": str()}}}
	case shObject:
		s = ref(f.obj)
	case shMapOf:
		s = map[string]any{"type": "object", "additionalProperties": ref(f.obj)}
	case shTypeMap:
		s = map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string", "enum": f.enum}}
	case shNumberMap:
		s = map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "number"}}
	case shValueMap:
		s = map[string]any{"type": "object"}
	case shListOf:
		item := any(ref(f.obj))
		if f.orString {
			item = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, ref(f.obj)}}
		}
		s = map[string]any{"type": "array", "items": item}
	}
	if f.orObject != nil {
		s = map[string]any{"oneOf": []any{s, ref(f.orObject)}}
	}
	if f.doc != "" {
		s["description"] = f.doc
	}
	return s
}
