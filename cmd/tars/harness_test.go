package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/internal/devserver"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workers"
	"github.com/tars-engine/tars/workflows"
)

// One embedded server serves every end-to-end test in this binary; each
// test gets its own queue prefix, so its pools and runs do not mix.
var (
	sharedOnce sync.Once
	sharedSrv  *devserver.Server
	sharedErr  error
	prefixSeq  atomic.Int64
)

func sharedServer(t testing.TB) *devserver.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: needs the embedded Temporal server; run without -short")
	}
	sharedOnce.Do(func() {
		sharedSrv, sharedErr = devserver.Start(context.Background(), devserver.Options{
			Port: 0, UIPort: -1, SearchAttributes: searchAttributes(), Tuned: true, LogLevel: "error",
		})
	})
	require.NoError(t, sharedErr)
	return sharedSrv
}

// testEnv is a server, a client and the workers of one test.
type testEnv struct {
	t    testing.TB
	g    *globals
	srv  *devserver.Server
	c    client.Client
	host *workers.Host
	// ceiling bounds the grants of the pools' calls: the zero value, the
	// default of tars dev and tars worker, unless a test needs more.
	ceiling activities.Ceiling
}

// newTestEnv starts the interpreter and the named pools on a fresh queue
// prefix against the shared server, under the default ceiling.
func newTestEnv(t testing.TB, pools ...string) *testEnv {
	t.Helper()
	return newTestEnvCeiling(t, activities.Ceiling{}, pools...)
}

// newTestEnvCeiling is newTestEnv with pools whose operator allows c.
func newTestEnvCeiling(t testing.TB, ceiling activities.Ceiling, pools ...string) *testEnv {
	t.Helper()
	srv := sharedServer(t)
	g := &globals{}
	require.NoError(t, g.resolve())
	g.address = srv.FrontendAddress()
	g.namespace = srv.Namespace()
	g.queuePrefix = fmt.Sprintf("t%d", prefixSeq.Add(1))
	g.logLevel = "error"
	if g.modulesDir == "" {
		g.modulesDir = existing("../../activities/wasm/guests/bin")
	}
	if g.guestsDir == "" {
		g.guestsDir = existing("../../activities/hyperlight/guests/bin")
	}
	c, err := g.dial(context.Background())
	require.NoError(t, err)
	e := &testEnv{t: t, g: g, srv: srv, c: c, ceiling: ceiling}
	t.Cleanup(func() {
		if e.host != nil {
			e.host.Stop()
		}
		c.Close()
	})
	e.startWorkers(true, pools...)
	return e
}

// startWorkers starts (or restarts) the host with the given pools.
func (e *testEnv) startWorkers(wf bool, pools ...string) {
	e.t.Helper()
	h, err := e.g.serveWith(context.Background(), serveOptions{pools: pools, workflows: wf, ceiling: e.ceiling, allowAdhoc: true})
	require.NoError(e.t, err)
	e.host = h
}

func (e *testEnv) stopWorkers() {
	if e.host != nil {
		e.host.Stop()
		e.host = nil
	}
}

// compile compiles an example metascript with this machine's catalogue.
func (e *testEnv) compile(file string) *plan.Plan {
	e.t.Helper()
	p, err := e.g.compile(file)
	require.NoError(e.t, err, "compile %s", file)
	return p
}

// start starts a run of p and returns its id.
func (e *testEnv) start(p *plan.Plan, inputs map[string]any) string {
	e.t.Helper()
	id := newRunID(p.Name)
	o := workflows.Options{QueuePrefix: e.g.queuePrefix}
	spec, _, err := workflows.AdhocSpec(p, o)
	require.NoError(e.t, err)
	_, err = e.c.ExecuteWorkflow(context.Background(), workflows.StartOptions(p, id, o), p.Name, workflows.StartArgs(inputs, spec)...)
	require.NoError(e.t, err)
	return id
}

// result waits for a run's result.
func (e *testEnv) result(id string, timeout time.Duration) (workflows.RunResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var res workflows.RunResult
	err := e.c.GetWorkflow(ctx, id, "").Get(ctx, &res)
	return res, err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedSrv != nil {
		_ = sharedSrv.Stop()
	}
	os.Exit(code)
}
