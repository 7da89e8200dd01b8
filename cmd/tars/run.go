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
	"unicode/utf8"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/internal/tracepage"
	"github.com/tars-engine/tars/metascripts"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workers"
	"github.com/tars-engine/tars/workflows"
	"github.com/tars-engine/tars/workflows/trace"
)

type runFlags struct {
	inputs     []string
	inputsFile string
	id         string
	digest     string
	quiet      bool
	out        outputFlags
}

func (f *runFlags) register(c *cobra.Command) {
	c.Flags().StringArrayVarP(&f.inputs, "input", "i", nil, "input as name=value (repeatable); lists and maps as JSON or YAML")
	c.Flags().StringVar(&f.inputsFile, "inputs-file", "", "YAML or JSON file of inputs (flags win)")
	c.Flags().StringVar(&f.id, "id", "", "workflow id (default: <metascript>-<time>-<random>)")
	c.Flags().StringVar(&f.digest, "digest", "", "with a metascript NAME: run the Plan of this digest (sha256:…, see tars catalogue); the run waits until a worker serves it")
	f.out.register(c)
	_ = c.RegisterFlagCompletionFunc("inputs-file", completeFiles("yaml", "yml", "json"))
}

func newRunCmd(g *globals) *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run FILE",
		Short: "Compile a metascript, start it and follow it to its result",
		Long: `Compiles FILE (an invalid metascript prints its faults and submits nothing,
exit 1), starts a run on the server, shows the live state of every step
(status, runtime, attempt, duration) and prints the outputs. Exit 1 when the
run fails. Ctrl-C stops following; the run goes on (tars cancel stops it).
When no worker polls the workflows task queue, a warning on stderr says so
within a few seconds and names the command that would serve it.

-o json prints one document {"id", "run_id", "status", "outputs"} (or
"error" for a failed run) and no live view; -o jsonl the same on one line.`,
		Example: `  tars run metascripts/examples/release-notes.yaml --input version=1.4.0
  tars run triage.yaml -i incident="db latency" -i services='[api, db]'`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeMetascripts,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFile(cmd.Context(), g, &f, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr(), true)
		},
	}
	f.register(c)
	c.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "no live view; print only the outputs")
	return c
}

