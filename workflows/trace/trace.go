package trace

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/tars-engine/tars/plan"
)

// Run statuses, from the history's closing event.
const (
	RunRunning        = "running"
	RunCompleted      = "completed"
	RunFailed         = "failed"
	RunTimedOut       = "timed_out"
	RunCanceled       = "canceled"
	RunTerminated     = "terminated"
	RunContinuedAsNew = "continued_as_new"
)

// Activity statuses.
const (
	ActScheduled = "scheduled" // waiting in its task queue
	ActStarted   = "started"   // a worker holds it (seen only in live data)
	ActCompleted = "completed"
	ActFailed    = "failed"
	ActTimedOut  = "timed_out"
	ActCanceled  = "canceled"
)

// Trace is one run as its history tells it: metascript → department → team
// → agent → step → activity (one per runtime tried, foreach item or loop
// turn), with its attempts.
type Trace struct {
	Metascript  string `json:"metascript"`
	Description string `json:"description,omitempty"`
	PlanSHA256  string `json:"plan_sha256,omitempty"`
	WorkflowID  string `json:"workflow_id,omitempty"`
	RunID       string `json:"run_id,omitempty"`
	TaskQueue   string `json:"task_queue,omitempty"`
	// Parent is set for a child run (a `call` step of another run).
	Parent *Execution `json:"parent,omitempty"`

	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// Ending says how a run that was terminated, timed out or cancelled
	// ended, and why (Error holds its Cause too).
	Ending *Ending   `json:"ending,omitempty"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end,omitzero"` // zero while the run is open
	// Duration is End-Start, or up to the last event while the run is open.
	Duration  Duration `json:"duration_ms"`
	Events    int      `json:"events"`
	LastEvent int64    `json:"last_event_id"`

	// ContinuedFrom is the run id this run continues as new from.
	ContinuedFrom string `json:"continued_from,omitempty"`
	// ContinuedAs is the run id this run continued as new into.
	ContinuedAs string `json:"continued_as,omitempty"`

	Inputs      map[string]any `json:"inputs,omitempty"`
	Departments []*Department  `json:"departments"`
	// Steps are in the Plan's order (topological, then declaration).
	Steps     []*Step             `json:"steps"`
	Hops      []Hop               `json:"hops,omitempty"`
	Approvals []*ApprovalDecision `json:"approvals,omitempty"` // every tars.approve signal, in order
	// Probes are the control activities that asked which pools are live.
	Probes   []*Activity `json:"probes,omitempty"`
	Children []*Child    `json:"children,omitempty"`
	Totals   Totals      `json:"totals"`

	// Plan is the Plan from the first event.
	Plan *plan.Plan `json:"-"`
	// Live is true when ApplyState merged a live query into the trace.
	Live bool `json:"live,omitempty"`

	steps map[string]*Step
}

// Execution names a workflow execution.
type Execution struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id,omitempty"`
}

// Department groups the teams of one department that took part in the run.
type Department struct {
	Name  string  `json:"name"` // "" for agents without one
	Teams []*Team `json:"teams"`
	Total Total   `json:"total"`
}

// Team groups agents of one team.
type Team struct {
	Name   string   `json:"name"`
	Agents []*Agent `json:"agents"`
	Total  Total    `json:"total"`
}

// Agent is an agent of the Plan and the steps it owns.
type Agent struct {
	ID         string   `json:"id"` // "" for steps without an agent
	Role       string   `json:"role,omitempty"`
	Department string   `json:"department,omitempty"`
	Team       string   `json:"team,omitempty"`
	Steps      []string `json:"steps"`
	Total      Total    `json:"total"`
}

