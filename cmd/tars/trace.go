package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/tars-engine/tars/workflows"
	"github.com/tars-engine/tars/workflows/trace"
)

func init() {
	extraCommands = append(extraCommands, newTraceCmd, newHistoryCmd, newReplayCmd)
}

// isHistoryFile says whether a RUN_ID|history.json argument names a file.
func isHistoryFile(arg string) bool {
	return arg == "-" || strings.HasSuffix(strings.ToLower(arg), ".json")
}

// runHistory is a run's history and what the server says about it now.
type runHistory struct {
	history  *historypb.History
	source   string // file name or workflow id
	wid, rid string
	open     bool
	describe *workflowservice.DescribeWorkflowExecutionResponse
}

// readHistoryArg reads a history file ("-" is stdin).
func readHistoryArg(arg string) (*runHistory, error) {
	var h *historypb.History
	var err error
	if arg == "-" {
		h, err = trace.ReadHistory(os.Stdin)
	} else {
		h, err = trace.ReadHistoryFile(arg)
	}
	if err != nil {
		return nil, err
	}
	wid := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowId()
	return &runHistory{history: h, source: arg, wid: wid}, nil
}

// fetchHistory describes a run and fetches its whole history (the latest
// run of the workflow id when rid is "").
func fetchHistory(ctx context.Context, c client.Client, wid, rid string) (*runHistory, error) {
	d, err := c.DescribeWorkflowExecution(ctx, wid, rid)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", wid, err)
	}
	info := d.GetWorkflowExecutionInfo()
	rid = info.GetExecution().GetRunId()
	it := c.GetWorkflowHistory(ctx, wid, rid, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", wid, err)
		}
		h.Events = append(h.Events, e)
	}
	if len(h.Events) == 0 {
		return nil, fmt.Errorf("run %s has no history", wid)
	}
	return &runHistory{
		history: h, source: wid, wid: wid, rid: rid, describe: d,
		open: info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
	}, nil
}

// buildTrace builds the trace of a fetched run, merging the live view of an
// open one, and the traces of its child runs when children is set.
func buildTrace(ctx context.Context, c client.Client, rh *runHistory, children bool, depth int) (*trace.Trace, error) {
	t, err := trace.BuildHistory(rh.history)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rh.source, err)
	}
	if t.WorkflowID == "" {
		t.WorkflowID = rh.wid
	}
	if rh.rid != "" {
		t.RunID = rh.rid
	}
	if rh.open && c != nil {
		qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if v, err := c.QueryWorkflow(qctx, rh.wid, rh.rid, workflows.QueryState); err == nil {
			var st workflows.State
			if v.Get(&st) == nil {
				t.ApplyState(st)
			}
		}
		cancel()
		t.ApplyPending(rh.describe.GetPendingActivities())
	}
	if children && c != nil && depth < 5 {
		for _, ch := range t.Children {
			crh, err := fetchHistory(ctx, c, ch.WorkflowID, ch.RunID)
			if err != nil {
				return nil, fmt.Errorf("child of step %s: %w", ch.Step, err)
			}
			ct, err := buildTrace(ctx, c, crh, true, depth+1)
			if err != nil {
				return nil, err
			}
			ch.Trace = ct
		}
	}
	return t, nil
}

// loadRun reads a history file or fetches a run; c is nil for a file
// unless children are wanted.
func loadRun(ctx context.Context, g *globals, arg, rid string, needClient bool) (*runHistory, client.Client, error) {
	if isHistoryFile(arg) {
		rh, err := readHistoryArg(arg)
		if err != nil {
			return nil, nil, err
		}
		if !needClient {
			return rh, nil, nil
		}
		c, err := g.dial(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("--children needs the server to fetch child runs: %w", err)
		}
		return rh, c, nil
	}
	c, err := g.dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	rh, err := fetchHistory(ctx, c, arg, rid)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return rh, c, nil
}

// traceFormats maps -o values to renderers.
var traceFormats = map[string]func(io.Writer, *trace.Trace) error{
	"tree":         trace.WriteTree,
	"json":         trace.WriteJSON,
	"perfetto":     trace.WritePerfetto,
	"mermaid":      trace.WriteMermaid,
	"mermaid-flow": trace.WriteMermaidFlow,
}

