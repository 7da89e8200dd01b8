package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"

	"github.com/tars-engine/tars/internal/bench"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workers"
	"github.com/tars-engine/tars/workflows"
)

// Issue 11: metascripts are deployed code. Runs name a catalogue Plan; the
// workflow input holds inputs, never grants.

const pinMetascript = `metascript: pin-test
version: "%s"
inputs:
  who: {type: string, required: true}
  times: {type: int, default: 2}
steps:
  - id: gate
    approval: {prompt: "go?", timeout: 1h}
  - id: say
    needs: [gate]
    tool: echo
    with: {text: "${'%s ' + inputs.who + ' x' + string(inputs.times)}"}
outputs:
  said: ${steps.say.output.text}
`

// catalogueDir writes metascripts into a fresh directory.
func catalogueDir(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	return dir
}

// serveCatalogue (re)starts e's interpreter and native pool with the given
// catalogue directories and ad-hoc setting.
func (e *testEnv) serveCatalogue(allowAdhoc bool, dirs ...string) *plan.Catalogue {
	e.t.Helper()
	e.stopWorkers()
	e.g.catFlags.dirs = dirs
	e.g.cat = nil
	h, err := e.g.serveWith(context.Background(), serveOptions{pools: []string{"native"}, workflows: true, allowAdhoc: allowAdhoc})
	require.NoError(e.t, err)
	e.host = h
	cat, _, err := e.g.catalogue()
	require.NoError(e.t, err)
	return cat
}

