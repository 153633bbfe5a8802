package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The machine's PostgreSQL is shared by every test package; a test that
// stops the database server runs a private one instead, in a temporary
// directory, on a free loopback port.

// pgServer is a private PostgreSQL server owned by one test.
type pgServer struct {
	t    *testing.T
	bin  string // directory of initdb and pg_ctl
	root string // temporary directory: data, socket, log
	data string
	log  string
	port string
	cred *syscall.Credential // the postgres user when we run as root
}

// postgresBinDir returns the directory of the newest initdb and pg_ctl
// installed, or skips the test.
func postgresBinDir(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first: "9" sorts after "15" as text.
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(b) - majorOf(a) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	for _, name := range []string{"initdb", "pg_ctl"} {
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("no %s under /usr/lib/postgresql/*/bin nor on PATH: skipping the private PostgreSQL server test (apt-get install postgresql)", name)
		}
	}
	p, _ := exec.LookPath("initdb")
	return filepath.Dir(p)
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// startPostgres creates and starts a private PostgreSQL server: trust
// authentication, loopback TCP only, its socket in its own directory, fsync
// off (the data is thrown away). It is stopped and removed when the test
// ends. The test is skipped when METERLINE_TEST_POSTGRES_URL is unset (the
// sign that this machine is not set up for PostgreSQL tests) or the server
// binaries are missing.
func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	if os.Getenv("METERLINE_TEST_POSTGRES_URL") == "" {
		t.Skip("METERLINE_TEST_POSTGRES_URL is not set: skipping the private PostgreSQL server test (.ci/run sets it)")
	}
	s := &pgServer{t: t, bin: postgresBinDir(t)}
	_, s.port, _ = net.SplitHostPort(freeTCPAddr(t))

	// Not t.TempDir: its parents are private to root, and the server must
	// run as the postgres user, which needs to reach its directory.
	root, err := os.MkdirTemp("", "meterline-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s.root = root
	t.Cleanup(func() { os.RemoveAll(root) })
	if os.Geteuid() == 0 {
		// initdb refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root and there is no postgres user to run a private PostgreSQL server as: %v", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(root, int(uid), int(gid)); err != nil {
			t.Fatalf("hand %s to the postgres user: %v", root, err)
		}
	}
	s.data = filepath.Join(root, "data")
	s.log = filepath.Join(root, "server.log")

	s.run("initdb", "-D", s.data, "--auth=trust", "--username=postgres", "--encoding=UTF8", "--no-locale", "--no-sync")
	conf := strings.Join([]string{
		"listen_addresses = '127.0.0.1'",
		"port = " + s.port,
		"unix_socket_directories = '" + root + "'",
		// Safe against a server crash (stop -m immediate), which is what
		// the tests do, though not against a machine crash. Not
		// synchronous_commit = off: that loses committed transactions
		// when the server is stopped in immediate mode.
		"fsync = off",
		"full_page_writes = off",
		"shared_buffers = 16MB",
		"max_connections = 50",
	}, "\n") + "\n"
	f, err := os.OpenFile(filepath.Join(s.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(conf); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	s.start()
	t.Cleanup(func() {
		// Immediate: the data is thrown away, nothing to shut down cleanly.
		s.pgCtl("stop", "-m", "immediate")
		if t.Failed() {
			b, _ := os.ReadFile(s.log)
			t.Logf("---- log of the private PostgreSQL server ----\n%s", b)
		}
	})
	return s
}

// url returns the address of database name on the server.
func (s *pgServer) url(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%s/%s?sslmode=disable", s.port, name)
}

// createDB creates a database on the server and returns its URL.
func (s *pgServer) createDB(name string) string {
	s.t.Helper()
	admin, err := sql.Open("postgres", s.url("postgres"))
	if err != nil {
		s.t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		s.t.Fatalf("create database %s on the private server: %v", name, err)
	}
	return s.url(name)
}

// start starts the server and waits until it takes connections.
func (s *pgServer) start() {
	s.t.Helper()
	if out, err := s.pgCtl("start", "-w", "-t", "30", "-l", s.log); err != nil {
		b, _ := os.ReadFile(s.log)
		s.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, b)
	}
}

// stop stops the server: mode "fast" disconnects the clients and shuts down
// cleanly, "immediate" aborts at once, as a crash would (the next start
// recovers from the WAL).
func (s *pgServer) stop(mode string) {
	s.t.Helper()
	if out, err := s.pgCtl("stop", "-w", "-t", "30", "-m", mode); err != nil {
		s.t.Fatalf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
}

// pgCtl runs pg_ctl on the data directory.
func (s *pgServer) pgCtl(args ...string) ([]byte, error) {
	return s.command("pg_ctl", append(args, "-D", s.data)...)
}

// run runs a server program and fails the test if it fails.
func (s *pgServer) run(name string, args ...string) {
	s.t.Helper()
	if out, err := s.command(name, args...); err != nil {
		s.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// command runs a server program as the server's user and returns its
// output.
func (s *pgServer) command(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, name), args...)
	cmd.Dir = s.root
	// Output goes to a file, not a pipe: a server left running by pg_ctl
	// start with the pipe open would keep Run waiting until it exits.
	out, err := os.CreateTemp("", "meterline-pg-cmd-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	// The server must not inherit the test's PostgreSQL variables.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PG") })
	runErr := cmd.Run()
	b, _ := os.ReadFile(out.Name())
	return b, runErr
}
