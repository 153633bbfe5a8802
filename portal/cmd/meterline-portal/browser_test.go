package main

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/schema/schematest"
)

// EnvChromium names the Chromium binary the browser test drives, e.g.
// /usr/bin/chromium (Debian package "chromium").
const EnvChromium = "METERLINE_TEST_CHROMIUM"

var screenshotOut = flag.String("screenshot", "", "also write the browser test's screenshot to this PNG file")

// chromium runs headless Chromium on url with extra flags and returns what
// it prints. Each run has its own profile and stays off the network except
// for the page it loads.
func chromium(t *testing.T, bin, url string, extra ...string) []byte {
	t.Helper()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
		"--user-data-dir=" + t.TempDir(),
	}
	args = append(append(args, extra...), url)
	// A guard against a browser that never exits, not an assertion on time.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestBrowser loads the sign-in page in a real browser, from a portal
// started by run, and checks what it renders in both languages. (The
// device pages are behind sign-in; the signed-in pages are driven by the
// end-to-end browser test.)
func TestBrowser(t *testing.T) {
	bin := os.Getenv(EnvChromium)
	if bin == "" {
		t.Skipf("%s is not set: skipping the real-browser test (set it to a Chromium binary, e.g. /usr/bin/chromium)", EnvChromium)
	}
	db := schematest.SQLiteURL(t)
	storetest.Seed(t, db, storetest.Sample(time.Now())...)
	base := startPortal(t, "-database", db)

	tests := []struct {
		lang string
		want []string
	}{
		{"fr", []string{`<html lang="fr">`, "Connexion", "Adresse courriel", "Mot de passe oublié ?", `name="csrf"`, "English"}},
		{"en", []string{`<html lang="en">`, "Log in", "E-mail address", "Forgot your password?", `name="csrf"`, "Français"}},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			dom := string(chromium(t, bin, base+"/equipment?lang="+tt.lang, "--dump-dom"))
			for _, want := range tt.want {
				if !strings.Contains(dom, want) {
					t.Errorf("the rendered page lacks %q", want)
				}
			}
			if strings.Contains(dom, "3TB241507") {
				t.Error("a device shows without signing in")
			}
			if t.Failed() {
				t.Logf("DOM:\n%s", dom)
			}
		})
	}

	t.Run("screenshot", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "login.png")
		chromium(t, bin, base+"/login?lang=fr", "--screenshot="+file, "--window-size=1280,900", "--hide-scrollbars")
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("no screenshot: %v", err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("the screenshot is not a PNG: %v", err)
		}
		if size := img.Bounds().Size(); size.X != 1280 || size.Y != 900 {
			t.Errorf("screenshot is %v, want 1280x900", size)
		}
		if *screenshotOut != "" {
			if err := os.WriteFile(*screenshotOut, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
}
