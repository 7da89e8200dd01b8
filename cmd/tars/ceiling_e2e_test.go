package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/metascripts"
	"github.com/tars-engine/tars/workflows"
)

// The reproduction of issue 11: a Plan whose policy grants shell, with a
// shell step running `id`, started against the embedded server. On a
// worker with the default ceiling the step fails with PolicyRefused, once,
// and nothing runs; on a worker whose operator allows shell it runs.
func TestShellGrantNeedsTheWorkersCeiling(t *testing.T) {
	t.Setenv("TARS_SHELL_ISOLATION", "none") // the same on hosts without user namespaces
	marker := filepath.Join(t.TempDir(), "id.txt")
	src := []byte(`metascript: shell-grant
policy: {grants: {shell: true}}
steps:
  - id: whoami
    tool: shell
    with: {argv: [sh, -c, 'id > "$1"; id', sh, "` + marker + `"]}
outputs:
  out: ${steps.whoami.output.stdout}
`)

	e := newTestEnv(t, "native")
	p, err := metascripts.Compile("shell-grant.yaml", src, metascripts.Options{Catalog: mustInventory(t, e.g)})
	require.NoError(t, err)
	id := e.startWith(p, workflows.Options{})
	_, err = e.result(id, time.Minute)
	require.Error(t, err)
	msg := workflows.Describe(err)
	assert.Contains(t, msg, `step "whoami" asks for shell, but worker `)
	assert.Contains(t, msg, "/native does not allow it (its ceiling: shell off; start it with --allow-shell)")
	_, statErr := os.Stat(marker)
	assert.True(t, os.IsNotExist(statErr), "the refused command ran: %v", statErr)
	failures := 0
	for _, ev := range history(t, e.c, id) {
		if ev.GetEventType() != enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED {
			continue
		}
		failures++
		info := ev.GetActivityTaskFailedEventAttributes().GetFailure().GetApplicationFailureInfo()
		assert.Equal(t, activities.ErrPolicyRefused, info.GetType())
		assert.True(t, info.GetNonRetryable())
	}
	assert.Equal(t, 1, failures, "refused once, never retried")

	allowed := newTestEnvCeiling(t, activities.Ceiling{Shell: true}, "native")
	id = allowed.startWith(p, workflows.Options{})
	res, err := allowed.result(id, time.Minute)
	require.NoError(t, err)
	assert.Contains(t, res.Outputs["out"], "uid=")
	assert.FileExists(t, marker)
}
