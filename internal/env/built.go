package env

import (
	"github.com/tars-engine/tars/activities/cuda"
	"github.com/tars-engine/tars/activities/hyperlight"
)

// poolBuilt reports whether this binary includes a pool's runtime: the pool
// packages leave out, by build constraints, what cannot exist on the
// platform (hyperlight off Linux x86-64, cuda off Linux and Windows), and
// say so with a Built constant.
func poolBuilt(name string) bool {
	switch name {
	case PoolHyperlight:
		return hyperlight.Built
	case PoolCUDA:
		return cuda.Built
	}
	return true
}
