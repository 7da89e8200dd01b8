package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/tars-engine/tars/internal/tracepage"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows/trace"
)

func init() { extraCommands = append(extraCommands, newListCmd) }

type listFlags struct {
	metascript, status, agent, runtime, department string
	since, until                                   string
	query                                          string
	limit                                          int
	out                                            outputFlags
}

// listStatuses maps the run states tars prints to Temporal's
// ExecutionStatus values.
var listStatuses = map[string]string{
	trace.RunRunning:        "Running",
	trace.RunCompleted:      "Completed",
	trace.RunFailed:         "Failed",
	trace.RunCanceled:       "Canceled",
	trace.RunTerminated:     "Terminated",
	trace.RunTimedOut:       "TimedOut",
	trace.RunContinuedAsNew: "ContinuedAsNew",
}

var listStatusNames = []string{trace.RunRunning, trace.RunCompleted, trace.RunFailed, trace.RunCanceled, trace.RunTerminated, trace.RunTimedOut, trace.RunContinuedAsNew}

func newListCmd(g *globals) *cobra.Command {
	var f listFlags
	c := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first, filtered by metascript, status, agent, runtime, department and time",
		Long: `Lists the runs of the namespace, newest first. The filters become a Temporal
list filter on the search attributes every TARS run carries (TarsMetascript,
TarsAgents, TarsRuntimes, TarsDepartments) and on ExecutionStatus and
StartTime; --query adds any list filter of your own (Temporal's syntax), ANDed
with the others. The filter used is printed with -o json.

Times (--since, --until) are durations back from now (90m, 24h, 7d) or
RFC 3339 times (2026-12-01T09:00:00Z).`,
		Example: `  tars list
  tars list --status failed --since 24h
  tars list --metascript release-notes --agent operations/release-manager -o json
  tars list --runtime wasm --limit 100 -o jsonl | jq -r .id
  tars list --query "WorkflowId STARTS_WITH 'incident-'"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := f.out.get(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			q, err := f.filter(time.Now())
			if err != nil {
				return err
			}
			if f.limit <= 0 {
				return fmt.Errorf("--limit %d: want a positive number", f.limit)
			}
			ctx := cmd.Context()
			return g.withClient(ctx, func(c client.Client) error {
				runs, err := listRuns(ctx, c, g.namespace, q, f.limit)
				if err != nil {
					if q != "" {
						return fmt.Errorf("list runs where %s: %w", q, err)
					}
					return fmt.Errorf("list runs: %w", err)
				}
				return printRuns(cmd.OutOrStdout(), format, q, runs)
			})
		},
	}
	fl := c.Flags()
	fl.StringVarP(&f.metascript, "metascript", "m", "", "runs of this metascript (its name)")
	fl.StringVarP(&f.status, "status", "s", "", "runs in this state: "+strings.Join(listStatusNames, ", ")+" (comma-separated: any of them)")
	fl.StringVarP(&f.agent, "agent", "a", "", "runs in which this agent (department/team/agent or its short name as in the metascript) has a step")
	fl.StringVarP(&f.runtime, "runtime", "r", "", "runs with a step that may run on this runtime: "+strings.Join(plan.Runtimes, ", "))
	fl.StringVar(&f.department, "department", "", "runs with a step of an agent of this department")
	fl.StringVar(&f.since, "since", "", "runs started at or after this time (duration back from now, or RFC 3339)")
	fl.StringVar(&f.until, "until", "", "runs started before this time (duration back from now, or RFC 3339)")
	fl.StringVarP(&f.query, "query", "q", "", "a Temporal list filter, ANDed with the other filters")
	fl.IntVar(&f.limit, "limit", 20, "at most this many runs")
	f.out.register(c)
	_ = c.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(listStatusNames, cobra.ShellCompDirectiveNoFileComp))
	_ = c.RegisterFlagCompletionFunc("runtime", cobra.FixedCompletions(plan.Runtimes, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// filter builds the list filter of the flags; now anchors relative times.
func (f *listFlags) filter(now time.Time) (string, error) {
	var parts []string
	eq := func(flag, attr, v string) error {
		if v == "" {
			return nil
		}
		lit, err := quoteValue(flag, v)
		if err != nil {
			return err
		}
		parts = append(parts, attr+" = "+lit)
		return nil
	}
	if err := eq("--metascript", "TarsMetascript", f.metascript); err != nil {
		return "", err
	}
	if err := eq("--agent", "TarsAgents", f.agent); err != nil {
		return "", err
	}
	if f.runtime != "" && !slices.Contains(plan.Runtimes, f.runtime) {
		return "", fmt.Errorf("--runtime %q: unknown runtime (runtimes: %s)", f.runtime, strings.Join(plan.Runtimes, ", "))
	}
	if err := eq("--runtime", "TarsRuntimes", f.runtime); err != nil {
		return "", err
	}
	if err := eq("--department", "TarsDepartments", f.department); err != nil {
		return "", err
	}
	if f.status != "" {
		var vals []string
		for _, s := range strings.Split(f.status, ",") {
			s = strings.TrimSpace(strings.ToLower(s))
			v, ok := listStatuses[s]
			if !ok {
				return "", fmt.Errorf("--status %q: unknown state %q (states: %s)", f.status, s, strings.Join(listStatusNames, ", "))
			}
			vals = append(vals, "'"+v+"'")
		}
		if len(vals) == 1 {
			parts = append(parts, "ExecutionStatus = "+vals[0])
		} else {
			parts = append(parts, "ExecutionStatus IN ("+strings.Join(vals, ", ")+")")
		}
	}
	for _, t := range []struct{ flag, v, op string }{{"--since", f.since, ">="}, {"--until", f.until, "<"}} {
		if t.v == "" {
			continue
		}
		at, err := parseWhen(t.v, now)
		if err != nil {
			return "", fmt.Errorf("%s %q: %w", t.flag, t.v, err)
		}
		parts = append(parts, fmt.Sprintf("StartTime %s '%s'", t.op, at.UTC().Format(time.RFC3339Nano)))
	}
	if q := strings.TrimSpace(f.query); q != "" {
		parts = append(parts, "("+q+")")
	}
	return strings.Join(parts, " AND "), nil
}

// quoteValue makes a list-filter string literal of v. Quotes and
// backslashes are refused rather than escaped: no metascript, agent or
// runtime name has them, and a wrong escape would silently match nothing.
func quoteValue(flag, v string) (string, error) {
	if strings.ContainsAny(v, `'"\`) {
		return "", fmt.Errorf("%s %q: quotes and backslashes are not allowed in names (use --query for a filter of your own)", flag, v)
	}
	return "'" + v + "'", nil
}

