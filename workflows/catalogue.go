package workflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/plan"
)

// A run names its Plan; the Plan itself is deployed code that the
// interpreter worker owns (its catalogue). The workflow type is the
// metascript's name and the input is
//
//	arg 0: the run's inputs, a JSON object (or nothing)
//	arg 1: optional StartSpec: a digest to pin, options, and for an
//	       ad-hoc run the Plan itself
//
// so any Temporal client can start a run:
//
//	temporal workflow start --type release-notes --task-queue tars.workflows --input '{"version":"1.4.0"}'
//
// Histories recorded before the catalogue carry one RunInput with the whole
// Plan; they still replay and run, as ad-hoc runs.

// StartSpec is the optional second argument of a run.
type StartSpec struct {
	// Digest pins the Plan (plan.Digest). Empty: the catalogue's current
	// Plan of the workflow type's name, recorded in the history at start.
	Digest string `json:"digest,omitempty"`
	// Plan is an ad-hoc Plan's canonical JSON (plan.CanonicalJSON); Digest
	// must be its digest. Only workers started with --allow-adhoc run Plans
	// that are not in their catalogue.
	Plan json.RawMessage `json:"plan,omitempty"`
	// Child names the Plan of a call step's child run in the Children table
	// of the catalogue Plan Digest.
	Child   string  `json:"child,omitempty"`
	Options Options `json:"options,omitempty"`
	// Resume carries state across continue-as-new.
	Resume *Snapshot `json:"resume,omitempty"`
	// Waited counts the runs that waited for a worker holding Digest.
	Waited int `json:"waited,omitempty"`
}

// MemoPlan is the memo key a run records its Plan's name@digest under.
const MemoPlan = "TarsPlan"

// ErrPlanNotServed: no Plan for the run's digest on this worker.
const ErrPlanNotServed = "PlanNotServed"

// Engine is the interpreter as a worker serves it: the catalogue of Plans
// it runs, and whether it also runs ad-hoc Plans sent with a run.
type Engine struct {
	Catalogue *plan.Catalogue
	// AllowAdhoc: run Plans sent with the run that are not in the
	// catalogue (tars dev; tars worker --allow-adhoc).
	AllowAdhoc bool
	// Identity names the worker in errors.
	Identity string
}

// Interpreter runs ad-hoc Plans and the RunInputs of recorded histories,
// with no catalogue. Replays and tests register it; workers register an
// Engine's Run.
func Interpreter(ctx workflow.Context, args converter.EncodedValues) (*RunResult, error) {
	return (&Engine{AllowAdhoc: true}).Run(ctx, args)
}

// Run is the dynamic workflow every TARS run executes.
func (e *Engine) Run(ctx workflow.Context, args converter.EncodedValues) (*RunResult, error) {
	var first json.RawMessage
	var spec StartSpec
	if err := args.Get(&first, &spec); err != nil {
		return nil, badInput("the run's input: %v (the first argument is the run's inputs, a JSON object such as {\"version\":\"1.4.0\"}; the second, optional, a StartSpec)", err)
	}
	if in, ok := legacyInput(first, spec); ok {
		if !e.AllowAdhoc && e.Catalogue.WithDigest(digestOrEmpty(in.Plan)) == nil {
			return nil, e.refuseAdhoc(in.Plan.Name)
		}
		return Run(ctx, in)
	}
	inputs := map[string]any{}
	if t := bytes.TrimSpace(first); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		if err := json.Unmarshal(t, &inputs); err != nil {
			return nil, badInput("the run's inputs must be a JSON object of input name to value, such as {\"version\":\"1.4.0\"}; got %.80s", string(t))
		}
	}
	in, err := e.resolve(ctx, spec)
	if err != nil {
		return nil, err
	}
	if in == nil { // waiting for a worker that holds the digest
		return nil, e.waitForDigest(ctx, first, spec)
	}
	in.Inputs = inputs
	if in.Options.QueuePrefix == "" {
		// Started by a plain Temporal client: the run's steps go to the
		// pools of the queue prefix its own task queue has.
		in.Options.QueuePrefix = strings.TrimSuffix(workflow.GetInfo(ctx).TaskQueueName, ".workflows")
	}
	return Run(ctx, *in)
}

