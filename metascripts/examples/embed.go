// Package examples holds the example metascripts, embedded so that a
// worker serves them as its built-in catalogue from any directory.
package examples

import "embed"

// FS holds every example metascript (*.yaml) at its root.
//
//go:embed *.yaml
var FS embed.FS
