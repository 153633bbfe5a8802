package broker

import (
	"errors"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mosquittoLine is what mosquitto_passwd 2.0.11 wrote for alice, "secret".
const mosquittoLine = "alice:$7$101$YSlOpWEncbkTjHJJ$7U5d/oJDhidh2vl1iGFSFcvT1duQh6w2SzspRw+Z+NaKnTe2rQzpzKvsbqjNMyb/sEH6RxyGYfOmQCyHfUgkwA=="

func TestPasswordsReadMosquittoFiles(t *testing.T) {
	bobLine, err := HashPassword("bob", "hunter2")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePasswords(strings.NewReader("# agents\n\n" + mosquittoLine + "\n" + bobLine + "\n"))
	if err != nil {
		t.Fatalf("ParsePasswords: %v", err)
	}
	tests := []struct {
		user, password string
		want           bool
	}{
		{"alice", "secret", true},
		{"alice", "Secret", false},
		{"alice", "", false},
		{"bob", "hunter2", true},
		{"bob", "secret", false},
		{"carol", "secret", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if got := p.Check(tt.user, tt.password); got != tt.want {
			t.Errorf("Check(%q, %q) = %v, want %v", tt.user, tt.password, got, tt.want)
		}
	}
	if p.Len() != 2 || !p.Has("alice") || p.Has("carol") {
		t.Errorf("Len %d, Has(alice) %v, Has(carol) %v; want 2, true, false", p.Len(), p.Has("alice"), p.Has("carol"))
	}
}

// TestMosquittoReadsOurHashes: a line HashPassword writes is one that
// Mosquitto's own tool accepts and checks, when it is installed.
func TestMosquittoReadsOurHashes(t *testing.T) {
	if _, err := exec.LookPath("mosquitto_passwd"); err != nil {
		t.Skip("mosquitto_passwd is not installed")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "passwd")
	if out, err := exec.Command("mosquitto_passwd", "-c", "-b", file, "site-01", "pw-of-site-01").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}
	p, err := ReadPasswordFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Check("site-01", "pw-of-site-01") || p.Check("site-01", "other") {
		t.Error("a mosquitto_passwd file is not checked right")
	}
}

func TestPasswordFileErrors(t *testing.T) {
	const hash = "$7$101$YSlOpWEncbkTjHJJ$7U5d/oJDhidh2vl1iGFSFcvT1duQh6w2SzspRw+Z+NaKnTe2rQzpzKvsbqjNMyb/sEH6RxyGYfOmQCyHfUgkwA=="
	tests := []struct {
		name, file, want string
	}{
		{"no colon", "alice\n", "line 1: want user:hash"},
		{"no user", ":" + hash + "\n", "line 1: want user:hash"},
		{"twice", "alice:" + hash + "\nalice:" + hash + "\n", `line 2: user "alice" is listed twice`},
		{"plain text", "alice:secret\n", `line 1, user "alice": want a mosquitto_passwd hash`},
		{"mosquitto 1.x hash", "alice:$6$c2FsdA==$aGFzaA==\n", "want a mosquitto_passwd hash"},
		{"bad iterations", "alice:$7$0$YSlOpWEncbkTjHJJ$aGFzaA==\n", "iteration count"},
		{"huge iterations", "alice:$7$999999999$YSlOpWEncbkTjHJJ$aGFzaA==\n", "iteration count"},
		{"bad salt", "alice:$7$101$!!$aGFzaA==\n", "salt is not base64"},
		{"short hash", "alice:$7$101$YSlOpWEncbkTjHJJ$aGFzaA==\n", "hash is not 64 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePasswords(strings.NewReader(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParsePasswords = %v, want an error with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "YSlOp") || strings.Contains(err.Error(), "secret") {
				t.Errorf("the error shows the hash or password: %v", err)
			}
		})
	}
	if _, err := ReadPasswordFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadPasswordFile of a missing file = %v, want not-exist", err)
	}
}
