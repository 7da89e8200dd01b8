package configs

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tars-engine/tars/internal/diag"
)

// Versioning behaviors a target may give its runs.
const (
	BehaviorPinned      = "pinned"       // a run finishes on the version it started on
	BehaviorAutoUpgrade = "auto-upgrade" // a run moves to the current version at its next workflow task
)

// Behaviors lists the versioning behaviors.
var Behaviors = []string{BehaviorPinned, BehaviorAutoUpgrade}

// Versioning registers a target's interpreter worker with Temporal Worker
// Versioning: `tars worker --target` reads it as --deployment-name,
// --build-id and --versioning-behavior (flags win).
type Versioning struct {
	// DeploymentName names the Worker Deployment (no "." or ":").
	DeploymentName string
	// BuildID overrides the derived build id (the binary's version and the
	// catalogue's digests); usually left out, since a fixed build id in a
	// file outlives the binary it named.
	BuildID string
	// Behavior is BehaviorPinned ("" = pinned) or BehaviorAutoUpgrade.
	Behavior string
}

// readVersioning reads a target's versioning block:
//
//	versioning: {deployment_name: tars, behavior: pinned}
func readVersioning(f *diag.File, n *yaml.Node) *Versioning {
	if n == nil {
		return nil
	}
	m := f.Mapping(n, "versioning", []string{"deployment_name", "build_id", "behavior"})
	v := &Versioning{}
	if s, ok := f.String(m["deployment_name"].Value, "deployment_name"); ok {
		switch {
		case s.V == "":
			f.Errorf(s.N, "deployment_name must not be empty")
		case strings.ContainsAny(s.V, ".:"):
			f.Errorf(s.N, "deployment_name %q may not contain \".\" or \":\" (Temporal reserves them)", s.V)
		case strings.HasPrefix(s.V, "__"):
			f.Errorf(s.N, "deployment_name %q may not start with \"__\" (Temporal reserves it)", s.V)
		}
		v.DeploymentName = s.V
	} else if m["deployment_name"].Value == nil && n.Kind == yaml.MappingNode {
		f.Errorf(n, "versioning needs a deployment_name")
	}
	if s, ok := f.String(m["build_id"].Value, "build_id"); ok {
		if s.V == "" || strings.HasPrefix(s.V, "__") {
			f.Errorf(s.N, "build_id %q must be non-empty and not start with \"__\"", s.V)
		}
		v.BuildID = s.V
	}
	if b, ok := f.Enum(m["behavior"].Value, "behavior", Behaviors); ok {
		v.Behavior = b
	}
	return v
}
