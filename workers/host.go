package workers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/plan"
	"github.com/tars-engine/tars/workflows"
)

// Options say what a Host serves.
type Options struct {
	Client      client.Client
	QueuePrefix string
	// Workflows: also serve the interpreter and its control activities.
	Workflows bool
	// Catalogue holds the Plans the interpreter runs by name (runs of
	// metascripts not in it are refused unless AllowAdhoc).
	Catalogue *plan.Catalogue
	// AllowAdhoc: also run Plans sent with the run (tars dev, and tars
	// worker --allow-adhoc).
	AllowAdhoc bool
	// Runners: the pools to serve, one per runtime.
	Runners  []activities.Runner
	Identity string
	Logger   *slog.Logger
	// Metrics, when set, receives each pool's figures. The SDK's own
	// metrics come through the client (client.Options.MetricsHandler =
	// Metrics.SDKHandler()).
	Metrics *Metrics
	// Health, when set, turns ready once every worker polls and not ready
	// as soon as Stop begins.
	Health *Health
	// Capacity overrides a runner's own capacity per runtime (from a
	// deployment target); 0 or absent keeps the runner's.
	Capacity map[string]int
	// StopTimeout is how long Stop lets running calls finish after polling
	// stops; calls still running then are cancelled. 0 cancels them at once.
	StopTimeout time.Duration
	// Ceiling bounds the grants of every call the pools run (see
	// activities.Ceiling); the zero value is the safe default: no shell,
	// hosts, directories or environment.
	Ceiling activities.Ceiling
	// Versioning, when set, registers the interpreter worker as a version
	// of a Temporal Worker Deployment (versioning.go); pools stay
	// unversioned.
	Versioning *Versioning
}

// Host runs Temporal workers until Stop.
type Host struct {
	workers []worker.Worker
	pools   []*Pool
	runners []activities.Runner
	health  *Health
	stopped sync.Once
}

