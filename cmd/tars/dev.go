package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/configs"
	"github.com/tars-engine/tars/internal/devserver"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workers"
	"github.com/tars-engine/tars/workflows"
)

type devFlags struct {
	ip        string
	port      int
	uiPort    int
	uiCodec   string // --ui-codec-endpoint (codec_server.go)
	httpPort  int
	db        string
	pools     string
	untuned   bool
	tracePort int
	traceHost []string
	run       string
	exit      bool
	runFlags  runFlags
	ops       opsFlags
	ceiling   ceilingFlags
}

// opsFlags are the operator's settings shared by tars dev and tars worker.
type opsFlags struct {
	metricsAddr string
	grace       time.Duration
}

func (o *opsFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics, /livez and /readyz on this host:port, e.g. :9090 (env TARS_METRICS_ADDR; default: none)")
	c.Flags().DurationVar(&o.grace, "shutdown-grace", 30*time.Second, "on SIGTERM or Ctrl-C: stop polling, then let running steps finish for this long before cancelling them")
}

func (o *opsFlags) resolve() {
	if o.metricsAddr == "" {
		o.metricsAddr = os.Getenv("TARS_METRICS_ADDR")
	}
}

func newDevCmd(g *globals) *cobra.Command {
	var f devFlags
	c := &cobra.Command{
		Use:   "dev",
		Short: "Run the embedded Temporal server, Web UI, trace page and every pool this machine can serve",
		Long: `Starts, in one process: a real Temporal server (SQLite; in memory unless --db),
the Temporal Web UI, the TARS trace page, the interpreter worker and a worker
for every pool this machine can serve (see tars env), or those in --pools.
Ready within seconds; stop with Ctrl-C. With --db FILE, runs survive a restart.

With --metrics-addr, serves Prometheus /metrics (the server's own series, the
SDK's worker and client series, each pool's), /livez and /readyz.

` + ceilingHelp,
		Example: `  tars dev
  tars dev --db ~/.tars/dev.db --pools native,wasm
  tars dev --metrics-addr 127.0.0.1:9090
  tars dev --allow-write /tmp --allow-read /tmp --run metascripts/examples/weekly-briefing.yaml
  tars dev --allow-http-host api.openai.com --allow-env OPENAI_API_KEY`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			warnOpenIP(cmd.ErrOrStderr(), f.ip, "the Temporal server, Web UI, trace page and the frontend's HTTP API")
			d, err := startDev(ctx, g, f)
			if err != nil {
				return err
			}
			defer d.stop()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "tars dev ready\n  temporal  %s (namespace %s)\n", listenDesc(f.ip, d.srv.FrontendAddress()), d.srv.Namespace())
			if ui := d.srv.UIAddress(); ui != "" {
				fmt.Fprintf(out, "  web ui    %s\n", ui)
			}
			if d.traceURL != "" {
				fmt.Fprintf(out, "  traces    %s\n", d.traceURL)
			}
			if a := d.srv.HTTPAPIAddress(); a != "" {
				fmt.Fprintf(out, "  http api  http://%s/api/v1\n", a)
			}
			fmt.Fprintf(out, "  pools     %s\n", strings.Join(d.pools, ", "))
			fmt.Fprintf(out, "  ceiling   %s\n", d.ceiling)
			if f.db != "" {
				fmt.Fprintf(out, "  database  %s\n", f.db)
			}
			if w := g.store.describe(); w != "" {
				fmt.Fprintf(out, "  values    %s\n", w)
			}
			if d.ops != nil {
				fmt.Fprintf(out, "  metrics   http://%s/metrics (and /livez, /readyz)\n", d.ops.Addr())
			}
			if f.run != "" {
				if p, err := g.compile(f.run); err == nil {
					if steps, rts := unservable(p, d.pools); len(steps) > 0 {
						return fmt.Errorf("%s cannot run on this machine: %s. This machine serves %s; %s",
							f.run, strings.Join(steps, "; "), strings.Join(d.pools, ", "), whyNot(rts))
					}
					warnCeiling(cmd.ErrOrStderr(), p, d.ceiling)
				}
				err := runFile(ctx, g, &f.runFlags, f.run, out, cmd.ErrOrStderr(), true)
				if f.exit || err != nil {
					return err
				}
				fmt.Fprintf(out, "still serving: open the links above; Ctrl-C stops\n")
			} else {
				fmt.Fprintf(out, "try: tars run metascripts/examples/release-notes.yaml\n")
			}
			<-ctx.Done()
			fmt.Fprintln(out, "stopping")
			return nil
		},
	}
	c.Flags().StringVar(&f.ip, "ip", "127.0.0.1", "address the server and UI listen on")
	c.Flags().IntVar(&f.port, "port", 7233, "frontend gRPC port")
	c.Flags().IntVar(&f.uiPort, "ui-port", 8233, "Web UI port (-1: no UI)")
	c.Flags().StringVar(&f.uiCodec, "ui-codec-endpoint", "", "Web UI shows payloads decoded through this codec server (see tars codec-server), e.g. http://127.0.0.1:8081")
	c.Flags().IntVar(&f.httpPort, "http-port", 0, "serve the frontend's HTTP API on this port (default 0: none); it refuses other hosts, cross-origin and non-JSON state changes")
	c.Flags().IntVar(&f.tracePort, "trace-port", 8234, "trace page port (-1: none)")
	c.Flags().StringArrayVar(&f.traceHost, "trace-host", nil, "a host name the trace page may be reached by besides localhost and its addresses (repeatable)")
	c.Flags().StringVar(&f.db, "db", "", "SQLite file to persist runs across restarts (default: in memory)")
	c.Flags().StringVar(&f.pools, "pools", "", "comma-separated pools to serve (default: every pool this machine can serve)")
	c.Flags().BoolVar(&f.untuned, "untuned", false, "run the server with Temporal's default settings (for comparison)")
	c.Flags().StringVar(&f.run, "run", "", "once ready, run this metascript, follow it and print its outputs")
	c.Flags().BoolVar(&f.exit, "exit", false, "with --run: stop after the run instead of serving on")
	c.Flags().StringArrayVarP(&f.runFlags.inputs, "input", "i", nil, "with --run: input as name=value (repeatable)")
	f.ops.register(c)
	f.ceiling.register(c)
	return c
}

