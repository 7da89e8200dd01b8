package hyperlight

import (
	"embed"
	"io/fs"

	"github.com/tars-engine/tars/activities"
)

// The example guests, compiled into the binary so that a worker serves
// them with no files beside it. The hostile test guests (guests/test) are
// not here.
//
//go:embed guests/bin/*.elf
var builtinFS embed.FS

// Builtin holds the guests every Runner serves unless Config.Builtin
// replaces them: NAME.elf at its top level is tool NAME.
var Builtin = activities.SubFS(builtinFS, "guests/bin")

// Digest returns the sha256 of the guest at path as lowercase hex, the form
// the compiler records in the Plan and Call.Digest carries.
func Digest(path string) (string, error) { return activities.Digest(path) }

// Inventory lists the guests a Runner with these built-ins (nil: the
// package's Builtin) and this directory ("" for none) serves, by tool name
// with their Digest. It reads every guest of dir.
func Inventory(builtin fs.FS, dir string) (map[string]string, error) {
	return artifactKind.Inventory(builtin, dir)
}

var artifactKind = activities.ArtifactKind{Runtime: Runtime, Noun: "guest", Ext: ".elf", Builtin: Builtin}