// legacyInput recognises the single RunInput of histories recorded before
// the catalogue: an object whose "plan" is a Plan.
func legacyInput(first json.RawMessage, spec StartSpec) (RunInput, bool) {
	if spec.Digest != "" || spec.Plan != nil {
		return RunInput{}, false
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(first, &probe) != nil {
		return RunInput{}, false
	}
	var p map[string]json.RawMessage
	if json.Unmarshal(probe["plan"], &p) != nil {
		return RunInput{}, false
	}
	if _, ok := p["name"]; !ok {
		return RunInput{}, false
	}
	if _, ok := p["steps"]; !ok {
		return RunInput{}, false
	}
	var in RunInput
	if json.Unmarshal(first, &in) != nil || in.Plan == nil {
		return RunInput{}, false
	}
	return in, true
}

func digestOrEmpty(p *plan.Plan) string {
	d, err := plan.Digest(p)
	if err != nil {
		return ""
	}
	return d
}

func badInput(format string, a ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, a...), ErrBadInput, nil)
}

func (e *Engine) who() string {
	if e.Identity != "" {
		return "worker " + e.Identity
	}
	return "this worker"
}

func (e *Engine) refuseAdhoc(name string) error {
	return badInput("%s does not run ad-hoc metascripts, and %q with this digest is not in its catalogue: add the metascript to the workers' catalogue (tars worker --metascripts DIR) and start it by name, or serve ad-hoc runs with tars worker --allow-adhoc (tars dev does)", e.who(), name)
}

// resolve finds the run's Plan. It returns nil, nil when the run must wait
// for a worker whose catalogue holds the digest it names.
func (e *Engine) resolve(ctx workflow.Context, spec StartSpec) (*RunInput, error) {
	name := workflow.GetInfo(ctx).WorkflowType.Name
	in := &RunInput{Options: spec.Options, Resume: spec.Resume}
	if spec.Plan != nil {
		return e.adhoc(name, spec, in)
	}
	digest := spec.Digest
	if digest == "" {
		// Which Plan a run started by name gets is decided once, by the
		// worker that runs its first workflow task, and recorded.
		var d string
		if err := workflow.SideEffect(ctx, func(workflow.Context) any {
			if en := e.Catalogue.Named(name); en != nil {
				return en.Digest
			}
			return ""
		}).Get(&d); err != nil {
			return nil, err
		}
		if d == "" {
			return nil, badInput("no metascript %q in the catalogue of %s (it serves: %s)", name, e.who(), strings.Join(e.Catalogue.Names(), ", "))
		}
		digest = d
	}
	var have bool
	if err := workflow.SideEffect(ctx, func(workflow.Context) any {
		return e.Catalogue.WithDigest(digest) != nil
	}).Get(&have); err != nil {
		return nil, err
	}
	in.Digest, in.Child = digest, spec.Child
	if !have {
		return nil, nil
	}
	en := e.Catalogue.WithDigest(digest)
	if en == nil {
		// The history says a worker had this Plan; this one has not. Fail
		// the workflow task (not the run): Temporal retries it, on any
		// worker, until one with the digest takes it.
		panic(fmt.Sprintf("%s: %s has no Plan with digest %s (the run started on a worker whose catalogue had it); the run waits for a worker that serves it", ErrPlanNotServed, e.who(), digest))
	}
	p := en.Plan
	if spec.Child != "" {
		cp, err := ChildPlan(p, spec.Child)
		if err != nil {
			return nil, badInput("%v", err)
		}
		p = cp
	}
	if p.Name != name {
		return nil, badInput("workflow type %q does not name the Plan of digest %s, which is %q", name, plan.ShortDigest(digest), p.Name)
	}
	in.Plan = p
	return in, nil
}

// adhoc checks an ad-hoc Plan: its bytes must hash to the digest sent with
// it, and the worker must allow ad-hoc runs unless its catalogue holds the
// same Plan.
func (e *Engine) adhoc(name string, spec StartSpec, in *RunInput) (*RunInput, error) {
	got := plan.DigestOf(spec.Plan)
	if spec.Digest != got {
		return nil, badInput("ad-hoc plan refused: its bytes hash to %s, not the digest %q sent with it", got, spec.Digest)
	}
	in.Digest = got
	if en := e.Catalogue.WithDigest(got); en != nil && en.Name == name {
		// The same Plan as the catalogue's: a catalogue run from here on.
		in.Plan = en.Plan
		return in, nil
	}
	in.adhoc = spec.Plan
	var p plan.Plan
	if err := json.Unmarshal(spec.Plan, &p); err != nil {
		return nil, badInput("ad-hoc plan: %v", err)
	}
	if !e.AllowAdhoc {
		return nil, e.refuseAdhoc(p.Name)
	}
	if p.Name != name {
		return nil, badInput("workflow type %q does not match the ad-hoc plan's name %q", name, p.Name)
	}
	in.Plan = &p
	return in, nil
}

