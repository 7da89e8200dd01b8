package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tars-engine/tars/configs"
	"github.com/tars-engine/tars/workers"
)

// versioningFlags are tars worker's Worker Versioning flags.
type versioningFlags struct {
	deploymentName string
	buildID        string
	behavior       string
}

func (v *versioningFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&v.deploymentName, "deployment-name", "", "register the interpreter worker as a version of this Temporal Worker Deployment (env TARS_DEPLOYMENT_NAME; default: the target's versioning.deployment_name, else unversioned)")
	f.StringVar(&v.buildID, "build-id", "", "the version's build id (env TARS_BUILD_ID; default: derived from the binary's version and the catalogue's digests)")
	f.StringVar(&v.behavior, "versioning-behavior", "", "pinned (a run finishes on the version it started on) or auto-upgrade (env TARS_VERSIONING_BEHAVIOR; default pinned)")
}

// resolve returns the interpreter's versioning from the flags, then the
// environment, then the target's versioning block; nil when no deployment
// name is set anywhere (unversioned). digests are the catalogue's Plan
// digests, which the derived build id covers.
func (v *versioningFlags) resolve(t *configs.Target, digests []string) (*workers.Versioning, error) {
	var fromFile configs.Versioning
	if t != nil && t.Versioning != nil {
		fromFile = *t.Versioning
	}
	pick := func(flag, env, file string) string {
		if flag != "" {
			return flag
		}
		if e := os.Getenv(env); e != "" {
			return e
		}
		return file
	}
	name := pick(v.deploymentName, "TARS_DEPLOYMENT_NAME", fromFile.DeploymentName)
	build := pick(v.buildID, "TARS_BUILD_ID", fromFile.BuildID)
	behavior := pick(v.behavior, "TARS_VERSIONING_BEHAVIOR", fromFile.Behavior)
	if name == "" {
		if build != "" || behavior != "" {
			return nil, fmt.Errorf("--build-id and --versioning-behavior need a --deployment-name (Worker Versioning is off without one)")
		}
		return nil, nil
	}
	out := &workers.Versioning{DeploymentName: name, BuildID: build}
	switch behavior {
	case "", configs.BehaviorPinned:
	case configs.BehaviorAutoUpgrade:
		out.AutoUpgrade = true
	default:
		return nil, fmt.Errorf("--versioning-behavior %q: want %s", behavior, strings.Join(configs.Behaviors, " or "))
	}
	if out.BuildID == "" {
		out.BuildID = workers.BuildID(binaryBuildVersion(), digests)
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("--deployment-name/--build-id: %w", err)
	}
	return out, nil
}

// binaryBuildVersion is the binary's version as the build id sees it.
func binaryBuildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	return buildIDVersion(version, bi, ok, executableDigest)
}

// buildIDVersion names what this binary is, for the build id: the version
// set with -ldflags -X main.version, else the module version (a release
// tag, or a pseudo-version that holds the commit), else the commit. A
// binary built from a dirty work tree, or with no commit recorded, is
// named by its own SHA-256 as well (exe is asked for it), so that two
// different builds of one commit never share a build id.
func buildIDVersion(override string, bi *debug.BuildInfo, ok bool, exe func() string) string {
	if override != "" {
		return override
	}
	var rev, modified string
	v := ""
	if ok && bi != nil {
		if bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	switch {
	case v != "" && modified != "true":
		return v
	case rev != "" && modified != "true":
		return rev
	case rev != "":
		return rev + "+dirty." + exe()
	default:
		return "devel+" + exe()
	}
}

// executableDigest is the first 12 hex digits of the SHA-256 of the running
// binary, or "unknown" when it cannot be read.
func executableDigest() string {
	path, err := os.Executable()
	if err != nil {
		return "unknown"
	}
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "unknown"
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
