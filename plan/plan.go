package plan

import (
	"encoding/json"
	"time"
)

// SchemaVersion is the version of the Plan's JSON shape. It changes only when
// a released interpreter could not read a new Plan.
const SchemaVersion = 1

// Plan is a compiled metascript.
type Plan struct {
	Schema      int    `json:"schema"`
	Name        string `json:"name"` // also the Temporal workflow type
	Description string `json:"description,omitempty"`
	Version     string `json:"version,omitempty"`
	Source      string `json:"source,omitempty"` // path the metascript was compiled from
	SHA256      string `json:"sha256"`           // of the source bytes

	Inputs   []Input   `json:"inputs,omitempty"`
	Outputs  []Output  `json:"outputs,omitempty"`
	Agents   []Agent   `json:"agents,omitempty"`
	Policy   Policy    `json:"policy"`
	Closures []Closure `json:"closures,omitempty"`
	// Steps in a deterministic topological order: a step comes after every
	// step it needs; ties are broken by declaration order.
	Steps []Step `json:"steps"`
	// Children are the plans of metascripts that `call` steps start as child
	// runs, keyed by metascript name, compiled in so a run is self-contained.
	Children map[string]*Plan `json:"children,omitempty"`
}

// Input is a declared, typed input of a metascript.
type Input struct {
	Name     string          `json:"name"`
	Type     string          `json:"type"` // string|int|float|bool|list|map|any
	Required bool            `json:"required,omitempty"`
	Default  json.RawMessage `json:"default,omitempty"`
	// Secret: the value is never sent with the run. Expressions see
	// activities.SecretRef(Name); the pool that runs a step replaces it
	// with the worker's environment variable activities.SecretEnv(Name)
	// and masks the value in what the tool returns.
	Secret      bool   `json:"secret,omitempty"`
	Description string `json:"description,omitempty"`
}

// Output is a named value built from an expression when the run ends.
type Output struct {
	Name string `json:"name"`
	// Value is a template: any JSON value whose strings may hold ${...}.
	Value json.RawMessage `json:"value"`
}

// Agent is an agent resolved against the agent tree.
type Agent struct {
	ID         string   `json:"id"`
	Role       string   `json:"role,omitempty"`
	Department string   `json:"department,omitempty"`
	Team       string   `json:"team,omitempty"`
	Swarms     []string `json:"swarms,omitempty"`
	Persona    string   `json:"persona,omitempty"` // system prompt for reason steps
	Model      *Model   `json:"model,omitempty"`
	Tools      []string `json:"tools,omitempty"`    // allowed tools, "runtime:name"; empty = any the policy allows
	Runtimes   []string `json:"runtimes,omitempty"` // default runtime chain
}

// Model says which model a reason step calls and how.
type Model struct {
	Provider    string   `json:"provider"`           // "openai" (any OpenAI-compatible chat endpoint) or "echo"
	Name        string   `json:"name,omitempty"`     // model name sent to the provider
	Endpoint    string   `json:"endpoint,omitempty"` // base URL, e.g. http://127.0.0.1:8080/v1
	APIKeyEnv   string   `json:"api_key_env,omitempty"`
	Temperature *float64 `json:"temperature,omitempty"` // nil = the provider's default
	MaxTokens   int      `json:"max_tokens,omitempty"`
	// Price is what the model costs, from configs/agents.yaml's prices;
	// nil when none is known. A usd budget needs it.
	Price *Price `json:"price,omitempty"`
}

// Price is a model's price in US dollars per million tokens.
type Price struct {
	Input  float64 `json:"input"`  // per million prompt tokens
	Output float64 `json:"output"` // per million completion tokens
}

// Reason is what a reason step asks of its agent beyond one answer: the
// tools the model may call, for at most MaxTurns model turns, and the JSON
// Schema its answer must satisfy.
type Reason struct {
	Tools    []AgentTool     `json:"tools,omitempty"`
	MaxTurns int             `json:"max_turns,omitempty"`
	Schema   json.RawMessage `json:"schema,omitempty"`
}

