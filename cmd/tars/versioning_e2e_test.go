package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workers"
	"github.com/tars-engine/tars/workflows"
)

// A versioned rollout on the embedded server: runs start on v1; v2 comes
// up beside it and is made current; new runs go to v2 while a pinned v1 run
// (waiting on an approval while v2 took over) finishes on v1. Both
// interpreters send their steps to one unversioned native pool.
func TestVersionedRollout(t *testing.T) {
	e := newTestEnv(t)
	e.stopWorkers() // the harness's unversioned interpreter: this test brings its own
	e.startNative(4)
	ctx := context.Background()
	dep := "tars-" + e.g.queuePrefix
	v1 := &workers.Versioning{DeploymentName: dep, BuildID: workers.BuildID("v1.0.0", []string{"sha256:aaa"})}
	v2 := &workers.Versioning{DeploymentName: dep, BuildID: workers.BuildID("v1.0.0", []string{"sha256:bbb"})}
	require.NotEqual(t, v1.BuildID, v2.BuildID, "a new catalogue digest is a new build id")

	startInterpreter := func(v *workers.Versioning, identity string) {
		h, err := workers.Start(workers.Options{Client: e.c, QueuePrefix: e.g.queuePrefix, Workflows: true, AllowAdhoc: true,
			Identity: identity, Logger: e.g.logger(), Versioning: v})
		require.NoError(t, err, "start %s", v)
		t.Cleanup(h.Stop)
	}
	deployment := e.c.WorkerDeploymentClient().GetHandle(dep)
	current := func() string {
		d, err := deployment.Describe(ctx, client.WorkerDeploymentDescribeOptions{})
		require.NoError(t, err)
		if cv := d.Info.RoutingConfig.CurrentVersion; cv != nil {
			return cv.BuildID
		}
		return ""
	}

	// v1 is the deployment's first version: starting it makes it current.
	startInterpreter(v1, "interpreter-v1")
	assert.Equal(t, v1.BuildID, current(), "the first version becomes current")

	gated := approvalPlan("rollout-gated", 300*time.Millisecond) // quick times out; gate waits
	gated.Steps = append(gated.Steps, plan.Step{ID: "notes", Kind: plan.KindTool, Tool: "echo", Runtimes: []string{"native"},
		Needs: []string{"after"}, With: json.RawMessage(`{"value":"${steps.after.output}"}`)})
	gated.Outputs = append(gated.Outputs, plan.Output{Name: "notes", Value: json.RawMessage(`"${steps.notes.output}"`)})
	old := e.startWith(gated, workflows.Options{})
	require.Eventually(t, func() bool {
		st, err := queryState(ctx, e.c, old)
		return err == nil && len(st.Steps) > 1 && st.Steps[1].Status == workflows.StatusWaiting
	}, 30*time.Second, 100*time.Millisecond, "the v1 run reaches its approval")

	// v2 starts beside v1 and is not current until it is made so.
	startInterpreter(v2, "interpreter-v2")
	assert.Equal(t, v1.BuildID, current(), "a later version waits for the operator")
	require.Eventually(t, func() bool {
		d, err := deployment.Describe(ctx, client.WorkerDeploymentDescribeOptions{})
		return err == nil && versionListed(d.Info, v2.BuildID)
	}, 30*time.Second, 100*time.Millisecond, "v2 registered by its pollers")
	// Ramp first (a share of new runs), then promote: the rollout of
	// docs/deploy.md, through tars deployment.
	// The server refuses the ramp until v2's pollers have been seen on
	// every task queue of the current version; that lags registration.
	var out string
	var err error
	require.Eventually(t, func() bool {
		out, _, err = e.cli("deployment", "ramp", dep, v2.BuildID, "10")
		return err == nil
	}, 30*time.Second, 250*time.Millisecond, "ramp v2")
	out, _, err = e.cli("deployment", "describe", dep)
	require.NoError(t, err, out)
	assert.Contains(t, out, "current  "+v1.BuildID)
	assert.Contains(t, out, "ramping  "+v2.BuildID+" at 10%")
	_, _, err = e.cli("deployment", "ramp", dep, v2.BuildID, "150")
	require.ErrorContains(t, err, "want a number from 0 to 100")
	out, _, err = e.cli("deployment", "set-current", dep, v2.BuildID)
	require.NoError(t, err, out)
	assert.Equal(t, v2.BuildID, current())

	echo := onePlan("rollout-new", plan.Step{ID: "hi", Kind: plan.KindTool, Tool: "echo", Runtimes: []string{"native"},
		With: json.RawMessage(`{"value":"v2"}`)})
	fresh := e.startWith(echo, workflows.Options{})
	_, err = e.result(fresh, time.Minute)
	require.NoError(t, err)
	assertRanOn(t, e.c, fresh, v2, "interpreter-v2")

	// The old run is pinned: approved now, it finishes on v1.
	_, err = decide(ctx, e.c, old, workflows.Decision{Step: "gate", Approved: true, By: "e2e"})
	require.NoError(t, err)
	res, err := e.result(old, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, true, res.Outputs["shipped"])
	assert.Equal(t, true, res.Outputs["notes"], "the unversioned pool served the pinned run's step")
	assertRanOn(t, e.c, old, v1, "interpreter-v1")

	d, err := e.c.DescribeWorkflowExecution(ctx, old, "")
	require.NoError(t, err)
	vi := d.GetWorkflowExecutionInfo().GetVersioningInfo()
	assert.Equal(t, enumspb.VERSIONING_BEHAVIOR_PINNED, vi.GetBehavior())
	assert.Equal(t, v1.BuildID, vi.GetDeploymentVersion().GetBuildId())

	// Once the pinned run is closed, v1 is drained: its workers may stop.
	require.Eventually(t, func() bool {
		out, _, err := e.cli("deployment", "describe", dep, "-o", "json")
		var doc deploymentDoc
		if err != nil || json.Unmarshal([]byte(out), &doc) != nil {
			return false
		}
		for _, v := range doc.Versions {
			if v.BuildID == v1.BuildID {
				return v.Drainage == "drained"
			}
		}
		return false
	}, time.Minute, 500*time.Millisecond, "v1 reported drained")
}

// assertRanOn checks that every workflow task of a run was completed by the
// given version's worker, and that there were several (the old run's
// include those after v2 became current).
func assertRanOn(t *testing.T, c client.Client, id string, v *workers.Versioning, identity string) {
	t.Helper()
	var tasks []*historypb.WorkflowTaskCompletedEventAttributes
	for _, ev := range history(t, c, id) {
		if a := ev.GetWorkflowTaskCompletedEventAttributes(); a != nil {
			tasks = append(tasks, a)
		}
	}
	require.NotEmpty(t, tasks, id)
	for i, a := range tasks {
		dv := a.GetDeploymentVersion()
		assert.Equal(t, v.DeploymentName, dv.GetDeploymentName(), "%s task %d", id, i)
		assert.Equal(t, v.BuildID, dv.GetBuildId(), "%s task %d", id, i)
		assert.Equal(t, enumspb.VERSIONING_BEHAVIOR_PINNED, a.GetVersioningBehavior(), "%s task %d", id, i)
		assert.Contains(t, a.GetIdentity(), identity, "%s task %d", id, i)
	}
}

func versionListed(info client.WorkerDeploymentInfo, buildID string) bool {
	for _, s := range info.VersionSummaries {
		if s.Version.BuildID == buildID {
			return true
		}
	}
	return false
}
