package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
)

func sleepPlan(name string, steps int, d string) *plan.Plan {
	p := &plan.Plan{Schema: plan.SchemaVersion, Name: name, SHA256: "test"}
	prev := ""
	for i := 0; i < steps; i++ {
		s := plan.Step{ID: fmt.Sprintf("s%d", i), Kind: plan.KindTool, Tool: "sleep", Runtimes: []string{"native"},
			With: json.RawMessage(fmt.Sprintf(`{"duration":%q}`, d))}
		if prev != "" {
			s.Needs = []string{prev}
		}
		prev = s.ID
		p.Steps = append(p.Steps, s)
	}
	p.Outputs = []plan.Output{{Name: "last", Value: json.RawMessage(fmt.Sprintf(`"${steps.%s.status}"`, prev))}}
	return p
}

// activityQueues lists, per activity type, the task queues its activities
// were scheduled on in a run's history.
func activityQueues(t *testing.T, c client.Client, id string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	it := c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			out[a.GetActivityType().GetName()] = append(out[a.GetActivityType().GetName()], a.GetTaskQueue().GetName())
		}
	}
	return out
}

func history(t *testing.T, c client.Client, id string) []*historypb.HistoryEvent {
	t.Helper()
	var evs []*historypb.HistoryEvent
	it := c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		evs = append(evs, ev)
	}
	return evs
}

func TestRunSurvivesWorkerRestart(t *testing.T) {
	e := newTestEnv(t, "native")
	id := e.start(sleepPlan("restart-worker", 6, "300ms"), nil)
	// Let a couple of steps finish, then stop every worker mid-run.
	require.Eventually(t, func() bool {
		st, err := queryState(context.Background(), e.c, id)
		return err == nil && st.Steps[1].Status == workflows.StatusOK
	}, 20*time.Second, 50*time.Millisecond)
	e.stopWorkers()
	time.Sleep(500 * time.Millisecond)
	e.startWorkers(true, "native")
	res, err := e.result(id, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "ok", res.Outputs["last"])
	for _, q := range activityQueues(t, e.c, id)["sleep"] {
		assert.Equal(t, e.g.queuePrefix+".native", q)
	}
}

func TestUnreachableServerFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close() // nothing listens here now
	g := &globals{}
	require.NoError(t, g.resolve())
	g.address = addr
	start := time.Now()
	_, err = g.dial(context.Background())
	require.Error(t, err)
	assert.Less(t, time.Since(start), 6*time.Second)
	assert.Contains(t, err.Error(), addr)
}

// The test binary doubles as the tars binary for subprocess tests.
func init() {
	if args := os.Getenv("TARS_TEST_AS_MAIN"); args != "" {
		os.Args = append([]string{"tars"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
}

func startTarsDev(t *testing.T, db string, port int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("TARS_TEST_AS_MAIN=dev --db %s --port %d --ui-port -1 --trace-port -1 --pools native --log-level error", db, port))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "tars dev ready") {
		require.True(t, time.Now().Before(deadline), "tars dev did not start: %s", out.String())
		time.Sleep(50 * time.Millisecond)
	}
	return cmd
}

func TestRunSurvivesDevServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts tars dev twice; run without -short")
	}
	db := filepath.Join(t.TempDir(), "dev.db")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	dev := startTarsDev(t, db, port)
	g := &globals{}
	require.NoError(t, g.resolve())
	g.address = fmt.Sprintf("127.0.0.1:%d", port)
	c, err := g.dial(context.Background())
	require.NoError(t, err)
	p := sleepPlan("restart-server", 8, "400ms")
	id := newRunID(p.Name)
	_, err = c.ExecuteWorkflow(context.Background(), workflows.StartOptions(p, id, workflows.Options{}), p.Name, workflows.RunInput{Plan: p})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, err := queryState(context.Background(), c, id)
		return err == nil && st.Steps[1].Status == workflows.StatusOK
	}, 30*time.Second, 50*time.Millisecond)
	c.Close()

	// Kill the whole process: server, UI and workers go at once.
	require.NoError(t, dev.Process.Signal(syscall.SIGKILL))
	_, _ = dev.Process.Wait()

	startTarsDev(t, db, port)
	c, err = g.dial(context.Background())
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var res workflows.RunResult
	require.NoError(t, c.GetWorkflow(ctx, id, "").Get(ctx, &res))
	assert.Equal(t, "ok", res.Outputs["last"])
}

// syncBuffer is a bytes.Buffer safe to write from exec's copying
// goroutines while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
