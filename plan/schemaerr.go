package plan

import "strings"

// SchemaMessage flattens a JSON Schema validator's multi-line error to its
// leaves, on one line. The compiler (checking an output schema) and the
// interpreter (checking a model's answer against it) report schema faults
// the same way.
func SchemaMessage(err error) string {
	var leaves []string
	for _, l := range strings.Split(err.Error(), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "- ") && !strings.HasSuffix(l, "failed") {
			leaves = append(leaves, strings.TrimPrefix(l, "- "))
		}
	}
	if len(leaves) == 0 {
		return err.Error()
	}
	return strings.Join(leaves, "; ")
}
