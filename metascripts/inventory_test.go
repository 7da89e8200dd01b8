package metascripts

import (
	"path/filepath"
	"sync"

	"github.com/tars-engine/tars/workers"
)

var (
	inventoryOnce sync.Once
	inventory     workers.ToolInventory
	inventoryErr  error
)

// pools is the catalogue the tests compile with: the real inventory of
// TARS's pools, as a checkout ships them (the wasm modules and hyperlight
// guests of the repository, the built-in native and cuda tools), whether
// or not this machine can run the pools.
func pools() workers.ToolInventory {
	inventoryOnce.Do(func() {
		inventory, inventoryErr = workers.Inventory(poolConfig())
	})
	if inventoryErr != nil {
		panic("the pools' inventory: " + inventoryErr.Error())
	}
	return inventory
}

func poolConfig() workers.PoolConfig {
	return workers.PoolConfig{
		ModulesDir: filepath.Join("..", "activities", "wasm", "guests", "bin"),
		GuestsDir:  filepath.Join("..", "activities", "hyperlight", "guests", "bin"),
	}
}