// waitForDigest: no worker seen so far serves the digest the run names. Say
// so in the run's current details, wait, then continue as new so that the
// next try goes to whichever worker polls first, not back to this one.
func (e *Engine) waitForDigest(ctx workflow.Context, inputs json.RawMessage, spec StartSpec) error {
	name := workflow.GetInfo(ctx).WorkflowType.Name
	wait := time.Duration(2<<min(spec.Waited, 5)) * time.Second // 2 s … 64 s
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**waiting**: no worker seen so far serves plan **%s** with digest `%s` (%s has %s). The run starts when a worker whose catalogue holds that digest takes it; checked again in %s.",
		name, spec.Digest, e.who(), e.Catalogue.Listing(), wait))
	workflow.GetLogger(ctx).Warn("waiting for a worker that serves the run's plan", "plan", name, "digest", spec.Digest)
	if err := workflow.Sleep(ctx, wait); err != nil {
		return err
	}
	spec.Waited++
	return workflow.NewContinueAsNewError(ctx, name, inputs, spec)
}

// Spec is what the run continues as new with, or starts a child with:
// the digest and options, never a catalogue Plan.
func (in *RunInput) spec() StartSpec {
	return StartSpec{Digest: in.Digest, Plan: in.adhoc, Child: in.Child, Options: in.Options}
}

// AdhocSpec is the StartSpec of an ad-hoc run of p: its canonical JSON and
// digest. Size is what the Plan adds to the run's input.
func AdhocSpec(p *plan.Plan, o Options) (spec StartSpec, size int, err error) {
	b, err := plan.CanonicalJSON(p)
	if err != nil {
		return StartSpec{}, 0, err
	}
	return StartSpec{Digest: plan.DigestOf(b), Plan: b, Options: o}, len(b), nil
}

// searchAttributeUpdates are SearchAttributes(p) as upserts.
func searchAttributeUpdates(p *plan.Plan) []temporal.SearchAttributeUpdate {
	agents, runtimes, depts := planSets(p)
	return []temporal.SearchAttributeUpdate{
		SAMetascript.ValueSet(p.Name),
		SAAgents.ValueSet(agents),
		SARuntimes.ValueSet(runtimes),
		SADepartments.ValueSet(depts),
	}
}

// announce makes a run started by name look like one started by tars run:
// its search attributes, its Plan in the memo, and its details.
func (r *run) announce(ctx workflow.Context) error {
	if r.in.Digest == "" {
		return nil // a recorded RunInput: its client set these at start
	}
	workflow.SetCurrentDetails(ctx, Summary(r.p)+"\n\n"+detailsWithDigest(r.p, r.in.Digest))
	if r.in.Resume != nil {
		return nil // continued runs keep their search attributes and memo
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, searchAttributeUpdates(r.p)...); err != nil {
		return err
	}
	return workflow.UpsertMemo(ctx, map[string]any{MemoPlan: r.p.Name + "@" + r.in.Digest})
}

// CheckInputs reports what is wrong with a run's inputs for p (missing
// required ones, wrong types, unknown names, secrets sent), as the run
// itself would refuse them: clients call it before starting a run.
func CheckInputs(p *plan.Plan, given map[string]any) error {
	m, ok := normalize(given).(map[string]any)
	if !ok {
		m = given
	}
	_, err := bindInputs(p, m)
	return err
}

// DecodeStart reads a run's start arguments, as the Engine does: a
// recorded RunInput (legacy != nil), or the inputs and the StartSpec.
func DecodeStart(first, second json.RawMessage) (legacy *RunInput, inputs map[string]any, spec StartSpec, err error) {
	if len(bytes.TrimSpace(second)) > 0 {
		if err := json.Unmarshal(second, &spec); err != nil {
			return nil, nil, spec, fmt.Errorf("start spec: %w", err)
		}
	}
	if in, ok := legacyInput(first, spec); ok {
		return &in, nil, spec, nil
	}
	inputs = map[string]any{}
	if t := bytes.TrimSpace(first); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		if err := json.Unmarshal(t, &inputs); err != nil {
			return nil, nil, spec, fmt.Errorf("inputs: %w", err)
		}
	}
	return nil, inputs, spec, nil
}

// ChildPlan is the Plan of the child name of root, with the root's table
// of called metascripts, as a child run interprets it.
func ChildPlan(root *plan.Plan, name string) (*plan.Plan, error) {
	cp := root.Children[name]
	if cp == nil {
		return nil, fmt.Errorf("plan %s has no child %q", root.Name, name)
	}
	flat := *cp
	flat.Children = root.Children
	return &flat, nil
}