func newSubmitCmd(g *globals) *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "submit FILE",
		Short: "Compile a metascript and start a run; print its id and Web UI link",
		Long: `Compiles FILE, starts a run and prints its workflow id and Web UI link
(-o json: {"id", "run_id", "link"}). When no worker polls the workflows task
queue, a warning on stderr says so and names the command that would serve it.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeMetascripts,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFile(cmd.Context(), g, &f, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr(), false)
		},
	}
	f.register(c)
	return c
}

func runFile(ctx context.Context, g *globals, f *runFlags, file string, out, errOut io.Writer, follow bool) error {
	format, err := f.out.get(errOut)
	if err != nil {
		return err
	}
	o := workflows.Options{QueuePrefix: g.queuePrefix}
	t, err := g.resolveStart(file, f.digest, o)
	if err != nil {
		var d metascripts.Diagnostics
		if errors.As(err, &d) {
			printFaults(os.Stderr, err)
			return exitError{1}
		}
		return err
	}
	var inputs map[string]any
	if t.p != nil {
		if inputs, err = parseInputs(t.p, f.inputsFile, f.inputs); err != nil {
			return err
		}
	} else if inputs, err = parseUntypedInputs(f.inputsFile, f.inputs); err != nil {
		return err
	}
	c, err := g.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	id := f.id
	if id == "" {
		id = newRunID(t.name)
	}
	opts := client.StartWorkflowOptions{ID: id, TaskQueue: workflows.WorkflowQueue(g.queuePrefix)}
	if t.p != nil {
		opts = workflows.StartOptions(t.p, id, o)
	}
	run, err := workflows.StartRun(ctx, c, opts, t.name, workflows.StartArgs(inputs, t.spec)...)
	if err != nil {
		return fmt.Errorf("start %s: %w", t.name, err)
	}
	link := g.runLink(run.GetID())
	if !follow {
		warnNoWorkflowPollers(ctx, g, c, errOut)
		if format != outText {
			return writeDoc(out, format, map[string]any{"id": run.GetID(), "run_id": run.GetRunID(), "link": link})
		}
		fmt.Fprintln(out, run.GetID())
		if link != "" {
			fmt.Fprintln(out, link)
		}
		return nil
	}
	if !f.quiet && format == outText {
		fmt.Fprintf(out, "run %s\n", run.GetID())
		if link != "" {
			fmt.Fprintf(out, "    %s\n", link)
		}
	}
	go warnNoWorkflowPollers(ctx, g, c, errOut)
	return followRun(ctx, g, c, run.GetID(), out, f.quiet || format != outText, format)
}

// warnNoWorkflowPollers says on w, within a few seconds, when no worker
// polls the workflows task queue: the run cannot start until one does.
func warnNoWorkflowPollers(ctx context.Context, g *globals, c client.Client, w io.Writer) {
	q := workflows.WorkflowQueue(g.queuePrefix)
	deadline := time.Now().Add(pollerGrace)
	for {
		n, err := queuePollers(ctx, c, q, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		if err != nil || n > 0 || ctx.Err() != nil {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
	fmt.Fprintf(w, "warning: no worker polls task queue %s on %s (namespace %s): the run waits until one does; start one with `%s` (or `tars dev`)\n",
		q, g.address, g.namespace, workerCommand(g, ""))
}

// pollerGrace is how long a start waits for a workflow worker to show up
// before warning: a worker started alongside (tars dev --run) polls within
// milliseconds.
const pollerGrace = 2 * time.Second

// queuePollers counts the pollers of a task queue seen within
// workers.DefaultLivenessWindow, the window the interpreter's routing uses.
func queuePollers(ctx context.Context, c client.Client, queue string, typ enumspb.TaskQueueType) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	resp, err := c.DescribeTaskQueue(ctx, queue, typ)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range resp.GetPollers() {
		if t := p.GetLastAccessTime(); t != nil && time.Since(t.AsTime()) <= workers.DefaultLivenessWindow {
			n++
		}
	}
	return n, nil
}

// workerCommand is the command that serves the queues of g (pool "" means
// the interpreter only).
func workerCommand(g *globals, pool string) string {
	cmd := "tars worker"
	if g.address != "127.0.0.1:7233" {
		cmd += " --address " + g.address
	}
	if g.namespace != "default" {
		cmd += " --namespace " + g.namespace
	}
	if g.queuePrefix != workflows.DefaultQueuePrefix {
		cmd += " --queue-prefix " + g.queuePrefix
	}
	if pool != "" {
		cmd += " --pools " + pool
	}
	return cmd
}

// followRun shows live step states until the run closes, then its outputs.
func followRun(ctx context.Context, g *globals, c client.Client, id string, out io.Writer, quiet bool, format string) error {
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
					settleEnded(&st, err)
					view.render(st, pendingAttempts(context.Background(), c, id))
				}
				view.finish()
			}
			if ctx.Err() != nil {
				fmt.Fprintf(out, "stopped following %s; the run goes on (tars cancel %s stops it)\n", id, id)
				return nil
			}
			return printResult(out, g, id, res, withEnding(ctx, c, id, err), format)
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

// printResult prints a closed run's outputs, or why it has none: the run
// failed (exit 1), or its result could not be had (not found, server gone),
// which is an error of the command, not a failed run.
func printResult(out io.Writer, g *globals, id string, res workflows.RunResult, err error, format string) error {
	if err != nil {
		var wee *temporal.WorkflowExecutionError
		if !errors.As(err, &wee) {
			return resultError(g, id, err)
		}
		if format != outText {
			_ = writeDoc(out, format, failedDoc(id, err))
		} else {
			fmt.Fprintln(out, runOutcome(id, err))
		}
		return exitError{1}
	}
	if format != outText {
		return writeDoc(out, format, map[string]any{"id": id, "status": trace.RunCompleted, "outputs": res.Outputs})
	}
	return printOutputs(out, res.Outputs)
}

// closedStatus names how a run that did not complete closed.
func closedStatus(err error) string {
	var (
		canceled   *temporal.CanceledError
		terminated *temporal.TerminatedError
		timeout    *temporal.TimeoutError
	)
	switch {
	case errors.As(err, &canceled):
		return trace.RunCanceled
	case errors.As(err, &terminated):
		return trace.RunTerminated
	case errors.As(err, &timeout) && !isActivityError(err):
		return trace.RunTimedOut
	}
	return trace.RunFailed
}

// resultError explains why a run's result could not be had.
func resultError(g *globals, id string, err error) error {
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return fmt.Errorf("run %s: not found in namespace %s on %s", id, g.namespace, g.address)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("run %s: gave up waiting for its result: %w", id, err)
	}
	return fmt.Errorf("run %s: cannot get its result from %s (the run's own state is unknown, not failed): %w", id, g.address, err)
}

func printOutputs(out io.Writer, outputs map[string]any) error {
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
		s := outputText(outputs[k], fullOutputs) // store_result.go
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
	if err := v.Get(&st); err != nil {
		return st, err
	}
	return withShardProgress(ctx, c, id, st), nil
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
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("--inputs-file %s: not valid UTF-8 (at byte %d)", file, invalidUTF8At(string(b)))
		}
		if err := decodeInputsFile(b, &inputs); err != nil {
			return nil, fmt.Errorf("--inputs-file %s: %w", file, err)
		}
	}
	for _, in := range p.Inputs {
		if in.Secret {
			for _, kv := range pairs {
				if k, _, _ := strings.Cut(kv, "="); k == in.Name {
					return nil, fmt.Errorf("--input %s: the input is secret and is never sent with a run; set %s on the workers", in.Name, activities.SecretEnv(in.Name))
				}
			}
			if _, given := inputs[in.Name]; given {
				return nil, fmt.Errorf("--inputs-file %s: input %s is secret and is never sent with a run; set %s on the workers", file, in.Name, activities.SecretEnv(in.Name))
			}
		}
	}
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--input %q: want name=value", kv)
		}
		if !utf8.ValidString(kv) {
			// Payloads are JSON: invalid bytes would be replaced by U+FFFD
			// without a word.
			return nil, fmt.Errorf("--input %s: value is not valid UTF-8 (at byte %d); pass text, or base64 for bytes", strings.ToValidUTF8(k, "?"), invalidUTF8At(v))
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
	// Missing, mistyped or unknown inputs fail here, before a run exists.
	if err := workflows.CheckInputs(p, inputs); err != nil {
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) {
			return nil, fmt.Errorf("metascript %s: %s", p.Name, ae.Message())
		}
		return nil, err
	}
	return inputs, nil
}

// parseUntypedInputs reads inputs for a metascript this machine does not
// know (started by name): values are read as YAML; the worker checks them.
func parseUntypedInputs(file string, pairs []string) (map[string]any, error) {
	inputs := map[string]any{}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if err := decodeInputsFile(b, &inputs); err != nil {
			return nil, fmt.Errorf("--inputs-file %s: %w", file, err)
		}
	}
	for _, kv := range pairs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--input %q: want name=value", kv)
		}
		var parsed any
		if err := yaml.Unmarshal([]byte(v), &parsed); err != nil {
			parsed = v
		}
		inputs[k] = parsed
	}
	return inputs, nil
}

// decodeInputsFile reads an inputs file: JSON by the JSON rules when it is
// a JSON object (YAML's parser refuses JSON's surrogate-pair escapes such as
// "\ud83d\ude80"), YAML otherwise.
func decodeInputsFile(b []byte, inputs *map[string]any) error {
	trimmed := strings.TrimSpace(string(b))
	if !strings.HasPrefix(trimmed, "{") {
		return yaml.Unmarshal(b, inputs)
	}
	dec := json.NewDecoder(strings.NewReader(trimmed))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		// Flow-style YAML ({a: 1}) starts with { too.
		if yerr := yaml.Unmarshal(b, inputs); yerr == nil {
			return nil
		}
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	for k, v := range m {
		(*inputs)[k] = plainNumbers(v)
	}
	return nil
}

// plainNumbers turns json.Numbers into int64 where they are integers and
// float64 otherwise, as the YAML path reads them.
func plainNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = plainNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = plainNumbers(e)
		}
	}
	return v
}

// invalidUTF8At is the byte offset of the first invalid UTF-8 sequence.
func invalidUTF8At(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return -1
}

func newStatusCmd(g *globals) *cobra.Command {
	var of outputFlags
	c := &cobra.Command{
		Use:   "status RUN_ID",
		Short: "Show a run's status, the state of each step and what it has spent against its budgets",
		Long: `Shows a run's status, its Web UI link and the live state of each step. A