type devProcess struct {
	srv      *devserver.Server
	host     *workers.Host
	pools    []string
	traceURL string
	ops      *workers.OpsServer
	store    *embeddedStore // nil when external storage is off or elsewhere
	closers  []func()
	ceiling  activities.Ceiling
}

func (d *devProcess) stop() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
}

func searchAttributes() map[string]enumspb.IndexedValueType {
	m := map[string]enumspb.IndexedValueType{}
	for name, kind := range workflows.SearchAttributeNames {
		switch kind {
		case "Keyword":
			m[name] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
		case "KeywordList":
			m[name] = enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST
		}
	}
	return m
}

func startDev(ctx context.Context, g *globals, f devFlags) (*devProcess, error) {
	d := &devProcess{}
	f.ops.resolve()
	ceiling, err := f.ceiling.resolve(configs.Ceiling{})
	if err != nil {
		return nil, err
	}
	d.ceiling = ceiling
	srv, err := devserver.Start(ctx, devserver.Options{
		IP: f.ip, Port: f.port, UIPort: f.uiPort, HTTPPort: f.httpPort, DBFile: f.db,
		Namespace:        g.namespace,
		SearchAttributes: searchAttributes(),
		Tuned:            !f.untuned,
		Logger:           g.logger(),
		LogLevel:         g.logLevel,
		Metrics:          f.ops.metricsAddr != "",
		UICodecEndpoint:  f.uiCodec,
	})
	if err != nil {
		return nil, err
	}
	d.srv = srv
	d.closers = append(d.closers, func() { _ = srv.Stop() })
	var health *workers.Health
	if f.ops.metricsAddr != "" {
		g.metrics = workers.NewMetrics()
		g.metrics.Add(workers.Scraped(srv.MetricsURL()))
		health = &workers.Health{}
		ops, err := workers.ServeOps(f.ops.metricsAddr, g.metrics, health, g.logger())
		if err != nil {
			d.stop()
			return nil, err
		}
		d.ops = ops
		d.closers = append(d.closers, func() { _ = ops.Close() })
	}
	g.address = srv.FrontendAddress()
	if ui := srv.UIAddress(); ui != "" {
		g.uiURL = ui
	}
	store, err := g.startEmbeddedStore(f.ip, f.db) // large values (store.go)
	if err != nil {
		d.stop()
		return nil, err
	}
	if store != nil {
		d.store = store
		d.closers = append(d.closers, store.close)
	}
	names, err := g.poolNames(f.pools)
	if err != nil {
		d.stop()
		return nil, err
	}
	host, err := g.serveWith(ctx, serveOptions{pools: names, workflows: true, health: health, grace: f.ops.grace, ceiling: ceiling, allowAdhoc: true})
	if err != nil {
		d.stop()
		return nil, err
	}
	d.host = host
	d.closers = append(d.closers, host.Stop)
	if store != nil {
		store.janitor.Start()
	}
	d.pools = names
	if f.tracePort >= 0 {
		url, closeFn, err := startTracePage(g, f.ip, f.tracePort, f.traceHost)
		if err != nil {
			d.stop()
			return nil, err
		}
		d.traceURL = url
		d.closers = append(d.closers, closeFn)
	}
	// Other tars commands on this machine take the UI's address from here
	// for their links.
	if rm, err := writeDevState(devState{PID: os.Getpid(), Address: g.address, UI: srv.UIAddress(), Trace: d.traceURL, Blobs: d.store.url()}); err == nil {
		d.closers = append(d.closers, rm)
	}
	return d, nil
}

