// Package workflows is the interpreter: one Temporal workflow function that
// walks a compiled Plan deterministically, registered dynamically so that
// the workflow type is the metascript's name. It schedules each step's
// activity on the task queue of the runtime chosen for it, falls back along
// the step's runtime chain, and keeps a queryable view of step states.
//
// It knows metascripts only through the Plan (package plan) and evaluates
// expressions through package expr. It does not do I/O: what it needs to
// know about the cluster (live pollers) it asks through control activities.
//
// Interpreter changes that alter the commands a workflow issues are guarded
// by workflow.GetVersion with the change IDs in versions.go.
package workflows