// Start starts the workers and returns once each is polling.
func Start(o Options) (*Host, error) {
	if o.Client == nil {
		return nil, errors.New("workers: no client")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Identity == "" {
		host, _ := os.Hostname()
		o.Identity = fmt.Sprintf("tars@%s:%d", host, os.Getpid())
	}
	h := &Host{runners: o.Runners, health: o.Health}
	if o.Workflows {
		wo := WorkflowWorkerOptions(o.Identity)
		wo.WorkerStopTimeout = o.StopTimeout
		if err := o.Versioning.apply(&wo); err != nil {
			return nil, err
		}
		w := worker.New(o.Client, workflows.WorkflowQueue(o.QueuePrefix), wo)
		eng := &workflows.Engine{Catalogue: o.Catalogue, AllowAdhoc: o.AllowAdhoc, Identity: o.Identity}
		w.RegisterDynamicWorkflow(eng.Run, workflow.DynamicRegisterOptions{})
		w.RegisterWorkflowWithOptions(eng.Shard, workflow.RegisterOptions{Name: workflows.ShardWorkflow})
		ctl := &Pollers{Client: o.Client}
		w.RegisterActivityWithOptions(ctl.Pollers, activity.RegisterOptions{Name: workflows.PollersActivity})
		h.workers = append(h.workers, w)
	}
	for _, r := range o.Runners {
		capacity := r.Capacity()
		if n := o.Capacity[r.Runtime()]; n > 0 {
			capacity = n
		}
		p := &Pool{Runner: r, logger: o.Logger, metrics: o.Metrics, capacity: capacity,
			identity: o.Identity + "/" + r.Runtime(), ceiling: o.Ceiling}
		if o.Metrics != nil {
			o.Metrics.addPool(r, capacity)
		}
		po := PoolWorkerOptions(p.identity, capacity)
		po.WorkerStopTimeout = o.StopTimeout
		w := worker.New(o.Client, workflows.RuntimeQueue(o.QueuePrefix, r.Runtime()), po)
		w.RegisterDynamicActivity(p.activity, activity.DynamicRegisterOptions{})
		h.pools = append(h.pools, p)
		h.workers = append(h.workers, w)
	}
	for i, w := range h.workers {
		if err := w.Start(); err != nil {
			for _, s := range h.workers[:i] {
				s.Stop()
			}
			return nil, fmt.Errorf("start worker: %w", err)
		}
	}
	if o.Workflows {
		if err := o.Versioning.bootstrap(context.Background(), o.Client, o.Logger); err != nil {
			h.Stop()
			return nil, err
		}
	}
	if h.health != nil {
		h.health.SetReady(true)
	}
	return h, nil
}

// WorkflowWorkerOptions are the options of the worker that runs the
// interpreter on <prefix>.workflows. Exported so that benchmarks can give a
// hand-written workflow the same worker.
func WorkflowWorkerOptions(identity string) worker.Options {
	return worker.Options{
		Identity: identity,
		// Workflow tasks are short and CPU-bound; the interpreter adds
		// no activities of its own, so a few pollers keep up.
		MaxConcurrentWorkflowTaskPollers: 4,
		MaxConcurrentActivityTaskPollers: 2,
		// The SDK's default (1 s) panics a workflow task that renders or
		// decodes a value of several MB on a busy machine: a 10 MB value
		// through three steps hit it on 2 loaded cores
		// (docs/large-values.md). Expressions have their own budget.
		DeadlockDetectionTimeout: 10 * time.Second,
	}
}

// PoolWorkerOptions are the options of a pool's worker on
// <prefix>.<runtime>, for a runner of the given capacity.
func PoolWorkerOptions(identity string, capacity int) worker.Options {
	capacity = max(1, capacity)
	return worker.Options{
		Identity:                           identity,
		MaxConcurrentActivityExecutionSize: capacity,
		MaxConcurrentActivityTaskPollers:   max(2, min(maxPoolPollers, capacity)),
	}
}

// maxPoolPollers bounds a pool's activity task pollers. A foreach schedules
// up to its concurrency in one workflow task; matching hands each task to a
// poll that is already waiting, and a poll returns one task, then costs a
// round trip (with a history write) before it waits again. With 8 pollers a
// fan-out of 100 waited on poll round trips: 32 ran the bench's 1,000-item
// foreach 15-20% faster on 2 cores (docs/performance.md), and idle polls
// cost nothing but a goroutine each on both sides. More slots than pollers
// is fine; more pollers than slots is pointless, hence the min.
const maxPoolPollers = 32

// Pools returns the pools this host serves.
func (h *Host) Pools() []*Pool { return h.pools }

// Stop marks the host not ready, stops polling, lets running activities
// finish for up to Options.StopTimeout (then cancels them), and closes the
// runners.
func (h *Host) Stop() {
	h.stopped.Do(func() {
		if h.health != nil {
			h.health.Drain()
		}
		var wg sync.WaitGroup
		for _, w := range h.workers {
			wg.Add(1)
			go func(w worker.Worker) { defer wg.Done(); w.Stop() }(w)
		}
		wg.Wait()
		for _, r := range h.runners {
			_ = r.Close()
		}
	})
}

// Pool serves one Runner's tools as dynamic activities and counts calls.
type Pool struct {
	Runner   activities.Runner
	logger   *slog.Logger
	metrics  *Metrics
	capacity int
	running  atomic.Int64
	identity string             // the pool worker's identity, named in refusals
	ceiling  activities.Ceiling // the operator's bound on every call's grants

	calls, failures atomic.Int64
	busyNanos       atomic.Int64
}

// PoolStats are a pool's cumulative figures.
type PoolStats struct {
	Runtime  string        `json:"runtime"`
	Calls    int64         `json:"calls"`
	Failures int64         `json:"failures"`
	Busy     time.Duration `json:"busy_ns"`
	Capacity int           `json:"capacity"`
}

// Stats returns the pool's figures so far.
func (p *Pool) Stats() PoolStats {
	return PoolStats{Runtime: p.Runner.Runtime(), Calls: p.calls.Load(), Failures: p.failures.Load(),
		Busy: time.Duration(p.busyNanos.Load()), Capacity: p.capacity}
}

func (p *Pool) activity(ctx context.Context, args converter.EncodedValues) (activities.Result, error) {
	var call activities.Call
	if err := args.Get(&call); err != nil {
		return activities.Result{}, activities.NonRetryable(activities.ErrBadArgs, err, "activity input is not a TARS call: %v", err)
	}
	info := activity.GetInfo(ctx)
	if name := info.ActivityType.Name; name != "" {
		call.Tool = name
	}
	call.Runtime = p.Runner.Runtime()
	runID := call.RunID
	if runID == "" {
		runID = info.WorkflowExecution.ID
	}
	// Every line about a step names its run, step and runtime, so that one
	// filter on a log store finds all of a step's lines.
	attrs := []slog.Attr{slog.String("run_id", runID), slog.String("step", call.Step), slog.String("runtime", call.Runtime),
		slog.String("tool", call.Tool), slog.Int("attempt", int(info.Attempt))}
	if call.Item != 0 {
		attrs = append(attrs, slog.Int("item", call.Item))
	}
	ctx = withStep(ctx, attrs)
	log := slog.New(p.logger.Handler().WithAttrs(attrs))
	log.Debug("step call started")
	// The operator's ceiling, before anything runs: what the policy asks
	// beyond it is taken from the call, and a call that needs it fails.
	ctx, call, err := p.withinCeiling(ctx, call)
	if err != nil {
		p.refused(call, err, log)
		return activities.Result{}, err
	}
	if p.metrics != nil {
		p.metrics.inFlight.WithLabelValues(call.Runtime).Inc()
	}
	// Secret inputs reach the tool here, from this worker's environment,
	// and never the history: what the tool returns is masked.
	resolved, secrets, err := activities.ResolveSecrets(call.Args, os.LookupEnv)
	if err != nil {
		return activities.Result{}, err
	}
	call.Args = resolved
	p.running.Add(1)
	start := time.Now()
	stop := heartbeat(ctx)
	res, err := p.Runner.Run(ctx, call)
	stop()
	if len(secrets) > 0 {
		res = activities.MaskSecrets(res, secrets)
	}
	took := time.Since(start)
	p.running.Add(-1)
	p.busyNanos.Add(int64(took))
	p.calls.Add(1)
	if p.metrics != nil {
		p.metrics.inFlight.WithLabelValues(call.Runtime).Dec()
		p.metrics.observe(call, took, res, err)
	}
	if err != nil {
		p.failures.Add(1)
		// Info, not Error: a tool that fails is the metascript's business
		// (retries, on_error), not a fault of the worker.
		log.Info("step call failed", "duration", took, "kind", faultKind(err), "error", err)
	} else {
		log.Debug("step call finished", "duration", took)
	}
	return res, err
}

// Running is how many calls the pool is running now.
func (p *Pool) Running() int { return int(p.running.Load()) }

// heartbeat records activity heartbeats while a tool runs, for every
// runtime. Temporal delivers a cancellation to an activity only in the
// answer to a heartbeat, and it notices a dead worker (killed mid-call) by
// the missing heartbeats: the interpreter sets a heartbeat timeout, so the
// step is retried elsewhere instead of waiting out its whole timeout. The
// first heartbeat goes after a third of that timeout, so short calls cost
// no extra request.
func heartbeat(ctx context.Context) (stop func()) {
	info := activity.GetInfo(ctx)
	every := 5 * time.Second
	if hb := info.HeartbeatTimeout; hb > 0 {
		every = min(every, max(hb/3, 100*time.Millisecond))
	}
	details := activities.Heartbeat{Attempt: int(info.Attempt)}
	if info.Attempt > 1 {
		// A retry says at once which attempt it is, so that losing this
		// worker does not cost the step the attempts its tool already
		// used (workflows.InfraRetries). First attempts, the common case,
		// send nothing extra.
		activity.RecordHeartbeat(ctx, details)
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, details)
			}
		}
	}()
	return func() { close(done) }
}
