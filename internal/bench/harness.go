package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workers"
	"github.com/tars-engine/tars/workflows"
)

// Task queue prefixes of the sides: TARS on bench-tars.workflows and
// bench-tars.<runtime>, the hand-written side on bench-go.workflows and
// bench-go.native, its SDK-defaults twin on bench-go-default.*.
const (
	TARSPrefix      = "bench-tars"
	GoPrefix        = "bench-go"
	GoDefaultPrefix = "bench-go-default"
)

// MixedRuns is how many runs of the mixed metascript one sample takes.
const MixedRuns = 5

// sampleTimeout bounds one sample: far above any healthy figure (the
// slowest, the loop on an untuned server, takes a few minutes).
const sampleTimeout = 15 * time.Minute

// Target is a server to measure on and a client of it.
type Target struct {
	Server
	// Client serves the TARS and hand-written sides: dialled as TARS dials.
	Client client.Client
	// DefaultClient serves the SDK-defaults side: dialled with the SDK's
	// default options. Nil: Client.
	DefaultClient client.Client
	// PID is the server's process when it runs outside this one (its peak
	// memory is then reported too); 0 when it is in this process.
	PID int
}

// Config says what Run measures.
type Config struct {
	Workloads []string // default: every workload
	Rounds    int      // samples per row, alternating sides; default 3
	Plans     *Metascripts
	// NewRunners builds the TARS pools for one target; the host closes
	// them when Run ends. The native pool is required.
	NewRunners func() ([]activities.Runner, error)
	// Sides limits the sides measured (of Impls), e.g. to profile one of
	// them; empty: every side.
	Sides []string
	// Progress receives one line per sample; nil discards them.
	Progress io.Writer
	Logger   *slog.Logger
	Date     string
	Machine  string
}

// Run measures every workload of cfg on the targets, the sides alternating,
// cfg.Rounds times, and returns the medians. The first target is the server
// under test: every workload runs there; the others (comparison servers) get
// the sequential, foreach and latency workloads (see sides).
func Run(ctx context.Context, cfg Config, targets []Target) (*Report, error) {
	if len(targets) == 0 {
		return nil, errors.New("bench: no target")
	}
	if cfg.Plans == nil {
		return nil, errors.New("bench: no compiled metascripts")
	}
	if len(cfg.Workloads) == 0 {
		cfg.Workloads = slices.Clone(Workloads)
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 3
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	rep := &Report{Date: cfg.Date, Machine: cfg.Machine, GoVersion: runtime.Version(), Rounds: cfg.Rounds}
	envs := make([]*env, len(targets))
	defer func() {
		for _, e := range envs {
			if e != nil {
				e.stop()
			}
		}
	}()
	for i, t := range targets {
		e, err := startEnv(cfg, t)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", t.Name, err)
		}
		envs[i] = e
		rep.Servers = append(rep.Servers, t.Server)
	}
	for _, e := range envs {
		if err := e.warmUp(ctx, cfg.Plans); err != nil {
			return nil, fmt.Errorf("bench: %s: warm-up: %w", e.Name, err)
		}
	}

	type key struct{ workload, server, impl string }
	samples := map[key][]Sample{}
	var order []key
	for round := range cfg.Rounds {
		for _, w := range cfg.Workloads {
			if (w == Loop || large(w)) && round > 0 {
				continue // one long run is enough to show continue-as-new, or shards
			}
			if w == Mixed && cfg.Plans.Mixed == nil {
				continue
			}
			ts := envs
			if !comparable(w) {
				ts = envs[:1]
			}
			if round%2 == 1 {
				ts = reversed(ts)
			}
			for _, e := range ts {
				impls := sides(w, e == envs[0])
				if round%2 == 1 {
					impls = reversed(impls)
				}
				for _, impl := range impls {
					if len(cfg.Sides) > 0 && !slices.Contains(cfg.Sides, impl) {
						continue
					}
					s, note, err := e.sample(ctx, cfg.Plans, w, impl)
					if err != nil {
						return nil, fmt.Errorf("bench: %s, %s, %s: %w", w, e.Name, impl, err)
					}
					k := key{w, e.Name, impl}
					if _, seen := samples[k]; !seen {
						order = append(order, k)
					}
					samples[k] = append(samples[k], s)
					if note != "" {
						rep.Notes = append(rep.Notes, note)
					}
					fmt.Fprintf(cfg.Progress, "round %d/%d  %-10s %-12s %-10s %s\n", round+1, cfg.Rounds, w, e.Name, impl, describe(s))
				}
			}
		}
	}
	// Rows in workload order, then server order, TARS before Go.
	slices.SortStableFunc(order, func(a, b key) int {
		if d := workloadOrder(a.workload) - workloadOrder(b.workload); d != 0 {
			return d
		}
		if d := targetIndex(targets, a.server) - targetIndex(targets, b.server); d != 0 {
			return d
		}
		return slices.Index(Impls, a.impl) - slices.Index(Impls, b.impl)
	})
	for _, k := range order {
		rep.Rows = append(rep.Rows, Aggregate(k.workload, k.server, k.impl, samples[k]))
	}
	rep.AddChecks()
	return rep, nil
}

