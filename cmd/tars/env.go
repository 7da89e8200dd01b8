package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tars-engine/tars/internal/env"
	"github.com/tars-engine/tars/plan"
)

func newEnvCmd(g *globals) *cobra.Command {
	var of outputFlags
	c := &cobra.Command{
		Use:   "env",
		Short: "Print what this machine offers: OS, container, KVM, GPUs, and which pools it can serve",
		Long: `Detects the OS, whether it runs in a container or Kubernetes, KVM (the API
version, not just the device file), NVIDIA GPUs through NVML (loaded at run
time, so tars starts where there is no driver), the WASM compiler, and which
pools this machine can serve and why not the others. tars dev and tars worker
with no --pools start exactly the available ones.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := of.get(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			r := env.Detect(env.RealProbes())
			if format != outText {
				return writeDoc(cmd.OutOrStdout(), format, r)
			}
			r.Print(cmd.OutOrStdout())
			fmt.Fprintf(cmd.OutOrStdout(), "\nwasm modules:      %s\nhyperlight guests: %s\n", orUnset(g.modulesDir), orUnset(g.guestsDir))
			return nil
		},
	}
	of.register(c)
	return c
}

func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}

// poolNames returns the pools to serve: the given list, or every pool the
// environment report says this machine can serve (and whose tools directory
// is known).
func (g *globals) poolNames(list string) ([]string, error) {
	if list != "" {
		var out []string
		for _, n := range strings.Split(list, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			known := false
			for _, rt := range plan.Runtimes {
				known = known || rt == n
			}
			if !known {
				return nil, fmt.Errorf("--pools: unknown pool %q (pools: %s)", n, strings.Join(plan.Runtimes, ", "))
			}
			out = append(out, n)
		}
		return out, nil
	}
	r := env.Detect(env.RealProbes())
	var out []string
	for _, n := range r.AvailablePools() {
		if (n == plan.RuntimeWASM && g.modulesDir == "") || (n == plan.RuntimeHyperlight && g.guestsDir == "") {
			continue
		}
		out = append(out, n)
	}
	return out, nil
}
