package devserver

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// PortInUseError reports a port that the server needs and another process
// holds. Start returns it before starting anything, so nothing is left
// half-started.
type PortInUseError struct {
	Role string // what the port is for: "frontend", "UI", "history", ...
	IP   string
	Port int
	Err  error // the listen error
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("%s: port %d on %s is in use (is another tars dev or temporal server running?)", e.Role, e.Port, e.IP)
}

func (e *PortInUseError) Unwrap() error { return e.Err }

// FreePort returns a TCP port on ip that nothing listens on now and that the
// kernel will not hand out again for a while.
//
// A bare listen on port 0 is not enough on Linux: ephemeral ports are
// randomised and may come back within seconds, so two FreePort calls could
// return the same port. FreePort therefore connects to the port and closes the
// server side first, which parks it in TIME_WAIT (60 s on Linux) where bind(0)
// will not choose it, while an explicit bind with SO_REUSEADDR (Go's default)
// still succeeds. macOS and Windows hand out ports sequentially, so there the
// extra connection would only use up the range faster.
//
// Cost: one listen, and on Linux one loopback connection, well under a
// millisecond.
func FreePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", ip, err)
	}
	defer l.Close()
	addr := l.Addr().(*net.TCPAddr)
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return addr.Port, nil
	}
	dialAddr := *addr
	if dialAddr.IP.IsUnspecified() {
		// Listening on 0.0.0.0 or ::; connect through loopback.
		if dialAddr.IP.To4() != nil {
			dialAddr.IP = net.IPv4(127, 0, 0, 1)
		} else {
			dialAddr.IP = net.IPv6loopback
		}
	}
	client, err := net.DialTCP("tcp", nil, &dialAddr)
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", ip, err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", ip, err)
	}
	// The side that closes first goes to TIME_WAIT: it must be the server's.
	_ = server.Close()
	return addr.Port, nil
}

// portClaim is one port the server will listen on.
type portClaim struct {
	role string
	ip   string
	port int
}

// checkPorts listens on each port and closes it again, so a conflict is
// reported with the port's role before the server starts (the server itself
// would fail deep inside its start-up, and the UI server would exit the
// process).
func checkPorts(claims []portClaim) error {
	seen := make(map[string]string, len(claims))
	for _, c := range claims {
		addr := net.JoinHostPort(c.ip, strconv.Itoa(c.port))
		if other, ok := seen[addr]; ok {
			return fmt.Errorf("%s and %s would both listen on %s: choose different ports", other, c.role, addr)
		}
		seen[addr] = c.role
		l, err := net.Listen("tcp", addr)
		if err != nil {
			if isAddrInUse(err) {
				return &PortInUseError{Role: c.role, IP: c.ip, Port: c.port, Err: err}
			}
			return fmt.Errorf("%s: cannot listen on %s: %w", c.role, addr, err)
		}
		_ = l.Close()
	}
	return nil
}

// isAddrInUse tells a taken port from other listen failures (no such address,
// privileged port). Windows reports WSAEADDRINUSE, which is not
// syscall.EADDRINUSE there, hence the text match.
func isAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) ||
		strings.Contains(err.Error(), "Only one usage of each socket address")
}
