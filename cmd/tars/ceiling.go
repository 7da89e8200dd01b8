package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/configs"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workers"
)

// ceilingFlags are the operator's ceiling on grants, shared by tars dev
// and tars worker: what any run may have on this worker, whatever its
// policy asks. Without them, nothing beyond the pure tools and the
// sandboxes.
type ceilingFlags struct {
	shell     bool
	hosts     []string
	read      []string
	write     []string
	env       []string
	memoryMiB int
}

// ceilingHelp is the paragraph of --help that explains the flags.
const ceilingHelp = `Ceiling: a run's policy grants (shell, http_hosts, read_dir, write_dir, env,
memory_mib) are what its metascript asks for, within this worker's ceiling.
By default the ceiling allows nothing beyond the pure tools and the WASM and
hyperlight sandboxes: no shell, no HTTP host, no directory, no environment
variable (secret inputs included). A step that needs a grant its policy asks
for and the ceiling lacks fails at once with PolicyRefused, naming the grant,
this worker and the flag that lifts it: --allow-shell, --allow-http-host,
--allow-read, --allow-write, --allow-env, --max-memory-mib.`

func (f *ceilingFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.BoolVar(&f.shell, "allow-shell", false, "let the shell tool run programs for runs whose policy grants shell")
	fl.StringArrayVar(&f.hosts, "allow-http-host", nil, "a host runs may reach when their policy grants it: api.example.com, 127.0.0.1:8080, *.example.com, or * for any (repeatable)")
	fl.StringArrayVar(&f.read, "allow-read", nil, "a directory whose tree a policy's read_dir may name (repeatable)")
	fl.StringArrayVar(&f.write, "allow-write", nil, "a directory whose tree a policy's write_dir may name (repeatable)")
	fl.StringArrayVar(&f.env, "allow-env", nil, "an environment variable runs may see when their policy grants it, or a prefix ending in * (TARS_SECRET_* for secret inputs) (repeatable)")
	fl.IntVar(&f.memoryMiB, "max-memory-mib", 0, "the most sandbox memory (wasm, hyperlight) one call may have, granted or default (default 0: each pool's own maximum)")
}

// resolve returns the ceiling: base (a deployment target's ceiling:
// block, or the zero value) with the flags added, every directory made
// absolute, and every entry checked.
func (f *ceilingFlags) resolve(base configs.Ceiling) (activities.Ceiling, error) {
	c := activities.Ceiling{
		Shell:     base.Shell || f.shell,
		HTTPHosts: appendNew(slices.Clone(base.HTTPHosts), f.hosts...),
		Env:       appendNew(slices.Clone(base.Env), f.env...),
		MemoryMiB: base.MemoryMiB,
	}
	if f.memoryMiB != 0 {
		if f.memoryMiB < 0 {
			return c, fmt.Errorf("--max-memory-mib must be at least 1, not %d", f.memoryMiB)
		}
		c.MemoryMiB = f.memoryMiB
	}
	var err error
	if c.ReadDirs, err = absDirs(base.ReadDirs, f.read, "--allow-read"); err != nil {
		return c, err
	}
	if c.WriteDirs, err = absDirs(base.WriteDirs, f.write, "--allow-write"); err != nil {
		return c, err
	}
	if err := c.Check(); err != nil {
		return c, fmt.Errorf("worker ceiling: %w", err)
	}
	return c, nil
}

func absDirs(base, flags []string, flag string) ([]string, error) {
	out := slices.Clone(base)
	for _, d := range flags {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", flag, d, err)
		}
		out = appendNew(out, abs)
	}
	return out, nil
}

func appendNew(list []string, vs ...string) []string {
	for _, v := range vs {
		if !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}

// warnCeiling says, before a run starts, what its metascript asks for
// beyond this worker's ceiling: the steps that need it will fail with
// PolicyRefused.
func warnCeiling(w io.Writer, p *plan.Plan, c activities.Ceiling) {
	for _, e := range workers.PlanExceeds(p, c) {
		fmt.Fprintf(w, "warning: metascript %s asks for %s; this worker does not allow it (%s)\n", p.Name, e, e.Advice())
	}
}
