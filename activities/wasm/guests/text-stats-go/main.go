// Command text-stats-go is the text-stats tool written in Go, the example
// for guests in a language with a runtime. Build it for the WASM pool with
//
//	GOOS=wasip1 GOARCH=wasm go build -o text-stats-go.wasm .
//
// It gives the same answers as the C tool (guests/text-stats), but each
// call pays for starting the Go runtime (milliseconds, against tens of
// microseconds for the C tool; BENCHMARKS.md), so fast tools are written
// in C, Rust or Zig. It is also a
// plain program: `echo '{"text":"a b"}' | go run .` works on the host.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
)

type input struct {
	Text *string `json:"text"`
	Top  *int    `json:"top"`
}

type wordCount struct {
	Word  string `json:"word"`
	Count int    `json:"count"`
}

type output struct {
	Lines       int         `json:"lines"`
	Words       int         `json:"words"`
	Chars       int         `json:"chars"`
	Bytes       int         `json:"bytes"`
	UniqueWords int         `json:"unique_words"`
	TopWords    []wordCount `json:"top_words"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "text-stats-go:", err)
		os.Exit(64)
	}
}

func run(stdin io.Reader, stdout io.Writer) error {
	var in input
	if err := json.NewDecoder(stdin).Decode(&in); err != nil {
		return fmt.Errorf("bad input JSON: %w", err)
	}
	if in.Text == nil {
		return fmt.Errorf(`want {"text": string}`)
	}
	top := 5
	if in.Top != nil {
		if *in.Top < 0 || *in.Top > 50 {
			return fmt.Errorf("top must be an integer from 0 to 50")
		}
		top = *in.Top
	}
	out := stats([]byte(*in.Text), top)
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return err
	}
	return w.Flush()
}

// wordByte matches the C tool: ASCII letters and digits, and every byte of
// a non-ASCII character.
func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func stats(s []byte, top int) output {
	out := output{Bytes: len(s), TopWords: []wordCount{}}
	counts := map[string]int{}
	for i := 0; i < len(s); {
		c := s[i]
		if c&0xC0 != 0x80 {
			out.Chars++
		}
		if c == '\n' {
			out.Lines++
		}
		if !wordByte(c) {
			i++
			continue
		}
		start := i
		for i < len(s) {
			c = s[i]
			if wordByte(c) {
				if c >= 'A' && c <= 'Z' {
					s[i] = c + 32
				}
				if c&0xC0 != 0x80 && i > start {
					out.Chars++
				}
				i++
			} else if c == '\'' && i+1 < len(s) && wordByte(s[i+1]) {
				out.Chars++
				i++
			} else {
				break
			}
		}
		out.Words++
		counts[string(s[start:i])]++
	}
	if len(s) > 0 && s[len(s)-1] != '\n' {
		out.Lines++
	}
	out.UniqueWords = len(counts)
	for w, n := range counts {
		out.TopWords = append(out.TopWords, wordCount{w, n})
	}
	sort.Slice(out.TopWords, func(i, j int) bool {
		a, b := out.TopWords[i], out.TopWords[j]
		return a.Count > b.Count || a.Count == b.Count && a.Word < b.Word
	})
	out.TopWords = out.TopWords[:min(top, len(out.TopWords))]
	return out
}
