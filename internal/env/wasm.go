package env

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
)

// answerModule is a complete WebAssembly module exporting answer() -> i32,
// which returns 42.
var answerModule = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
	0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type section: () -> i32
	0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
	0x07, 0x0a, 0x01, 0x06, 'a', 'n', 's', 'w', 'e', 'r', 0x00, 0x00, // export "answer" = func 0
	0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b, // code: i32.const 42; end
}

// wasmCompiler proves wazero's compiler works here by compiling answerModule
// to machine code and calling it. wazero.NewRuntimeConfigCompiler panics on
// a platform the compiler does not support; that is reported as an error.
// Costs a few milliseconds.
func wasmCompiler() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("wazero compiler: %v", p)
		}
	}()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, answerModule)
	if err != nil {
		return fmt.Errorf("compiling a test module: %w", err)
	}
	res, err := mod.ExportedFunction("answer").Call(ctx)
	if err != nil {
		return fmt.Errorf("running a test module: %w", err)
	}
	if len(res) != 1 || res[0] != 42 {
		return fmt.Errorf("a test module returned %v, want [42]", res)
	}
	return nil
}
