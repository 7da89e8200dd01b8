//go:build linux && amd64

package hyperlight

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/activities"
	"github.com/tars-engine/tars/activities/hyperlight/kvm"
)

// Built reports whether this build of the package can run guests: true on
// Linux on x86-64, the only platform with KVM and x86-64 guests.
const Built = true

// Runner runs tool calls as guest functions in KVM micro-VMs. It
// implements activities.Runner and is safe for concurrent use.
type Runner struct {
	cfg       Config
	artifacts *activities.Artifacts
	sys       *kvm.System
	cpuid     []kvm.CPUIDEntry
	syncRegs  bool // KVM_CAP_SYNC_REGS: registers ride along with KVM_RUN
	hostFuncs map[string]HostFunc

	slots chan struct{} // one token per VM alive; capacity VMBudget

	mu      sync.Mutex
	images  map[string]*image // current image by path and memory size
	waiting int               // calls blocked for a VM slot
	closed  bool
	calls   sync.WaitGroup // calls in flight, which Close waits for

	stats counters

	testHook func(*vm) // tests only: adjusts a VM before its registers are set
}

var _ activities.Runner = (*Runner)(nil)

// New checks that this host can run micro-VMs (kvm.Check: the device,
// permission, API version and extensions) and creates a Runner. It creates
// no VM: each guest boots on its first call, and warm VMs are kept per
// guest within cfg.VMBudget. Close releases them.
func New(cfg Config) (*Runner, error) {
	cfg = cfg.withDefaults()
	artifacts, err := artifactKind.Open(cfg.Builtin, cfg.GuestsDir)
	if err != nil {
		return nil, err
	}
	if err := kvm.Check(); err != nil {
		return nil, fmt.Errorf("hyperlight: this host cannot run micro-VMs: %w", err)
	}
	sys, err := kvm.Open()
	if err != nil {
		return nil, fmt.Errorf("hyperlight: %w", err)
	}
	supported, err := sys.SupportedCPUID()
	if err != nil {
		sys.Close()
		return nil, fmt.Errorf("hyperlight: %w", err)
	}
	r := &Runner{
		cfg:       cfg,
		artifacts: artifacts,
		sys:       sys,
		cpuid:     guestCPUID(supported),
		hostFuncs: make(map[string]HostFunc, len(builtinHostFuncs)+len(cfg.HostFuncs)),
		slots:     make(chan struct{}, cfg.VMBudget),
		images:    make(map[string]*image),
	}
	if n, _ := sys.CheckExtension(kvm.CapSyncRegs); n&(kvm.SyncRegs|kvm.SyncSregs) == kvm.SyncRegs|kvm.SyncSregs {
		r.syncRegs = true
	}
	for name, fn := range builtinHostFuncs {
		r.hostFuncs[name] = fn
	}
	for name, fn := range cfg.HostFuncs {
		r.hostFuncs[name] = fn
	}
	return r, nil
}

// Runtime returns "hyperlight".
func (r *Runner) Runtime() string { return Runtime }

// GrantsAtStart: a guest's memory is sized as its micro-VM starts, so a
// worker's ceiling below grants.memory_mib refuses the call before it
// starts (activities.GrantsAtStart).
func (r *Runner) GrantsAtStart() []string { return []string{activities.GrantMemoryMiB} }

// Tools lists the guests served, sorted: the built-ins and GuestsDir's
// (NAME for every NAME.elf). It reads the directory on every call.
func (r *Runner) Tools() []string { return r.artifacts.Names() }

// Capacity returns VMBudget: the most calls that can each hold a VM.
func (r *Runner) Capacity() int { return r.cfg.VMBudget }

// Run executes one call in a micro-VM of guest call.Tool, restored to the
// guest's post-initialisation snapshot. A warm call costs a restore and a
// run; the first call of a guest (or one finding no warm VM) also creates
// a VM and, for a new guest, boots it. The call's input is call.Args (JSON)
// and its output is what the guest returns: JSON, or else a JSON string.
func (r *Runner) Run(ctx context.Context, call activities.Call) (activities.Result, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return activities.Result{}, errClosed
	}
	r.calls.Add(1)
	r.mu.Unlock()
	defer r.calls.Done()

	r.stats.calls.Add(1)
	res, err := r.run(ctx, call)
	if err != nil {
		r.stats.failures.Add(1)
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) {
			switch ae.Type() {
			case activities.ErrGuestDeadline:
				r.stats.deadlines.Add(1)
			case activities.ErrGuestFault:
				r.stats.faults.Add(1)
			case activities.ErrGuestAbort:
				r.stats.aborts.Add(1)
			}
		}
	}
	return res, err
}