step that waits on a task queue no worker polls is named with the command
that would serve it; so is a run whose workflows queue has no worker.
-o json prints {"id", "run_id", "type", "status", "state", "warnings"}.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeRunIDs(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := of.get(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return g.withClient(cmd.Context(), func(c client.Client) error {
				return showStatus(cmd.Context(), g, c, args[0], cmd.OutOrStdout(), format)
			})
		},
	}
	of.register(c)
	return c
}

func showStatus(ctx context.Context, g *globals, c client.Client, id string, out io.Writer, format string) error {
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return fmt.Errorf("run %s: %w", id, err)
	}
	info := d.GetWorkflowExecutionInfo()
	status := tracepage.RunStatus(info.GetStatus())
	qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	st, qerr := queryState(qctx, c, id)
	cancel()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		if qerr != nil {
			st, qerr = stateFromHistory(ctx, c, id)
		}
		if qerr == nil {
			settle(&st, status, info.GetCloseTime().AsTime())
		}
	}
	end, ended := runEnding(ctx, c, id, "")
	var warnings []string
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		warnings = queueWarnings(ctx, g, c, info.GetTaskQueue(), st, qerr == nil)
	}
	if format != outText {
		doc := map[string]any{"id": id, "run_id": info.GetExecution().GetRunId(), "type": info.GetType().GetName(), "status": status, "warnings": warnings}
		if qerr == nil {
			doc["state"] = st
		}
		if ended && end.Cause != "" {
			doc["cause"] = end.Cause
		}
		return writeDoc(out, format, doc)
	}
	fmt.Fprintf(out, "run %s · %s · %s\n", id, info.GetType().GetName(), status)
	if ended && end.Cause != "" {
		fmt.Fprintf(out, "    %s\n", end.Cause)
	}
	if link := g.runLink(id); link != "" {
		fmt.Fprintf(out, "    %s\n", link)
	}
	for _, w := range warnings {
		fmt.Fprintf(out, "warning: %s\n", w)
	}
	if qerr != nil {
		fmt.Fprintf(out, "(step states unavailable: %v)\n", qerr)
		return nil
	}
	v := newLiveView(id, out, false)
	v.render(st, pendingAttempts(ctx, c, id))
	v.finish()
	if len(st.Budgets) > 0 {
		fmt.Fprintln(out, "spent: "+budgetsText(st.Budgets))
	}
	return nil
}