// comparable workloads also run on the comparison servers. Concurrent
// does too: a burst of starts is what start-dev takes better than a tuned
// server did (issue 13, item 1), so the two stand side by side.
func comparable(w string) bool {
	return w == Sequential || w == Foreach || w == Latency || w == Concurrent
}

// sides are the sides that run workload w on the server under test (main)
// or on a comparison server: TARS everywhere; the hand-written workflow with
// TARS's worker options beside it on the server under test (the engine's
// overhead), and with the SDK's default worker options on a comparison
// server (what Temporal gives out of the box). The mixed and loop workloads
// have no hand-written side.
func sides(w string, main bool) []string {
	switch {
	case w == Mixed || w == Loop || large(w):
		return []string{ImplTARS}
	case main:
		return []string{ImplTARS, ImplGo}
	default:
		return []string{ImplTARS, ImplGoDefault}
	}
}

func reversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func targetIndex(ts []Target, name string) int {
	for i, t := range ts {
		if t.Name == name {
			return i
		}
	}
	return len(ts)
}

func describe(s Sample) string {
	out := fmt.Sprintf("%d runs, %d activities in %.2fs", s.Runs, s.Activities, s.Wall.Seconds())
	if s.Activities > 0 {
		out += fmt.Sprintf(" = %.1f activities/s", s.ActivitiesPerSec())
	}
	if len(s.Latencies) > 1 {
		out += fmt.Sprintf(", p50 %.1f ms, p99 %.1f ms", ms(Percentile(s.Latencies, .5)), ms(Percentile(s.Latencies, .99)))
	}
	if s.Events > 0 {
		out += fmt.Sprintf(", %d events", s.Events)
	}
	if s.PeakRSS > 0 {
		out += fmt.Sprintf(", peak RSS %.0f MiB", mib(s.PeakRSS))
	}
	return out
}

// env is one target with both sides' workers running against it.
type env struct {
	Target
	host     *workers.Host
	workers  []worker.Worker
	seq      atomic.Int64
	progress io.Writer
}