func newTraceCmd(g *globals) *cobra.Command {
	var (
		output   string
		children bool
		runID    string
		serve    bool
		port     int
		ip       string
	)
	c := &cobra.Command{
		Use:   "trace RUN_ID|history.json",
		Short: "Show how a run's agents coordinated: a tree, JSON, Perfetto or Mermaid",
		Long: `Derives a run's trace from its history and the Plan that travels in its first
event: metascript → department → team → agent → step → activity, with the
runtime and task queue of each activity, the worker that ran it, when it was
scheduled, started and closed, its attempts and the failure before the last one
(Temporal keeps only the last attempt's timings), fallback hops between
runtimes, input and output sizes, pool figures (wasm.instantiate_us,
vm.restore_us, gpu.kernel_us, tokens...), approvals, child runs, and totals per
agent and per runtime.

RUN_ID is a workflow id (its latest run, or --run-id); an argument ending in
.json is a history file written by 'tars history export' or by
'temporal workflow show -o json' ("-" reads one from stdin). An open run is
queried live, so its step states are exact.

Output formats (-o):
  tree          the default: an indented tree with durations and attempts
  json          the whole trace; durations in milliseconds (fields *_ms)
  perfetto      Chrome trace events: open the file in https://ui.perfetto.dev
                (one process per runtime and per agent, one thread per step)
  mermaid       a gantt chart, one section per agent (paste into any Mermaid
                renderer, e.g. a Markdown code block labelled mermaid)
  mermaid-flow  the DAG as a flowchart, steps coloured by state

--serve starts the trace page instead: recent runs, and each run's DAG
grouped by agent, coloured by state and runtime, updated live.`,
		Example: `  tars trace release-notes-20261126-090000-a1b2c3
  tars trace weekly-briefing-20261126-090000-d4e5f6 --children
  tars trace RUN_ID -o perfetto > run.perfetto.json     # then open it in ui.perfetto.dev
  tars trace RUN_ID -o mermaid > run.mmd
  tars history export RUN_ID -o run.json && tars trace run.json -o json
  tars trace --serve --port 8234                        # the trace page, on its own`,
		Args: func(cmd *cobra.Command, args []string) error {
			if serve {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if serve {
				return serveTracePage(ctx, g, ip, port, cmd.OutOrStdout())
			}
			render, ok := traceFormats[output]
			if !ok {
				return fmt.Errorf("unknown output %q: want tree, json, perfetto, mermaid or mermaid-flow", output)
			}
			rh, c, err := loadRun(ctx, g, args[0], runID, children)
			if err != nil {
				return err
			}
			if c != nil {
				defer c.Close()
			}
			t, err := buildTrace(ctx, c, rh, children, 0)
			if err != nil {
				return err
			}
			return render(cmd.OutOrStdout(), t)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "tree", "tree, json, perfetto, mermaid or mermaid-flow")
	c.Flags().BoolVar(&children, "children", false, "fetch the child runs of call steps and nest their traces")
	c.Flags().StringVar(&runID, "run-id", "", "a run of the workflow id other than the latest")
	c.Flags().BoolVar(&serve, "serve", false, "serve the trace page instead of printing a trace")
	c.Flags().IntVar(&port, "port", 8234, "with --serve: port of the trace page (0: any free port)")
	c.Flags().StringVar(&ip, "ip", "127.0.0.1", "with --serve: address the trace page listens on")
	return c
}

func serveTracePage(ctx context.Context, g *globals, ip string, port int, out io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	url, closeFn, err := startTracePageServer(g, ip, port)
	if err != nil {
		return err
	}
	defer closeFn()
	fmt.Fprintf(out, "trace page %s (runs on %s, namespace %s); Ctrl-C stops\n", url, g.address, g.namespace)
	<-ctx.Done()
	return nil
}

func newHistoryCmd(g *globals) *cobra.Command {
	h := &cobra.Command{
		Use:   "history",
		Short: "Export run histories",
	}
	var out, runID string
	export := &cobra.Command{
		Use:   "export RUN_ID",
		Short: "Write a run's full history as JSON (protojson, as the Temporal CLI does)",
		Long: `Writes every event of a run's history as protojson ({"events": [...]}),
payloads as the server stores them, to stdout or to -o FILE. The file is what
'tars trace FILE.json' and 'tars replay FILE.json' read, and what
'temporal workflow show -o json' writes. Continue-as-new starts a new run with
its own history: export each run by --run-id.`,
		Example: `  tars history export release-notes-20261126-090000-a1b2c3 -o run.json
  tars history export RUN_ID --run-id 0b9c6f... > earlier-run.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := g.dial(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			rh, err := fetchHistory(ctx, c, args[0], runID)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				if err := trace.WriteHistory(f, rh.history); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d events of %s (run %s) to %s\n", len(rh.history.Events), rh.wid, rh.rid, out)
				return nil
			}
			return trace.WriteHistory(w, rh.history)
		},
	}
	export.Flags().StringVarP(&out, "output", "o", "", "file to write (default: stdout)")
	export.Flags().StringVar(&runID, "run-id", "", "a run of the workflow id other than the latest")
	h.AddCommand(export)
	return h
}

func newReplayCmd(g *globals) *cobra.Command {
	var runID string
	c := &cobra.Command{
		Use:   "replay RUN_ID|history.json",
		Short: "Replay a run's history against this binary's interpreter; report the first divergence",
		Long: `Replays a history, from a file or fetched from the server, against the
interpreter compiled into this binary, as a worker does when it picks up a run
it did not start, and checks that the code issues the same commands the
history recorded. No worker or pool is needed and nothing is written to the
server.

Prints "replay ok: N events", or the first divergence: the history event,
what it recorded, and what the current code did instead; exit status 1 on a
divergence. Use it before deploying an interpreter change: every open run and
every golden history (workflows/testdata/histories) must replay.`,
		Example: `  tars replay release-notes-20261126-090000-a1b2c3
  tars replay workflows/testdata/histories/release-notes.json
  temporal workflow show -w RUN_ID -o json > run.json && tars replay run.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			rh, c, err := loadRun(ctx, g, args[0], runID, false)
			if err != nil {
				return err
			}
			if c != nil {
				defer c.Close()
			}
			out := cmd.OutOrStdout()
			err = trace.Replay(rh.history, trace.WithExecution(rh.wid, rh.rid))
			var d *trace.Divergence
			switch {
			case err == nil:
				fmt.Fprintf(out, "replay ok: %d events\n", len(rh.history.Events))
				return nil
			case errors.As(err, &d):
				fmt.Fprintf(out, "replay diverged: %s\n", rh.source)
				if d.EventID > 0 {
					fmt.Fprintf(out, "  event:    %d (%s)\n", d.EventID, d.EventType)
				} else {
					fmt.Fprintf(out, "  event:    after the last recorded command of its workflow task\n")
				}
				msg := d.Message
				if len(msg) > 600 {
					msg = msg[:600] + "…"
				}
				fmt.Fprintf(out, "  expected: %s\n  got:      %s\n  sdk:      %s\n", d.Expected, d.Got, msg)
				return exitError{1}
			default:
				return err
			}
		},
	}
	c.Flags().StringVar(&runID, "run-id", "", "a run of the workflow id other than the latest")
	return c
}