// Step is one step of the Plan and what the history says it did.
type Step struct {
	ID         string   `json:"id"`
	Kind       string   `json:"kind"`
	Agent      string   `json:"agent,omitempty"`
	Department string   `json:"department,omitempty"`
	Team       string   `json:"team,omitempty"`
	Tool       string   `json:"tool,omitempty"`
	Needs      []string `json:"needs,omitempty"`
	// OnError is the step's on_error from the Plan when it is not the
	// default (fail): continue, or the handler step that runs instead.
	OnError *plan.OnError `json:"on_error,omitempty"`
	// Chain is the runtime fallback chain, most preferred first.
	Chain []string `json:"chain,omitempty"`
	// Depth is the step's topological depth: 0 without needs.
	Depth int `json:"depth"`
	// Runtime is the runtime of the step's last activity.
	Runtime string `json:"runtime,omitempty"`
	// Status is a workflows.Status* value. It is exact when the run
	// completed (from its result) or was queried live; otherwise it is
	// derived from the events (see Build). A step in flight when the run
	// was terminated, timed out or cancelled takes the run's status
	// (RunTerminated, RunTimedOut, RunCanceled).
	Status    string    `json:"status"`
	Start     time.Time `json:"start,omitzero"`
	End       time.Time `json:"end,omitzero"`
	Duration  Duration  `json:"duration_ms"`
	Items     int       `json:"items,omitempty"`
	ItemsDone int       `json:"items_done,omitempty"`
	// Shards and ShardsDone count the shard runs of a foreach run in
	// shards (each listed in Trace.Children with Shard set).
	Shards     int    `json:"shards,omitempty"`
	ShardsDone int    `json:"shards_done,omitempty"`
	Turns      int    `json:"turns,omitempty"`
	Error      string `json:"error,omitempty"`
	Prompt     string `json:"prompt,omitempty"` // approval prompt while waiting (live)
	// Resumed: the step finished in an earlier run of a continue-as-new chain.
	Resumed bool `json:"resumed,omitempty"`
	// Attempts counts attempts over all activities; Failures the failed ones.
	Attempts int `json:"attempts"`
	Failures int `json:"failures"`

	Activities []*Activity       `json:"activities,omitempty"`
	Hops       []Hop             `json:"hops,omitempty"`
	Approval   *ApprovalDecision `json:"approval,omitempty"`
	Child      *Child            `json:"child,omitempty"`
	// EventID is the step's first event (for links), 0 when it has none.
	EventID int64 `json:"event_id,omitempty"`
}

// Activity is one scheduled activity of a step: one runtime tried for one
// foreach item or loop turn. Temporal keeps only the last attempt's Started
// event, so Started, Identity and LastFailure describe the last attempt.
type Activity struct {
	ActivityID string `json:"activity_id"`
	Step       string `json:"step,omitempty"`
	// Scope is "item" for a foreach item, "turn" for a loop turn; Index is
	// the item index or turn number.
	Scope     string `json:"scope,omitempty"`
	Index     int    `json:"index,omitempty"`
	Tool      string `json:"tool"` // the activity type
	Runtime   string `json:"runtime,omitempty"`
	TaskQueue string `json:"task_queue"`
	Summary   string `json:"summary,omitempty"`
	Status    string `json:"status"`
	// Timeout names the timeout that closed it, e.g. "schedule_to_start".
	Timeout string `json:"timeout,omitempty"`

	Scheduled time.Time `json:"scheduled"`
	Started   time.Time `json:"started,omitzero"`
	Closed    time.Time `json:"closed,omitzero"`
	// Queued is Started-Scheduled of the last attempt (including the
	// backoff of earlier attempts); Ran is Closed-Started.
	Queued Duration `json:"queued_ms"`
	Ran    Duration `json:"ran_ms"`

	ScheduledEventID int64 `json:"scheduled_event_id"`
	StartedEventID   int64 `json:"started_event_id,omitempty"`
	ClosedEventID    int64 `json:"closed_event_id,omitempty"`

	// Attempt is the number of the last attempt that started (0: none did).
	Attempt     int32  `json:"attempt"`
	MaxAttempts int32  `json:"max_attempts,omitempty"` // 0 = unlimited
	Identity    string `json:"identity,omitempty"`     // worker of the last attempt
	Failure     string `json:"failure,omitempty"`      // why it closed, when it failed
	RetryState  string `json:"retry_state,omitempty"`
	// LastFailure is the failure of the attempt before the last one.
	LastFailure string `json:"last_failure,omitempty"`

	InputBytes  int `json:"input_bytes"`
	OutputBytes int `json:"output_bytes,omitempty"`
	// InputStored and OutputStored say that the value is stored outside
	// the history (external storage: docs/large-values.md); its size is
	// the stored value's, and `tars result RUN --step STEP` fetches it.
	InputStored  bool `json:"input_stored,omitempty"`
	OutputStored bool `json:"output_stored,omitempty"`
	// OutputPreview is the start of the output (workflows.PreviewBytes of
	// its JSON), for a stored value too when the store kept a preview;
	// "" when the output is encrypted or there is none.
	OutputPreview string `json:"output_preview,omitempty"`
	// Metrics are the pool figures from Result.Metrics.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Agent is set on the activities of a reason step's agent loop: what
	// the agent decided in this model turn, or the tool call it made.
	Agent *AgentDecision `json:"agent,omitempty"`
}

// AgentDecision is one activity of an agent loop (workflows/agent.go): a
// model turn, with the tools the model asked for or its answer, or one of
// those tool calls, with the args the model gave and what came back.
// Texts are cut short; the history holds them whole.
type AgentDecision struct {
	Agent  string   `json:"agent"`
	Turn   int      `json:"turn"`
	Kind   string   `json:"kind"`            // "model" or "tool"
	Asked  []string `json:"asked,omitempty"` // model turn: the tools it called
	Answer string   `json:"answer,omitempty"`
	Args   string   `json:"args,omitempty"`   // tool call
	Result string   `json:"result,omitempty"` // tool call
	Tokens int      `json:"tokens,omitempty"` // model turn
	// CostUSD is the model turn's cost at the price in the Plan (0 when
	// the model has none).
	CostUSD float64 `json:"cost_usd,omitempty"`

	price *plan.Price
}