// queueWarnings names the task queues an open run waits on that no worker
// polls: its workflows queue, and the queue of each running step's runtime.
func queueWarnings(ctx context.Context, g *globals, c client.Client, wfQueue string, st workflows.State, haveState bool) []string {
	var out []string
	if n, err := queuePollers(ctx, c, wfQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW); err == nil && n == 0 {
		out = append(out, fmt.Sprintf("no worker polls the workflows task queue %s: the run cannot go on until `%s` (or `tars dev`) serves it", wfQueue, workerCommand(g, "")))
	}
	if !haveState {
		return out
	}
	checked := map[string]int{}
	for _, s := range st.Steps {
		if s.Status != workflows.StatusRunning || s.Runtime == "" {
			continue
		}
		q := workflows.RuntimeQueue(g.queuePrefix, s.Runtime)
		n, seen := checked[q]
		if !seen {
			var err error
			if n, err = queuePollers(ctx, c, q, enumspb.TASK_QUEUE_TYPE_ACTIVITY); err != nil {
				continue
			}
			checked[q] = n
		}
		if n == 0 {
			out = append(out, fmt.Sprintf("step %s waits on task queue %s, which no worker polls: start `%s`", s.ID, q, workerCommand(g, s.Runtime)))
		}
	}
	return out
}

func newResultCmd(g *globals) *cobra.Command {
	var of outputFlags
	var wait, full bool
	var step string
	c := &cobra.Command{
		Use:   "result RUN_ID",
		Short: "Print a run's outputs (waits for it with --wait)",
		Long: `Prints a closed run's outputs; exit 1 when the run failed, was cancelled,
terminated or timed out. A run that does not exist, or a server that cannot
be reached, is an error of the command, not a failed run.
-o json prints {"id", "status", "outputs"} (or "error").`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeRunIDs(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := of.get(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return g.withClient(ctx, func(c client.Client) error {
				d, err := c.DescribeWorkflowExecution(ctx, args[0], "")
				if err != nil {
					return resultError(g, args[0], err)
				}
				if s := d.GetWorkflowExecutionInfo().GetStatus(); !wait && s == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
					return fmt.Errorf("run %s is still running (use --wait)", args[0])
				}
				if step != "" {
					return printStepOutput(ctx, cmd.OutOrStdout(), c, args[0], step, format)
				}
				var res workflows.RunResult
				err = c.GetWorkflow(ctx, args[0], "").Get(ctx, &res)
				fullOutputs = full
				return printResult(cmd.OutOrStdout(), g, args[0], res, withEnding(ctx, c, args[0], err), format)
			})
		},
	}
	of.register(c)
	c.Flags().BoolVar(&wait, "wait", false, "wait for the run to close")
	c.Flags().BoolVar(&full, "full", false, "print every output whole (by default a value over 1 KiB shows its size and a preview)")
	c.Flags().StringVar(&step, "step", "", "print this step's output, whole (asks the run; a closed run is replayed by a worker)")
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
			return g.withClient(ctx, func(c client.Client) error {
				var err error
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
			})
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
			if by == "" {
				by = os.Getenv("USER")
			}
			d := workflows.Decision{Step: args[1], Approved: !reject, By: by, Comment: comment}
			var res workflows.DecisionResult
			err := g.withClient(ctx, func(c client.Client) (err error) {
				res, err = decide(ctx, c, args[0], d)
				return err
			})
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