// AgentTool is a tool a reason step's model may call.
type AgentTool struct {
	Name        string            `json:"name"` // the function name the model sees
	Tool        string            `json:"tool"` // tool name without runtime prefix
	Runtimes    []string          `json:"runtimes"`
	Digests     map[string]string `json:"digests,omitempty"`
	Description string            `json:"description,omitempty"`
	Parameters  json.RawMessage   `json:"parameters"` // JSON Schema of the tool's args
}

// Policy bounds a run.
type Policy struct {
	Timeout      Duration `json:"timeout,omitempty"`   // whole run; 0 = none
	MaxSteps     int      `json:"max_steps,omitempty"` // step executions (foreach items and loop turns count); 0 = none
	AllowedTools []string `json:"allowed_tools,omitempty"`
	// Budgets are named ceilings (e.g. "tokens": 100000, "usd": 2) that
	// activities report against; the interpreter fails the run past one.
	Budgets map[string]float64 `json:"budgets,omitempty"`
	Grants  Grants             `json:"grants,omitempty"`
}

// Grants are the capabilities a policy gives sandboxed and native tools.
// Everything is denied unless granted here.
type Grants struct {
	Shell     bool     `json:"shell,omitempty"`      // native shell tool
	ReadDir   string   `json:"read_dir,omitempty"`   // read-only directory for wasm/native file tools
	WriteDir  string   `json:"write_dir,omitempty"`  // directory native file.write may write under
	Env       []string `json:"env,omitempty"`        // host environment variable names a tool may read
	HTTPHosts []string `json:"http_hosts,omitempty"` // hosts the http tool / wasm http_fetch may reach
	MemoryMiB int      `json:"memory_mib,omitempty"` // per-call sandbox memory (wasm, hyperlight); 0 = pool default
	HostFuncs []string `json:"host_funcs,omitempty"` // extra host functions for guests
}

// Closure is a named pure function declared once and called from expressions,
// e.g. severity(n int) = n > 5 ? "high" : "low".
type Closure struct {
	Name    string  `json:"name"`
	Params  []Param `json:"params"`
	Returns string  `json:"returns,omitempty"`
	Body    string  `json:"body"` // a CEL expression over the params
}

// Param is a closure parameter.
type Param struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Step kinds.
const (
	KindTool     = "tool"
	KindReason   = "reason"
	KindApproval = "approval"
	KindSet      = "set"
	KindCall     = "call"
)

// Step is one node of the DAG.
type Step struct {
	ID    string   `json:"id"`
	Kind  string   `json:"kind"`
	Agent string   `json:"agent,omitempty"`
	Needs []string `json:"needs,omitempty"`
	Pos   string   `json:"pos,omitempty"` // file:line:col of the step, for run-time messages

	// Runtimes is the resolved fallback chain, most preferred first, already
	// filtered by MinIsolation and by which runtimes offer Tool. For "auto"
	// it lists every runtime that offers the tool, in preference order.
	Runtimes     []string `json:"runtimes,omitempty"`
	Auto         bool     `json:"auto,omitempty"`          // chain came from `runtime: auto`
	MinIsolation string   `json:"min_isolation,omitempty"` // process|sandbox|hardware

	// Tool steps (reason steps compile to the native tool "model.chat").
	Tool string `json:"tool,omitempty"` // tool name without runtime prefix
	// Digests holds, per runtime, the sha256 of the artifact that runtime
	// runs for Tool (a wasm module, a hyperlight guest), so that a changed
	// artifact is detected instead of silently altering a replay.
	Digests map[string]string `json:"digests,omitempty"`
	With    json.RawMessage   `json:"with,omitempty"` // template

	Approval *Approval       `json:"approval,omitempty"`
	Set      json.RawMessage `json:"set,omitempty"` // template
	Call     *Call           `json:"call,omitempty"`
	// Reason is set on reason steps that give their agent tools, a turn
	// limit or an output schema; With then holds model.chat's args.
	Reason *Reason `json:"reason,omitempty"`

	Foreach     string `json:"foreach,omitempty"` // expression yielding a list
	Concurrency int    `json:"concurrency,omitempty"`
	When        string `json:"when,omitempty"` // expression yielding bool
	While       *Loop  `json:"while,omitempty"`

	Retry           *Retry   `json:"retry,omitempty"`
	Timeout         Duration `json:"timeout,omitempty"`           // one attempt (start-to-close)
	ScheduleToStart Duration `json:"schedule_to_start,omitempty"` // per runtime hop; 0 = interpreter default
	OnError         OnError  `json:"on_error"`
	Checks          []Check  `json:"checks,omitempty"`
}