func (r *Runner) run(ctx context.Context, call activities.Call) (activities.Result, error) {
	memMiB := r.cfg.DefaultMemoryMiB
	if m := call.Grants.MemoryMiB; m > 0 {
		if m > r.cfg.MaxMemoryMiB {
			return activities.Result{}, activities.NonRetryable(activities.ErrPolicyRefused, nil,
				"hyperlight: grants.memory_mib %d exceeds this pool's maximum of %d MiB", m, r.cfg.MaxMemoryMiB)
		}
		memMiB = max(m, minMemoryMiB)
	}
	memMiB = memoryMiB(memMiB)
	if len(call.Args) > inputCap {
		return activities.Result{}, activities.NonRetryable(activities.ErrBadArgs, nil,
			"hyperlight: arguments of %d bytes exceed the guest input area of %d bytes", len(call.Args), inputCap)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.cfg.DefaultTimeout)
		defer cancel()
	}

	img, err := r.image(call.Tool, memMiB)
	if err != nil {
		return activities.Result{}, err
	}
	if call.Digest != "" && !activities.SameDigest(call.Digest, img.digest) {
		return activities.Result{}, activities.NonRetryable(activities.ErrModuleChanged, nil,
			"hyperlight: guest %q (%s) has sha256 %s, but the plan recorded %s; recompile the metascript or restore the guest",
			call.Tool, img.path, img.digest, call.Digest)
	}

	start := time.Now()
	v, cold, err := r.acquire(ctx, img)
	if err != nil {
		return activities.Result{}, err
	}
	var create time.Duration
	if cold {
		create = time.Since(start)
		r.stats.cold.Add(1)
		r.stats.create.Add(uint64(create.Microseconds()))
	}

	j := &job{ctx: ctx, input: call.Args, grants: &call.Grants}
	v.call(j)
	r.release(v, j.keep)

	r.stats.restore.Add(uint64(j.restore.Microseconds()))
	r.stats.run.Add(uint64(j.run.Microseconds()))
	r.stats.exits.Add(uint64(j.exits))
	res := activities.Result{
		Log: j.log.String(),
		Metrics: map[string]float64{
			"vm.create_us":  microseconds(create),
			"vm.restore_us": microseconds(j.restore),
			"vm.run_us":     microseconds(j.run),
			"vm.exits":      float64(j.exits),
		},
	}
	if j.err != nil {
		return res, j.err
	}
	res.Output = outputJSON(j.output)
	return res, nil
}

// outputJSON returns out as JSON: itself when valid, null when empty, a
// JSON string otherwise.
func outputJSON(out []byte) json.RawMessage {
	if len(out) == 0 {
		return json.RawMessage("null")
	}
	if json.Valid(out) {
		return json.RawMessage(out)
	}
	s, _ := json.Marshal(string(out))
	return s
}

// acquire returns a VM of img for one call: a warm one when there is one,
// otherwise a new one (cold), booting the image first if nobody has. A new
// VM needs a slot of the budget; when none is free an idle VM of another
// guest is evicted, and failing that the call waits.
func (r *Runner) acquire(ctx context.Context, img *image) (v *vm, cold bool, err error) {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, false, errClosed
		}
		switch img.state {
		case imageFailed:
			r.mu.Unlock()
			return nil, false, img.err
		case imageBuilding:
			ch := img.ready
			r.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, false, waitError(img.name, ctx)
			}
		case imageBuilt:
			if n := len(img.idle); n > 0 {
				v = img.idle[n-1]
				img.idle = img.idle[:n-1]
				r.mu.Unlock()
				return v, false, nil
			}
			r.mu.Unlock()
			if err := r.takeSlot(ctx, img); err != nil {
				return nil, false, err
			}
			v, err := r.startVM(img, nil)
			if err != nil {
				<-r.slots
				return nil, false, err
			}
			return v, true, nil
		case imageUnbuilt:
			img.state = imageBuilding
			img.ready = make(chan struct{})
			r.mu.Unlock()
			v, err := r.boot(ctx, img)
			return v, true, err
		}
	}
}

// boot builds img with a new VM, which it returns for the caller's call.
func (r *Runner) boot(ctx context.Context, img *image) (*vm, error) {
	err := r.takeSlot(ctx, img)
	var v *vm
	sticky := false
	if err == nil {
		v, sticky, err = r.build(ctx, img)
		if err != nil {
			<-r.slots
		}
	}
	r.mu.Lock()
	switch {
	case err == nil:
		img.state = imageBuilt
	case sticky:
		img.state, img.err = imageFailed, err
	default:
		img.state = imageUnbuilt // a later call tries again
	}
	close(img.ready)
	r.mu.Unlock()
	return v, err
}

// takeSlot reserves room in the VM budget for one more VM.
func (r *Runner) takeSlot(ctx context.Context, img *image) error {
	select {
	case r.slots <- struct{}{}:
		return nil
	default:
	}
	if victim := r.evict(); victim != nil {
		victim.close()
		<-r.slots
	}
	r.mu.Lock()
	r.waiting++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.waiting--
		r.mu.Unlock()
	}()
	select {
	case r.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return waitError(img.name, ctx)
	}
}

// evict removes the least recently used idle VM of any guest, if any.
func (r *Runner) evict() *vm {
	r.mu.Lock()
	defer r.mu.Unlock()
	var victim *vm
	var from *image
	for _, img := range r.images {
		if len(img.idle) > 0 && (victim == nil || img.idle[0].lastUsed.Before(victim.lastUsed)) {
			victim, from = img.idle[0], img
		}
	}
	if victim != nil {
		from.idle = from.idle[1:]
	}
	return victim
}

