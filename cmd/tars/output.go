package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Output formats, as the Temporal CLI names them: text for people, json (one
// indented document) and jsonl (one compact object per line, for streams and
// lists) for programs.
const (
	outText  = "text"
	outJSON  = "json"
	outJSONL = "jsonl"
)

var outputFormats = []string{outText, outJSON, outJSONL}

// outputFlags are -o/--output and the deprecated --json alias.
type outputFlags struct {
	format string
	json   bool
}

func (o *outputFlags) register(c *cobra.Command) {
	c.Flags().StringVarP(&o.format, "output", "o", outText, "output format: text, json or jsonl")
	c.Flags().BoolVar(&o.json, "json", false, "deprecated: same as -o json")
	_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats, cobra.ShellCompDirectiveNoFileComp))
}

// get returns the chosen format, or an error naming the bad value. --json
// still works, with a note on stderr.
func (o *outputFlags) get(stderr io.Writer) (string, error) {
	if o.json {
		fmt.Fprintln(stderr, "note: --json is deprecated; use -o json")
		return outJSON, nil
	}
	switch o.format {
	case outText, outJSON, outJSONL:
		return o.format, nil
	case "":
		return outText, nil
	}
	return "", fmt.Errorf("-o %q: unknown output format (want text, json or jsonl)", o.format)
}

// writeDoc writes v as one JSON document: indented for json, on one line for
// jsonl.
func writeDoc(w io.Writer, format string, v any) error {
	enc := json.NewEncoder(w)
	if format == outJSON {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}
