package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/tars-engine/tars/activities"
)

// workerHelperEnv, when set, turns the test binary into a worker-like
// process: it runs one granted shell call with the JSON arguments the
// variable holds, prints the output (or "error TYPE: MESSAGE") and exits.
// Tests start it to give a command a parent whose environment was set at
// exec, as a real worker's is, and to kill that parent with SIGKILL.
const workerHelperEnv = "TARS_TEST_SHELL_WORKER"

// workerNoUserNSEnv=true makes the helper worker forbid itself user
// namespaces first, as a host that disables them does. It works where the
// helper is root in a user namespace of its own, whose limit it may set.
const workerNoUserNSEnv = "TARS_TEST_SHELL_NO_USERNS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(workerHelperEnv); ok {
		os.Exit(runWorkerHelper(args))
	}
	os.Exit(m.Run())
}

func runWorkerHelper(args string) int {
	if os.Getenv(workerNoUserNSEnv) == "true" {
		if err := os.WriteFile("/proc/sys/user/max_user_namespaces", []byte("0"), 0); err != nil {
			fmt.Printf("helper: %v", err)
			return 1
		}
	}
	res, err := New(Config{}).Run(context.Background(), activities.Call{
		Step: "s", Runtime: RuntimeName, Tool: "shell", Args: json.RawMessage(args), Grants: activities.Grants{Shell: true},
	})
	var appErr *temporal.ApplicationError
	switch {
	case errors.As(err, &appErr):
		fmt.Printf("error %s: %s", appErr.Type(), appErr.Message())
	case err != nil:
		fmt.Printf("error: %v", err)
	default:
		os.Stdout.Write(res.Output)
	}
	return 0
}
