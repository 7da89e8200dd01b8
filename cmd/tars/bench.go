package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/internal/bench"
	"github.com/tars-engine/tars/internal/devserver"
	"github.com/tars-engine/tars/workers"
	"github.com/tars-engine/tars/workflows"
)

func init() { extraCommands = append(extraCommands, newBenchCmd) }

type benchFlags struct {
	workloads  string
	jsonFile   string
	runs       int
	compareCLI string
	untuned    bool
	pools      string
	machine    string
	date       string
	cpuProfile string
	side       string
	dc         []string
}

// Server names in the report.
const (
	benchTarsDev  = "tars dev"
	benchStartDev = "start-dev"
	benchUntuned  = "untuned"
)

func newBenchCmd(g *globals) *cobra.Command {
	var f benchFlags
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure TARS against hand-written Go workflows, and tars dev against temporal server start-dev",
		Long: `Starts the embedded server as tars dev runs it (tuned) and, for comparison,
temporal server start-dev with its defaults (--compare-cli; or the embedded
server with Temporal's default settings when no CLI is found), then runs each
workload on each server, alternating sides and servers, --runs times, and
prints the medians:

  sequential  200 native echo steps, one after the other
  foreach     one step over 1,000 items, 100 at once
  concurrent  500 one-step runs submitted at once (tars dev only)
  latency     50 one-step runs one at a time on an idle server
  mixed       a foreach on every pool this machine serves (tars dev only)
  loop        3,000 turns of one step, continuing as new (tars dev only, once)
  foreach-1k  one step over 1,000 native echo items, 200 at once (TARS, once):
              the reference rate for foreach-100k
  foreach-100k  100,000 items, 200 at once, in shards of 1,000 (child
              workflows); checked against foreach-1k's items/s (>= 0.8x)
  foreach-1m  1,000,000 items in 1,000 shards: only when named; its 6.9 MB
              input needs external storage (--store-dir DIR, or tars dev's)

Sides: "tars" is the compiled metascript (interpreter and pools); "go" the
same work as a hand-written Go workflow and activity, with the same activity
inputs, the same queue layout (workflows on one queue, activities on
another) and workers with the same options, on tars dev; "go-default" that
workflow with the SDK's default client and worker options, on the comparison
server (what Temporal gives out of the box). Throughput counts activities
from first submit to last result; peak RSS is this process (servers and
workers), plus the CLI server's own.`,
		Example: `  tars bench
  tars bench --workloads sequential,foreach --runs 5 --json bench.json
  tars bench --compare-cli ~/go/bin/temporal --cpuprofile bench.pprof
  tars bench --workloads foreach-1k,foreach-100k --runs 1 --compare-cli none
  tars bench --workloads foreach-1m --runs 1 --compare-cli none --store-dir /tmp/tars-blobs`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runBench(ctx, g, f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	c.Flags().StringVar(&f.workloads, "workloads", "all", "comma-separated workloads: "+strings.Join(bench.Workloads, ", ")+"; only when named: "+strings.Join(bench.Extra, ", "))
	c.Flags().StringVar(&f.jsonFile, "json", "", "also write the report as JSON to this file")
	c.Flags().IntVar(&f.runs, "runs", 3, "rounds per workload; each round runs TARS and hand-written once, alternating which goes first")
	c.Flags().StringVar(&f.compareCLI, "compare-cli", "auto", `temporal CLI whose "server start-dev" (defaults) to compare against; "auto": temporal on PATH or in $GOPATH/bin, else the embedded server untuned; "none": no comparison`)
	c.Flags().BoolVar(&f.untuned, "untuned", false, "also compare against the embedded server with Temporal's default dynamic config")
	c.Flags().StringVar(&f.pools, "pools", "", "pools for the mixed workload (default: every pool this machine can serve)")
	c.Flags().StringVar(&f.machine, "machine", "", "machine description for the report (default: detected cores, architecture, VM)")
	c.Flags().StringVar(&f.date, "date", "", "date for the report, YYYY-MM-DD (default: today)")
	c.Flags().StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (server and workers) to this file")
	c.Flags().StringArrayVar(&f.dc, "dynamic-config", nil, "KEY=VALUE: override one of tars dev's server settings (repeatable; durations as 1s, numbers, true/false), to measure a setting")
	c.Flags().StringVar(&f.side, "side", "", "measure one side only ("+strings.Join(bench.Impls, ", ")+"), e.g. to profile it with --cpuprofile; default all")
	return c
}

func runBench(ctx context.Context, g *globals, f benchFlags, out, progress io.Writer) error {
	names, err := bench.ParseWorkloads(f.workloads)
	if err != nil {
		return fmt.Errorf("--workloads: %w", err)
	}
	var sides []string
	switch f.side {
	case "":
	case bench.ImplTARS, bench.ImplGo, bench.ImplGoDefault:
		sides = []string{f.side}
	default:
		return fmt.Errorf("--side: %q is not one of %s", f.side, strings.Join(bench.Impls, ", "))
	}
	pools, err := g.poolNames(f.pools)
	if err != nil {
		return err
	}
	opts, err := g.compileOptions()
	if err != nil {
		return err
	}
	plans, err := bench.Compile(opts, bench.MixedPools(pools))
	if err != nil {
		return err
	}
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	log := g.logger()
	var targets []bench.Target
	var stops []func()
	defer func() {
		for _, t := range targets {
			t.Client.Close()
			t.DefaultClient.Close()
		}
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()
	var notes []string
	add := func(name, desc string, addr string, pid int, stop func()) error {
		stops = append(stops, stop)
		// TARS and the hand-written side dial as every tars command does;
		// the SDK-defaults side as a plain SDK program does.
		tg := *g
		tg.address, tg.namespace = addr, devserver.DefaultNamespace
		c, err := tg.dial(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		dc, err := client.DialContext(ctx, client.Options{HostPort: addr, Namespace: devserver.DefaultNamespace, Logger: tlog.NewStructuredLogger(log)})
		if err != nil {
			c.Close()
			return fmt.Errorf("%s: %w", name, err)
		}
		targets = append(targets, bench.Target{Server: bench.Server{Name: name, Description: desc}, Client: c, DefaultClient: dc, PID: pid})
		return nil
	}
	overrides, err := parseDynamicConfig(f.dc)
	if err != nil {
		return err
	}
	embedded := func(name, desc string, tuned bool) error {
		o := devserver.Options{
			UIPort: devserver.NoUI, SearchAttributes: searchAttributes(), Tuned: tuned,
			Logger: log, LogLevel: "error",
		}
		if tuned && len(overrides) > 0 {
			o.DynamicConfig = overrides
			desc += fmt.Sprintf(", with %v", f.dc)
		}
		srv, err := devserver.Start(ctx, o)
		if err != nil {
			return err
		}
		return add(name, desc, srv.FrontendAddress(), 0, func() { _ = srv.Stop() })
	}
	if err := embedded(benchTarsDev, "embedded server, tuned (what tars dev runs), SQLite in memory, in this process", true); err != nil {
		return err
	}
	cli, why := findTemporalCLI(f.compareCLI)
	switch {
	case cli != "":
		addr, pid, version, stop, err := startCLIServer(ctx, cli, progress)
		if err != nil {
			return err
		}
		if err := add(benchStartDev, fmt.Sprintf("temporal server start-dev, defaults (%s), SQLite in memory, own process", version), addr, pid, stop); err != nil {
			return err
		}
	case f.compareCLI != "none" && f.compareCLI != "":
		notes = append(notes, "no temporal CLI ("+why+"): compared against the embedded server with Temporal's default dynamic config instead")
		f.untuned = true
	}
	if f.untuned {
		if err := embedded(benchUntuned, "embedded server, Temporal's default dynamic config, in this process", false); err != nil {
			return err
		}
	}

	cfg := bench.Config{
		Workloads: names,
		Rounds:    f.runs,
		Plans:     plans,
		NewRunners: func() ([]activities.Runner, error) {
			return workers.Build(pools, g.poolConfig())
		},
		Progress: progress,
		Logger:   log,
		Sides:    sides,
		Date:     f.date,
		Machine:  f.machine,
	}
	if cfg.Date == "" {
		cfg.Date = time.Now().Format(time.DateOnly)
	}
	if cfg.Machine == "" {
		cfg.Machine = detectMachine()
	}
	rep, err := bench.Run(ctx, cfg, targets)
	if err != nil {
		return err
	}
	rep.Notes = append(rep.Notes, notes...)
	rep.Notes = append(rep.Notes, "pools: "+strings.Join(pools, ", "))
	if err := bench.WriteTable(out, rep); err != nil {
		return err
	}
	if f.jsonFile != "" {
		var b bytes.Buffer
		if err := bench.WriteJSON(&b, rep); err != nil {
			return err
		}
		if err := os.WriteFile(f.jsonFile, b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// parseDynamicConfig reads KEY=VALUE settings: a Go duration, an integer, a
// float, true/false, else a string.
func parseDynamicConfig(kvs []string) (map[string]any, error) {
	out := map[string]any{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--dynamic-config %q: want KEY=VALUE", kv)
		}
		if d, err := time.ParseDuration(v); err == nil {
			out[k] = d
		} else if n, err := strconv.Atoi(v); err == nil {
			out[k] = n
		} else if x, err := strconv.ParseFloat(v, 64); err == nil {
			out[k] = x
		} else if b, err := strconv.ParseBool(v); err == nil {
			out[k] = b
		} else {
			out[k] = v
		}
	}
	return out, nil
}

// findTemporalCLI resolves --compare-cli: a path, "auto" or "none". It
// returns "" and why when there is no CLI to run.
func findTemporalCLI(flag string) (path, why string) {
	switch flag {
	case "none", "":
		return "", "--compare-cli none"
	case "auto":
		if p, err := exec.LookPath("temporal"); err == nil {
			return p, ""
		}
		gopath := os.Getenv("GOPATH")
		if gopath == "" {
			if home, err := os.UserHomeDir(); err == nil {
				gopath = filepath.Join(home, "go")
			}
		}
		p := filepath.Join(gopath, "bin", "temporal")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, ""
		}
		return "", "none on PATH or in " + filepath.Dir(p) + "; go install github.com/temporalio/cli/cmd/temporal@v1.5.1"
	}
	return flag, ""
}

// startCLIServer starts `temporal server start-dev` with its defaults
// (in-memory SQLite, no UI) on a free port, with TARS's search attributes
// registered, and returns once its frontend answers.
func startCLIServer(ctx context.Context, cli string, progress io.Writer) (addr string, pid int, version string, stop func(), err error) {
	if v, verr := exec.CommandContext(ctx, cli, "--version").Output(); verr == nil {
		version = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(v)), "temporal version "))
	}
	port, err := devserver.FreePort("127.0.0.1")
	if err != nil {
		return "", 0, "", nil, err
	}
	args := []string{"server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", strconv.Itoa(port), "--log-level", "error"}
	for _, name := range slices.Sorted(maps.Keys(workflows.SearchAttributeNames)) {
		// The CLI's type names are the ones SearchAttributeNames uses.
		args = append(args, "--search-attribute", name+"="+workflows.SearchAttributeNames[name])
	}
	cmd := exec.Command(cli, args...)
	stderr, _ := cmd.StderrPipe()
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return "", 0, "", nil, fmt.Errorf("start %s: %w", cli, err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(progress, "start-dev:", sc.Text())
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	addr = "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(time.Minute)
	for {
		c, derr := client.DialContext(ctx, client.Options{HostPort: addr, Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
		if derr == nil {
			_, herr := c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
			if herr == nil {
				return addr, cmd.Process.Pid, version, stop, nil
			}
			derr = herr
		}
		select {
		case e := <-exited:
			return "", 0, "", nil, fmt.Errorf("%s server start-dev exited: %v", cli, e)
		case <-ctx.Done():
			stop()
			return "", 0, "", nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", 0, "", nil, fmt.Errorf("%s server start-dev not ready within a minute: %w", cli, derr)
		}
	}
}

// detectMachine describes this machine: cores, architecture, and whether it
// runs under a hypervisor.
func detectMachine() string {
	arch := map[string]string{"amd64": "x86-64", "arm64": "arm64"}[runtime.GOARCH]
	if arch == "" {
		arch = runtime.GOARCH
	}
	s := fmt.Sprintf("%d-core %s", runtime.NumCPU(), arch)
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "flags") {
				if strings.Contains(line, " hypervisor") {
					s += " VM"
				}
				break
			}
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				if _, name, ok := strings.Cut(line, ":"); ok {
					s += " (" + strings.TrimSpace(name) + ")"
				}
				break
			}
		}
	}
	return s
}