// Failed reports whether the activity closed without a result.
func (a *Activity) Failed() bool {
	return a.Status == ActFailed || a.Status == ActTimedOut || a.Status == ActCanceled
}

// failedAttempts is how many of its attempts failed.
func (a *Activity) failedAttempts() int {
	n := int(a.Attempt)
	if a.Status == ActCompleted || a.Status == ActScheduled || a.Status == ActStarted {
		n--
	}
	if n < 0 {
		n = 0
	}
	if a.Failed() && a.Attempt == 0 {
		n = 1 // closed by a timeout before any attempt started
	}
	return n
}

// Hop is a move from one runtime to the next in a step's chain.
type Hop struct {
	Step   string `json:"step"`
	From   string `json:"from"`
	To     string `json:"to,omitempty"` // "" when the chain was exhausted
	Reason string `json:"reason"`
	// EventID is the marker event, or the timeout event for a hop inferred
	// from a schedule-to-start timeout (histories without hop markers).
	EventID  int64     `json:"event_id"`
	Time     time.Time `json:"time"`
	Inferred bool      `json:"inferred,omitempty"`
}

// ApprovalDecision is a decision delivered by signal, or the default applied when
// an approval's timer fired.
type ApprovalDecision struct {
	Step     string    `json:"step"`
	Approved bool      `json:"approved"`
	By       string    `json:"by,omitempty"`
	Comment  string    `json:"comment,omitempty"`
	TimedOut bool      `json:"timed_out,omitempty"`
	Time     time.Time `json:"time"`
	EventID  int64     `json:"event_id"`
	// Ignored: a later signal for a step that already had a decision.
	Ignored bool `json:"ignored,omitempty"`
	// TimerEventID is the approval's timeout timer, when it had one.
	TimerEventID int64    `json:"timer_event_id,omitempty"`
	Timeout      Duration `json:"timeout_ms,omitempty"`
}

// Child is a child run started by a `call` step, or a shard of a foreach
// (workflows.ShardWorkflow).
type Child struct {
	Step         string    `json:"step"`
	WorkflowID   string    `json:"workflow_id"`
	RunID        string    `json:"run_id,omitempty"`
	WorkflowType string    `json:"workflow_type"`
	TaskQueue    string    `json:"task_queue,omitempty"`
	Status       string    `json:"status"` // initiated, running, or a Run* status
	Error        string    `json:"error,omitempty"`
	Initiated    time.Time `json:"initiated"`
	Started      time.Time `json:"started,omitzero"`
	Closed       time.Time `json:"closed,omitzero"`
	EventID      int64     `json:"event_id"`
	InputBytes   int       `json:"input_bytes"`
	OutputBytes  int       `json:"output_bytes,omitempty"`
	// Shard is the number (from 1) of a foreach shard, First its first
	// item and Items how many it has; 0 for a `call` step's child.
	Shard int `json:"shard,omitempty"`
	First int `json:"first,omitempty"`
	Items int `json:"items,omitempty"`
	// ItemsDone is how many items a closed shard finished.
	ItemsDone int `json:"items_done,omitempty"`
	// Trace is the child's own trace, when the caller fetched its history.
	Trace *Trace `json:"trace,omitempty"`
}

// Totals sum activities per agent and per runtime, and for the whole run.
type Totals struct {
	Run      Total             `json:"run"`
	Agents   map[string]*Total `json:"agents"`
	Runtimes map[string]*Total `json:"runtimes"`
}

// Total is a sum over activities. Busy counts the last attempt of each
// activity (the only one whose timings Temporal keeps).
type Total struct {
	Steps      int      `json:"steps"`
	Activities int      `json:"activities"`
	Attempts   int      `json:"attempts"`
	Failures   int      `json:"failures"`
	Hops       int      `json:"hops,omitempty"`
	Busy       Duration `json:"busy_ms"`
	Queued     Duration `json:"queued_ms"`
}

// Step returns the step with the given id, or nil.
func (t *Trace) Step(id string) *Step {
	if t.steps == nil {
		t.steps = make(map[string]*Step, len(t.Steps))
		for _, s := range t.Steps {
			t.steps[s.ID] = s
		}
	}
	return t.steps[id]
}

// Duration is a time.Duration that JSON writes as milliseconds (a number),
// which is what the trace page and most tools want.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes milliseconds with microsecond precision.
func (d Duration) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(d)/1e6, 'f', -1, 64), nil
}

// UnmarshalJSON reads milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return err
	}
	*d = Duration(ms * 1e6)
	return nil
}

func between(a, b time.Time) Duration {
	if a.IsZero() || b.IsZero() || b.Before(a) {
		return 0
	}
	return Duration(b.Sub(a))
}
