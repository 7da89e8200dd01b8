package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/tars-engine/tars/configs"
	"github.com/tars-engine/tars/metascripts"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workers"
	"github.com/tars-engine/tars/workflows"
)

// compileOptions builds the compiler's view of the world: the agent tree
// and the live tool inventory of this machine's pools.
func (g *globals) compileOptions() (metascripts.Options, error) {
	cfg := configs.Default()
	if g.configsDir != "" {
		c, err := configs.Load(g.configsDir)
		if err != nil {
			return metascripts.Options{}, err
		}
		cfg = c
	}
	inv, err := workers.Inventory(g.poolConfig())
	if err != nil {
		return metascripts.Options{}, err
	}
	return metascripts.Options{Catalog: inv, Config: cfg}, nil
}

func (g *globals) compile(file string) (*plan.Plan, error) {
	o, err := g.compileOptions()
	if err != nil {
		return nil, err
	}
	return metascripts.CompileFile(file, o)
}

// printFaults prints compiler diagnostics one per line, or the error.
func printFaults(w io.Writer, err error) {
	var d metascripts.Diagnostics
	if errors.As(err, &d) {
		for _, x := range d {
			fmt.Fprintln(w, x.String())
		}
		return
	}
	fmt.Fprintln(w, err)
}

func newValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:               "validate FILE...",
		Short:             "Check metascripts; print every fault as file:line:col: message (exit 1 on any)",
		Example:           `  tars validate metascripts/examples/*.yaml`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeMetascripts,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := g.compileOptions()
			if err != nil {
				return err
			}
			bad := 0
			for _, f := range args {
				if _, err := metascripts.CompileFile(f, o); err != nil {
					printFaults(cmd.ErrOrStderr(), err)
					bad++
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", f)
			}
			if bad > 0 {
				return exitError{1}
			}
			return nil
		},
	}
}

func newCompileCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:               "compile FILE",
		Short:             "Compile a metascript and print its Plan as JSON",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeMetascripts,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.compile(args[0])
			if err != nil {
				printFaults(cmd.ErrOrStderr(), err)
				return exitError{1}
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(p)
		},
	}
}

func newGraphCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:               "graph FILE",
		Short:             "Print the metascript's DAG as Mermaid, grouped by agent, with runtimes",
		Example:           "  tars graph metascripts/examples/incident-triage.yaml > triage.mmd",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeMetascripts,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.compile(args[0])
			if err != nil {
				printFaults(cmd.ErrOrStderr(), err)
				return exitError{1}
			}
			fmt.Fprint(cmd.OutOrStdout(), metascripts.Graph(p))
			return nil
		},
	}
}

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the metascript language (for yaml-language-server)",
		Long: `Prints a JSON Schema editors can load. With yaml-language-server, put
  # yaml-language-server: $schema=./metascript.schema.json
at the top of a metascript after: tars schema > metascript.schema.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(metascripts.Schema())
			return err
		},
	}
}

func newPlanCmd(g *globals) *cobra.Command {
	var explain bool
	c := &cobra.Command{
		Use:               "plan FILE",
		Short:             "Show each step's runtime chain and, with --explain, the pool it would go to now and why",
		Example:           "  tars plan metascripts/examples/incident-triage.yaml --explain",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeMetascripts,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := g.compile(args[0])
			if err != nil {
				printFaults(cmd.ErrOrStderr(), err)
				return exitError{1}
			}
			var live map[string]bool
			var liveErr error
			if explain {
				live, liveErr = g.livePools(cmd.Context())
			}
			explainPlan(cmd.OutOrStdout(), p, live, liveErr, explain)
			return nil
		},
	}
	c.Flags().BoolVar(&explain, "explain", false, "ask the server which pools are live and say where each step would go")
	return c
}

func (g *globals) livePools(ctx context.Context) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	queues := map[string]string{}
	for _, rt := range plan.Runtimes {
		queues[rt] = workflows.RuntimeQueue(g.queuePrefix, rt)
	}
	var live map[string]bool
	err := g.withClient(ctx, func(c client.Client) error {
		res, err := (&workers.Pollers{Client: c}).Pollers(ctx, workflows.PollersRequest{Queues: queues})
		live = res.Live
		return err
	})
	return live, err
}

// explainPlan prints, per step, its chain and routing decision. The
// decision mirrors the interpreter: the first runtime in the chain with
// live pollers, never below the step's isolation floor.
func explainPlan(w io.Writer, p *plan.Plan, live map[string]bool, liveErr error, explain bool) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	if explain {
		if liveErr != nil {
			fmt.Fprintf(w, "live pools unknown: %v\n\n", liveErr)
		} else {
			var names []string
			for rt, ok := range live {
				if ok {
					names = append(names, rt)
				}
			}
			sort.Strings(names)
			fmt.Fprintf(w, "live pools: %s\n\n", strings.Join(names, ", "))
		}
		fmt.Fprintln(tw, "STEP\tKIND\tAGENT\tCHAIN\tFLOOR\tNOW\tWHY")
	} else {
		fmt.Fprintln(tw, "STEP\tKIND\tAGENT\tCHAIN\tFLOOR")
	}
	for _, s := range p.Steps {
		kind := s.Kind
		if s.Tool != "" {
			kind += " " + s.Tool
		}
		chain := strings.Join(s.Runtimes, " → ")
		if s.Auto {
			chain = "auto: " + chain
		}
		if chain == "" {
			chain = "(in workflow)"
		}
		floor := s.MinIsolation
		if floor == "" {
			floor = plan.IsolationProcess
		}
		if !explain {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, kind, s.Agent, chain, floor)
			continue
		}
		now, why := routeNow(s, live, liveErr)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, kind, s.Agent, chain, floor, now, why)
	}
	tw.Flush()
}

func routeNow(s plan.Step, live map[string]bool, liveErr error) (string, string) {
	if s.Kind != plan.KindTool && s.Kind != plan.KindReason {
		return "workflow", s.Kind + " steps run inside the workflow"
	}
	floor := plan.IsolationRank(s.MinIsolation)
	var skipped []string
	for _, rt := range s.Runtimes {
		if plan.IsolationRank(plan.Isolation(rt)) < floor {
			skipped = append(skipped, rt+" below floor")
			continue
		}
		if liveErr != nil {
			return rt, "first in chain (live pools unknown)"
		}
		if live[rt] {
			why := "first live runtime in chain"
			if len(skipped) > 0 {
				why += "; skipped " + strings.Join(skipped, ", ")
			}
			return rt, why
		}
		skipped = append(skipped, rt+" has no pollers")
	}
	if len(s.Runtimes) > 0 {
		return s.Runtimes[0], "no live pool yet: waits schedule_to_start on each, then fails (" + strings.Join(skipped, ", ") + ")"
	}
	return "-", "no runtime offers this tool"
}

func newToolsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tools",
		Short: "List the tools each runtime's pool offers here, with artifact digests",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			inv, err := workers.Inventory(g.poolConfig())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUNTIME\tTOOL\tSHA256")
			for _, rt := range plan.Runtimes {
				names := make([]string, 0, len(inv[rt]))
				for n := range inv[rt] {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					d := inv[rt][n]
					if len(d) > 16 {
						d = d[:16]
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\n", rt, n, d)
				}
			}
			return tw.Flush()
		},
	}
}
