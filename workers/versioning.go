package workers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Versioning puts the interpreter worker in a Temporal Worker Deployment,
// so that a new interpreter or catalogue can be rolled out while the runs
// that started on the old one finish there. Only the interpreter is
// versioned: pool workers stay unversioned, and the server sends a pinned
// run's steps (activities on queues outside its deployment version) to
// whichever pool worker polls, as before.
type Versioning struct {
	// DeploymentName names the Worker Deployment, the same for every
	// version of one fleet (e.g. "tars"). It may not contain "." or ":".
	DeploymentName string
	// BuildID names this version within the deployment; see BuildID.
	BuildID string
	// AutoUpgrade lets runs move to the current version at their next
	// workflow task instead of finishing on the version they started on
	// (Pinned, the default). The interpreter's change ids keep old
	// histories replayable, but a run keeps the Plan it started with only
	// if the new version still holds it.
	AutoUpgrade bool
	// NoBootstrap stops Start from making this version current when the
	// deployment has no current version yet (its first version). Without a
	// current version, new runs go to unversioned workers, and with none
	// they wait.
	NoBootstrap bool
}

// BootstrapTimeout bounds how long Start waits for a first version to be
// registered with the server before it makes it current.
const BootstrapTimeout = 30 * time.Second

// maxVersionChars bounds the readable part of a build id.
const maxVersionChars = 40

// BuildID derives a worker build id from the binary's version and the
// digests of the Plans in the worker's catalogue: the sanitised version, a
// dash and 12 hex digits of a SHA-256 over both. It is stable (the digests'
// order does not matter) and changes whenever the interpreter (a new
// version) or any Plan (a new digest) does, so two workers share a build id
// only if they would run a run the same way. An empty version is "dev".
func BuildID(version string, digests []string) string {
	sorted := slices.Clone(digests)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	// Each part goes in with its length, so no two lists hash alike.
	h := sha256.New()
	for _, part := range append([]string{version}, sorted...) {
		fmt.Fprintf(h, "%d:%s", len(part), part)
	}
	return buildIDLabel(version) + "-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// buildIDLabel keeps the characters of version a person reads in a build
// id (letters, digits, ".", "_", "+", "-"), turns runs of others into "-",
// and trims the result so that it never starts with "__" (reserved by the
// server).
func buildIDLabel(version string) string {
	var b strings.Builder
	dash := false
	for _, r := range version {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._+-", r)
		switch {
		case ok:
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-_.")
	if len(s) > maxVersionChars {
		s = strings.TrimRight(s[:maxVersionChars], "-_.")
	}
	if s == "" {
		s = "dev"
	}
	return s
}

// Validate reports what the server would refuse, with what to change.
func (v *Versioning) Validate() error {
	switch {
	case v.DeploymentName == "":
		return errors.New("versioning: no deployment name (--deployment-name)")
	case strings.ContainsAny(v.DeploymentName, ".:"):
		return fmt.Errorf("versioning: deployment name %q may not contain \".\" or \":\"", v.DeploymentName)
	case v.BuildID == "":
		return errors.New("versioning: no build id")
	case strings.HasPrefix(v.DeploymentName, "__") || strings.HasPrefix(v.BuildID, "__"):
		return errors.New("versioning: deployment names and build ids may not start with \"__\"")
	case len(v.DeploymentName) > 255 || len(v.BuildID) > 255:
		return errors.New("versioning: deployment name and build id are at most 255 characters each")
	}
	return nil
}

// Version returns the deployment version this worker registers.
func (v *Versioning) Version() worker.WorkerDeploymentVersion {
	return worker.WorkerDeploymentVersion{DeploymentName: v.DeploymentName, BuildID: v.BuildID}
}

// String is "<deployment>:<build id>", how the Temporal CLI and UI write a
// version.
func (v *Versioning) String() string { return v.DeploymentName + ":" + v.BuildID }

// Behavior is the versioning behavior runs get: Pinned unless AutoUpgrade.
func (v *Versioning) Behavior() workflow.VersioningBehavior {
	if v.AutoUpgrade {
		return workflow.VersioningBehaviorAutoUpgrade
	}
	return workflow.VersioningBehaviorPinned
}

// BehaviorName is "pinned" or "auto-upgrade", as configs and the CLI
// write it.
func (v *Versioning) BehaviorName() string {
	if v.AutoUpgrade {
		return "auto-upgrade"
	}
	return "pinned"
}

// apply sets the interpreter worker's deployment options; a nil v leaves
// the worker unversioned.
func (v *Versioning) apply(o *worker.Options) error {
	if v == nil {
		return nil
	}
	if err := v.Validate(); err != nil {
		return err
	}
	o.DeploymentOptions = worker.DeploymentOptions{
		UseVersioning:             true,
		Version:                   v.Version(),
		DefaultVersioningBehavior: v.Behavior(),
	}
	return nil
}

// bootstrap makes v the deployment's current version when the deployment
// has none, once the server has registered v (it does so when v's first
// poll arrives). A deployment that already has a current or ramping
// version is left alone: promoting a new version is the operator's step
// (docs/deploy.md). Two workers of a first version racing here both
// succeed: the conflict token lets one win and the other finds the version
// current.
func (v *Versioning) bootstrap(ctx context.Context, c client.Client, log *slog.Logger) error {
	if v == nil || v.NoBootstrap {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, BootstrapTimeout)
	defer cancel()
	h := c.WorkerDeploymentClient().GetHandle(v.DeploymentName)
	wait := 100 * time.Millisecond
	var last error
	for {
		d, err := h.Describe(ctx, client.WorkerDeploymentDescribeOptions{})
		var notFound *serviceerror.NotFound
		switch {
		case errors.As(err, &notFound):
			last = fmt.Errorf("deployment %q not registered yet", v.DeploymentName)
		case err != nil:
			last = err
		default:
			rc := d.Info.RoutingConfig
			if rc.CurrentVersion != nil || rc.RampingVersion != nil {
				return nil // not the first version: the operator promotes it
			}
			if !hasVersion(d.Info, v.BuildID) {
				last = fmt.Errorf("version %s not registered yet", v)
				break
			}
			_, err = h.SetCurrentVersion(ctx, client.WorkerDeploymentSetCurrentVersionOptions{
				BuildID: v.BuildID, ConflictToken: d.ConflictToken,
			})
			if err == nil {
				log.Info("first version of the deployment made current", "deployment", v.DeploymentName, "build_id", v.BuildID)
				return nil
			}
			last = err // a conflict: describe again
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("versioning: make %s current (the deployment's first version): %w (last: %v)", v, ctx.Err(), last)
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

func hasVersion(info client.WorkerDeploymentInfo, buildID string) bool {
	for _, s := range info.VersionSummaries {
		if s.Version.BuildID == buildID {
			return true
		}
	}
	return false
}
