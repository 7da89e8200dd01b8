// Package workers hosts TARS on Temporal workers: the interpreter workflow
// (with its control activities) on <prefix>.workflows, and one pool per
// runtime on <prefix>.<runtime>, each serving its Runner's tools as dynamic
// activities whose type name is the tool name. Every call passes one door,
// Pool's activity, where the operator's ceiling bounds its grants
// (Options.Ceiling, PlanExceeds). It also builds runners from pool names
// and counts what each pool did.
//
// It is the wiring layer: it imports workflows and activities, never the
// other way round, and it never imports the Temporal server (see
// internal/devserver for the embedded server).
package workers
