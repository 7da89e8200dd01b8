package metascripts

// Catalog says which tools each runtime offers. The compiler checks every
// tool step against it and records the digests it returns in the Plan.
//
// The catalogue is the pools' own inventory, workers.Inventory (whose
// workers.ToolInventory implements Catalog): the compiler keeps no list of
// tools of its own, so it cannot disagree with what the pools serve.
type Catalog interface {
	// Offers reports whether runtime offers tool, and the sha256 of the
	// artifact it would run ("" when the runtime has none, e.g. native).
	Offers(runtime, tool string) (digest string, ok bool)
	// Tools lists the tools runtime offers, sorted.
	Tools(runtime string) []string
}

// noCatalog is what a compilation without Options.Catalog sees: no tools.
type noCatalog struct{}

func (noCatalog) Offers(string, string) (string, bool) { return "", false }
func (noCatalog) Tools(string) []string                { return nil }

// ReasonTool is the native tool that reason steps compile to.
const ReasonTool = "model.chat"