// release returns v after a call: kept warm when it is healthy, its image
// current and nobody waits for a slot; closed (freeing its slot) otherwise.
func (r *Runner) release(v *vm, healthy bool) {
	r.mu.Lock()
	if healthy && !r.closed && !v.img.stale && r.waiting == 0 {
		v.lastUsed = time.Now()
		v.img.idle = append(v.img.idle, v)
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	v.close()
	<-r.slots
}

var errClosed = errors.New("hyperlight: runner is closed")

// waitError explains a call whose context ended before it got a VM: every
// slot of the budget was busy (or another call was still booting the guest).
func waitError(name string, ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return activities.NonRetryable(activities.ErrGuestDeadline, ctx.Err(),
			"hyperlight: guest %q: deadline reached while waiting for a micro-VM (VMBudget is spent on busy VMs; raise it or lower the pool's concurrency)", name)
	}
	return fmt.Errorf("hyperlight: guest %q: waiting for a micro-VM: %w", name, ctx.Err())
}

// Stats returns cumulative figures since New. It costs a lock and a walk
// over the guests.
func (r *Runner) Stats() Stats {
	s := Stats{
		Calls:         r.stats.calls.Load(),
		Failures:      r.stats.failures.Load(),
		Deadlines:     r.stats.deadlines.Load(),
		Faults:        r.stats.faults.Load(),
		Aborts:        r.stats.aborts.Load(),
		ColdStarts:    r.stats.cold.Load(),
		CreateMicros:  r.stats.create.Load(),
		RestoreMicros: r.stats.restore.Load(),
		RunMicros:     r.stats.run.Load(),
		Exits:         r.stats.exits.Load(),
		VMsAlive:      len(r.slots),
	}
	r.mu.Lock()
	for _, img := range r.images {
		s.VMsIdle += len(img.idle)
	}
	r.mu.Unlock()
	return s
}

// Close refuses new calls, waits for the calls in flight (each ends at
// the latest at its deadline), then destroys every VM and snapshot.
func (r *Runner) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.calls.Wait()

	r.mu.Lock()
	var idle []*vm
	for _, img := range r.images {
		idle = append(idle, img.idle...)
		img.idle = nil
		img.stale = true
	}
	r.mu.Unlock()
	for _, v := range idle {
		v.close()
		<-r.slots
	}
	r.mu.Lock()
	for _, img := range r.images {
		img.closeFD()
	}
	r.mu.Unlock()
	return r.sys.Close()
}

// fileIdent says whether a guest file changed: same device, inode, size and
// modification time means same content (the digest is not recomputed).
type fileIdent struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
}

func identOf(st os.FileInfo) fileIdent {
	id := fileIdent{size: st.Size(), mtime: st.ModTime()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = sys.Dev, sys.Ino
	}
	return id
}

// image returns the current image of tool at memMiB, loading the file when
// it is new or changed on disk. A call costs one stat when nothing changed.
// Only the guests the pool serves resolve (see activities.Artifacts).
func (r *Runner) image(tool string, memMiB int) (*image, error) {
	art, ok := r.artifacts.Lookup(tool)
	if !ok {
		return nil, r.artifacts.NotServed("hyperlight", activities.ErrGuestNotFound, tool)
	}
	path := art.Origin(".elf")
	var id fileIdent // a built-in never changes: the zero identity
	if art.Path != "" {
		st, err := os.Stat(art.Path)
		if err != nil {
			return nil, activities.NonRetryable(activities.ErrGuestNotFound, err, "hyperlight: cannot use guest for tool %q: %v", tool, err)
		}
		id = identOf(st)
	}
	key := path + "@" + strconv.Itoa(memMiB)
	r.mu.Lock()
	img, ok := r.images[key]
	r.mu.Unlock()
	if ok && img.ident == id {
		return img, nil
	}

	data := art.Data
	if art.Path != "" {
		var err error
		if data, err = os.ReadFile(art.Path); err != nil {
			return nil, activities.NonRetryable(activities.ErrGuestNotFound, err, "hyperlight: cannot read guest for tool %q: %v", tool, err)
		}
	}
	fresh := &image{
		name:   tool,
		path:   path,
		digest: activities.DigestBytes(data),
		ident:  id,
		data:   data,
		lay:    newLayout(uint64(memMiB) << 20),
		fd:     -1,
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errClosed
	}
	if cur, ok := r.images[key]; ok {
		if cur.ident == id {
			return cur, nil // another call loaded it meanwhile
		}
		cur.stale = true
		for _, v := range cur.idle {
			go func() { v.close(); <-r.slots }()
		}
		cur.idle = nil
		go cur.closeFD() // VMs keep their mappings; no new VM maps the old file
	}
	r.images[key] = fresh
	return fresh, nil
}

func (r *Runner) hostFuncNames() []string {
	names := make([]string, 0, len(r.hostFuncs))
	for n := range r.hostFuncs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