// parseWhen reads a duration back from now (with d for days) or an RFC 3339
// time.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d := s
	days := 0
	if i := strings.Index(d, "d"); i > 0 {
		if _, err := fmt.Sscanf(d[:i], "%d", &days); err != nil {
			return time.Time{}, fmt.Errorf("want a duration (90m, 24h, 7d) or an RFC 3339 time")
		}
		d = d[i+1:]
	}
	var rest time.Duration
	if d != "" {
		var err error
		if rest, err = time.ParseDuration(d); err != nil {
			return time.Time{}, fmt.Errorf("want a duration (90m, 24h, 7d) or an RFC 3339 time")
		}
	}
	total := time.Duration(days)*24*time.Hour + rest
	if total < 0 {
		return time.Time{}, fmt.Errorf("negative duration")
	}
	return now.Add(-total), nil
}

// listedRun is one run as tars list prints it.
type listedRun struct {
	ID         string    `json:"id"`
	RunID      string    `json:"run_id"`
	Metascript string    `json:"metascript"`
	Status     string    `json:"status"`
	Start      time.Time `json:"start"`
	Close      time.Time `json:"close,omitzero"`
	DurationMs int64     `json:"duration_ms,omitempty"`
	Parent     string    `json:"parent,omitempty"`
}

func listRuns(ctx context.Context, c client.Client, ns, q string, limit int) ([]listedRun, error) {
	var runs []listedRun
	var token []byte
	for len(runs) < limit {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: ns, Query: q, PageSize: int32(min(limit-len(runs), 1000)), NextPageToken: token,
		})
		if err != nil {
			return nil, err
		}
		for _, e := range resp.GetExecutions() {
			r := listedRun{
				ID: e.GetExecution().GetWorkflowId(), RunID: e.GetExecution().GetRunId(), Metascript: e.GetType().GetName(),
				Status: tracepage.RunStatus(e.GetStatus()), Start: e.GetStartTime().AsTime(), Parent: e.GetParentExecution().GetWorkflowId(),
			}
			if ct := e.GetCloseTime(); ct != nil {
				r.Close = ct.AsTime()
				r.DurationMs = r.Close.Sub(r.Start).Milliseconds()
			}
			runs = append(runs, r)
			if len(runs) == limit {
				break
			}
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	return runs, nil
}

func printRuns(w io.Writer, format, q string, runs []listedRun) error {
	switch format {
	case outJSON:
		if runs == nil {
			runs = []listedRun{}
		}
		return writeDoc(w, format, map[string]any{"query": q, "runs": runs})
	case outJSONL:
		for _, r := range runs {
			if err := writeDoc(w, format, r); err != nil {
				return err
			}
		}
		return nil
	}
	if len(runs) == 0 {
		fmt.Fprintln(w, "no runs")
		return nil
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMETASCRIPT\tSTATUS\tSTARTED\tDURATION")
	for _, r := range runs {
		dur := "-"
		if r.DurationMs > 0 || !r.Close.IsZero() {
			dur = (time.Duration(r.DurationMs) * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Metascript, r.Status, r.Start.Local().Format("2006-01-02 15:04:05"), dur)
	}
	return tw.Flush()
}