func startEnv(cfg Config, t Target) (*env, error) {
	runners, err := cfg.NewRunners()
	if err != nil {
		return nil, err
	}
	capacity := 0
	for _, r := range runners {
		if r.Runtime() == plan.RuntimeNative {
			capacity = r.Capacity()
		}
	}
	if capacity == 0 {
		for _, r := range runners {
			_ = r.Close()
		}
		return nil, errors.New("no native pool: the workloads run native echo steps")
	}
	// The workloads are the interpreter's catalogue, and runs start by
	// name, as they do in production.
	cat := plan.NewCatalogue()
	if m := cfg.Plans; m != nil {
		for _, p := range []*plan.Plan{m.Sequential, m.Foreach, m.OneStep, m.Loop, m.Wide, m.Mixed} {
			if p != nil {
				if _, err := cat.Add(p, "bench"); err != nil {
					return nil, err
				}
			}
		}
	}
	host, err := workers.Start(workers.Options{
		Client: t.Client, QueuePrefix: TARSPrefix, Workflows: true, Runners: runners, Catalogue: cat,
		Identity: fmt.Sprintf("tars-bench@%d", os.Getpid()), Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	e := &env{Target: t, host: host, progress: cfg.Progress}
	if e.progress == nil {
		e.progress = io.Discard
	}
	// The hand-written side gets the very worker options the TARS host
	// uses; its SDK-defaults twin gets none.
	id := fmt.Sprintf("go-bench@%d", os.Getpid())
	for _, side := range []struct {
		impl, prefix string
		wf, native   worker.Options
	}{
		{ImplGo, GoPrefix, workers.WorkflowWorkerOptions(id), workers.PoolWorkerOptions(id+"/native", capacity)},
		{ImplGoDefault, GoDefaultPrefix, worker.Options{}, worker.Options{}},
	} {
		c := e.client(side.impl)
		wf := worker.New(c, workflows.WorkflowQueue(side.prefix), side.wf)
		for _, f := range []any{SequentialWorkflow, FanOutWorkflow, OneStepWorkflow} {
			wf.RegisterWorkflow(f)
		}
		act := worker.New(c, workflows.RuntimeQueue(side.prefix, plan.RuntimeNative), side.native)
		act.RegisterActivityWithOptions(EchoActivity, activity.RegisterOptions{Name: EchoName})
		for _, w := range []worker.Worker{wf, act} {
			if err := w.Start(); err != nil {
				e.stop()
				return nil, err
			}
			e.workers = append(e.workers, w)
		}
	}
	return e, nil
}

// client is the client a side uses.
func (e *env) client(impl string) client.Client {
	if impl == ImplGoDefault && e.DefaultClient != nil {
		return e.DefaultClient
	}
	return e.Client
}

func (e *env) stop() {
	for _, w := range e.workers {
		w.Stop()
	}
	e.workers = nil
	if e.host != nil {
		e.host.Stop()
		e.host = nil
	}
}

// warmUp runs a few one-step runs of each side, so that connections, caches
// and sticky queues exist before the first sample.
func (e *env) warmUp(ctx context.Context, plans *Metascripts) error {
	for range 3 {
		for _, impl := range Impls {
			if _, _, err := e.sample(ctx, plans, "warm", impl); err != nil {
				return err
			}
		}
	}
	return nil
}

// starter starts run i of a sample.
type starter func(ctx context.Context, i int) (client.WorkflowRun, error)

// sample measures one workload once on one side.
func (e *env) sample(ctx context.Context, plans *Metascripts, w, impl string) (Sample, string, error) {
	timeout := sampleTimeout
	if large(w) {
		timeout = 3 * time.Hour // a million items on two cores take about an hour
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		start      starter
		runs, acts int
		concurrent bool
		check      func(ctx context.Context, runs []startedRun) (string, error)
		tars       = impl == ImplTARS
		goPrefix   = GoPrefix
		goIn       BaselineInput
		goType     any
		tarsPlan   *plan.Plan
		tarsIn     map[string]any
	)
	if impl == ImplGoDefault {
		goPrefix = GoDefaultPrefix
	}
	goIn.Queue = workflows.RuntimeQueue(goPrefix, plan.RuntimeNative)
	switch w {
	case Sequential:
		runs, acts = 1, SequentialSteps
		tarsPlan, goType = plans.Sequential, SequentialWorkflow
		goIn.Steps = SequentialSteps
	case Foreach:
		runs, acts = 1, ForeachItems
		items := ForeachInput(ForeachItems)
		tarsPlan, tarsIn, goType = plans.Foreach, map[string]any{"items": items}, FanOutWorkflow
		goIn.Items, goIn.Concurrency = items, ForeachConcurrency
	case Concurrent:
		runs, acts, concurrent = ConcurrentRuns, ConcurrentRuns, true
		tarsPlan, goType = plans.OneStep, OneStepWorkflow
	case Latency:
		runs, acts = LatencyRuns, LatencyRuns
		tarsPlan, goType = plans.OneStep, OneStepWorkflow
	case "warm":
		runs, acts = 1, 1
		tarsPlan, goType = plans.OneStep, OneStepWorkflow
	case Mixed:
		runs = MixedRuns
		tarsPlan = plans.Mixed
		acts = runs * countActivities(plans.Mixed, MixedItems)
	case Loop:
		runs, acts = 1, LoopTurns
		tarsPlan = plans.Loop
		check = e.checkLoop
	case ForeachWide, ForeachLarge, ForeachHuge:
		runs, acts = 1, largeItems(w)
		tarsPlan, tarsIn = plans.Wide, map[string]any{"items": ForeachInput(largeItems(w))}
		check = e.checkShards
	default:
		return Sample{}, "", fmt.Errorf("unknown workload %q", w)
	}
	if tars {
		if tarsPlan == nil {
			return Sample{}, "", fmt.Errorf("no compiled metascript for %s", w)
		}
		o := workflows.Options{QueuePrefix: TARSPrefix}
		start = func(ctx context.Context, i int) (client.WorkflowRun, error) {
			id := e.nextID(tarsPlan.Name)
			run, err := workflows.StartRun(ctx, e.Client, workflows.StartOptions(tarsPlan, id, o), tarsPlan.Name,
				workflows.StartArgs(tarsIn, workflows.StartSpec{Options: o})...)
			if err == nil && large(w) {
				go e.watch(ctx, w, run.GetID())
			}
			return run, err
		}
	} else {
		if goType == nil {
			return Sample{}, "", fmt.Errorf("%s has no hand-written side", w)
		}
		opts := client.StartWorkflowOptions{TaskQueue: workflows.WorkflowQueue(goPrefix)}
		start = func(ctx context.Context, i int) (client.WorkflowRun, error) {
			o := opts
			o.ID = e.nextID(impl + "-" + w)
			// The same start as TARS's (retried when refused for load),
			// so that the two sides differ only in the workflow.
			return workflows.StartRun(ctx, e.client(impl), o, goType, goIn)
		}
	}
	// The last sample's garbage is not this one's to collect.
	runtime.GC()
	_ = ResetPeakRSS(0)
	if e.PID != 0 {
		_ = ResetPeakRSS(e.PID)
	}
	s, done, err := measure(ctx, start, runs, concurrent)
	if err != nil {
		return s, "", err
	}
	s.Activities = acts
	s.PeakRSS, _ = PeakRSS(0)
	if e.PID != 0 {
		s.ServerPeakRSS, _ = PeakRSS(e.PID)
	}
	if len(done) > 0 {
		// The history length of the first run: both sides should be close.
		if d, err := e.client(impl).DescribeWorkflowExecution(ctx, done[0].id, ""); err == nil {
			s.Events = int(d.GetWorkflowExecutionInfo().GetHistoryLength())
		}
	}
	var note string
	if check != nil {
		note, err = check(ctx, done)
	}
	return s, note, err
}

// nextID is a workflow id no other run of this process has; safe for
// concurrent use.
func (e *env) nextID(name string) string {
	return fmt.Sprintf("%s-%d-%d", name, time.Now().UnixNano(), e.seq.Add(1))
}

// measure starts n runs (all at once when concurrent, else one after the
// other) and waits for each result.
func measure(ctx context.Context, start starter, n int, concurrent bool) (Sample, []startedRun, error) {
	s := Sample{Runs: n, Latencies: make([]time.Duration, n)}
	runs := make([]startedRun, n)
	one := func(i int) error {
		t0 := time.Now()
		run, err := start(ctx, i)
		if err != nil {
			return fmt.Errorf("start run %d: %w", i, err)
		}
		// Get follows continue-as-new and moves GetRunID to the last run:
		// keep the first.
		runs[i] = startedRun{id: run.GetID(), firstRunID: run.GetRunID()}
		if err := run.Get(ctx, nil); err != nil {
			return fmt.Errorf("run %s: %w", run.GetID(), err)
		}
		s.Latencies[i] = time.Since(t0)
		return nil
	}
	t0 := time.Now()
	if !concurrent {
		for i := range n {
			if err := one(i); err != nil {
				return s, nil, err
			}
		}
	} else {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { errs[i] = one(i) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return s, nil, err
		}
	}
	s.Wall = time.Since(t0)
	return s, runs, nil
}

// startedRun names a run as it was started.
type startedRun struct{ id, firstRunID string }

// countActivities is the number of tool activities one run of p schedules
// when every foreach step has items items (no retries, no fallbacks).
func countActivities(p *plan.Plan, items int) int {
	n := 0
	for _, s := range p.Steps {
		if s.Kind != plan.KindTool && s.Kind != plan.KindReason {
			continue
		}
		if s.Foreach != "" {
			n += items
		} else {
			n++
		}
	}
	return n
}

// checkLoop follows the loop run's continue-as-new chain and says how many
// runs it took and how long the longest history was; a loop that never
// continued as new fails the check.
func (e *env) checkLoop(ctx context.Context, runs []startedRun) (string, error) {
	if len(runs) != 1 {
		return "", fmt.Errorf("loop: %d runs", len(runs))
	}
	id, runID := runs[0].id, runs[0].firstRunID
	chain, longest := 0, int64(0)
	for runID != "" {
		chain++
		it := e.Client.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
		next := ""
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return "", fmt.Errorf("loop history of %s/%s: %w", id, runID, err)
			}
			longest = max(longest, ev.GetEventId())
			if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				next = a.GetNewExecutionRunId()
			}
		}
		runID = next
	}
	var res workflows.RunResult
	if err := e.Client.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		return "", err
	}
	turns := fmt.Sprint(res.Outputs["turns"])
	note := fmt.Sprintf("loop on %s: %s turns completed in %d runs chained by continue-as-new; longest history %d events", e.Name, turns, chain, longest)
	if chain < 2 {
		return note, fmt.Errorf("%s: the loop never continued as new", note)
	}
	if turns != fmt.Sprint(LoopTurns) {
		return note, fmt.Errorf("%s: want %d turns", note, LoopTurns)
	}
	return note, nil
}

