package metascripts

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/tars-engine/tars/configs"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/plan/expr"
)

// SchemaID is the $id of the JSON Schema that Schema returns.
const SchemaID = "https://tars.dev/schemas/metascript-v1.json"

// durationPattern matches what time.ParseDuration accepts without a minus
// sign (30s, 1h30m, 1.5h, .5s, +250ms); a second pattern, [1-9], keeps out
// the zero durations (0s, 0.0m) that the compiler refuses.
const durationPattern = `^\+?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`

var (
	schemaOnce  sync.Once
	schemaBytes []byte
)

// Schema returns a JSON Schema (draft-07) of the metascript language, for
// editors that use yaml-language-server:
//
//	# yaml-language-server: $schema=./metascript.schema.json
//
// It is generated from what the compiler reads with: the grammar tables
// (keys, shapes, enums, required keys), the keys that do not apply to each
// step kind, the compiler's name patterns, its limits and the expression
// language's reserved words and built-ins. A file the schema accepts
// compiles unless it has a fault of meaning (an unknown agent or tool, an
// expression error, a DAG fault, ...), which only the compiler can see;
// docs/metascripts.md lists them, and TestSchemaAgreesWithCompiler checks
// the two against each other on every example and test case.
func Schema() []byte {
	schemaOnce.Do(func() {
		defs := map[string]any{"literal": literalSchema()}
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

type obj = map[string]any

// scalarTypes are the JSON types of what the compiler reads as text: any
// YAML scalar but null (a number or a boolean is read as its text).
var scalarTypes = []string{"string", "number", "boolean"}

func scalar() obj { return obj{"type": scalarTypes} }

// textTypes are the JSON types a scalar checked against re may have: the
// text of YAML's true and false can match a pattern, a number's text
// (which starts with a digit, a sign or a dot) matches none of the
// compiler's patterns.
func textTypes(re *regexp.Regexp) []string {
	out := []string{"string"}
	if re.MatchString("true") && re.MatchString("false") {
		out = append(out, "boolean")
	}
	for _, n := range []string{"0", "1", "-1", ".5", "1.5", "1e3", "0x1F"} {
		if re.MatchString(n) {
			return append(out, "number")
		}
	}
	return out
}

func matching(re *regexp.Regexp) obj { return obj{"type": textTypes(re), "pattern": re.String()} }

// identName is a name that expressions use as an identifier (c.ident).
// It is a string: YAML's true and false would read as the reserved words
// true and false.
func identName() obj {
	return obj{"type": "string", "pattern": identPattern.String(), "not": obj{"enum": expr.ReservedWords()}}
}

// exprSchema is a key that holds one expression (c.exprField): any scalar
// that is not blank. A literal's type is checked like the expression's
// type: when and conditions want bool, foreach a list.
func exprSchema(want string) obj {
	s := obj{"pattern": `\S`}
	switch want {
	case "bool":
		s["type"] = []string{"string", "boolean"}
	case "list":
		s["type"] = "string"
	default:
		s["type"] = scalarTypes
	}
	return s
}

func durationSchema() obj {
	return obj{"type": "string", "allOf": []any{obj{"pattern": durationPattern}, obj{"pattern": "[1-9]"}}}
}

// runtimeChain is a step's runtime: one runtime of allowed, auto, or a
// chain of distinct runtimes of allowed ([auto] reads as auto).
func runtimeChain(allowed []string) obj {
	return obj{"anyOf": []any{
		obj{"enum": append(append([]string(nil), allowed...), plan.RuntimeAuto)},
		obj{"type": "array", "items": obj{"enum": allowed}, "minItems": 1, "uniqueItems": true},
		obj{"const": []string{plan.RuntimeAuto}},
	}}
}

// toolPattern is a step's tool: runtime:name, or a name without a colon;
// the name is not blank.
func toolPattern() string {
	return `^((` + strings.Join(plan.Runtimes, "|") + `):[\s\S]*\S[\s\S]*|[^:]*[^:\s][^:]*)$`
}

// literalSchema is a value without ${...}: an input's default.
func literalSchema() obj {
	return obj{"anyOf": []any{
		obj{"type": "string", "not": obj{"pattern": `(^|[^$])\$\{`}},
		obj{"type": []string{"number", "boolean", "null"}},
		obj{"type": "array", "items": obj{"$ref": "#/definitions/literal"}},
		obj{"type": "object", "additionalProperties": obj{"$ref": "#/definitions/literal"}},
	}}
}

// typeSchema is what a value of a metascript type is in JSON (typeAccepts:
// an int is a float too).
func typeSchema(t string) obj {
	switch t {
	case "string":
		return obj{"type": "string"}
	case "int":
		return obj{"type": "integer"}
	case "float":
		return obj{"type": "number"}
	case "bool":
		return obj{"type": "boolean"}
	case "list":
		return obj{"type": "array"}
	case "map":
		return obj{"type": "object"}
	}
	return obj{}
}

func ref(o *object) obj { return obj{"$ref": "#/definitions/" + o.name} }

func objectSchema(o *object) obj {
	props := obj{}
	for _, f := range o.fields {
		props[f.name] = fieldSchema(o, f)
	}
	s := obj{
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
	if rules := objectRules(o); len(rules) > 0 {
		s["allOf"] = rules
	}
	switch o {
	case stepObj:
		one := make([]any, len(kindKeys))
		for i, k := range kindKeys {
			one[i] = obj{"required": []string{k}}
		}
		s["oneOf"] = one
		s["dependencies"] = obj{"concurrency": []string{"foreach"}}
	case approvalObj:
		s["dependencies"] = obj{"default": []string{"timeout"}}
	}
	return s
}

// kindNeeds lists, per step kind, keys the kind cannot do without
// (readReason: a reason step's model and persona come from its agent).
var kindNeeds = map[string][]string{kindReason: {"agent"}}

// objectRules are the rules of an object that tie keys together.
func objectRules(o *object) []any {
	var rules []any
	switch o {
	case inputObj:
		rules = append(rules, obj{
			"if":   obj{"properties": obj{"required": obj{"const": true}}, "required": []string{"required"}},
			"then": obj{"not": obj{"required": []string{"default"}}},
		})
		for _, t := range expr.TypeNames {
			if t == "any" {
				continue
			}
			rules = append(rules, obj{
				"if":   obj{"properties": obj{"type": obj{"const": t}}, "required": []string{"type"}},
				"then": obj{"properties": obj{"default": typeSchema(t)}},
			})
		}
	case modelObj:
		rules = append(rules, obj{
			"if":   obj{"properties": obj{"provider": obj{"const": "openai"}}, "required": []string{"provider"}},
			"then": obj{"required": []string{"name", "endpoint"}, "properties": obj{"name": obj{"minLength": 1}}},
		})
	case stepObj:
		kinds := make([]string, 0, len(notFor))
		for k := range notFor {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			keys := make([]string, 0, len(notFor[k]))
			for key := range notFor[k] {
				keys = append(keys, key)
			}
			sort.Strings(keys)
			any := make([]any, len(keys))
			for i, key := range keys {
				any[i] = obj{"required": []string{key}}
			}
			rules = append(rules, obj{"if": obj{"required": []string{k}}, "then": obj{"not": obj{"anyOf": any}}})
		}
		for _, k := range kindKeys {
			if need := kindNeeds[k]; len(need) > 0 {
				rules = append(rules, obj{"if": obj{"required": []string{k}}, "then": obj{"required": need}})
			}
		}
		rules = append(rules,
			obj{"not": obj{"required": []string{"foreach", "while"}}},
			// A tool that names its runtime takes no runtime key.
			obj{
				"if":   obj{"properties": obj{"tool": obj{"pattern": "^[^:]*:"}}, "required": []string{"tool"}},
				"then": obj{"not": obj{"required": []string{"runtime"}}},
			})
		// A runtime the step names must meet its isolation floor.
		for _, iso := range isolations {
			var ok, below []string
			for _, rt := range plan.Runtimes {
				if plan.IsolationRank(plan.Isolation(rt)) < plan.IsolationRank(iso) {
					below = append(below, rt)
				} else {
					ok = append(ok, rt)
				}
			}
			if len(below) == 0 {
				continue
			}
			rules = append(rules, obj{
				"if": obj{"properties": obj{"isolation": obj{"const": iso}}, "required": []string{"isolation"}},
				"then": obj{"properties": obj{
					"runtime": runtimeChain(ok),
					"tool":    obj{"not": obj{"pattern": "^(" + strings.Join(below, "|") + "):"}},
				}},
			})
		}
	}
	return rules
}

func fieldSchema(o *object, f *field) obj {
	var s obj
	switch f.shape {
	case shString, shTemplate:
		s = scalar()
	case shInt:
		s = obj{"type": "integer"}
	case shNumber:
		s = obj{"type": "number"}
	case shBool:
		s = obj{"type": "boolean"}
	case shDuration:
		s = durationSchema()
	case shEnum:
		s = obj{"enum": f.enum}
	case shExpr:
		s = exprSchema("")
	case shValue:
		s = obj{}
	case shStrings:
		s = obj{"type": "array", "items": scalar()}
	case shStringOrList:
		s = obj{"anyOf": []any{scalar(), obj{"type": "array", "items": scalar()}}}
	case shObject:
		s = ref(f.obj)
	case shMapOf:
		s = obj{"type": "object", "additionalProperties": ref(f.obj)}
	case shTypeMap:
		s = obj{"type": "object", "additionalProperties": obj{"enum": f.enum}}
	case shNumberMap:
		s = obj{"type": "object", "additionalProperties": obj{"type": "number"}}
	case shValueMap:
		s = obj{"type": "object"}
	case shListOf:
		item := any(ref(f.obj))
		if f.orString {
			item = obj{"anyOf": []any{scalar(), ref(f.obj)}}
		}
		s = obj{"type": "array", "items": item}
	}
	refine(o, f, s)
	if f.orObject != nil {
		s = obj{"anyOf": []any{s, ref(f.orObject)}}
	}
	if f.doc != "" {
		s["description"] = f.doc
	}
	return s
}

// refine adds what the compiler checks of a value beyond its shape: the
// same patterns, limits and word lists, by key.
func refine(o *object, f *field, s obj) {
	replace := func(n obj) {
		clear(s)
		for k, v := range n {
			s[k] = v
		}
	}
	switch o.name + "." + f.name {
	case "metascript.metascript", "call.metascript":
		replace(matching(namePattern))
	case "metascript.inputs":
		s["maxProperties"] = MaxInputs
		s["propertyNames"] = identName()
	case "metascript.outputs":
		s["propertyNames"] = obj{"pattern": identPattern.String()}
	case "metascript.closures":
		s["maxProperties"] = MaxClosures
		s["propertyNames"] = obj{"allOf": []any{identName(), obj{"not": obj{"enum": variables}}, obj{"not": obj{"enum": expr.Builtins()}}}}
	case "metascript.steps":
		s["minItems"] = 1
		s["maxItems"] = MaxSteps
	case "input.default":
		replace(obj{"$ref": "#/definitions/literal"})
	case "agent.id":
		replace(matching(agentIDPattern))
	case "agent.tools":
		s["items"] = obj{"type": "string", "pattern": `^(` + strings.Join(plan.Runtimes, "|") + `):.+$`}
	case "agent.runtime":
		replace(obj{"anyOf": []any{
			obj{"enum": plan.Runtimes},
			obj{"type": "array", "items": obj{"enum": plan.Runtimes}, "uniqueItems": true},
		}})
	case "model.endpoint":
		replace(obj{"type": "string", "pattern": "^https?://"})
	case "model.api_key_env":
		replace(matching(envName))
	case "model.temperature":
		s["minimum"], s["maximum"] = 0, configs.MaxTemperature
	case "model.max_tokens":
		s["minimum"] = 1
	case "grants.env":
		s["items"] = matching(envName)
	case "grants.http_hosts":
		s["items"] = obj{"type": scalarTypes, "pattern": "^[^/]+$"}
	case "grants.memory_mib":
		s["minimum"] = 0
	case "policy.max_steps":
		s["minimum"] = 1
	case "policy.allowed_tools":
		s["minItems"] = 1
		s["items"] = obj{"type": "string", "pattern": `^((` + strings.Join(plan.Runtimes, "|") + `):.+|[^:]+)$`}
	case "policy.budgets":
		s["additionalProperties"] = obj{"type": "number", "exclusiveMinimum": 0, "maximum": 1e300}
	case "closure.params":
		s["propertyNames"] = obj{"allOf": []any{identName(), obj{"not": obj{"enum": variables}}}}
	case "step.id":
		replace(identName())
	case "step.needs":
		s["anyOf"].([]any)[1].(obj)["uniqueItems"] = true
	case "step.runtime":
		replace(runtimeChain(plan.Runtimes))
	case "step.tool":
		replace(obj{"type": "string", "pattern": toolPattern()})
	case "step.foreach":
		replace(exprSchema("list"))
	case "step.concurrency":
		s["minimum"], s["maximum"] = 1, MaxConcurrency
	case "step.when", "while.cond", "check.expr":
		replace(exprSchema("bool"))
	case "while.max":
		s["minimum"], s["maximum"] = 1, MaxWhile
	case "retry.attempts":
		s["minimum"], s["maximum"] = 1, MaxAttempts
	case "retry.non_retryable":
		s["items"] = obj{"type": scalarTypes, "pattern": `\S`}
	}
}
