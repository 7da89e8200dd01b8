//go:build race

package main

// burstRuns is the size of TestBurstOfStartsLosesNone's burst. Under the
// race detector the embedded server runs several times slower, so the
// burst is smaller there; the full 1,000 runs without it.
const burstRuns = 250