// watchEvery is how often a large foreach's progress is printed.
const watchEvery = 30 * time.Second

// watch prints a large foreach run's progress (items and shards done, from
// the run's state query) until the run closes or ctx ends, so that a run
// stopped before its end still says where it got to.
func (e *env) watch(ctx context.Context, w, id string) {
	t0 := time.Now()
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		d, err := e.Client.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			continue // a loaded server; ask again at the next tick
		}
		if d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return
		}
		v, err := e.Client.QueryWorkflow(ctx, id, "", workflows.QueryState)
		if err != nil {
			continue
		}
		var st workflows.State
		if v.Get(&st) != nil || len(st.Steps) == 0 {
			continue
		}
		s := st.Steps[0]
		el := time.Since(t0)
		fmt.Fprintf(e.progress, "  %s %s: %d/%d items in %d/%d shards after %s (%.0f items/s), %d parent events\n",
			w, id, s.ItemsDone, s.Items, s.ShardsDone, s.Shards, el.Round(time.Second), float64(s.ItemsDone)/el.Seconds(),
			d.GetWorkflowExecutionInfo().GetHistoryLength())
	}
}

// checkShards says how a large foreach ran: in how many shards, and how
// long the parent's history was (it grows with the shards, not the items).
func (e *env) checkShards(ctx context.Context, runs []startedRun) (string, error) {
	if len(runs) != 1 {
		return "", fmt.Errorf("large foreach: %d runs", len(runs))
	}
	var res workflows.RunResult
	if err := e.Client.GetWorkflow(ctx, runs[0].id, "").Get(ctx, &res); err != nil {
		return "", err
	}
	if len(res.Steps) == 0 {
		return "", fmt.Errorf("large foreach %s: no steps in the result", runs[0].id)
	}
	s := res.Steps[0]
	d, err := e.Client.DescribeWorkflowExecution(ctx, runs[0].id, "")
	if err != nil {
		return "", err
	}
	note := fmt.Sprintf("foreach of %d items on %s: %d items done in %d shards; parent history %d events, %d bytes",
		s.Items, e.Name, s.ItemsDone, s.ShardsDone, d.GetWorkflowExecutionInfo().GetHistoryLength(), d.GetWorkflowExecutionInfo().GetHistorySizeBytes())
	if s.ItemsDone != s.Items {
		return note, fmt.Errorf("%s: not every item done", note)
	}
	return note, nil
}
