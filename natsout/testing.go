package natsout

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// defaultTestURL is the NATS server tests use when JIFEN_TEST_NATS is not
// set and it answers.
const defaultTestURL = "nats://127.0.0.1:4222"

var probe struct {
	once sync.Once
	err  error
}

// TestURL is the NATS server (with JetStream) for tests: $JIFEN_TEST_NATS,
// else defaultTestURL if it answers within 2 seconds. Without one the
// test is skipped, or fails when JIFEN_REQUIRE_NATS=1 (as in CI). Tests
// share it: each publishes to a stream and subjects of its own
// (TestNames).
func TestURL(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv("JIFEN_TEST_NATS"); u != "" {
		return u
	}
	probe.once.Do(func() { probe.err = Answers(strings.TrimPrefix(defaultTestURL, "nats://"), 2*time.Second) })
	if probe.err != nil {
		msg := "NATS not reachable at " + defaultTestURL + ": set JIFEN_TEST_NATS (" + probe.err.Error() + ")"
		if os.Getenv("JIFEN_REQUIRE_NATS") == "1" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return defaultTestURL
}

// Answers tells whether a NATS server at addr (host:port) greets a new
// connection within the time given.
func Answers(addr string, within time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, within)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(within)); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("%s: no greeting: %w", addr, err)
	}
	if !strings.HasPrefix(line, "INFO ") {
		return fmt.Errorf("%s: greets with %.40q, not a NATS INFO", addr, line)
	}
	return nil
}

// TestNames makes a stream name and a subject prefix that no other test,
// of this process or another, uses; the test deletes its stream when it
// ends.
func TestNames(tb testing.TB) (stream, prefix string) {
	tb.Helper()
	id := strings.ToLower(rand.Text()[:12])
	return "JIFENTEST_" + strings.ToUpper(id), "jifentest_" + id
}