// serveOptions say what serve starts.
type serveOptions struct {
	pools     []string
	workflows bool           // also the interpreter
	capacity  map[string]int // per pool, from a deployment target; 0 or absent: the runner's own
	health    *workers.Health
	grace     time.Duration // Host.Stop lets running calls finish this long
	ceiling   activities.Ceiling
	// allowAdhoc: the interpreter also runs Plans sent with a run that
	// are not in its catalogue (tars dev; tars worker --allow-adhoc).
	allowAdhoc bool
	// versioning registers the interpreter with Worker Versioning
	// (versioning.go); nil: unversioned.
	versioning *workers.Versioning
}

// serveWith starts what o says.
func (g *globals) serveWith(ctx context.Context, o serveOptions) (*workers.Host, error) {
	var cat *plan.Catalogue
	if o.workflows {
		var warnings []string
		var err error
		if cat, warnings, err = g.catalogue(); err != nil {
			return nil, err
		}
		for _, w := range warnings {
			g.logger().Warn(w)
		}
		// The catalogue's metascripts that ask for more than this
		// worker's ceiling: their steps will be refused here.
		for _, e := range cat.Entries() {
			for _, x := range workers.PlanExceeds(e.Plan, o.ceiling) {
				g.logger().Warn("catalogue metascript asks for more than this worker allows", "metascript", e.Name, "exceeds", x)
			}
		}
	}
	cfg := g.poolConfig()
	cfg.MaxMemoryMiB = o.ceiling.MemoryMiB
	runners, err := workers.Build(o.pools, cfg)
	if err != nil {
		return nil, err
	}
	c, err := g.dial(ctx)
	if err != nil {
		for _, r := range runners {
			_ = r.Close()
		}
		return nil, err
	}
	if o.workflows {
		g.setValueLimits(ctx, c) // store.go
	}
	h, err := workers.Start(workers.Options{
		Client: c, QueuePrefix: g.queuePrefix, Workflows: o.workflows, Runners: runners, Logger: g.logger(),
		Catalogue: cat, AllowAdhoc: o.allowAdhoc, Versioning: o.versioning,
		Metrics: g.metrics, Health: o.health, StopTimeout: o.grace, Capacity: o.capacity, Ceiling: o.ceiling,
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	return h, nil
}

func (g *globals) poolConfig() workers.PoolConfig {
	cache := ""
	if dir, err := os.UserCacheDir(); err == nil {
		cache = dir + "/tars/wasm"
	}
	return workers.PoolConfig{ModulesDir: g.modulesDir, GuestsDir: g.guestsDir, CacheDir: cache, Logger: g.logger(),
		NativeOutputMaxBytes: g.nativeOutputMax()}
}

func newWorkerCmd(g *globals) *cobra.Command {
	var (
		pools       string
		target      string
		noWorkflows bool
		allowAdhoc  bool
		ops         opsFlags
		ceiling     ceilingFlags
		vf          versioningFlags
	)
	c := &cobra.Command{
		Use:   "worker",
		Short: "Serve pools (and the interpreter) against a Temporal server started elsewhere",
		Long: `Runs the interpreter worker on <prefix>.workflows and one worker per pool on
<prefix>.<runtime>, against the server at --address. Run it on as many machines
as you like: a run's steps go to whichever machine serves their runtime. With
no --pools and no --target, serves every pool this machine can serve (see
tars env).

--target NAME takes the pools, their capacity and the queue prefix from that
target in deployment.yaml (the --configs directory, or the built-in one);
--pools and --queue-prefix given as well win over it.

With --metrics-addr, serves Prometheus metrics at /metrics (the SDK's worker
and client series, each pool's calls, latencies and faults, and what the
runtimes did), /livez (200 while the process runs) and /readyz (200 once
every worker polls; 503 from the first stop signal on).

On SIGTERM or Ctrl-C: /readyz turns 503, polling stops, running steps get
--shutdown-grace to finish (then they are cancelled and Temporal retries
them elsewhere), and the process exits 0.

` + ceilingHelp + `

With --target, the target's ceiling: block comes first and these flags add
to it (--max-memory-mib replaces its memory_mib).`,
		Example: `  tars worker --address temporal.internal:7233 --pools wasm,hyperlight
  tars worker --pools native --no-workflows --metrics-addr :9090
  tars worker --configs /etc/tars --target hyperlight --shutdown-grace 2m
  tars worker --pools native --allow-http-host api.openai.com --allow-env OPENAI_API_KEY --allow-env 'TARS_SECRET_*'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ops.resolve()
			so := serveOptions{workflows: !noWorkflows, grace: ops.grace, allowAdhoc: allowAdhoc}
			var base configs.Ceiling
			var tgt *configs.Target
			if target != "" {
				t, prefix, err := g.deploymentTarget(target)
				tgt = t
				if err != nil {
					return err
				}
				if pools == "" {
					pools = strings.Join(t.Runtimes(), ",")
				}
				if !cmd.Flags().Changed("queue-prefix") && os.Getenv("TARS_QUEUE_PREFIX") == "" {
					g.queuePrefix = prefix
				}
				so.capacity = map[string]int{}
				for _, p := range t.Pools {
					so.capacity[p.Runtime] = p.Capacity
				}
				base = t.Ceiling
			}
			var err error
			if so.ceiling, err = ceiling.resolve(base); err != nil {
				return err
			}
			names, err := g.poolNames(pools)
			if err != nil {
				return err
			}
			so.pools = names
			// The catalogue's digests join the build id once workers
			// hold a catalogue; until then the binary's version alone.
			// The build id names the binary and the catalogue's Plans: a
			// new catalogue is a new version, ramped like new code.
			var digests []string
			if !noWorkflows {
				cat, _, err := g.catalogue()
				if err != nil {
					return err
				}
				digests = cat.Digests()
			}
			if so.versioning, err = vf.resolve(tgt, digests); err != nil {
				return err
			}
			var srv *workers.OpsServer
			if ops.metricsAddr != "" {
				g.metrics = workers.NewMetrics()
				so.health = &workers.Health{}
				srv, err = workers.ServeOps(ops.metricsAddr, g.metrics, so.health, g.logger())
				if err != nil {
					return err
				}
				defer srv.Close()
			}
			h, err := g.serveWith(ctx, so)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "tars worker serving %s on %s (queues %s.*)\n", strings.Join(names, ", "), g.address, g.queuePrefix)
			fmt.Fprintf(out, "  ceiling   %s\n", so.ceiling)
			if srv != nil {
				fmt.Fprintf(out, "  metrics   http://%s/metrics (and /livez, /readyz)\n", srv.Addr())
			}
			if v := so.versioning; v != nil && so.workflows {
				fmt.Fprintf(out, "  version   %s (runs %s)\n", v, v.BehaviorName())
			}
			<-ctx.Done()
			fmt.Fprintf(out, "stopping: polling stopped; running steps have %s to finish\n", ops.grace)
			h.Stop()
			fmt.Fprintln(out, "stopped")
			return nil
		},
	}
	c.Flags().StringVar(&pools, "pools", "", "comma-separated pools: native, wasm, hyperlight, cuda (default: every pool this machine can serve)")
	c.Flags().StringVar(&target, "target", "", "take pools, capacity and queue prefix from this target of deployment.yaml")
	c.Flags().BoolVar(&noWorkflows, "no-workflows", false, "do not serve the interpreter workflow")
	c.Flags().BoolVar(&allowAdhoc, "allow-adhoc", false, "also run ad-hoc metascripts: Plans sent with a run (tars run FILE) that are not in this worker's catalogue; off by default, so that only the catalogue's metascripts run")
	ops.register(c)
	ceiling.register(c)
	vf.register(c)
	return c
}

// listenDesc names where a server listens: the address itself, or for an
// unspecified ip (0.0.0.0, ::) every interface, with the address to dial
// from this machine.
func listenDesc(ip, dial string) string {
	if parsed := net.ParseIP(ip); parsed != nil && parsed.IsUnspecified() {
		_, port, _ := net.SplitHostPort(dial)
		return fmt.Sprintf("%s (every interface; from this machine %s)", net.JoinHostPort(ip, port), dial)
	}
	return dial
}

// deploymentTarget finds a target in the deployment config (the --configs
// directory's deployment.yaml, or the built-in one) and its queue prefix.
func (g *globals) deploymentTarget(id string) (*configs.Target, string, error) {
	cfg := configs.Default()
	where := "the built-in deployment.yaml"
	if g.configsDir != "" {
		var err error
		if cfg, err = configs.Load(g.configsDir); err != nil {
			return nil, "", err
		}
		where = filepath.Join(g.configsDir, configs.DeploymentFile)
	}
	d := &cfg.Deployment
	t := d.Target(id)
	if t == nil {
		var ids []string
		for _, t := range d.Targets {
			ids = append(ids, t.ID)
		}
		return nil, "", fmt.Errorf("--target %q: no such target in %s (targets: %s)", id, where, strings.Join(ids, ", "))
	}
	prefix := t.QueuePrefix
	if prefix == "" {
		prefix = d.QueuePrefix
	}
	return t, prefix, nil
}
