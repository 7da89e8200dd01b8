package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tars-engine/tars/metascripts"
	"github.com/tars-engine/tars/metascripts/examples"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
)

// catalogueFlags say which metascripts a worker serves: the built-in
// examples, then each --metascripts directory (a later one overrides an
// earlier one's metascript of the same name).
type catalogueFlags struct {
	dirs       []string
	noBuiltin  bool
	skipBroken bool
}

func (f *catalogueFlags) register(c *cobra.Command) {
	fl := c.PersistentFlags()
	fl.StringArrayVar(&f.dirs, "metascripts", nil, "directory of metascripts (*.yaml, *.yml) the interpreter serves by name, beside the built-in examples; a later directory overrides an earlier one (repeatable; env TARS_METASCRIPTS, a list separated by "+string(os.PathListSeparator)+"; config file: metascripts)")
	fl.BoolVar(&f.noBuiltin, "no-builtin-metascripts", false, "leave the built-in example metascripts out of the catalogue")
	fl.BoolVar(&f.skipBroken, "skip-broken-metascripts", false, "leave a catalogue metascript that fails to compile out, with a warning, instead of refusing to start")
}

// resolve fills the directories from the environment or the config file.
func (f *catalogueFlags) resolve(file []string) {
	if len(f.dirs) > 0 {
		return
	}
	if v := os.Getenv("TARS_METASCRIPTS"); v != "" {
		f.dirs = filepath.SplitList(v)
		return
	}
	f.dirs = file
}

// catalogue compiles the catalogue once per process: the built-in examples
// (unless left out) and each --metascripts directory. Faults name
// file:line:col; with --skip-broken-metascripts they come back as warnings.
func (g *globals) catalogue() (*plan.Catalogue, []string, error) {
	if g.cat != nil {
		return g.cat, g.catWarnings, nil
	}
	o, err := g.compileOptions()
	if err != nil {
		return nil, nil, err
	}
	var srcs []metascripts.CatalogueSource
	if !g.catFlags.noBuiltin {
		srcs = append(srcs, metascripts.CatalogueSource{FS: examples.FS, Origin: "built-in"})
	}
	for _, d := range g.catFlags.dirs {
		s, err := metascripts.DirSource(d)
		if err != nil {
			return nil, nil, fmt.Errorf("--metascripts %s: %w", d, err)
		}
		srcs = append(srcs, s)
	}
	cat, warnings, err := metascripts.LoadCatalogue(srcs, o, g.catFlags.skipBroken)
	if err != nil {
		return nil, nil, fmt.Errorf("catalogue (a metascript that does not compile stops the worker; --skip-broken-metascripts leaves it out):\n%w", err)
	}
	g.cat, g.catWarnings = cat, warnings
	return cat, warnings, nil
}

