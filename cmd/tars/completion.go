package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/tars-engine/tars/internal/tracepage"
)

// Shell completion (tars completion bash|zsh|fish|powershell, cobra's
// command) completes run ids from the server's recent runs, step ids of a
// run from its live state, -o values, and metascript files. Completions
// that need the server give nothing, quietly, when it cannot be reached
// within a second or two.

// completeMetascripts completes metascript files (YAML).
func completeMetascripts(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
}

// completeFiles completes files with the given extensions.
func completeFiles(exts ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return exts, cobra.ShellCompDirectiveFilterFileExt
	}
}

// completionClient resolves the settings (completion runs no PreRun hooks)
// and dials with a short deadline.
func completionClient(cmd *cobra.Command, g *globals) (client.Client, context.Context, func(), bool) {
	if err := g.resolve(); err != nil {
		return nil, nil, nil, false
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
	c, err := g.dial(ctx)
	if err != nil {
		cancel()
		return nil, nil, nil, false
	}
	return c, ctx, func() { c.Close(); cancel() }, true
}

// recentRunIDs lists the workflow ids of recent runs, newest first, each
// with its type and status as the description.
func recentRunIDs(cmd *cobra.Command, g *globals, prefix string) []string {
	c, ctx, done, ok := completionClient(cmd, g)
	if !ok {
		return nil
	}
	defer done()
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: g.namespace, PageSize: 100})
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range resp.GetExecutions() {
		id := e.GetExecution().GetWorkflowId()
		if !strings.HasPrefix(id, prefix) || slices.ContainsFunc(out, func(s string) bool { return strings.HasPrefix(s, id+"\t") }) {
			continue
		}
		out = append(out, fmt.Sprintf("%s\t%s · %s", id, e.GetType().GetName(), tracepage.RunStatus(e.GetStatus())))
	}
	return out
}

// completeRunIDs completes the first argument with recent run ids.
func completeRunIDs(g *globals) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return recentRunIDs(cmd, g, prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeRunOrHistory completes run ids, and history files.
func completeRunOrHistory(g *globals) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if ids := recentRunIDs(cmd, g, prefix); len(ids) > 0 {
			return ids, cobra.ShellCompDirectiveNoFileComp
		}
		return []string{"json"}, cobra.ShellCompDirectiveFilterFileExt
	}
}

// completeRunThenStep completes RUN_ID then a step id of that run, from its
// live state (approval steps waiting for a decision first).
func completeRunThenStep(g *globals) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		switch len(args) {
		case 0:
			return recentRunIDs(cmd, g, prefix), cobra.ShellCompDirectiveNoFileComp
		case 1:
			c, ctx, done, ok := completionClient(cmd, g)
			if !ok {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			defer done()
			st, err := queryState(ctx, c, args[0])
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var waiting, rest []string
			for _, s := range st.Steps {
				if !strings.HasPrefix(s.ID, prefix) {
					continue
				}
				desc := s.ID + "\t" + s.Status
				if s.Prompt != "" {
					desc += ": " + s.Prompt
					waiting = append(waiting, desc)
					continue
				}
				rest = append(rest, desc)
			}
			return append(waiting, rest...), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// addCompletions wires completion into commands whose code lives elsewhere
// (approve and cancel), so their files stay as they are.
func addCompletions(root *cobra.Command, g *globals) {
	for name, fn := range map[string]func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective){
		"approve": completeRunThenStep(g),
		"cancel":  completeRunIDs(g),
	} {
		if c, _, err := root.Find([]string{name}); err == nil && c != root && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = fn
		}
	}
}