// Approval is a human decision delivered by signal.
type Approval struct {
	Prompt  string   `json:"prompt"` // template
	Timeout Duration `json:"timeout,omitempty"`
	Default string   `json:"default,omitempty"` // "approve" or "reject" when the timeout passes
}

// Call starts another metascript (Plan.Children[Metascript]) as a child run.
type Call struct {
	Metascript string          `json:"metascript"`
	Inputs     json.RawMessage `json:"inputs,omitempty"` // template
}

// Loop repeats a step while Cond holds, at most Max times.
type Loop struct {
	Cond string `json:"cond"` // evaluated before each turn; sees steps.<id> as the previous turn's output
	Max  int    `json:"max"`
}

// Retry maps to a Temporal activity retry policy.
type Retry struct {
	Attempts     int      `json:"attempts,omitempty"`
	Backoff      Duration `json:"backoff,omitempty"`
	MaxBackoff   Duration `json:"max_backoff,omitempty"`
	NonRetryable []string `json:"non_retryable,omitempty"` // application error type names
}

// On-error actions.
const (
	OnErrorFail     = "fail"
	OnErrorContinue = "continue"
	OnErrorStep     = "step" // run Step instead, then continue
)

// OnError says what a failed step does to the run.
type OnError struct {
	Action string `json:"action,omitempty"` // fail (default) | continue | step
	Step   string `json:"step,omitempty"`
}

// Check is an assertion over a step's output; `output` names it.
type Check struct {
	Expr    string `json:"expr"`
	Message string `json:"message,omitempty"`
}

// Runtime names.
const (
	RuntimeNative     = "native"
	RuntimeWASM       = "wasm"
	RuntimeHyperlight = "hyperlight"
	RuntimeCUDA       = "cuda"
	RuntimeAuto       = "auto"
)

// Runtimes lists the runtimes in default preference order.
var Runtimes = []string{RuntimeNative, RuntimeWASM, RuntimeHyperlight, RuntimeCUDA}

// Isolation levels, weakest first.
const (
	IsolationProcess  = "process"
	IsolationSandbox  = "sandbox"
	IsolationHardware = "hardware"
)

// Isolation returns the isolation a runtime gives.
func Isolation(runtime string) string {
	switch runtime {
	case RuntimeWASM:
		return IsolationSandbox
	case RuntimeHyperlight:
		return IsolationHardware
	default: // native, cuda: a process on the host
		return IsolationProcess
	}
}

// IsolationRank orders isolation levels; unknown levels rank -1.
func IsolationRank(level string) int {
	switch level {
	case IsolationProcess, "":
		return 0
	case IsolationSandbox:
		return 1
	case IsolationHardware:
		return 2
	}
	return -1
}

// Duration is a time.Duration that reads and writes as "1m30s" in JSON.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return err
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Step returns the step with the given id, or nil.
func (p *Plan) Step(id string) *Step {
	for i := range p.Steps {
		if p.Steps[i].ID == id {
			return &p.Steps[i]
		}
	}
	return nil
}

// Agent returns the agent with the given id, or nil.
func (p *Plan) Agent(id string) *Agent {
	for i := range p.Agents {
		if p.Agents[i].ID == id {
			return &p.Agents[i]
		}
	}
	return nil
}
