package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/tars-engine/tars/workflows"
)

// tars schedule: Temporal Schedules that start runs of catalogue
// metascripts by name, as any Temporal client can.

type scheduleFlags struct {
	id         string
	cron       []string
	every      []time.Duration
	inputs     []string
	inputsFile string
	digest     string
	paused     bool
	note       string
}

func newScheduleCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "schedule",
		Short: "Start runs of a catalogue metascript on a cron or an interval (Temporal Schedules)",
		Long: `Creates, lists and deletes Temporal Schedules whose action starts a run of a
catalogue metascript by name, with fixed inputs, on the workflows task queue.
The same schedule made with the Temporal CLI:

  temporal schedule create --schedule-id nightly-notes --cron '0 2 * * *' \
    --workflow-type release-notes --task-queue tars.workflows \
    --input '{"version":"nightly"}'

Runs a schedule starts are ordinary runs: tars list, tars status and the Web UI
show them; the worker that takes each run uses its catalogue's current Plan of
that name (or --digest's).`,
	}
	c.AddCommand(newScheduleCreateCmd(g), newScheduleListCmd(g), newScheduleDeleteCmd(g))
	return c
}

func newScheduleCreateCmd(g *globals) *cobra.Command {
	var f scheduleFlags
	c := &cobra.Command{
		Use:   "create NAME",
		Short: "Schedule runs of the catalogue metascript NAME",
		Example: `  tars schedule create release-notes --cron '0 2 * * *' -i version=nightly
  tars schedule create weekly-briefing --every 168h --id weekly`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(f.cron) == 0 && len(f.every) == 0 {
				return errors.New("tars schedule create: give --cron EXPR or --every DURATION (or both)")
			}
			name := args[0]
			if isMetascriptPath(name) {
				return fmt.Errorf("tars schedule create %s: schedules start catalogue metascripts by name; put the file in the workers' catalogue (--metascripts DIR) and give its name", name)
			}
			t, err := g.resolveStart(name, f.digest, workflows.Options{QueuePrefix: g.queuePrefix})
			if err != nil {
				return err
			}
			var inputs map[string]any
			if t.p != nil {
				inputs, err = parseInputs(t.p, f.inputsFile, f.inputs)
			} else {
				inputs, err = parseUntypedInputs(f.inputsFile, f.inputs)
			}
			if err != nil {
				return err
			}
			id := f.id
			if id == "" {
				id = name + "-schedule"
			}
			spec := client.ScheduleSpec{CronExpressions: f.cron}
			for _, d := range f.every {
				if d <= 0 {
					return fmt.Errorf("--every %s: want a positive duration", d)
				}
				spec.Intervals = append(spec.Intervals, client.ScheduleIntervalSpec{Every: d})
			}
			action := &client.ScheduleWorkflowAction{
				ID:        id + "-run",
				Workflow:  name,
				Args:      workflows.StartArgs(inputs, t.spec),
				TaskQueue: workflows.WorkflowQueue(g.queuePrefix),
			}
			if t.p != nil {
				o := workflows.StartOptions(t.p, id, t.spec.Options)
				action.WorkflowExecutionTimeout = o.WorkflowExecutionTimeout
				action.TypedSearchAttributes = o.TypedSearchAttributes
				action.StaticSummary = o.StaticSummary
				action.StaticDetails = o.StaticDetails
			}
			return g.withClient(cmd.Context(), func(c client.Client) error {
				_, err := c.ScheduleClient().Create(cmd.Context(), client.ScheduleOptions{
					ID: id, Spec: spec, Action: action, Paused: f.paused, Note: f.note,
				})
				if err != nil {
					return fmt.Errorf("create schedule %s: %w", id, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "schedule %s created: runs of %s %s\n", id, name, describeSpec(f))
				return nil
			})
		},
	}
	c.Flags().StringVar(&f.id, "id", "", "schedule id (default NAME-schedule)")
	c.Flags().StringArrayVar(&f.cron, "cron", nil, "cron expression, e.g. '0 2 * * *' (repeatable)")
	c.Flags().DurationSliceVar(&f.every, "every", nil, "interval between runs, e.g. 1h (repeatable)")
	c.Flags().StringArrayVarP(&f.inputs, "input", "i", nil, "input as name=value (repeatable)")
	c.Flags().StringVar(&f.inputsFile, "inputs-file", "", "YAML or JSON file of inputs (flags win)")
	c.Flags().StringVar(&f.digest, "digest", "", "pin the Plan of this digest (see tars catalogue)")
	c.Flags().BoolVar(&f.paused, "paused", false, "create the schedule paused")
	c.Flags().StringVar(&f.note, "note", "", "a note kept with the schedule")
	return c
}

