package devserver

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Task queues of the test workflows: the workflow and its activity on
// different queues, as TARS runs them (workflows on their own queue,
// activities on a queue per runtime), so the server really dispatches the
// activity instead of handing it back inline with the workflow task.
const (
	testWorkflowQueue = "tars-test.workflows"
	testActivityQueue = "tars-test.native"
	testSignal        = "go"
)

var testSearchAttributes = map[string]enums.IndexedValueType{
	"TarsMetascript": enums.INDEXED_VALUE_TYPE_KEYWORD,
	"TarsAgents":     enums.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}

// Greet is the activity of the test workflows.
func Greet(_ context.Context, name string) (string, error) {
	return "hello " + name, nil
}

// OneStep runs Greet once: the smallest workflow that crosses every hand-off
// of a TARS step (workflow task, activity task, workflow task).
func OneStep(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           testActivityQueue,
		StartToCloseTimeout: 10 * time.Second,
	})
	var out string
	err := workflow.ExecuteActivity(ctx, Greet, name).Get(ctx, &out)
	return out, err
}

// Sequential runs Greet n times, one after the other, as a metascript's
// chain of steps does.
func Sequential(ctx workflow.Context, n int) error {
	for i := range n {
		if _, err := OneStep(ctx, fmt.Sprint(i)); err != nil {
			return err
		}
	}
	return nil
}

// FanOut runs Greet n times at once, as a foreach step does.
func FanOut(ctx workflow.Context, n int) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           testActivityQueue,
		StartToCloseTimeout: time.Minute,
	})
	futures := make([]workflow.Future, n)
	for i := range futures {
		futures[i] = workflow.ExecuteActivity(ctx, Greet, fmt.Sprint(i))
	}
	for _, f := range futures {
		if err := f.Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// WaitForSignal waits for a name on the "go" signal, then greets it.
func WaitForSignal(ctx workflow.Context) (string, error) {
	var name string
	workflow.GetSignalChannel(ctx, testSignal).Receive(ctx, &name)
	return OneStep(ctx, name)
}

// skipIfShort skips tests that start the embedded server.
func skipIfShort(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts a Temporal server (seconds): needs the embedded server; run without -short")
	}
}

// quietLogger keeps the server's and the SDK's logs to warnings and worse.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startServer starts a server for one test and stops it when the test ends.
func startServer(tb testing.TB, o Options) *Server {
	tb.Helper()
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, o)
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Stop()) })
	return s
}

var shared struct {
	once   sync.Once
	server *Server
	err    error
	start  time.Duration // how long Start took
}

// sharedServer is one tuned server with a UI for the tests that only read
// from it or add workflows of their own; TestMain stops it.
func sharedServer(tb testing.TB) *Server {
	tb.Helper()
	skipIfShort(tb)
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		t0 := time.Now()
		shared.server, shared.err = Start(ctx, Options{
			Namespace:        "tars-test",
			ExtraNamespaces:  []string{"tars-extra"},
			SearchAttributes: testSearchAttributes,
			Tuned:            true,
			Logger:           quietLogger(),
		})
		shared.start = time.Since(t0)
	})
	require.NoError(tb, shared.err)
	return shared.server
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.server != nil {
		if err := shared.server.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop shared server:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// dial returns an SDK client of s's namespace, closed when the test ends.
func dial(tb testing.TB, s *Server) client.Client {
	tb.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  s.FrontendAddress(),
		Namespace: s.Namespace(),
		Logger:    sdklog.NewStructuredLogger(quietLogger()),
	})
	require.NoError(tb, err)
	tb.Cleanup(c.Close)
	return c
}

// newWorkers returns started workers for the test workflows and activity.
func newWorkers(tb testing.TB, c client.Client) []worker.Worker {
	tb.Helper()
	wf := worker.New(c, testWorkflowQueue, worker.Options{})
	wf.RegisterWorkflow(OneStep)
	wf.RegisterWorkflow(WaitForSignal)
	wf.RegisterWorkflow(Sequential)
	wf.RegisterWorkflow(FanOut)
	act := worker.New(c, testActivityQueue, worker.Options{})
	act.RegisterActivityWithOptions(Greet, activity.RegisterOptions{Name: "Greet"})
	workers := []worker.Worker{wf, act}
	for _, w := range workers {
		require.NoError(tb, w.Start())
	}
	return workers
}

// startWorkers is newWorkers with the workers stopped when the test ends.
func startWorkers(tb testing.TB, c client.Client) {
	tb.Helper()
	for _, w := range newWorkers(tb, c) {
		tb.Cleanup(w.Stop)
	}
}
