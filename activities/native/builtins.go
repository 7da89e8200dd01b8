package native

import "github.com/tars-engine/tars/activities"

// builtin is a tool compiled into every native runner. bind gives the tool
// the runner's configuration and shared HTTP transport.
type builtin struct {
	name        string
	description string
	bind        func(r *Runner) ToolFunc
}

// builtins in name order; docs/native-tools.md documents each.
var builtins = []builtin{
	{"echo", "return the args (or args.value) unchanged", func(*Runner) ToolFunc { return runEcho }},
	{"fail", "fail the first N attempts, for testing retries and on_error", func(*Runner) ToolFunc { return runFail }},
	{"file.read", "read a text file under policy.grants.read_dir", func(r *Runner) ToolFunc { return r.runFileRead }},
	{"file.write", "write or append a text file under policy.grants.write_dir", func(r *Runner) ToolFunc { return r.runFileWrite }},
	{"http.request", "make an HTTP request to a host in policy.grants.http_hosts", func(r *Runner) ToolFunc { return r.runHTTPRequest }},
	{"json-field", "the value at a dotted path of a JSON document (twin of the hyperlight and wasm guest)", func(*Runner) ToolFunc { return runJSONField }},
	{"json.query", "pick one value out of JSON by a path such as items[0].name", func(*Runner) ToolFunc { return runJSONQuery }},
	{"json.transform", "pick, drop, rename and flatten the keys of an object or a list of objects", func(*Runner) ToolFunc { return runJSONTransform }},
	{"matmul", "multiply two float32 matrices on the CPU (twin of the cuda pool's matmul)", func(*Runner) ToolFunc { return runMatMul }},
	{"model.chat", "ask a chat model (OpenAI-compatible endpoint, or the echo stand-in); what reason steps run", func(r *Runner) ToolFunc { return r.runModelChat }},
	{"policy-check", "decide a request against allow/deny rules (twin of the hyperlight and wasm guest)", func(*Runner) ToolFunc { return runPolicyCheck }},
	{"sha256", "the SHA-256 of a string or JSON value (twin of the hyperlight and wasm guest)", func(*Runner) ToolFunc { return runSHA256 }},
	{"shell", "run a program from an argument vector, when policy.grants.shell is true", func(r *Runner) ToolFunc { return r.runShell }},
	{"sleep", "wait for a duration, or until the step is cancelled", func(*Runner) ToolFunc { return runSleep }},
	{"text.template", "render a Go text/template with JSON data", func(r *Runner) ToolFunc { return r.runTextTemplate }},
	{"vector.topk", "the k vectors most cosine-similar to a query (CPU twin of the cuda pool's)", func(*Runner) ToolFunc { return runVectorTopK }},
}

// BuiltinNames returns the names of the tools every native runner has,
// sorted. The compiler's tool catalogue uses it without starting a runner.
func BuiltinNames() []string {
	names := make([]string, len(builtins))
	for i, b := range builtins {
		names[i] = b.name
	}
	return names
}

// output encodes v as a Result. HTML characters are kept as they are: the
// output is data for later steps, not a web page.
func output(tool string, v any) (activities.Result, error) {
	b, err := marshal(v)
	if err != nil {
		return activities.Result{}, activities.NonRetryable(activities.ErrToolFailed, err, "%s: cannot encode output as JSON", tool)
	}
	return activities.Result{Output: b}, nil
}
