package metascripts

import "encoding/json"

// ToolDescriber is what a Catalog may also implement: a description and
// the JSON Schema of a tool's args, which reason steps hand to the model
// for each tool its agent may call. Catalogues that do not implement it
// (or do not know a tool) fall back to BuiltinToolSchema.
type ToolDescriber interface {
	Describe(runtime, tool string) (description string, schema json.RawMessage, ok bool)
}

// toolSchema is a tool's description and the JSON Schema of its args.
// examples[0] is what the echo model provider passes when it calls the
// tool, so offline runs exercise real tools with valid args.
type toolSchema struct {
	desc   string
	schema string
}

// builtinSchemas describe the tools TARS's own pools ship, keyed by
// tool name (the same name means the same args on every runtime). The
// args are those documented in docs/native-tools.md, docs/wasm-guests.md
// and docs/hyperlight.md.
var builtinSchemas = map[string]toolSchema{
	"echo": {"Return the args unchanged (or args.value).",
		`{"type":"object","properties":{"value":{}},"examples":[{"value":"hello"}]}`},
	"http.request": {"Make an HTTP request to a host the policy grants; returns {status, headers, body}.",
		`{"type":"object","properties":{"method":{"type":"string","enum":["GET","POST","PUT","PATCH","DELETE","HEAD"]},"url":{"type":"string"},"headers":{"type":"object","additionalProperties":{"type":"string"}},"body":{},"timeout":{"type":"string"}},"required":["url"],"additionalProperties":false}`},
	"json.query": {"Pick one value out of a JSON document by a path such as items[0].name.",
		`{"type":"object","properties":{"data":{},"path":{"type":"string"}},"required":["data","path"],"additionalProperties":false}`},
	"vector.topk": {"The k vectors most cosine-similar to a query.",
		`{"type":"object","properties":{"query":{"type":"array","items":{"type":"number"}},"vectors":{"type":"array","items":{"type":"array","items":{"type":"number"}}},"k":{"type":"integer","minimum":1}},"required":["query","vectors"]}`},
	"log-scan": {"Count a service log's error and warning lines and list the most frequent error messages (WebAssembly sandbox).",
		`{"type":"object","properties":{"service":{"type":"string"},"lines":{"type":"array","items":{"type":"string"}},"text":{"type":"string"}},"required":["service"],"additionalProperties":false,` +
			`"examples":[{"service":"api","lines":["ERROR db timeout after 30ms","WARN slow query","ERROR db timeout after 31ms"]}]}`},
	"text-stats": {"Count lines, words and characters of a text and list its most frequent words (WebAssembly sandbox).",
		`{"type":"object","properties":{"text":{"type":"string"},"top":{"type":"integer","minimum":0,"maximum":50}},"required":["text"],"additionalProperties":false}`},
	"json-check": {"Check a JSON document against a small JSON Schema (WebAssembly sandbox).",
		`{"type":"object","properties":{"doc":{},"schema":{"type":"object"}},"required":["doc","schema"],"additionalProperties":false}`},
	"policy-check": {"Decide whether a request is allowed by a rule set, inside a hardware-isolated micro-VM; deny wins, no match is deny.",
		`{"type":"object","properties":{"policy":{"type":"string","enum":["deny-network","remediation"]},"rules":{"type":"array","items":{"type":"object","properties":{"effect":{"type":"string","enum":["allow","deny"]},"principal":{"type":"string"},"action":{"type":"string"},"resource":{"type":"string"}},"required":["effect"]}},"request":{"type":"object"},"principal":{"type":"string"},"action":{"type":"string"},"resource":{"type":"string"}},` +
			`"examples":[{"policy":"remediation","principal":"planner","action":"restart","resource":"service/api"}]}`},
	"json-field": {"Read the value at a dotted path of a JSON document, inside a hardware-isolated micro-VM.",
		`{"type":"object","properties":{"object":{},"document":{},"field":{"type":"string"}},"required":["field"]}`},
	"sha256": {"The SHA-256 of data as hex, computed inside a hardware-isolated micro-VM.",
		`{"type":"object","properties":{"data":{}},"required":["data"],"additionalProperties":false,"examples":[{"data":"hello"}]}`},
}

// anyArgs is the schema of a tool whose args nobody described: any
// object. The tool itself still checks what it gets.
const anyArgs = `{"type":"object"}`

// BuiltinToolSchema returns the description and args schema TARS knows
// for tool, or ok false.
func BuiltinToolSchema(tool string) (description string, schema json.RawMessage, ok bool) {
	s, ok := builtinSchemas[tool]
	if !ok {
		return "", nil, false
	}
	return s.desc, json.RawMessage(s.schema), true
}

// describeTool returns what the model is told about tool on runtime.
func (c *compiler) describeTool(runtime, tool string) (string, json.RawMessage) {
	if d, ok := c.s.cat.(ToolDescriber); ok {
		if desc, schema, ok := d.Describe(runtime, tool); ok {
			return desc, schema
		}
	}
	if desc, schema, ok := BuiltinToolSchema(tool); ok {
		return desc, schema
	}
	return "Tool " + tool + " on " + runtime + ".", json.RawMessage(anyArgs)
}
