package trace

import (
	"bytes"
	"fmt"
	"io"
	"os"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
)

// ReadHistory reads a history as protojson ({"events": [...]}), the form
// `tars history export` writes and `temporal workflow show -o json`
// prints. Unknown fields are ignored so that older and newer servers'
// histories both load.
func ReadHistory(r io.Reader) (*historypb.History, error) {
	h, err := client.HistoryFromJSON(r, client.HistoryJSONOptions{})
	if err != nil {
		return nil, fmt.Errorf("not a history in protojson: %w", err)
	}
	if len(h.GetEvents()) == 0 {
		return nil, fmt.Errorf("history has no events")
	}
	return h, nil
}

// ReadHistoryFile reads a history file written by WriteHistory or by the
// Temporal CLI.
func ReadHistoryFile(path string) (*historypb.History, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h, err := ReadHistory(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// WriteHistory writes h as indented protojson, payloads base64 as the
// server stores them, so that a replay reads the same bytes.
func WriteHistory(w io.Writer, h *historypb.History) error {
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}
