package native

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePath(t *testing.T) {
	key := func(k string) pathSeg { return pathSeg{key: k} }
	idx := func(i int) pathSeg { return pathSeg{index: i, isIndex: true} }
	tests := []struct {
		in      string
		want    path
		canon   string
		wantErr string
	}{
		{in: "", want: nil},
		{in: ".", want: nil},
		{in: "a", want: path{key("a")}, canon: "a"},
		{in: ".a.b", want: path{key("a"), key("b")}, canon: "a.b"},
		{in: "items[0].name", want: path{key("items"), idx(0), key("name")}, canon: "items[0].name"},
		{in: "[2][-1]", want: path{idx(2), idx(-1)}, canon: "[2][-1]"},
		{in: `a["b.c"]["x \"y\""]`, want: path{key("a"), key("b.c"), key(`x "y"`)}, canon: `a["b.c"]["x \"y\""]`},
		{in: `["é"].ü`, want: path{key("é"), key("ü")}, canon: "é.ü"},
		{in: "first name", want: path{key("first name")}, canon: "first name"},
		{in: "a..b", wantErr: "empty key at offset 2"},
		{in: "a.", wantErr: "empty key at offset 2"},
		{in: "a[x]", wantErr: "neither an integer index nor a quoted key"},
		{in: "a[0", wantErr: "unclosed '['"},
		{in: `a["b`, wantErr: "unterminated quoted key"},
		{in: `a["b"x]`, wantErr: "expected ']'"},
		{in: "a[0]b", wantErr: "expected '.' or '['"},
		{in: "a]", wantErr: "unexpected ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := parsePath(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, p)
			assert.Equal(t, tt.canon, p.String())
		})
	}
}
