package metascripts

import (
	"sync"

	"github.com/tars-engine/tars/configs"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/plan/expr"
)

// The grammar tables below are the single description of the language's
// keys: the reader rejects keys that are not in them, and Schema generates
// the JSON Schema from them, so the two cannot drift.

// shape is what kind of YAML value a key takes.
type shape int

const (
	shString       shape = iota // a scalar, read as text
	shInt                       // an integer
	shNumber                    // an integer or a float
	shBool                      // true or false
	shDuration                  // a Go duration: 30s, 5m, 1h30m
	shEnum                      // one of enum
	shExpr                      // a CEL expression, bare or as ${...}
	shTemplate                  // a string that may hold ${...}
	shValue                     // any value; its strings may hold ${...}
	shStrings                   // a list of strings
	shStringOrList              // a string or a list of strings
	shObject                    // a mapping described by obj
	shMapOf                     // name -> obj
	shTypeMap                   // name -> type name
	shNumberMap                 // name -> number
	shValueMap                  // name -> value (templates)
	shListOf                    // a list of obj (or of strings, with orString)
)

type field struct {
	name  string
	shape shape
	obj   *object  // shObject, shMapOf, shListOf
	enum  []string // shEnum, shStringOrList
	// orString: a list item (shListOf) may also be a plain string.
	orString bool
	// orObject: a scalar value may instead be a mapping of this object.
	orObject *object
	doc      string
}

type object struct {
	name     string // definition name in the schema
	doc      string
	fields   []*field
	required []string

	// names caches keys(): the compiler asks for them at every mapping
	// it reads, thousands of times in a large metascript.
	namesOnce sync.Once
	names     []string
}

// keys lists the object's keys in grammar order; callers must not modify
// the result.
func (o *object) keys() []string {
	o.namesOnce.Do(func() {
		o.names = make([]string, len(o.fields))
		for i, f := range o.fields {
			o.names[i] = f.name
		}
	})
	return o.names
}

func (o *object) field(name string) *field {
	for _, f := range o.fields {
		if f.name == name {
			return f
		}
	}
	return nil
}

// Step kinds are chosen by which of these keys a step has.
var kindKeys = []string{"tool", "reason", "approval", "set", "call"}

var (
	isolations     = []string{plan.IsolationProcess, plan.IsolationSandbox, plan.IsolationHardware}
	runtimeNames   = append(append([]string(nil), plan.Runtimes...), plan.RuntimeAuto)
	onErrorActions = []string{plan.OnErrorFail, plan.OnErrorContinue}
	reasonOutputs  = []string{"text", "json"}
	approvalDefs   = []string{"approve", "reject"}
)