func describeSpec(f scheduleFlags) string {
	var parts []string
	for _, c := range f.cron {
		parts = append(parts, "cron "+c)
	}
	for _, d := range f.every {
		parts = append(parts, "every "+d.String())
	}
	return strings.Join(parts, ", ")
}

func newScheduleListCmd(g *globals) *cobra.Command {
	var out outputFlags
	c := &cobra.Command{
		Use:   "list",
		Short: "List schedules that start TARS runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := out.get(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return g.withClient(cmd.Context(), func(c client.Client) error {
				rows, err := listSchedules(cmd.Context(), c, workflows.WorkflowQueue(g.queuePrefix))
				if err != nil {
					return err
				}
				if format != outText {
					if format == outJSONL {
						for _, r := range rows {
							if err := writeDoc(cmd.OutOrStdout(), format, r); err != nil {
								return err
							}
						}
						return nil
					}
					return writeDoc(cmd.OutOrStdout(), format, map[string]any{"schedules": rows})
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tMETASCRIPT\tSPEC\tPAUSED\tNEXT")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\n", r.ID, r.Metascript, r.Spec, r.Paused, r.Next)
				}
				return tw.Flush()
			})
		},
	}
	out.register(c)
	return c
}

type scheduleRow struct {
	ID         string `json:"id"`
	Metascript string `json:"metascript"`
	Spec       string `json:"spec"`
	Paused     bool   `json:"paused"`
	Next       string `json:"next,omitempty"`
}

// listSchedules lists the schedules whose action starts a workflow on
// the TARS workflows queue.
func listSchedules(ctx context.Context, c client.Client, queue string) ([]scheduleRow, error) {
	it, err := c.ScheduleClient().List(ctx, client.ScheduleListOptions{PageSize: 100})
	if err != nil {
		return nil, err
	}
	var rows []scheduleRow
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, err
		}
		d, err := c.ScheduleClient().GetHandle(ctx, e.ID).Describe(ctx)
		if err != nil {
			return nil, err
		}
		a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
		if !ok || a.TaskQueue != queue {
			continue
		}
		r := scheduleRow{ID: e.ID, Metascript: fmt.Sprint(a.Workflow), Paused: d.Schedule.State.Paused}
		var spec []string
		if s := d.Schedule.Spec; s != nil {
			for _, cal := range s.Calendars {
				spec = append(spec, fmt.Sprintf("calendar %v", cal.Comment))
			}
			spec = append(spec, s.CronExpressions...)
			for _, iv := range s.Intervals {
				spec = append(spec, "every "+iv.Every.String())
			}
		}
		r.Spec = strings.Join(spec, ", ")
		if len(d.Info.NextActionTimes) > 0 {
			r.Next = d.Info.NextActionTimes[0].UTC().Format(time.RFC3339)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func newScheduleDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a schedule (runs it started go on)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withClient(cmd.Context(), func(c client.Client) error {
				if err := c.ScheduleClient().GetHandle(cmd.Context(), args[0]).Delete(cmd.Context()); err != nil {
					return fmt.Errorf("delete schedule %s: %w", args[0], err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "schedule %s deleted\n", args[0])
				return nil
			})
		},
	}
}
