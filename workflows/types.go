package workflows

import (
	"encoding/json"
	"time"

	"github.com/tars-engine/tars/plan"
)

// Names shared by the interpreter, the workers and the CLI.
const (
	// QueryState returns the run's State.
	QueryState = "tars.state"
	// UpdateApprove is the Update that delivers a Decision to an approval
	// step. Its validator rejects, with the reason, a decision for an
	// unknown step, a step that is not an approval, or one already decided
	// or timed out; the accepted Update returns a DecisionResult.
	//
	//	temporal workflow update execute --workflow-id RUN_ID --name tars.approve \
	//	  --input '{"step":"approve","approved":true,"by":"ana","comment":"go"}'
	UpdateApprove = "tars.approve"
	// SignalApprove delivers a Decision as a signal. It is kept so that
	// runs and clients from before UpdateApprove keep working; a signal
	// cannot be refused, so a bad one is only logged. Prefer the Update.
	SignalApprove = "tars.approve"
	// DefaultQueuePrefix is the task queue prefix: tars.<runtime>.
	DefaultQueuePrefix = "tars"
	// DefaultScheduleToStart is how long a step waits for a pool of its
	// chosen runtime to pick it up before it falls back along its chain.
	DefaultScheduleToStart = time.Minute
	// DefaultStepTimeout bounds one attempt of a step that sets no timeout.
	DefaultStepTimeout = 10 * time.Minute
	// DefaultConcurrency is a foreach step's limit when it sets none.
	DefaultConcurrency = 10
	// DefaultHistoryLimit is the history length past which a run continues
	// as new at its next quiet point (no step in flight).
	DefaultHistoryLimit = 20_000
)

// WorkflowQueue is the task queue the interpreter workflows poll.
func WorkflowQueue(prefix string) string { return orDefault(prefix) + ".workflows" }

// RuntimeQueue is the task queue of a runtime's pool.
func RuntimeQueue(prefix, runtime string) string { return orDefault(prefix) + "." + runtime }

func orDefault(prefix string) string {
	if prefix == "" {
		return DefaultQueuePrefix
	}
	return prefix
}

// RunInput is what the interpreter runs: a Plan, the run's inputs and
// options. Runs started since the catalogue carry only a name, inputs and
// a StartSpec (catalogue.go), and the Engine finds the Plan; histories
// recorded before carry a RunInput with the whole Plan in their input.
type RunInput struct {
	Plan    *plan.Plan     `json:"plan"`
	Inputs  map[string]any `json:"inputs,omitempty"`
	Options Options        `json:"options,omitempty"`
	// Resume carries state across continue-as-new.
	Resume *Snapshot `json:"resume,omitempty"`
	// Digest is the Plan's digest for a run started by name or as an
	// ad-hoc StartSpec ("" for a recorded RunInput): it continues as new
	// and starts children by digest, not with the Plan.
	Digest string `json:"digest,omitempty"`
	// Child: the Plan is the child of that name of the Plan Digest.
	Child string          `json:"child,omitempty"`
	adhoc json.RawMessage // an ad-hoc Plan's canonical JSON, carried on
}

// Options tune one run; they travel with it so a replay sees the same ones.
type Options struct {
	QueuePrefix string `json:"queue_prefix,omitempty"`
	// HistoryLimit: continue as new past this many history events, at the
	// next point where no step is in flight. 0 = DefaultHistoryLimit.
	HistoryLimit int `json:"history_limit,omitempty"`
	// ScheduleToStart overrides DefaultScheduleToStart for steps that set none.
	ScheduleToStart plan.Duration `json:"schedule_to_start,omitempty"`
	// ShardThreshold and ShardSize override DefaultShardThreshold and
	// DefaultShardSize: a foreach over more items than the threshold runs
	// in shards of at most ShardSize items (workflows/shard.go). 0 = default.
	ShardThreshold int `json:"shard_threshold,omitempty"`
	ShardSize      int `json:"shard_size,omitempty"`
}

// Decision is a person's answer to an approval step: the payload of
// UpdateApprove (and SignalApprove).
type Decision struct {
	Step     string `json:"step"`
	Approved bool   `json:"approved"`
	By       string `json:"by,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// DecisionResult is what an accepted UpdateApprove returns.
type DecisionResult struct {
	Step     string `json:"step"`
	Approved bool   `json:"approved"`
	// Waiting says whether the step was already waiting for the decision
	// (false: it was decided before the run reached it).
	Waiting bool `json:"waiting"`
}

// RunResult is the workflow result.
type RunResult struct {
	Outputs map[string]any `json:"outputs"`
	Steps   []StepView     `json:"steps"`
}

// Step statuses.
const (
	StatusPending = "pending"
	StatusRunning = "running"
	StatusWaiting = "waiting" // approval steps waiting for a decision
	StatusOK      = "ok"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
	StatusPaused  = "paused" // a loop paused for continue-as-new
	StatusHandled = "handled"
	// StatusCanceled: the run was cancelled while the step was running or
	// waiting, so it never finished.
	StatusCanceled = "canceled"
)

// StepView is one step's state as the query and the result show it.
type StepView struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Agent     string    `json:"agent,omitempty"`
	Status    string    `json:"status"`
	Runtime   string    `json:"runtime,omitempty"`
	Items     int       `json:"items,omitempty"`
	ItemsDone int       `json:"items_done,omitempty"`
	Turns     int       `json:"turns,omitempty"`
	Started   time.Time `json:"started,omitempty"`
	Ended     time.Time `json:"ended,omitempty"`
	Error     string    `json:"error,omitempty"`
	Prompt    string    `json:"prompt,omitempty"` // approval prompt while waiting
	Hops      []Hop     `json:"hops,omitempty"`
	Output    any       `json:"output,omitempty"`
	// Calls are a reason step's model turns and the tool calls its agent
	// made, in order, with usage and cost (workflows/agent.go).
	Calls []AgentCall `json:"calls,omitempty"`
	// Shards and ShardsDone count the child workflows of a foreach run in
	// shards (workflows/shard.go); 0 for a foreach run in the step itself.
	Shards     int `json:"shards,omitempty"`
	ShardsDone int `json:"shards_done,omitempty"`
}

// Hop is a move from one runtime to the next in a step's chain.
type Hop struct {
	Step   string `json:"step"`
	From   string `json:"from"`
	To     string `json:"to,omitempty"` // "" when the chain was exhausted
	Reason string `json:"reason"`
}

// State is what QueryState returns.
type State struct {
	Metascript string             `json:"metascript"`
	Steps      []StepView         `json:"steps"`
	Executed   int                `json:"executed"`
	Budgets    map[string]float64 `json:"budgets,omitempty"`
	Live       map[string]bool    `json:"live,omitempty"`
}

// Snapshot is the state carried across continue-as-new.
type Snapshot struct {
	Steps     map[string]*StepView `json:"steps"`
	Executed  int                  `json:"executed"`
	Budgets   map[string]float64   `json:"budgets,omitempty"`
	Approvals map[string]Decision  `json:"approvals,omitempty"`
}

// Settle makes a closed run's step states final. The state of a closed
// run is read by replaying it to its last event; a run the server ended
// (terminated, timed out) stops there with steps still running or
// waiting, which would read as if they were. Those steps take the run's
// end, closed ("terminated", "timed_out", ...), and keep their error.
func (s *State) Settle(closed string) {
	for i := range s.Steps {
		st := &s.Steps[i]
		if st.Status == StatusRunning || st.Status == StatusWaiting || st.Status == StatusPaused {
			st.Status = closed
			st.Prompt = "" // no longer waiting for anyone
		}
	}
}