func appError(err error) *temporal.ApplicationError {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

// A run started by type and inputs alone, as any Temporal client starts it,
// completes like a tars run of the same metascript: same outputs, same
// search attributes, details naming the Plan's digest.
func TestRunByTypeIsLikeTarsRun(t *testing.T) {
	e := newTestEnv(t)
	cat := e.serveCatalogue(false)
	en := cat.Named("release-notes")
	require.NotNil(t, en, "the built-in examples are the default catalogue")

	id := "by-type-" + e.g.queuePrefix
	run, err := e.c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: workflows.WorkflowQueue(e.g.queuePrefix)},
		"release-notes", map[string]any{"release": "v9.9"})
	require.NoError(t, err)
	var byType workflows.RunResult
	require.NoError(t, run.Get(context.Background(), &byType))

	out, _, err := e.cli("run", "release-notes", "-i", "release=v9.9", "-o", "json", "--id", "by-cli-"+e.g.queuePrefix)
	require.NoError(t, err, out)
	var doc struct {
		Status  string         `json:"status"`
		Outputs map[string]any `json:"outputs"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
	assert.Equal(t, "completed", doc.Status)
	assert.Equal(t, doc.Outputs, map[string]any(byType.Outputs), "same outputs")
	assert.Contains(t, byType.Outputs["notes"], "v9.9")

	sa := func(id string) map[string]string {
		d, err := e.c.DescribeWorkflowExecution(context.Background(), id, "")
		require.NoError(t, err)
		m := map[string]string{}
		for k, v := range d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields() {
			m[k] = string(v.GetData())
		}
		return m
	}
	typeSA, cliSA := sa(id), sa("by-cli-"+e.g.queuePrefix)
	for _, k := range []string{"TarsMetascript", "TarsAgents", "TarsRuntimes", "TarsDepartments"} {
		assert.NotEmpty(t, typeSA[k], "a run started by type sets %s itself", k)
		assert.Equal(t, cliSA[k], typeSA[k], k)
	}
	assert.Equal(t, currentDetails(t, e.c, "by-cli-"+e.g.queuePrefix), currentDetails(t, e.c, id), "same current details")

	// The input holds the inputs, not the Plan, and the history records
	// the digest the run took.
	h := history(t, e.c, id)
	in := string(h[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()[0].GetData())
	assert.NotContains(t, in, "allowed_tools")
	assert.Contains(t, in, "v9.9")
	var recorded bool
	for _, ev := range h {
		if m := ev.GetWorkflowPropertiesModifiedEventAttributes().GetUpsertedMemo().GetFields()[workflows.MemoPlan]; m != nil {
			recorded = strings.Contains(string(m.GetData()), en.Digest)
		}
	}
	assert.True(t, recorded, "the digest is in the history")

	// tars trace resolves the Plan from the catalogue.
	tr, _, err := e.cli("trace", id, "-o", "json")
	require.NoError(t, err)
	assert.Contains(t, tr, `"polish"`)
}

func currentDetails(t *testing.T, c client.Client, id string) string {
	t.Helper()
	v, err := c.QueryWorkflow(context.Background(), id, "", "__temporal_workflow_metadata")
	require.NoError(t, err)
	var md sdkpb.WorkflowMetadata
	require.NoError(t, v.Get(&md))
	return md.GetCurrentDetails()
}

// Bad input fails at once with BadInput naming what is wrong.
func TestCatalogueBadInput(t *testing.T) {
	e := newTestEnv(t)
	e.serveCatalogue(false)
	q := workflows.WorkflowQueue(e.g.queuePrefix)
	start := func(typ string, args ...any) error {
		run, err := e.c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{TaskQueue: q}, typ, args...)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return run.Get(ctx, nil)
	}
	err := start("no-such-flow", map[string]any{})
	require.Error(t, err)
	require.NotNil(t, appError(err), err)
	assert.Equal(t, workflows.ErrBadInput, appError(err).Type())
	assert.Contains(t, err.Error(), "release-notes", "lists the catalogue's names")

	err = start("release-notes", map[string]any{"release": 3})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "input release", "names the input")
	err = start("release-notes", map[string]any{})
	assert.Contains(t, err.Error(), "input release (string) is required")

	// Ad-hoc Plans: refused without --allow-adhoc, and a digest that does
	// not match the bytes is refused anyway.
	p := e.compile("../../metascripts/examples/research-digest.yaml")
	p.Description = "edited"
	spec, _, err := workflows.AdhocSpec(p, workflows.Options{QueuePrefix: e.g.queuePrefix})
	require.NoError(t, err)
	err = start(p.Name, map[string]any{}, spec)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--allow-adhoc")
	bad := spec
	bad.Digest = plan.DigestPrefix + strings.Repeat("0", 64)
	err = start(p.Name, map[string]any{}, bad)
	assert.Contains(t, err.Error(), "hash to")

	// tars run of a file that is not in the catalogue says so too.
	_, _, err = e.cli("run", writeTemp(t, "cli-echo.yaml", echoMetascript), "-o", "json")
	require.Error(t, err)

	// Missing inputs are caught before a run exists.
	_, _, err = e.cli("run", "release-notes")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "input release (string) is required")
}

// The shell-grant reproduction of issue 11: a Plan edited to grant shell
// and run `id`, started as a Temporal user would with only a type, now runs
// nothing: the worker's catalogue decides, and an ad-hoc Plan is refused.
func TestEditedPlanCannotGrantItself(t *testing.T) {
	e := newTestEnv(t)
	e.serveCatalogue(false)
	marker := filepath.Join(t.TempDir(), "ran")
	p := onePlan("release-notes", plan.Step{ID: "pwn", Kind: plan.KindTool, Tool: "shell", Runtimes: []string{"native"},
		With: json.RawMessage(`{"command":"touch ` + marker + `; id"}`)})
	p.Policy.Grants.Shell = true
	// The old shape: one RunInput carrying the Plan.
	run, err := e.c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{TaskQueue: workflows.WorkflowQueue(e.g.queuePrefix)},
		"release-notes", workflows.RunInput{Plan: p})
	require.NoError(t, err)
	err = run.Get(context.Background(), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ad-hoc")
	_, statErr := os.Stat(marker)
	assert.True(t, os.IsNotExist(statErr), "the shell step never ran")
}

// A run keeps its Plan: pinned to a digest the worker lost, it waits (its
// workflow tasks fail naming the digest) and completes once a worker with
// that digest serves it. A run pinned to a digest no worker has waits and
// says so in its current details.
func TestPinnedDigestWaitsForItsWorker(t *testing.T) {
	e := newTestEnv(t)
	v1 := catalogueDir(t, map[string]string{"pin.yaml": fmt.Sprintf(pinMetascript, "1", "v1")})
	v2 := catalogueDir(t, map[string]string{"pin.yaml": fmt.Sprintf(pinMetascript, "2", "v2")})
	cat1 := e.serveCatalogue(false, v1)
	d1 := cat1.Named("pin-test").Digest

	run, err := e.c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{TaskQueue: workflows.WorkflowQueue(e.g.queuePrefix)},
		"pin-test", map[string]any{"who": "ada"})
	require.NoError(t, err)
	waitStep(t, e.c, run.GetID(), "gate", workflows.StatusWaiting)

	// Redeploy with v2: the running v1 run must not switch Plans.
	cat2 := e.serveCatalogue(false, v2)
	require.NotEqual(t, d1, cat2.Named("pin-test").Digest)
	// A pinned start of v1 waits, saying so.
	pinned, err := e.c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{TaskQueue: workflows.WorkflowQueue(e.g.queuePrefix)},
		"pin-test", map[string]any{"who": "bob"}, workflows.StartSpec{Digest: d1})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		v, err := e.c.QueryWorkflow(context.Background(), pinned.GetID(), "", "__temporal_workflow_metadata")
		if err != nil {
			return false
		}
		var md sdkpb.WorkflowMetadata
		return v.Get(&md) == nil && strings.Contains(md.GetCurrentDetails(), d1)
	}, time.Minute, 200*time.Millisecond, "the pinned run says which digest it waits for")

	// Any new event makes a worker take the run: the v2 worker replays it
	// and finds no Plan for its digest.
	require.NoError(t, e.c.SignalWorkflow(context.Background(), run.GetID(), "", "tars.test-poke", nil))
	require.Eventually(t, func() bool {
		for _, ev := range history(t, e.c, run.GetID()) {
			if f := ev.GetWorkflowTaskFailedEventAttributes(); f != nil && strings.Contains(f.GetFailure().GetMessage(), d1) {
				return true
			}
		}
		return false
	}, time.Minute, 250*time.Millisecond, "the v2 worker fails the workflow task naming the digest")
	d, err := e.c.DescribeWorkflowExecution(context.Background(), run.GetID(), "")
	require.NoError(t, err)
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, d.GetWorkflowExecutionInfo().GetStatus())

	// A worker with v1 again: both runs complete on v1's Plan.
	e.serveCatalogue(false, v1)
	uctx, ucancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer ucancel()
	_, err = e.c.UpdateWorkflow(uctx, client.UpdateWorkflowOptions{
		WorkflowID: run.GetID(), UpdateName: workflows.UpdateApprove, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.Decision{Step: "gate", Approved: true}},
	})
	require.NoError(t, err)
	var res workflows.RunResult
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, run.Get(ctx, &res))
	assert.Equal(t, "v1 ada x2", res.Outputs["said"])
	waitStep(t, e.c, pinned.GetID(), "gate", workflows.StatusWaiting)
	_, err = e.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: pinned.GetID(), UpdateName: workflows.UpdateApprove, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.Decision{Step: "gate", Approved: true}},
	})
	require.NoError(t, err)
	require.NoError(t, e.c.GetWorkflow(ctx, pinned.GetID(), "").Get(ctx, &res))
	assert.Equal(t, "v1 bob x2", res.Outputs["said"])
}

// waitStep waits until the run's step reaches status.
func waitStep(t *testing.T, c client.Client, id, step, status string) {
	t.Helper()
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(context.Background(), id, "", workflows.QueryState)
		if err != nil {
			return false
		}
		var st workflows.State
		if v.Get(&st) != nil {
			return false
		}
		for _, s := range st.Steps {
			if s.ID == step {
				return s.Status == status
			}
		}
		return false
	}, 2*time.Minute, 200*time.Millisecond, "step %s of %s never reached %s", step, id, status)
}

// The official Temporal CLI starts a run by type and inputs only.
func TestOfficialCLIStartsByType(t *testing.T) {
	bin := temporalCLI()
	if bin == "" {
		t.Skip("the official temporal CLI is not installed (go install github.com/temporalio/cli/cmd/temporal@v1.5.1, or CI_TEMPORAL_CLI=1 .ci/run); it ran on the dev VM with v1.5.1")
	}
	e := newTestEnv(t)
	e.serveCatalogue(false)
	id := "official-" + e.g.queuePrefix
	cmd := exec.Command(bin, "workflow", "execute", "--address", e.g.address, "--namespace", e.g.namespace,
		"--type", "release-notes", "--task-queue", workflows.WorkflowQueue(e.g.queuePrefix),
		"--workflow-id", id, "--input", `{"release":"v9.9"}`, "-o", "json")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	var res workflows.RunResult
	require.NoError(t, e.c.GetWorkflow(context.Background(), id, "").Get(context.Background(), &res))
	assert.Contains(t, res.Outputs["notes"], "v9.9")
	d, err := e.c.DescribeWorkflowExecution(context.Background(), id, "")
	require.NoError(t, err)
	assert.Contains(t, d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields(), "TarsMetascript")
}

// temporalCLI finds the official temporal CLI on PATH or in $GOPATH/bin.
func temporalCLI() string {
	if p, err := exec.LookPath("temporal"); err == nil {
		return p
	}
	if gp, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gp)), "bin", "temporal")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

var _ = workers.DefaultLivenessWindow

// The history of the 200-step sequential metascript, with the Plan in its
// input (the recorded RunInput, as before the catalogue) and started by
// name: BENCHMARKS.md records both figures.
func TestHistoryBytesWithoutPlan(t *testing.T) {
	e := newTestEnv(t)
	dir := catalogueDir(t, map[string]string{"seq.yaml": bench.SequentialYAML(bench.SequentialSteps)})
	cat := e.serveCatalogue(true, dir)
	en := cat.Named("bench-sequential")
	require.NotNil(t, en)
	q := workflows.WorkflowQueue(e.g.queuePrefix)
	measure := func(id string, args ...any) (events, total, first int) {
		run, err := e.c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: q}, "bench-sequential", args...)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		require.NoError(t, run.Get(ctx, nil))
		h := history(t, e.c, id)
		for _, ev := range h {
			total += proto.Size(ev)
		}
		return len(h), total, proto.Size(h[0])
	}
	o := workflows.Options{QueuePrefix: e.g.queuePrefix}
	evOld, old, firstOld := measure("seq-plan-"+e.g.queuePrefix, workflows.RunInput{Plan: en.Plan, Options: o})
	evNew, now, firstNew := measure("seq-name-"+e.g.queuePrefix, map[string]any{}, workflows.StartSpec{Options: o})
	t.Logf("200-step sequential: Plan in the input: %d events, %d history bytes (first event %d); by name: %d events, %d bytes (first event %d); Plan %d bytes",
		evOld, old, firstOld, evNew, now, firstNew, en.Bytes)
	assert.Less(t, firstNew, firstOld-en.Bytes/2, "the start event no longer carries the Plan")
	assert.Less(t, now, old, "the history is smaller")
}

// tars schedule create|list|delete: a schedule starts runs by name.
func TestScheduleStartsRunsByName(t *testing.T) {
	e := newTestEnv(t)
	e.serveCatalogue(false)
	id := "notes-" + e.g.queuePrefix
	out, _, err := e.cli("schedule", "create", "release-notes", "--id", id, "--every", "1h", "-i", "release=v-sched")
	require.NoError(t, err)
	assert.Contains(t, out, "schedule "+id+" created")
	t.Cleanup(func() { _, _, _ = e.cli("schedule", "delete", id) })

	// Schedules are listed through visibility, which catches up shortly.
	require.Eventually(t, func() bool {
		out, _, err := e.cli("schedule", "list", "-o", "json")
		return err == nil && strings.Contains(out, `"metascript": "release-notes"`) && strings.Contains(out, id)
	}, 30*time.Second, 250*time.Millisecond, "tars schedule list shows it")

	h := e.c.ScheduleClient().GetHandle(context.Background(), id)
	// The schedule's own workflow may not be up the instant create returns.
	require.Eventually(t, func() bool { return h.Trigger(context.Background(), client.ScheduleTriggerOptions{}) == nil },
		30*time.Second, 200*time.Millisecond, "trigger the schedule")
	var runID string
	require.Eventually(t, func() bool {
		d, err := h.Describe(context.Background())
		if err != nil || len(d.Info.RecentActions) == 0 {
			return false
		}
		runID = d.Info.RecentActions[0].StartWorkflowResult.WorkflowID
		return runID != ""
	}, time.Minute, 200*time.Millisecond)
	var res workflows.RunResult
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, e.c.GetWorkflow(ctx, runID, "").Get(ctx, &res))
	assert.Contains(t, res.Outputs["notes"], "v-sched")

	_, _, err = e.cli("schedule", "delete", id)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		out, _, err := e.cli("schedule", "list", "-o", "json")
		return err == nil && !strings.Contains(out, id)
	}, 30*time.Second, 250*time.Millisecond, "a deleted schedule is no longer listed")
	_, _, err = e.cli("schedule", "create", "release-notes")
	assert.ErrorContains(t, err, "--cron")
}
