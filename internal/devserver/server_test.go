package devserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
)

// Start returns a server that answers. How fast is BenchmarkOneStepLatency's
// and docs/devserver.md's to show; while the other packages' tests load the
// machine, only a bound that catches a hang is honest here.
func TestStartIsReadyWithinAMinute(t *testing.T) {
	sharedServer(t)
	t.Logf("Start returned a ready server in %v", shared.start)
	assert.Less(t, shared.start, time.Minute)
}

func TestWorkflowRoundTrip(t *testing.T) {
	s := sharedServer(t)
	c := dial(t, s)
	startWorkers(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		TaskQueue: testWorkflowQueue,
		// The registered search attributes are usable at once.
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporal.NewSearchAttributeKeyKeyword("TarsMetascript").ValueSet("incident-triage"),
			temporal.NewSearchAttributeKeyKeywordList("TarsAgents").ValueSet([]string{"planner", "retriever"}),
		),
	}, OneStep, "tars")
	require.NoError(t, err)
	var out string
	require.NoError(t, run.Get(ctx, &out))
	assert.Equal(t, "hello tars", out)
}

func TestNamespacesAndSearchAttributesExist(t *testing.T) {
	s := sharedServer(t)
	c := dial(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for _, ns := range []string{"tars-test", "tars-extra"} {
		t.Run(ns, func(t *testing.T) {
			desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
			require.NoError(t, err)
			assert.Equal(t, enums.NAMESPACE_STATE_REGISTERED, desc.GetNamespaceInfo().GetState())

			sa, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
			require.NoError(t, err)
			for name, typ := range testSearchAttributes {
				assert.Equal(t, typ, sa.GetCustomAttributes()[name], name)
			}
		})
	}
}

func TestUIAnswersOnRoot(t *testing.T) {
	s := sharedServer(t)
	require.NotEmpty(t, s.UIAddress())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.UIAddress()+"/", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
}

func TestNoUI(t *testing.T) {
	skipIfShort(t)
	s := startServer(t, Options{UIPort: NoUI, Tuned: true})
	assert.Empty(t, s.UIAddress())
	assert.Equal(t, "default", s.Namespace())
}

// A port held by another process fails Start before anything starts, with a
// message that names the port. No server starts, so this runs with -short.
func TestPortInUse(t *testing.T) {
	for _, tc := range []struct {
		role string
		opts func(port int) Options
	}{
		{"frontend", func(p int) Options { return Options{Port: p} }},
		{"UI", func(p int) Options { return Options{UIPort: p} }},
	} {
		t.Run(tc.role, func(t *testing.T) {
			held, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer held.Close()
			port := held.Addr().(*net.TCPAddr).Port

			s, err := Start(context.Background(), tc.opts(port))
			if s != nil {
				_ = s.Stop()
			}
			require.Error(t, err)
			var inUse *PortInUseError
			require.ErrorAs(t, err, &inUse)
			assert.Equal(t, tc.role, inUse.Role)
			assert.Equal(t, port, inUse.Port)
			assert.Contains(t, err.Error(),
				fmt.Sprintf("port %d on 127.0.0.1 is in use (is another tars dev or temporal server running?)", port))
		})
	}
}

// Environment of the helper process of TestDBFilePersistsAcrossRestart.
const (
	helperDBEnv       = "TARS_DEVSERVER_TEST_DB"
	persistWorkflowID = "persist-across-restart"
)

// TestDBFilePersistsAcrossRestart starts a workflow that waits for a signal,
// on a database file, in another process that then stops its server and
// exits. This process starts a server on the same file and signals the
// workflow, which completes. (In one process the SQLite plugin would hand the
// second server the first one's open connection; a second process proves the
// file itself holds the workflow.)
func TestDBFilePersistsAcrossRestart(t *testing.T) {
	skipIfShort(t)
	db := filepath.Join(t.TempDir(), "tars-dev.db")

	cmd := exec.Command(os.Args[0], "-test.run=^TestDBFileHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), helperDBEnv+"="+db)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "helper process:\n%s", out)
	require.Contains(t, string(out), "PASS: TestDBFileHelperProcess", "helper process:\n%s", out)

	// The second start also asks for a search attribute the file lacks.
	s := startServer(t, Options{DBFile: db, Tuned: true, UIPort: NoUI, SearchAttributes: testSearchAttributes})
	c := dial(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sa, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: s.Namespace()})
	require.NoError(t, err)
	assert.Equal(t, enums.INDEXED_VALUE_TYPE_KEYWORD_LIST, sa.GetCustomAttributes()["TarsAgents"])

	startWorkers(t, c)
	require.NoError(t, c.SignalWorkflow(ctx, persistWorkflowID, "", testSignal, "again"))
	var result string
	require.NoError(t, c.GetWorkflow(ctx, persistWorkflowID, "").Get(ctx, &result))
	assert.Equal(t, "hello again", result)
}

// TestDBFileHelperProcess is the first process of
// TestDBFilePersistsAcrossRestart. It also restarts the server once in this
// process, as tars dev would after a crash of its server.
func TestDBFileHelperProcess(t *testing.T) {
	db := os.Getenv(helperDBEnv)
	if db == "" {
		t.Skip("helper process of TestDBFilePersistsAcrossRestart")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := Options{
		DBFile:           db,
		Tuned:            true,
		UIPort:           NoUI,
		SearchAttributes: map[string]enums.IndexedValueType{"TarsMetascript": enums.INDEXED_VALUE_TYPE_KEYWORD},
		Logger:           quietLogger(),
	}
	s, err := Start(ctx, o)
	require.NoError(t, err)
	c, err := client.Dial(client.Options{HostPort: s.FrontendAddress(), Namespace: s.Namespace(), Logger: sdklog.NewStructuredLogger(quietLogger())})
	require.NoError(t, err)
	workers := newWorkers(t, c)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: persistWorkflowID, TaskQueue: testWorkflowQueue}, WaitForSignal)
	require.NoError(t, err)
	// Wait until the first workflow task has run, so the workflow is really
	// blocked on the signal and not just accepted.
	require.Eventually(t, func() bool {
		desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), "")
		return err == nil && desc.GetPendingWorkflowTask() == nil &&
			desc.GetWorkflowExecutionInfo().GetHistoryLength() >= 4
	}, 10*time.Second, 20*time.Millisecond)
	for _, w := range workers {
		w.Stop()
	}
	c.Close()
	require.NoError(t, s.Stop())

	s, err = Start(ctx, o)
	require.NoError(t, err)
	c, err = client.Dial(client.Options{HostPort: s.FrontendAddress(), Namespace: s.Namespace(), Logger: sdklog.NewStructuredLogger(quietLogger())})
	require.NoError(t, err)
	desc, err := c.DescribeWorkflowExecution(ctx, persistWorkflowID, "")
	require.NoError(t, err)
	assert.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.GetWorkflowExecutionInfo().GetStatus())
	c.Close()
	require.NoError(t, s.Stop())
}

func TestStartRejectsBadOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"IP":            {IP: "not-an-ip"},
		"port":          {Port: 70000},
		"UI port":       {UIPort: -2},
		"log level":     {LogLevel: "loud"},
		"namespace":     {Namespace: "a", ExtraNamespaces: []string{"a"}},
		"search attr":   {SearchAttributes: map[string]enums.IndexedValueType{"X": enums.INDEXED_VALUE_TYPE_UNSPECIFIED}},
		"dynamic key":   {DynamicConfig: map[string]any{"history.noSuchSetting": 1}},
		"dynamic value": {DynamicConfig: map[string]any{"history.transferProcessorMaxPollRPS": "fast"}},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := Start(context.Background(), o)
			if s != nil {
				_ = s.Stop()
			}
			require.Error(t, err)
			assert.False(t, errors.As(err, new(*PortInUseError)))
		})
	}
}