var (
	modelObj = &object{name: "model", doc: "A model for reason steps.", fields: []*field{
		{name: "provider", shape: shEnum, enum: configs.Providers, doc: "echo (built-in stand-in that answers with its prompt) or openai (any OpenAI-compatible chat-completions endpoint)."},
		{name: "name", shape: shString, doc: "Model name sent to the provider."},
		{name: "endpoint", shape: shString, doc: "Base URL, e.g. https://api.openai.com/v1."},
		{name: "api_key_env", shape: shString, doc: "Environment variable that holds the API key."},
		{name: "temperature", shape: shNumber, doc: "Sampling temperature, 0 to 2."},
		{name: "max_tokens", shape: shInt, doc: "Most tokens in an answer."},
	}, required: []string{"provider"}}

	inputObj = &object{name: "input", doc: "A typed input of the run.", fields: []*field{
		{name: "type", shape: shEnum, enum: expr.TypeNames, doc: "Type of the value."},
		{name: "required", shape: shBool, doc: "The run fails to start without it."},
		{name: "default", shape: shValue, doc: "Value when the input is not given; must match type."},
		{name: "secret", shape: shBool, doc: "Never sent with the run: the workers read it from TARS_SECRET_<NAME>; a string without default."},
		{name: "description", shape: shString, doc: "What the input is for."},
	}, required: []string{"type"}}

	agentObj = &object{name: "agent", doc: "An agent defined in the metascript, or overriding fields of a configured one.", fields: []*field{
		{name: "id", shape: shString, doc: "Agent id; an id from configs/agents.yaml takes that agent's fields as defaults."},
		{name: "role", shape: shString, doc: "What the agent does."},
		{name: "department", shape: shString, doc: "Department in the agent tree."},
		{name: "team", shape: shString, doc: "Team in the agent tree (implies its department)."},
		{name: "persona", shape: shString, doc: "System prompt for the agent's reason steps."},
		{name: "model", shape: shString, orObject: modelObj, doc: "A model name from configs/agents.yaml, or a model mapping."},
		{name: "tools", shape: shStrings, doc: "Tools the agent may use: runtime:name or runtime:*."},
		{name: "runtime", shape: shStringOrList, enum: plan.Runtimes, doc: "The agent's default runtime chain."},
	}, required: []string{"id"}}

	grantsObj = &object{name: "grants", doc: "Capabilities given to tools; everything else is denied.", fields: []*field{
		{name: "shell", shape: shBool, doc: "Allow the native shell tool."},
		{name: "read_dir", shape: shString, doc: "Directory file tools may read."},
		{name: "write_dir", shape: shString, doc: "Directory native file.write may write under."},
		{name: "env", shape: shStrings, doc: "Host environment variables tools may read."},
		{name: "http_hosts", shape: shStrings, doc: "Hosts http.request may reach."},
		{name: "memory_mib", shape: shInt, doc: "Per-call sandbox memory; 0 = pool default."},
		{name: "host_funcs", shape: shStrings, doc: "Extra host functions for guests."},
	}}

	policyObj = &object{name: "policy", doc: "Bounds of a run.", fields: []*field{
		{name: "timeout", shape: shDuration, doc: "Whole-run timeout."},
		{name: "max_steps", shape: shInt, doc: "Most step executions (foreach items and loop turns count)."},
		{name: "allowed_tools", shape: shStrings, doc: "Tools the run may use: runtime:name, runtime:* or name (any runtime). Empty allows all."},
		{name: "budgets", shape: shNumberMap, doc: "Named ceilings such as tokens or usd."},
		{name: "grants", shape: shObject, obj: grantsObj},
	}}

	closureObj = &object{name: "closure", doc: "A named pure function callable from expressions.", fields: []*field{
		{name: "params", shape: shTypeMap, enum: expr.TypeNames, doc: "Parameter names and types, in call order."},
		{name: "returns", shape: shEnum, enum: expr.TypeNames, doc: "Type of the result."},
		{name: "body", shape: shExpr, doc: "A CEL expression over the parameters."},
	}, required: []string{"body"}}

	reasonObj = &object{name: "reason", doc: "A model call made as the step's agent.", fields: []*field{
		{name: "prompt", shape: shTemplate, doc: "The user message."},
		{name: "system", shape: shTemplate, doc: "System prompt; default: the agent's persona."},
		{name: "output", shape: shEnum, enum: reasonOutputs, orObject: reasonOutputObj, doc: "text (default), json (the answer is parsed as JSON), or {schema: ...} (JSON that must satisfy the schema)."},
		{name: "tools", shape: shStrings, doc: "Tools the model may call, runtime:name or name, within the agent's tools and allowed_tools."},
		{name: "max_turns", shape: shInt, doc: "Most model turns (each answer or round of tool calls is one); default 8."},
	}, required: []string{"prompt"}}

	reasonOutputObj = &object{name: "reason_output", doc: "A structured answer.", fields: []*field{
		{name: "schema", shape: shValue, doc: "JSON Schema the answer must satisfy; a failing answer is sent back to the model with the error, as often as retry.attempts allows."},
	}, required: []string{"schema"}}

	approvalObj = &object{name: "approval", doc: "A human decision, delivered by signal.", fields: []*field{
		{name: "prompt", shape: shTemplate, doc: "What to ask."},
		{name: "timeout", shape: shDuration, doc: "How long to wait before applying default."},
		{name: "default", shape: shEnum, enum: approvalDefs, doc: "Decision when the timeout passes (default reject)."},
	}, required: []string{"prompt"}}

	callObj = &object{name: "call", doc: "Another metascript, run as a child workflow.", fields: []*field{
		{name: "metascript", shape: shString, doc: "Name of the metascript (found as NAME.yaml beside this file)."},
		{name: "inputs", shape: shValueMap, doc: "Inputs of the child run."},
	}, required: []string{"metascript"}}

	whileObj = &object{name: "while", doc: "Repeat the step while cond holds, at most max turns.", fields: []*field{
		{name: "cond", shape: shExpr, doc: "Checked before each turn; steps.<this step> is the previous turn."},
		{name: "max", shape: shInt, doc: "Most turns, 1 to 10000."},
	}, required: []string{"cond", "max"}}

	retryObj = &object{name: "retry", doc: "Activity retry policy.", fields: []*field{
		{name: "attempts", shape: shInt, doc: "Most attempts, including the first."},
		{name: "backoff", shape: shDuration, doc: "First wait between attempts."},
		{name: "max_backoff", shape: shDuration, doc: "Longest wait between attempts."},
		{name: "non_retryable", shape: shStrings, doc: "Error type names that are not retried."},
	}}

	onErrorObj = &object{name: "on_error_step", doc: "Run another step when this one fails.", fields: []*field{
		{name: "step", shape: shString, doc: "Id of the handler step."},
	}, required: []string{"step"}}

	checkObj = &object{name: "check", doc: "An assertion over the step's output.", fields: []*field{
		{name: "expr", shape: shExpr, doc: "A bool expression; output is the step's output."},
		{name: "message", shape: shString, doc: "Message when the check fails."},
	}, required: []string{"expr"}}

	stepObj = &object{name: "step", doc: "One node of the DAG: exactly one of tool, reason, approval, set or call.", fields: []*field{
		{name: "id", shape: shString, doc: "Step id: letters, digits and underscores; expressions read steps.<id>."},
		{name: "agent", shape: shString, doc: "Agent that takes the step (listed in agents)."},
		{name: "needs", shape: shStringOrList, doc: "Steps that must finish first; the only steps whose results this step may read."},
		{name: "runtime", shape: shStringOrList, enum: runtimeNames, doc: "A runtime, a fallback chain most preferred first, or auto."},
		{name: "isolation", shape: shEnum, enum: isolations, doc: "The weakest isolation the step accepts."},
		{name: "tool", shape: shString, doc: "A tool: runtime:name, or name with runtime."},
		{name: "reason", shape: shObject, obj: reasonObj},
		{name: "approval", shape: shObject, obj: approvalObj},
		{name: "set", shape: shValue, doc: "A value computed in the workflow; its strings may hold ${...}."},
		{name: "call", shape: shObject, obj: callObj},
		{name: "with", shape: shValue, doc: "Arguments of the tool; strings may hold ${...}."},
		{name: "foreach", shape: shExpr, doc: "Run the step once per item of this list."},
		{name: "concurrency", shape: shInt, doc: "Most foreach items at once."},
		{name: "when", shape: shExpr, doc: "Skip the step unless this bool holds."},
		{name: "while", shape: shObject, obj: whileObj},
		{name: "retry", shape: shObject, obj: retryObj},
		{name: "timeout", shape: shDuration, doc: "Timeout of one attempt."},
		{name: "schedule_to_start", shape: shDuration, doc: "How long to wait for each runtime of the chain before falling back."},
		{name: "on_error", shape: shEnum, enum: onErrorActions, orObject: onErrorObj, doc: "fail (default), continue, or {step: id}."},
		{name: "checks", shape: shListOf, obj: checkObj},
	}, required: []string{"id"}}

	metascriptObj = &object{name: "metascript", doc: "A TARS metascript.", fields: []*field{
		{name: "metascript", shape: shString, doc: "Name of the metascript; also the Temporal workflow type."},
		{name: "description", shape: shString},
		{name: "version", shape: shString},
		{name: "inputs", shape: shMapOf, obj: inputObj},
		{name: "outputs", shape: shValueMap, doc: "Named results built when the run ends."},
		{name: "agents", shape: shListOf, obj: agentObj, orString: true, doc: "Agent ids from configs, or inline definitions."},
		{name: "policy", shape: shObject, obj: policyObj},
		{name: "closures", shape: shMapOf, obj: closureObj},
		{name: "steps", shape: shListOf, obj: stepObj},
	}, required: []string{"metascript", "steps"}}
)

// objects lists every object of the grammar, for the schema.
var objects = []*object{metascriptObj, inputObj, agentObj, modelObj, policyObj, grantsObj, closureObj, stepObj, reasonObj, reasonOutputObj, approvalObj, callObj, whileObj, retryObj, onErrorObj, checkObj}
