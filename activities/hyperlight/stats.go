package hyperlight

import "sync/atomic"

// Stats are cumulative figures since New, for the worker's metrics. Sums
// are in microseconds; divide by the matching count for a mean.
type Stats struct {
	Calls      uint64 // calls run, successful or not
	Failures   uint64 // calls that returned an error
	Deadlines  uint64 // calls stopped at their deadline (GuestDeadline)
	Faults     uint64 // calls that ended in GuestFault
	Aborts     uint64 // calls that ended in GuestAbort
	ColdStarts uint64 // calls that had to create their VM

	CreateMicros  uint64 // creating VMs (and booting guests), over ColdStarts
	RestoreMicros uint64 // resetting VMs to their snapshot, over Calls
	RunMicros     uint64 // running guests, over Calls
	Exits         uint64 // VM exits, over Calls

	VMsAlive int // micro-VMs alive now, busy or warm
	VMsIdle  int // warm micro-VMs waiting for a call
}

// counters are the atomic halves of Stats.
type counters struct {
	calls, failures, deadlines, faults, aborts, cold atomic.Uint64
	create, restore, run, exits                      atomic.Uint64
}
