package workflows

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/plan"
)

// Search attributes TARS sets on every run so the Web UI can filter runs by
// metascript, agent, runtime and department. The dev server registers them.
var (
	SAMetascript  = temporal.NewSearchAttributeKeyKeyword("TarsMetascript")
	SAAgents      = temporal.NewSearchAttributeKeyKeywordList("TarsAgents")
	SARuntimes    = temporal.NewSearchAttributeKeyKeywordList("TarsRuntimes")
	SADepartments = temporal.NewSearchAttributeKeyKeywordList("TarsDepartments")
)

// SearchAttributeNames lists the custom search attributes and their kinds.
var SearchAttributeNames = map[string]string{
	"TarsMetascript":  "Keyword",
	"TarsAgents":      "KeywordList",
	"TarsRuntimes":    "KeywordList",
	"TarsDepartments": "KeywordList",
}

// SearchAttributes derives a run's search attributes from its Plan.
func SearchAttributes(p *plan.Plan) temporal.SearchAttributes {
	agents, runtimes, depts := planSets(p)
	return temporal.NewSearchAttributes(
		SAMetascript.ValueSet(p.Name),
		SAAgents.ValueSet(agents),
		SARuntimes.ValueSet(runtimes),
		SADepartments.ValueSet(depts),
	)
}

// planSets lists a Plan's agents, runtimes and departments, sorted.
func planSets(p *plan.Plan) (agents, runtimes, depts []string) {
	agentsSet, runtimesSet, deptsSet := set(), set(), set()
	for _, a := range p.Agents {
		agentsSet.add(a.ID)
		deptsSet.add(a.Department)
	}
	for _, s := range p.Steps {
		agentsSet.add(s.Agent)
		for _, rt := range s.Runtimes {
			runtimesSet.add(rt)
		}
	}
	return agentsSet.list(), runtimesSet.list(), deptsSet.list()
}

type strset map[string]bool

func set() strset { return strset{} }
func (s strset) add(v string) {
	if v != "" {
		s[v] = true
	}
}
func (s strset) list() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Summary is the one-line static summary shown in the Web UI.
func Summary(p *plan.Plan) string {
	if p.Description != "" {
		return p.Name + ": " + p.Description
	}
	return p.Name
}

// Details is the static details shown in the Web UI: the step list, one
// list item a step. A list, not a table: the Web UI draws markdown tables
// with no cell padding, which runs the columns together.
func Details(p *plan.Plan) string { return detailsWithDigest(p, digestOrEmpty(p)) }

// detailsWithDigest is Details naming the Plan by its digest.
func detailsWithDigest(p *plan.Plan, digest string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**", p.Name)
	if p.Version != "" {
		fmt.Fprintf(&b, " v%s", p.Version)
	}
	fmt.Fprintf(&b, " · plan %s · %d steps\n\n", plan.ShortDigest(digest), len(p.Steps))
	for _, s := range p.Steps {
		what := s.Kind
		if s.Tool != "" {
			what += " " + s.Tool
		}
		if s.Call != nil {
			what += " " + s.Call.Metascript
		}
		parts := []string{what}
		if s.Agent != "" {
			parts = append(parts, "agent "+s.Agent)
		}
		if len(s.Runtimes) > 0 {
			parts = append(parts, "on "+strings.Join(s.Runtimes, " → "))
		}
		if len(s.Needs) > 0 {
			parts = append(parts, "after "+strings.Join(s.Needs, ", "))
		}
		switch s.OnError.Action {
		case plan.OnErrorStep:
			parts = append(parts, "on error: "+s.OnError.Step)
		case plan.OnErrorContinue:
			parts = append(parts, "on error: continue")
		}
		fmt.Fprintf(&b, "- **%s** — %s\n", s.ID, strings.Join(parts, " · "))
	}
	return b.String()
}

// StartArgs are the workflow arguments of a run: its inputs and spec.
func StartArgs(inputs map[string]any, spec StartSpec) []any {
	if inputs == nil {
		inputs = map[string]any{}
	}
	return []any{inputs, spec}
}

// StartOptions are the options `tars run` and `tars submit` start a run with.
func StartOptions(p *plan.Plan, id string, o Options) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                WorkflowQueue(o.QueuePrefix),
		WorkflowExecutionTimeout: p.Policy.Timeout.D(),
		StaticSummary:            Summary(p),
		StaticDetails:            Details(p),
		TypedSearchAttributes:    SearchAttributes(p),
	}
}

// StartRun starts a run like client.ExecuteWorkflow (workflowType is a
// type name or a workflow function), and retries a start
// that the server refused for load (resource exhausted, unavailable, or
// the call's deadline passed while ctx still has time) with backoff, until
// ctx ends or StartRetryFor passes. Retries are idempotent by workflow id:
// the first try fails if the id is already running, a retry takes the run
// an earlier try may have started before its answer was lost.
func StartRun(ctx context.Context, c client.Client, opts client.StartWorkflowOptions, workflowType any, args ...any) (client.WorkflowRun, error) {
	deadline := time.Now().Add(StartRetryFor)
	wait := 100 * time.Millisecond
	opts.WorkflowExecutionErrorWhenAlreadyStarted = true
	for try := 1; ; try++ {
		run, err := c.ExecuteWorkflow(ctx, opts, workflowType, args...)
		if err == nil || !retryableStart(ctx, err) || time.Now().Add(wait).After(deadline) {
			if err != nil && try > 1 {
				err = fmt.Errorf("after %d tries: %w", try, err)
			}
			return run, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
		opts.WorkflowExecutionErrorWhenAlreadyStarted = false
	}
}

// StartRetryFor bounds how long StartRun keeps retrying a refused start.
const StartRetryFor = 2 * time.Minute

func retryableStart(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var exhausted *serviceerror.ResourceExhausted
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	switch {
	case errors.As(err, &exhausted), errors.As(err, &unavailable), errors.As(err, &deadline),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	switch status.Code(err) {
	case codes.ResourceExhausted, codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}
