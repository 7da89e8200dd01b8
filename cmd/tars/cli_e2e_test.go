package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cliRun runs the tars command line in this process against the test
// env's server and queues, returning stdout, stderr and the error.
func (e *testEnv) cli(args ...string) (string, string, error) {
	e.t.Helper()
	return e.cliWithin(2*time.Minute, e.g.address, args...)
}

// cliWithin runs the command line against address, giving up after d.
func (e *testEnv) cliWithin(d time.Duration, address string, args ...string) (string, string, error) {
	e.t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	full := append([]string{"--address", address, "--namespace", e.g.namespace, "--queue-prefix", e.g.queuePrefix, "--log-level", "error", "--ui", "http://ui.test:1234"}, args...)
	root.SetArgs(full)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

const echoMetascript = `metascript: cli-echo
inputs:
  text: {type: string, default: hi}
steps:
  - id: say
    tool: echo
    with: {text: "${inputs.text}"}
outputs:
  said: ${steps.say.output}
`

const sleepMetascript = `metascript: cli-sleep
steps:
  - id: nap
    tool: sleep
    with: {duration: "60s"}
`

func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

// TestCLIEndToEnd drives the commands of issue 18 against the embedded
// server: the output convention, tars list's filters, completion and the
// result of runs that do not exist.
func TestCLIEndToEnd(t *testing.T) {
	e := newTestEnv(t, "native")
	echo := writeTemp(t, "echo.yaml", echoMetascript)
	onQueue := "TaskQueue = '" + e.g.queuePrefix + ".workflows'"

	var firstID string
	t.Run("run -o json names the run", func(t *testing.T) {
		out, _, err := e.cli("run", echo, "-i", "text=hello", "-o", "json")
		require.NoError(t, err, out)
		var doc struct {
			ID, RunID, Status string
			Outputs           map[string]any
		}
		require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
		assert.True(t, strings.HasPrefix(doc.ID, "cli-echo-"), out)
		assert.Equal(t, "completed", doc.Status)
		assert.NotEmpty(t, doc.Outputs["said"])
		firstID = doc.ID
	})
	t.Run("--json is kept as an alias and names the run too", func(t *testing.T) {
		out, stderr, err := e.cli("run", echo, "--json")
		require.NoError(t, err, out)
		assert.Contains(t, out, `"id": "cli-echo-`)
		assert.Contains(t, stderr, "deprecated")
	})
	t.Run("submit -o jsonl is one line with id and link", func(t *testing.T) {
		out, _, err := e.cli("submit", echo, "-o", "jsonl")
		require.NoError(t, err)
		require.Equal(t, 1, strings.Count(out, "\n"), out)
		var doc map[string]string
		require.NoError(t, json.Unmarshal([]byte(out), &doc))
		assert.Contains(t, doc["link"], "http://ui.test:1234/namespaces/")
		_, err = e.result(doc["id"], time.Minute)
		require.NoError(t, err)
	})
	t.Run("bad -o is refused", func(t *testing.T) {
		_, _, err := e.cli("status", firstID, "-o", "yaml")
		require.ErrorContains(t, err, `-o "yaml": unknown output format`)
	})
	t.Run("status -o json", func(t *testing.T) {
		out, _, err := e.cli("status", firstID, "-o", "json")
		require.NoError(t, err)
		assert.Contains(t, out, `"id": "`+firstID+`"`)
		assert.Contains(t, out, `"status": "completed"`)
	})

	t.Run("list filters", func(t *testing.T) {
		out, _, err := e.cli("list", "--query", onQueue, "--metascript", "cli-echo", "--status", "completed", "--runtime", "native", "--since", "1h", "-o", "json")
		require.NoError(t, err, out)
		var doc struct {
			Query string
			Runs  []listedRun
		}
		require.NoError(t, json.Unmarshal([]byte(out), &doc), out)
		assert.Contains(t, doc.Query, "TarsMetascript = 'cli-echo'")
		require.Len(t, doc.Runs, 3, out)
		for _, r := range doc.Runs {
			assert.Equal(t, "completed", r.Status)
			assert.Equal(t, "cli-echo", r.Metascript)
		}

		out, _, err = e.cli("list", "--query", onQueue, "--limit", "1", "-o", "jsonl")
		require.NoError(t, err)
		assert.Equal(t, 1, strings.Count(out, "\n"), out)

		for _, args := range [][]string{
			{"--metascript", "no-such-metascript"},
			{"--status", "failed"},
			{"--runtime", "cuda"},
			{"--until", "2000-01-01T00:00:00Z"},
		} {
			out, _, err = e.cli(append([]string{"list", "--query", onQueue}, args...)...)
			require.NoError(t, err, args)
			assert.Equal(t, "no runs\n", out, args)
		}

		out, _, err = e.cli("list", "--query", onQueue)
		require.NoError(t, err)
		assert.Contains(t, out, "ID  ")
		assert.Contains(t, out, firstID)

		_, _, err = e.cli("list", "--status", "exploded")
		require.ErrorContains(t, err, `unknown state "exploded"`)
	})

	t.Run("result --wait of a run that does not exist is not a failed run", func(t *testing.T) {
		out, _, err := e.cli("result", "--wait", "no-such-run-xyz")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not found")
		assert.NotContains(t, out, "failed")
		var ee exitError
		assert.NotErrorAs(t, err, &ee, "a missing run is an error of the command, not exit 1 'run failed'")
	})

	t.Run("completion", func(t *testing.T) {
		out, _, err := e.cli("__complete", "status", "cli-echo-")
		require.NoError(t, err)
		assert.Contains(t, out, firstID+"\tcli-echo · completed")

		out, _, err = e.cli("__complete", "run", "x.yaml", "-o", "")
		require.NoError(t, err)
		for _, f := range []string{"text", "json", "jsonl"} {
			assert.Contains(t, out, f+"\n")
		}
		out, _, err = e.cli("__complete", "trace", "x", "-o", "")
		require.NoError(t, err)
		assert.Contains(t, out, "perfetto\n")

		out, _, err = e.cli("__complete", "run", "")
		require.NoError(t, err)
		assert.Contains(t, out, "yaml\nyml\n:8\n", "metascript files: filter on .yaml/.yml")

		out, _, err = e.cli("__complete", "list", "--status", "")
		require.NoError(t, err)
		assert.Contains(t, out, "timed_out\n")
	})
}

// TestCLINoWorkerWarnings: with nothing polling the queues, submit warns at
// once and status names the queue and the command that would serve it.
func TestCLINoWorkerWarnings(t *testing.T) {
	e := newTestEnv(t) // the interpreter only, no pools
	sleep := writeTemp(t, "sleep.yaml", sleepMetascript)
	wfQueue := e.g.queuePrefix + ".workflows"

	t.Run("a step whose runtime has no pool", func(t *testing.T) {
		out, _, err := e.cli("submit", sleep, "-o", "json")
		require.NoError(t, err)
		var doc map[string]string
		require.NoError(t, json.Unmarshal([]byte(out), &doc))
		id := doc["id"]
		var status string
		require.Eventually(t, func() bool {
			status, _, err = e.cli("status", id)
			return err == nil && strings.Contains(status, "waits on task queue")
		}, 20*time.Second, 200*time.Millisecond, status)
		assert.Contains(t, status, "step nap waits on task queue "+e.g.queuePrefix+".native, which no worker polls: start `tars worker")
		assert.Contains(t, status, "--queue-prefix "+e.g.queuePrefix+" --pools native`")

		// Completion of a run's step ids, from its live state.
		out, _, err = e.cli("__complete", "approve", id, "")
		require.NoError(t, err)
		assert.Contains(t, out, "nap\trunning\n")
		out, _, err = e.cli("__complete", "cancel", "cli-sleep-")
		require.NoError(t, err)
		assert.Contains(t, out, id+"\tcli-sleep · running\n")
		_, _, err = e.cli("cancel", id)
		require.NoError(t, err)
	})

	e.stopWorkers()
	t.Run("no workflow worker", func(t *testing.T) {
		// The stopped worker's last poll stays fresh for 70 s on the
		// server; a prefix of its own has never been polled.
		e.g.queuePrefix += "nowf"
		start := time.Now()
		out, stderr, err := e.cli("submit", sleep, "-o", "json")
		require.NoError(t, err)
		assert.Less(t, time.Since(start), 10*time.Second)
		assert.Contains(t, stderr, "warning: no worker polls task queue "+e.g.queuePrefix+".workflows")
		assert.Contains(t, stderr, "tars worker --address "+e.g.address)
		var doc map[string]string
		require.NoError(t, json.Unmarshal([]byte(out), &doc))
		status, _, err := e.cli("status", doc["id"])
		require.NoError(t, err)
		assert.Contains(t, status, "no worker polls the workflows task queue "+e.g.queuePrefix+".workflows")
		assert.NotContains(t, status, wfQueue+" ", "the other prefix is not this run's")
		_, _, err = e.cli("cancel", doc["id"], "--terminate")
		require.NoError(t, err)
	})
}

// goneServer is a TCP relay to the test server that can be cut: to the
// client, the server went away.
type goneServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func relayTo(t *testing.T, addr string) *goneServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := &goneServer{ln: ln}
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				in.Close()
				continue
			}
			g.mu.Lock()
			g.conns = append(g.conns, in, out)
			g.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	t.Cleanup(g.cut)
	return g
}

func (g *goneServer) cut() {
	g.ln.Close()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.conns {
		c.Close()
	}
	g.conns = nil
}

// TestResultWaitServerGone: waiting for a result when the server goes away
// is an error of the command, not "run failed".
func TestResultWaitServerGone(t *testing.T) {
	e := newTestEnv(t) // the interpreter only: the run waits for a pool
	id := e.start(sleepPlan("gone", 1, "1m"), nil)
	relay := relayTo(t, e.g.address)
	time.AfterFunc(time.Second, relay.cut)
	out, _, err := e.cliWithin(6*time.Second, relay.ln.Addr().String(), "result", "--wait", id)
	require.Error(t, err)
	var ee exitError
	assert.NotErrorAs(t, err, &ee, "not exit 1 'run failed': %v", err)
	assert.NotContains(t, out, "failed")
	assert.Contains(t, err.Error(), "run "+id+":")
	t.Logf("error: %v", err)
	_ = e.c.TerminateWorkflow(context.Background(), id, "", "test over")
}
