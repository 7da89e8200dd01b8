package wasm

import (
	"embed"

	"github.com/tars-engine/tars/activities"
)

// The example tools, compiled into the binary so that a worker serves them
// with no files beside it. The pool's test modules (escape.wasm) are not
// here: they are hostile on purpose.
//
//go:embed guests/bin/log-scan.wasm guests/bin/json-check.wasm guests/bin/text-stats.wasm
//go:embed guests/bin/sha256.wasm guests/bin/json-field.wasm guests/bin/policy-check.wasm
var builtinFS embed.FS

// Builtin holds the modules every Runner serves unless Config.Builtin
// replaces them: NAME.wasm at its top level is tool NAME.
var Builtin = activities.SubFS(builtinFS, "guests/bin")
