package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
)

type runFlags struct {
	inputs     []string
	inputsFile string
	id         string
	quiet      bool
	jsonOut    bool
}

func (f *runFlags) register(c *cobra.Command) {
	c.Flags().StringArrayVarP(&f.inputs, "input", "i", nil, "input as name=value (repeatable); lists and maps as JSON or YAML")
	c.Flags().StringVar(&f.inputsFile, "inputs-file", "", "YAML or JSON file of inputs (flags win)")
	c.Flags().StringVar(&f.id, "id", "", "workflow id (default: <metascript>-<time>-<random>)")
}

func newRunCmd(g *globals) *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run FILE",
		Short: "Compile a metascript, start it and follow it to its result",
		Long: `Compiles FILE (an invalid metascript prints its faults and submits nothing,
exit 1), starts a run on the server, shows the live state of every step
(status, runtime, attempt, duration) and prints the outputs. Exit 1 when the
run fails. Ctrl-C stops following; the run goes on (tars cancel stops it).`,
		Example: `  tars run metascripts/examples/release-notes.yaml --input version=1.4.0
  tars run triage.yaml -i incident="db latency" -i services='[api, db]'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFile(cmd.Context(), g, &f, args[0], cmd.OutOrStdout(), true)
		},
	}
	f.register(c)
	c.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "no live view; print only the outputs")
	c.Flags().BoolVar(&f.jsonOut, "json", false, "print the result as JSON")
	return c
}

func newSubmitCmd(g *globals) *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "submit FILE",
		Short: "Compile a metascript and start a run; print its id and Web UI link",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFile(cmd.Context(), g, &f, args[0], cmd.OutOrStdout(), false)
		},
	}
	f.register(c)
	return c
}

func runFile(ctx context.Context, g *globals, f *runFlags, file string, out io.Writer, follow bool) error {
	p, err := g.compile(file)
	if err != nil {
		printFaults(os.Stderr, err)
		return exitError{1}
	}
	inputs, err := parseInputs(p, f.inputsFile, f.inputs)
	if err != nil {
		return err
	}
	c, err := g.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	id := f.id
	if id == "" {
		id = newRunID(p.Name)
	}
	opts := workflows.StartOptions(p, id, workflows.Options{QueuePrefix: g.queuePrefix})
	run, err := workflows.StartRun(ctx, c, opts, p.Name, workflows.RunInput{Plan: p, Inputs: inputs, Options: workflows.Options{QueuePrefix: g.queuePrefix}})
	if err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	if !follow {
		fmt.Fprintf(out, "%s\n%s\n", run.GetID(), g.runLink(run.GetID()))
		return nil
	}
	if !f.quiet && !f.jsonOut {
		fmt.Fprintf(out, "run %s\n    %s\n", run.GetID(), g.runLink(run.GetID()))
	}
	return followRun(ctx, g, c, run.GetID(), out, f.quiet || f.jsonOut, f.jsonOut)
}

// followRun shows live step states until the run closes, then its outputs.
func followRun(ctx context.Context, g *globals, c client.Client, id string, out io.Writer, quiet, jsonOut bool) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	done := make(chan error, 1)
	var res workflows.RunResult
	go func() { done <- c.GetWorkflow(ctx, id, "").Get(ctx, &res) }()
	view := newLiveView(id, out, isTerminal(out))
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if !quiet {
				if st, qerr := queryState(context.Background(), c, id); qerr == nil {
					view.render(st, pendingAttempts(context.Background(), c, id))
				}
				view.finish()
			}
			if ctx.Err() != nil {
				fmt.Fprintf(out, "stopped following %s; the run goes on (tars cancel %s stops it)\n", id, id)
				return nil
			}
			if err != nil {
				fmt.Fprintln(out, runOutcome(id, err))
				return exitError{1}
			}
			return printOutputs(out, res.Outputs, jsonOut)
		case <-tick.C:
			if quiet {
				continue
			}
			st, err := queryState(ctx, c, id)
			if err != nil {
				continue // the first workflow task may not have run yet
			}
			view.render(st, pendingAttempts(ctx, c, id))
		}
	}
}

func printOutputs(out io.Writer, outputs map[string]any, jsonOut bool) error {
	if jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"outputs": outputs})
	}
	if len(outputs) == 0 {
		fmt.Fprintln(out, "done (no outputs)")
		return nil
	}
	fmt.Fprintln(out, "outputs:")
	keys := make([]string, 0, len(outputs))
	for k := range outputs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := outputs[k]
		var s string
		if str, ok := v.(string); ok {
			s = str
		} else {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		if strings.Contains(s, "\n") {
			s = "\n      " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n      ")
		}
		fmt.Fprintf(out, "  %s: %s\n", k, s)
	}
	return nil
}

func queryState(ctx context.Context, c client.Client, id string) (workflows.State, error) {
	var st workflows.State
	v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryState)
	if err != nil {
		return st, err
	}
	return st, v.Get(&st)
}

// pendingAttempts maps step id -> attempt of its running activity.
func pendingAttempts(ctx context.Context, c client.Client, id string) map[string]int32 {
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return nil
	}
	m := map[string]int32{}
	for _, pa := range d.GetPendingActivities() {
		step := pa.GetActivityId()
		if i := strings.IndexAny(step, "#~@"); i >= 0 {
			step = step[:i]
		}
		if pa.GetAttempt() > m[step] {
			m[step] = pa.GetAttempt()
		}
	}
	return m
}

func newRunID(name string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s-%s", name, time.Now().UTC().Format("20060102-150405"), hex.EncodeToString(b[:]))
}

// parseInputs reads --inputs-file, then --input name=value pairs. A value
// for a string input is taken as is; others are parsed as YAML (so JSON
// works too).
func parseInputs(p *plan.Plan, file string, pairs []string) (map[string]any, error) {
	inputs := map[string]any{}
	types := map[string]string{}
	for _, in := range p.Inputs {
		types[in.Name] = in.Type
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if err := yaml.Unmarshal(b, &inputs); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--input %q: want name=value", kv)
		}
		typ, declared := types[k]
		if !declared {
			var names []string
			for _, in := range p.Inputs {
				names = append(names, in.Name)
			}
			return nil, fmt.Errorf("--input %s: metascript %s has no input %q (inputs: %s)", kv, p.Name, k, strings.Join(names, ", "))
		}
		if typ == "string" {
			inputs[k] = v
			continue
		}
		var parsed any
		if err := yaml.Unmarshal([]byte(v), &parsed); err != nil {
			return nil, fmt.Errorf("--input %s: not a valid %s: %w", k, typ, err)
		}
		inputs[k] = parsed
	}
	return inputs, nil
}

func newStatusCmd(g *globals) *cobra.Command {
	var jsonOut bool
	c := &cobra.Command{
		Use:   "status RUN_ID",
		Short: "Show a run's status, the state of each step and what it has spent against its budgets",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := g.dial(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			d, err := c.DescribeWorkflowExecution(ctx, args[0], "")
			if err != nil {
				return fmt.Errorf("run %s: %w", args[0], err)
			}
			info := d.GetWorkflowExecutionInfo()
			st, qerr := queryState(ctx, c, args[0])
			if s := info.GetStatus(); qerr == nil && s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				st.Settle(runStatus(s))
			}
			if jsonOut {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"id": args[0], "type": info.GetType().GetName(), "status": runStatus(info.GetStatus()), "state": st})
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "run %s · %s · %s\n    %s\n", args[0], info.GetType().GetName(), runStatus(info.GetStatus()), g.runLink(args[0]))
			if qerr != nil {
				fmt.Fprintf(out, "(step states unavailable: %v)\n", qerr)
				return nil
			}
			v := newLiveView(args[0], out, false)
			v.render(st, pendingAttempts(ctx, c, args[0]))
			v.finish()
			if len(st.Budgets) > 0 {
				fmt.Fprintln(out, "spent: "+budgetsText(st.Budgets))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print as JSON")
	return c
}

func newResultCmd(g *globals) *cobra.Command {
	var jsonOut bool
	var wait bool
	c := &cobra.Command{
		Use:   "result RUN_ID",
		Short: "Print a run's outputs (waits for it with --wait)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := g.dial(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			if !wait {
				d, err := c.DescribeWorkflowExecution(ctx, args[0], "")
				if err != nil {
					return fmt.Errorf("run %s: %w", args[0], err)
				}
				if s := d.GetWorkflowExecutionInfo().GetStatus(); s == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
					return fmt.Errorf("run %s is still running (use --wait)", args[0])
				}
			}
			var res workflows.RunResult
			if err := c.GetWorkflow(ctx, args[0], "").Get(ctx, &res); err != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "run %s failed: %s\n", args[0], workflows.Describe(err))
				return exitError{1}
			}
			return printOutputs(cmd.OutOrStdout(), res.Outputs, jsonOut)
		},
	}
	c.Flags().BoolVar(&jsonOut, "json", false, "print as JSON")
	c.Flags().BoolVar(&wait, "wait", false, "wait for the run to close")
	return c
}

func newCancelCmd(g *globals) *cobra.Command {
	var reason string
	var terminate bool
	c := &cobra.Command{
		Use:   "cancel RUN_ID",
		Short: "Cancel a run (running steps are asked to stop); --terminate ends it at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := g.dial(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			if terminate {
				err = c.TerminateWorkflow(ctx, args[0], "", reason)
			} else {
				err = c.CancelWorkflow(ctx, args[0], "")
			}
			if err != nil {
				return fmt.Errorf("run %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "asked run %s to stop\n", args[0])
			return nil
		},
	}
	c.Flags().BoolVar(&terminate, "terminate", false, "terminate instead of cancelling")
	c.Flags().StringVar(&reason, "reason", "cancelled with tars", "reason recorded with --terminate")
	return c
}

func newApproveCmd(g *globals) *cobra.Command {
	var reject bool
	var by, comment string
	c := &cobra.Command{
		Use:   "approve RUN_ID STEP",
		Short: "Decide an approval step (approve, or --reject)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := g.dial(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			if by == "" {
				by = os.Getenv("USER")
			}
			d := workflows.Decision{Step: args[1], Approved: !reject, By: by, Comment: comment}
			res, err := decide(ctx, c, args[0], d)
			if err != nil {
				return err
			}
			word := "approved"
			if !res.Approved {
				word = "rejected"
			}
			when := ""
			if !res.Waiting {
				when = " (recorded before the run reached it)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s step %s of run %s%s\n", word, res.Step, args[0], when)
			return nil
		},
	}
	c.Flags().BoolVar(&reject, "reject", false, "reject instead of approve")
	c.Flags().StringVar(&by, "by", "", "who decides (default $USER)")
	c.Flags().StringVar(&comment, "comment", "", "a comment recorded with the decision")
	return c
}

// decide delivers a decision with the workflows.UpdateApprove Update and
// waits for the run to accept or refuse it; a refusal (unknown step, not an
// approval, already decided, timed out) comes back as an error with the
// run's reason.
func decide(ctx context.Context, c client.Client, runID string, d workflows.Decision) (workflows.DecisionResult, error) {
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: runID, UpdateName: workflows.UpdateApprove, Args: []any{d},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var res workflows.DecisionResult
	if err == nil {
		err = h.Get(ctx, &res)
	}
	if err != nil {
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) {
			return res, fmt.Errorf("run %s refused the decision: %s", runID, ae.Message())
		}
		return res, fmt.Errorf("run %s: %w", runID, err)
	}
	return res, nil
}
