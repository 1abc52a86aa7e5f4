package natsout_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"jifen/natsout"
	"jifen/storetest"
)

// natsServer is a nats-server of the test's own on a loopback port,
// keeping its JetStream store in a directory of the test's, so that the
// test can stop it and start it again.
type natsServer struct {
	t    *testing.T
	bin  string
	port int
	dir  string
	cmd  *exec.Cmd
	done chan error
	logs *storetest.LockedBuffer
}

// newNATSServer starts a server: the nats-server command on $PATH, or
// $JIFEN_NATS_SERVER. Without one the test is skipped, or fails when
// JIFEN_REQUIRE_NATS=1.
func newNATSServer(t *testing.T) *natsServer {
	t.Helper()
	bin := os.Getenv("JIFEN_NATS_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("nats-server"); err != nil {
			msg := "no nats-server command to run a server of the test's own: set JIFEN_NATS_SERVER (" + err.Error() + ")"
			if os.Getenv("JIFEN_REQUIRE_NATS") == "1" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &natsServer{t: t, bin: bin, port: port, dir: t.TempDir(), logs: &storetest.LockedBuffer{}}
	s.start()
	t.Cleanup(func() {
		if s.cmd != nil {
			s.stop(syscall.SIGKILL)
		}
		if t.Failed() {
			t.Logf("nats-server logs:\n%s", s.logs)
		}
	})
	return s
}

func (s *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// start runs the server on its port and store, and waits until it answers.
func (s *natsServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-js", "-sd", s.dir)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.done = make(chan error, 1)
	go func(cmd *exec.Cmd, done chan error) { done <- cmd.Wait() }(s.cmd, s.done)
	deadline := time.Now().Add(20 * time.Second)
	for natsout.Answers("127.0.0.1:"+strconv.Itoa(s.port), time.Second) != nil {
		if time.Now().After(deadline) {
			s.t.Fatalf("nats-server did not answer within 20 s\n%s", s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the server with sig and waits until it exited.
func (s *natsServer) stop(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.t.Fatalf("nats-server did not exit within 20 s of %v", sig)
	}
	s.cmd = nil
}

// TestPublisher_ServerDown: the NATS server stops for a while, twice —
// once shut down, once killed while publishing under load — and comes
// back on the same port and store: every event arrives, once, in order,
// and each outage is logged once.
func TestPublisher_ServerDown(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			srv := newNATSServer(t)
			e := storetest.NewEnv(t, st.open)
			f := newFixture(t, srv.url())
			l := newLoad(t, e)
			c := f.config()
			c.FromStart = true
			f.run(e.Svc, c)
			l.run(t, "before", 3, 10)
			f.waitFor(newest(t, e.Svc), 30*time.Second)

			srv.stop(syscall.SIGTERM)
			l.run(t, "down", 3, 10)
			time.Sleep(time.Second) // the publisher tries, and fails, meanwhile
			srv.start()
			l.run(t, "back", 3, 10)
			f.waitFor(newest(t, e.Svc), 30*time.Second)

			done := make(chan struct{})
			go func() {
				defer close(done)
				l.run(t, "killed", 4, 15)
			}()
			time.Sleep(150 * time.Millisecond)
			srv.stop(syscall.SIGKILL)
			<-done
			// Writes while it is dead: on a fast machine the load above
			// may be published in full before the kill, and the outage
			// would then go unseen.
			l.run(t, "dead", 2, 5)
			time.Sleep(500 * time.Millisecond)
			srv.start()
			f.waitFor(newest(t, e.Svc), 30*time.Second)

			l.checkRefused(t, f.check(e.Store, e.Svc, 0))
			logs := f.logs.String()
			if n, m := strings.Count(logs, "publishing stopped"), strings.Count(logs, "publishing resumed"); n != 2 || m != 2 {
				t.Errorf("%d outages and %d recoveries logged, want 2 and 2:\n%s", n, m, logs)
			}
		})
	}
}

// TestPublisher_ServerDownAtStart: a publisher started while its server
// is down publishes, from the start, once the server is up.
func TestPublisher_ServerDownAtStart(t *testing.T) {
	srv := newNATSServer(t)
	srv.stop(syscall.SIGTERM)
	e := storetest.NewEnv(t, stores[0].open)
	l := newLoad(t, e)
	stream, prefix := natsout.TestNames(t)
	logs := &storetest.LockedBuffer{}
	c := natsout.Config{URL: srv.url(), Stream: stream, Prefix: prefix, FromStart: true, Poll: 50 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(logs, nil))}
	p, err := natsout.New(e.Svc, c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	l.run(t, "down", 2, 5)
	time.Sleep(500 * time.Millisecond)
	srv.start()
	f := newFixture(t, srv.url())
	f.stream, f.prefix = stream, prefix
	l.run(t, "up", 2, 5)
	f.waitFor(newest(t, e.Svc), 30*time.Second)
	l.checkRefused(t, f.check(e.Store, e.Svc, 0))
	if s := logs.String(); strings.Count(s, "publishing stopped") != 1 || !strings.Contains(s, "publishing resumed") {
		t.Errorf("logs:\n%s\nwant one outage, then publishing resumed", s)
	}
}