func newCatalogueCmd(g *globals) *cobra.Command {
	var out outputFlags
	c := &cobra.Command{
		Use:     "catalogue",
		Aliases: []string{"catalog"},
		Short:   "List the metascripts an interpreter worker started with these flags serves by name",
		Long: `Compiles the catalogue as tars worker and tars dev do at start (the built-in
examples unless --no-builtin-metascripts, then each --metascripts directory)
and lists each metascript: its name (the workflow type to start), version,
digest (sha256 of its compiled Plan), where it came from, the size of its Plan
and its inputs. A metascript that does not compile is an error naming
file:line:col (with --skip-broken-metascripts, a warning).

Runs start by name from any Temporal client, e.g.
  temporal workflow start --type release-notes --task-queue tars.workflows --input '{"version":"1.4.0"}'
and may pin a digest with a second input: --input '{"digest":"sha256:…"}'.`,
		Example: `  tars catalogue
  tars catalogue --metascripts ./flows -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := out.get(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			cat, warnings, err := g.catalogue()
			if err != nil {
				return err
			}
			for _, w := range warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			return printCatalogue(cmd.OutOrStdout(), format, cat)
		},
	}
	out.register(c)
	return c
}

type catalogueRow struct {
	Name    string   `json:"name"`
	Version string   `json:"version,omitempty"`
	Digest  string   `json:"digest"`
	Origin  string   `json:"origin"`
	Bytes   int      `json:"plan_bytes"`
	Inputs  []string `json:"inputs,omitempty"`
}

func printCatalogue(w io.Writer, format string, cat *plan.Catalogue) error {
	var rows []catalogueRow
	for _, e := range cat.Entries() {
		r := catalogueRow{Name: e.Name, Version: e.Plan.Version, Digest: e.Digest, Origin: e.Origin, Bytes: e.Bytes}
		for _, in := range e.Plan.Inputs {
			s := in.Name + ":" + in.Type
			if in.Required {
				s += "!"
			}
			r.Inputs = append(r.Inputs, s)
		}
		rows = append(rows, r)
	}
	if format != outText {
		if format == outJSONL {
			for _, r := range rows {
				if err := writeDoc(w, format, r); err != nil {
					return err
				}
			}
			return nil
		}
		return writeDoc(w, format, map[string]any{"metascripts": rows})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tDIGEST\tORIGIN\tPLAN\tINPUTS (! required)")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Version, plan.ShortDigest(r.Digest), r.Origin, humanBytes(r.Bytes), strings.Join(r.Inputs, " "))
	}
	return tw.Flush()
}

func humanBytes(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// MaxAdhocPlanBytes bounds the Plan an ad-hoc run carries in its input:
// Temporal refuses payloads over its blob size limit (2 MB by default),
// and the inputs travel in the same payloads.
const MaxAdhocPlanBytes = 1536 << 10

// startTarget is what tars run/submit start: a Plan the client knows (for
// inputs, search attributes and summary) and the workflow arguments.
type startTarget struct {
	name string
	p    *plan.Plan // nil: a name the local catalogue does not hold
	spec workflows.StartSpec
	mode string // "catalogue", "ad-hoc" or "by name"
}

// resolveStart turns the argument of tars run/submit into a start. A path
// (an existing file, or one ending in .yaml/.yml) is compiled here: a Plan
// whose digest the catalogue holds starts by digest alone, any other is an
// ad-hoc run that carries its Plan (refused by workers without
// --allow-adhoc). Any other argument is a metascript name, started by name;
// the local catalogue checks its inputs when it holds it.
func (g *globals) resolveStart(arg string, pin string, o workflows.Options) (*startTarget, error) {
	cat, _, catErr := g.catalogue()
	if isMetascriptPath(arg) {
		p, err := g.compile(arg)
		if err != nil {
			return nil, err
		}
		spec, size, err := workflows.AdhocSpec(p, o)
		if err != nil {
			return nil, err
		}
		if catErr == nil && cat.WithDigest(spec.Digest) != nil {
			return &startTarget{name: p.Name, p: p, spec: workflows.StartSpec{Digest: spec.Digest, Options: o}, mode: "catalogue"}, nil
		}
		if size > MaxAdhocPlanBytes {
			return nil, fmt.Errorf("%s compiles to a %s Plan; an ad-hoc run carries its Plan in its input, and Temporal refuses inputs over its blob size limit (2 MB by default; TARS stops ad-hoc Plans at %s): put the metascript in the workers' catalogue (tars worker --metascripts DIR, tars dev --metascripts DIR) and start it by name: tars run %s",
				arg, humanBytes(size), humanBytes(MaxAdhocPlanBytes), p.Name)
		}
		return &startTarget{name: p.Name, p: p, spec: spec, mode: "ad-hoc"}, nil
	}
	t := &startTarget{name: arg, spec: workflows.StartSpec{Digest: pin, Options: o}, mode: "by name"}
	if catErr == nil {
		if e := cat.Named(arg); e != nil && (pin == "" || pin == e.Digest) {
			t.p = e.Plan
		} else if e := cat.WithDigest(pin); pin != "" && e != nil {
			t.p = e.Plan
		}
	}
	return t, nil
}

// isMetascriptPath: the argument names a file rather than a catalogue name.
func isMetascriptPath(arg string) bool {
	if ext := filepath.Ext(arg); ext == ".yaml" || ext == ".yml" {
		return true
	}
	if strings.ContainsRune(arg, os.PathSeparator) || strings.ContainsRune(arg, '/') {
		return true
	}
	st, err := os.Stat(arg)
	return err == nil && !st.IsDir()
}

// planByDigest resolves the Plan of a run that names it by digest (trace,
// status and the trace page read such runs) from this process's catalogue.
func (g *globals) planByDigest(name, digest string) (*plan.Plan, error) {
	cat, _, err := g.catalogue()
	if err != nil {
		return nil, err
	}
	e := cat.WithDigest(digest)
	if e == nil || (name != "" && e.Name != name) {
		return nil, fmt.Errorf("its Plan %s is not in this catalogue (%s): give --metascripts with the directory that holds that version", digest, cat.Listing())
	}
	return e.Plan, nil
}

// replayEngine is the interpreter tars replay checks histories against:
// this process's catalogue, and ad-hoc Plans.
func (g *globals) replayEngine() *workflows.Engine {
	cat, _, _ := g.catalogue()
	return &workflows.Engine{Catalogue: cat, AllowAdhoc: true}
}
