// Command tars compiles metascripts into durable Temporal workflows, runs
// them, serves the worker pools that execute their steps, and turns their
// histories into traces.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitError carries an exit code out of a command without printing twice.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	root := newRoot()
	if err := root.Execute(); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "tars:", withCodecHint(err))
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "tars",
		Short: "Durable coordination of agents on Temporal",
		Long: `tars compiles a metascript (YAML: agents, steps, data flow, and where each step
may run) into a durable Temporal workflow. Each step runs as an activity on the
task queue of its runtime (tars.native, tars.wasm, tars.hyperlight, tars.cuda),
served by a worker pool; every run leaves a replayable trace.

Start everything on this machine:   tars dev
Run a metascript and follow it:     tars run metascripts/examples/release-notes.yaml
Check a metascript:                 tars validate FILE...

Connection settings follow Temporal's conventions, lowest first: the local dev
server (127.0.0.1:7233, namespace "default"); a profile of Temporal's client
config file (TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml;
--profile or TEMPORAL_PROFILE); the TARS YAML file of --config (TARS_CONFIG);
environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS*, TEMPORAL_GRPC_META_*); flags (--address, --namespace,
--grpc-meta KEY=VALUE...).

Commands that print results take -o text|json|jsonl; JSON names the run id.
Shell completion: source <(tars completion bash) (or zsh, fish). More:
docs/cli.md.`,
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	g.register(root)
	root.AddCommand(
		newDevCmd(g), newWorkerCmd(g), newEnvCmd(g),
		newRunCmd(g), newSubmitCmd(g), newStatusCmd(g), newResultCmd(g), newCancelCmd(g), newApproveCmd(g),
		newValidateCmd(g), newCompileCmd(g), newGraphCmd(g), newSchemaCmd(), newPlanCmd(g), newToolsCmd(g),
		newCatalogueCmd(g), newScheduleCmd(g),
	)
	for _, c := range extraCommands {
		root.AddCommand(c(g))
	}
	addCompletions(root, g)
	return root
}

// extraCommands lets files add command groups (trace, replay, bench).
var extraCommands []func(*globals) *cobra.Command
