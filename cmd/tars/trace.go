package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/tars-engine/tars/internal/tracepage"
	"github.com/tars-engine/tars/workflows/trace"
)

func init() {
	extraCommands = append(extraCommands, newTraceCmd, newHistoryCmd, newReplayCmd)
}

// isHistoryFile says whether a RUN_ID|history.json argument names a file.
func isHistoryFile(arg string) bool {
	return arg == "-" || strings.HasSuffix(strings.ToLower(arg), ".json")
}

// readHistoryArg reads a history file ("-" is stdin).
func readHistoryArg(arg string) (*tracepage.RunHistory, error) {
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
	return &tracepage.RunHistory{History: h, Source: arg, WorkflowID: wid}, nil
}

// loadRun reads a history file or fetches a run; c is nil for a file
// unless children are wanted.
func loadRun(ctx context.Context, g *globals, arg, rid string, needClient bool) (*tracepage.RunHistory, client.Client, error) {
	if isHistoryFile(arg) {
		rh, err := readHistoryArg(arg)
		if err != nil {
			return nil, nil, err
		}
		if err := g.decodeHistoryFile(ctx, rh.History); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", arg, err)
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
	rh, err := tracepage.FetchHistory(ctx, c, arg, rid)
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
		hosts    []string
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
  tars history export RUN_ID --file run.json && tars trace run.json -o json
  tars trace --serve --port 8234                        # the trace page, on its own`,
		ValidArgsFunction: completeRunOrHistory(g),
		Args: func(cmd *cobra.Command, args []string) error {
			if serve {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if serve {
				return serveTracePage(ctx, g, ip, port, hosts, cmd.OutOrStdout(), cmd.ErrOrStderr())
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
			t, err := tracepage.BuildTrace(ctx, c, rh, children, 0)
			if err != nil {
				return err
			}
			return render(cmd.OutOrStdout(), t)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "tree", "tree, json, perfetto, mermaid or mermaid-flow")
	_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"tree", "json", "perfetto", "mermaid", "mermaid-flow"}, cobra.ShellCompDirectiveNoFileComp))
	c.Flags().BoolVar(&children, "children", false, "fetch the child runs of call steps and nest their traces")
	c.Flags().StringVar(&runID, "run-id", "", "a run of the workflow id other than the latest")
	c.Flags().BoolVar(&serve, "serve", false, "serve the trace page instead of printing a trace")
	c.Flags().IntVar(&port, "port", 8234, "with --serve: port of the trace page (0: any free port)")
	c.Flags().StringVar(&ip, "ip", "127.0.0.1", "with --serve: address the trace page listens on")
	c.Flags().StringArrayVar(&hosts, "trace-host", nil, "with --serve: a host name the page may be reached by besides localhost and its addresses (repeatable; other Host headers get 421)")
	return c
}

func serveTracePage(ctx context.Context, g *globals, ip string, port int, hosts []string, out, errOut io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	warnOpenIP(errOut, ip, "the trace page")
	url, closeFn, err := startTracePage(g, ip, port, hosts)
	if err != nil {
		return err
	}
	defer closeFn()
	fmt.Fprintf(out, "trace page %s (runs on %s, namespace %s); Ctrl-C stops\n", url, g.address, g.namespace)
	<-ctx.Done()
	return nil
}

// startTracePage serves the trace page on ip:port for the server of g.
func startTracePage(g *globals, ip string, port int, hosts []string) (string, func(), error) {
	return tracepage.Start(ip, port, tracepage.Options{
		Dial: g.dial, Namespace: g.namespace, Address: g.address,
		UIBase: g.uiBase, Logger: g.logger(), Hosts: hosts, Value: g.storedValue,
	})
}

// warnOpenIP warns that what listens on ip is open to the network without
// authentication, unless ip is a loopback address.
func warnOpenIP(w io.Writer, ip, what string) {
	if parsed := net.ParseIP(ip); ip == "localhost" || (parsed != nil && parsed.IsLoopback()) {
		return
	}
	fmt.Fprintf(w, "warning: --ip %s: %s listen on the network with no authentication and no TLS; anyone who can reach this machine can read and start runs\n", ip, what)
}

func newHistoryCmd(g *globals) *cobra.Command {
	h := &cobra.Command{
		Use:   "history",
		Short: "Export run histories",
	}
	var file, format, runID string
	export := &cobra.Command{
		Use:   "export RUN_ID",
		Short: "Write a run's full history as JSON (protojson, as the Temporal CLI does)",
		Long: `Writes every event of a run's history as protojson ({"events": [...]}),
payloads as the server stores them (decoded when a codec is configured:
--codec-key-file, TARS_CODEC_KEYS or --codec-endpoint), to stdout or to
--file FILE. The file is
what 'tars trace FILE.json' and 'tars replay FILE.json' read, and what
'temporal workflow show -o json' writes. Continue-as-new starts a new run with
its own history: export each run by --run-id. -o takes only json (the one
format a history has); it no longer names a file.`,
		Example: `  tars history export release-notes-20261126-090000-a1b2c3 --file run.json
  tars history export RUN_ID --run-id 0b9c6f... > earlier-run.json`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeRunIDs(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != outJSON {
				return fmt.Errorf("-o %q: a history exports only as json; write it to a file with --file %s", format, format)
			}
			ctx := cmd.Context()
			return g.withClient(ctx, func(c client.Client) error {
				rh, err := tracepage.FetchHistory(ctx, c, args[0], runID)
				if err != nil {
					return err
				}
				if file == "" || file == "-" {
					return trace.WriteHistory(cmd.OutOrStdout(), rh.History)
				}
				f, err := os.Create(file)
				if err != nil {
					return err
				}
				if err := trace.WriteHistory(f, rh.History); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d events of %s (run %s) to %s\n", len(rh.History.Events), rh.WorkflowID, rh.RunID, file)
				return nil
			})
		},
	}
	export.Flags().StringVarP(&file, "file", "f", "", "file to write (default: stdout)")
	export.Flags().StringVarP(&format, "output", "o", outJSON, "output format: json")
	_ = export.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{outJSON}, cobra.ShellCompDirectiveNoFileComp))
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
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeRunOrHistory(g),
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
			err = trace.Replay(rh.History, trace.WithExecution(rh.WorkflowID, rh.RunID), trace.WithWorkflow(g.replayEngine().Run))
			var d *trace.Divergence
			switch {
			case err == nil:
				fmt.Fprintf(out, "replay ok: %d events\n", len(rh.History.Events))
				return nil
			case errors.As(err, &d):
				fmt.Fprintf(out, "replay diverged: %s\n", rh.Source)
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
