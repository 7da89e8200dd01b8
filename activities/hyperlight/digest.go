package hyperlight

import (
	"fmt"

	"github.com/tars-engine/tars/activities"
)

// Digest returns the sha256 of the guest at path as lowercase hex, the form
// the compiler records in the Plan and Call.Digest carries.
func Digest(path string) (string, error) { return activities.Digest(path) }

// Inventory lists the guests in dir (not its subdirectories) by tool name
// (the file name without ".elf") with their Digest. It reads every guest.
func Inventory(dir string) (map[string]string, error) {
	inv, err := activities.Inventory(dir, ".elf")
	if err != nil {
		return nil, fmt.Errorf("hyperlight: listing guests in %s: %w", dir, err)
	}
	return inv, nil
}

// guestNames lists the NAME of every dir/NAME.elf, sorted.
func guestNames(dir string) ([]string, error) {
	names, err := activities.ArtifactNames(dir, ".elf")
	if err != nil {
		return nil, fmt.Errorf("hyperlight: listing guests in %s: %w", dir, err)
	}
	return names, nil
}
