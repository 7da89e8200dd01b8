package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
)

func init() { extraCommands = append(extraCommands, newDeploymentCmd) }

// newDeploymentCmd is the rollout of interpreter versions (docs/deploy.md):
// the Worker Deployment calls of the Temporal CLI's `temporal worker
// deployment`, for machines that have only tars.
func newDeploymentCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "deployment",
		Short: "Roll out interpreter versions: describe a Worker Deployment, ramp a version, make it current",
		Long: `Interpreter workers started with --deployment-name register as versions of a
Temporal Worker Deployment (the build id comes from the binary's version and
the catalogue). New runs go to the deployment's current version, or a ramped
share of them to the ramping version; pinned runs finish on the version they
started on. These commands do what 'temporal worker deployment' does.`,
		Example: `  tars deployment describe tars
  tars deployment ramp tars v0.3.0-1a2b3c4d5e6f 10
  tars deployment set-current tars v0.3.0-1a2b3c4d5e6f`,
	}
	c.AddCommand(newDeploymentDescribeCmd(g), newDeploymentRampCmd(g), newDeploymentSetCurrentCmd(g))
	return c
}

// deploymentDoc is what describe prints as JSON.
type deploymentDoc struct {
	Name     string              `json:"name"`
	Current  string              `json:"current_build_id,omitempty"`
	Ramping  string              `json:"ramping_build_id,omitempty"`
	Percent  float32             `json:"ramping_percentage,omitempty"`
	Versions []deploymentVersion `json:"versions"`
}

type deploymentVersion struct {
	BuildID  string    `json:"build_id"`
	Created  time.Time `json:"created"`
	Role     string    `json:"role"` // current, ramping or "" (neither)
	Drainage string    `json:"drainage,omitempty"`
}

func newDeploymentDescribeCmd(g *globals) *cobra.Command {
	var of outputFlags
	c := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a deployment's current and ramping versions and each version's drainage",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := of.get(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return withDeployment(cmd.Context(), g, args[0], func(ctx context.Context, h client.WorkerDeploymentHandle) error {
				d, err := h.Describe(ctx, client.WorkerDeploymentDescribeOptions{})
				if err != nil {
					return fmt.Errorf("describe deployment %s: %w", args[0], err)
				}
				doc := describeDeployment(d.Info)
				if format != outText {
					return writeDoc(cmd.OutOrStdout(), format, doc)
				}
				printDeployment(cmd.OutOrStdout(), doc)
				return nil
			})
		},
	}
	of.register(c)
	return c
}

func describeDeployment(info client.WorkerDeploymentInfo) deploymentDoc {
	rc := info.RoutingConfig
	doc := deploymentDoc{Name: info.Name, Versions: []deploymentVersion{}}
	if rc.CurrentVersion != nil {
		doc.Current = rc.CurrentVersion.BuildID
	}
	if rc.RampingVersion != nil {
		doc.Ramping, doc.Percent = rc.RampingVersion.BuildID, rc.RampingVersionPercentage
	}
	for _, s := range info.VersionSummaries {
		v := deploymentVersion{BuildID: s.Version.BuildID, Created: s.CreateTime}
		switch v.BuildID {
		case doc.Current:
			v.Role = "current"
		case doc.Ramping:
			v.Role = "ramping"
		}
		switch s.DrainageStatus {
		case client.WorkerDeploymentVersionDrainageStatusDraining:
			v.Drainage = "draining" // pinned runs still open on it
		case client.WorkerDeploymentVersionDrainageStatusDrained:
			v.Drainage = "drained" // no open run needs it: its workers may stop
		}
		doc.Versions = append(doc.Versions, v)
	}
	return doc
}

func printDeployment(w io.Writer, d deploymentDoc) {
	fmt.Fprintf(w, "deployment %s\n", d.Name)
	fmt.Fprintf(w, "  current  %s\n", cmp.Or(d.Current, "(none: new runs go to unversioned workers)"))
	if d.Ramping != "" {
		fmt.Fprintf(w, "  ramping  %s at %g%%\n", d.Ramping, d.Percent)
	}
	fmt.Fprintln(w, "  versions")
	for _, v := range d.Versions {
		state := v.Role
		if v.Drainage != "" {
			state = v.Drainage
		}
		fmt.Fprintf(w, "    %-32s %-9s created %s\n", v.BuildID, cmp.Or(state, "-"), v.Created.UTC().Format(time.RFC3339))
	}
}

func newDeploymentRampCmd(g *globals) *cobra.Command {
	var stop bool
	c := &cobra.Command{
		Use:   "ramp NAME BUILD_ID PERCENT",
		Short: "Send a share (0-100%) of new runs to a version; --stop ends the ramp",
		Long: `Ramps a version: PERCENT of new runs (chosen by run id, so a run id always
lands on the same side) go to BUILD_ID, the rest to the current version.
Pinned runs stay where they started. 'tars deployment ramp NAME --stop' ends
the ramp.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if stop {
				return cobra.ExactArgs(1)(cmd, args)
			}
			return cobra.ExactArgs(3)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o := client.WorkerDeploymentSetRampingVersionOptions{}
			if !stop {
				pct, err := strconv.ParseFloat(args[2], 32)
				if err != nil || pct < 0 || pct > 100 {
					return fmt.Errorf("PERCENT %q: want a number from 0 to 100", args[2])
				}
				o.BuildID, o.Percentage = args[1], float32(pct)
			}
			return withDeployment(cmd.Context(), g, args[0], func(ctx context.Context, h client.WorkerDeploymentHandle) error {
				if _, err := h.SetRampingVersion(ctx, o); err != nil {
					return fmt.Errorf("ramp %s in deployment %s: %w", cmp.Or(o.BuildID, "(stop)"), args[0], err)
				}
				if stop {
					fmt.Fprintf(cmd.OutOrStdout(), "deployment %s: ramp stopped\n", args[0])
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "deployment %s: %g%% of new runs to %s\n", args[0], o.Percentage, o.BuildID)
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&stop, "stop", false, "end the ramp: every new run goes to the current version")
	return c
}

func newDeploymentSetCurrentCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "set-current NAME BUILD_ID",
		Short: "Make a version current: every new run goes to it; pinned runs finish where they started",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withDeployment(cmd.Context(), g, args[0], func(ctx context.Context, h client.WorkerDeploymentHandle) error {
				if _, err := h.SetCurrentVersion(ctx, client.WorkerDeploymentSetCurrentVersionOptions{BuildID: args[1]}); err != nil {
					return fmt.Errorf("make %s current in deployment %s: %w", args[1], args[0], err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deployment %s: %s is current\n", args[0], args[1])
				return nil
			})
		},
	}
	return c
}

// withDeployment dials the server and calls f with the deployment's handle.
func withDeployment(ctx context.Context, g *globals, name string, f func(context.Context, client.WorkerDeploymentHandle) error) error {
	if ctx == nil {
		ctx = context.Background()
	}
	return g.withClient(ctx, func(c client.Client) error {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return f(ctx, c.WorkerDeploymentClient().GetHandle(name))
	})
}
