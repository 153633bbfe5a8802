package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/wire"
)

// TestMakeRun runs the script behind `make run` as a newcomer would and
// checks that the portal shows every simulated printer, then that Ctrl-C
// stops the whole system.
func TestMakeRun(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the make run test")
	}
	root := repoRoot(t)
	// The portal binary is built here only: the other tests do not need it.
	build := exec.Command("go", "build", "-o", bin+string(os.PathSeparator), "github.com/meterline/meterline/portal/cmd/meterline-portal")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build portal: %v\n%s", err, out)
	}
	dataDir := t.TempDir()
	portal := freeTCPAddr(t)
	simPort := 20000 + rand.IntN(20000)
	cmd := exec.Command("bash", filepath.Join(root, "deploy/dev/run.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"BIN="+bin, "DATA_DIR="+dataDir, "PRINTERS=10", fmt.Sprint("SIM_PORT=", simPort),
		"POLL_INTERVAL=2s", "PORTAL_LISTEN="+portal, "RATE=0",
		// No mail catcher: building Mailpit would make the test slow,
		// and dependent on the module proxy.
		"MAIL_CATCHER=0",
	)
	p := &process{name: "make run", cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p, p
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("---- output of make run ----\n%s", p.output())
		}
	})

	// The manifest lists what the simulator serves.
	var manifest []struct{ Name, Address, Serial string }
	waitFor(t, "the simulator's manifest", 60*time.Second, func() (bool, error) {
		b, err := os.ReadFile(filepath.Join(dataDir, "printersim.json"))
		if err != nil {
			return false, err
		}
		return json.Unmarshal(b, &manifest) == nil && len(manifest) == 10, nil
	})
	// What a user sees with `meterline-agent read` for each printer must be
	// on the page: its identity and its total counter (the simulator runs
	// with RATE=0, so counters hold still).
	type expectation struct{ identity, total string }
	var want []expectation
	for _, d := range manifest {
		var read wire.DeviceRead
		out := runCmd(t, "meterline-agent", "read", "--target", d.Address)
		if err := json.Unmarshal(out, &read); err != nil {
			t.Fatalf("read %s: %v\n%s", d.Address, err, out)
		}
		identity := read.Serial
		if identity == "" {
			identity = read.Key("demo-agent")
		}
		total, ok := read.Counter(domain.CounterTotal)
		if !ok {
			t.Fatalf("read %s: no total counter", d.Address)
		}
		want = append(want, expectation{identity, englishNumber(total)})
	}
	// The devices are behind sign-in: the demo prints the password of its
	// back-office user, who sees every device.
	signInLine := regexp.MustCompile(`demo: sign in as .*(backoffice@\S+) \(back office\) with password (\S+)`)
	var m []string
	waitFor(t, "the demo's sign-in line and the portal", 90*time.Second, func() (bool, error) {
		if m = signInLine.FindStringSubmatch(p.output()); m == nil {
			return false, fmt.Errorf("no demo sign-in line yet")
		}
		_, err := get("http://" + portal + "/healthz")
		return err == nil, err
	})
	client := signIn(t, "http://"+portal, m[1], m[2])
	waitFor(t, "every simulated printer on the portal page", 90*time.Second, func() (bool, error) {
		page, err := getWith(client, "http://"+portal+"/backoffice/devices?lang=en")
		if err != nil {
			return false, err
		}
		for _, w := range want {
			i := strings.Index(page, w.identity)
			if i < 0 {
				return false, fmt.Errorf("%s not on the page yet", w.identity)
			}
			// The device's row follows its identity.
			row := page[i:min(len(page), i+4000)]
			if !strings.Contains(row, w.total) {
				return false, fmt.Errorf("%s: total %s not in its row yet", w.identity, w.total)
			}
		}
		return true, nil
	})

	// The demo data was loaded before the agent started (admin demo).
	if !strings.Contains(p.output(), "demo: 2 account(s), 10 device(s) created; agent demo-agent belongs to DEMO-1001") {
		t.Errorf("make run did not load the demo data")
	}

	// Ctrl-C: the script stops every component and exits.
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("make run did not stop within 30s of Ctrl-C")
	}
	if !strings.Contains(p.output(), "stopped") {
		t.Errorf("make run did not report a clean stop")
	}
	if _, err := get("http://" + portal + "/login"); err == nil {
		t.Errorf("the portal still answers after Ctrl-C")
	}
}

// englishNumber formats n as the portal does in English: 1,234,567.
func englishNumber(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// signIn signs in to the portal at base as a browser does (the form's
// CSRF token included) and returns the client, which keeps the session.
func signIn(t *testing.T, base, email, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	page, err := getWith(c, base+"/login")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the sign-in page:\n%s", page)
	}
	resp, err := c.PostForm(base+"/login", url.Values{"email": {email}, "password": {password}, "csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/dashboard" {
		t.Fatalf("sign-in as %s ended at %s", email, resp.Request.URL)
	}
	return c
}

func get(url string) (string, error) {
	return getWith(&http.Client{Timeout: 5 * time.Second}, url)
}

func getWith(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), nil
}

// repoRoot is the folder that holds go.work.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.work above the test directory")
		}
		dir = parent
	}
}
