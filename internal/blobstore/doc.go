// Package blobstore keeps the large values of TARS runs outside the
// Temporal history, behind the Temporal Go SDK's External Storage
// (converter.StorageDriver).
//
// A value whose encoded payload is at or over a threshold (256 KiB by
// default) is written to a Backend under the sha256 of its bytes, and the
// history holds a small reference instead; any client or worker with the
// same driver configured reads it back transparently, so the interpreter
// and the pools never see references. Content addressing makes a write
// idempotent: the same value stored twice is one blob.
//
// Backends: Memory and Dir for `tars dev` (beside its database, or in
// memory), HTTP for the other tars processes on the machine of a `tars dev`
// (which serves its store with Handler), and S3 for a cluster (any
// S3-compatible store). Janitor deletes blobs nobody wrote or read for
// longer than the namespace's retention.
//
// It is not a general object store: blobs are immutable, addressed only by
// their hash, and never listed to users.
package blobstore
