// Package diag reports faults in the YAML files TARS reads (metascripts and
// the configs) as "file:line:col: message" diagnostics, and reads yaml.v3
// nodes strictly: unknown keys are rejected with a "did you mean", every
// scalar is checked for its type, and all faults of a file are collected in
// one pass instead of stopping at the first.
//
// It knows nothing about what the files mean; package metascripts and
// package configs build on it. It is not a general YAML library: anchors,
// aliases, merge keys and local tags are refused, because a file that is
// compiled into a replayable Plan should read the same to a person as it
// does to the compiler.
//
// Parse reads the plain YAML these files are written in with a parser of
// its own (plainyaml.go), which builds the tree yaml.v3 would build at a
// fraction of the cost, and hands everything else, errors included, to
// yaml.v3.
package diag
