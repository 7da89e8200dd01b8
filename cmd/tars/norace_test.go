//go:build !race

package main

// burstRuns is the size of TestBurstOfStartsLosesNone's burst (see
// race_test.go).
const burstRuns = 1000
