package config

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/billing"
)

func TestParse(t *testing.T) {
	urlFile := filepath.Join(t.TempDir(), "database-url")
	if err := os.WriteFile(urlFile, []byte("postgres://meterline:from-file@db/meterline\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	passwordFile := filepath.Join(t.TempDir(), "smtp-password")
	if err := os.WriteFile(passwordFile, []byte("pw-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const from = "Meterline <noreply@example.com>"
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want Config
	}{
		{
			name: "defaults",
			want: Config{Listen: DefaultListen, Database: DefaultDatabase, LogLevel: slog.LevelInfo},
		},
		{
			name: "environment",
			env: map[string]string{
				EnvListen:   "0.0.0.0:9000",
				EnvDatabase: "postgres://db/meterline",
				EnvLogLevel: "debug",
			},
			want: Config{Listen: "0.0.0.0:9000", Database: "postgres://db/meterline", LogLevel: slog.LevelDebug},
		},
		{
			name: "flags override environment",
			args: []string{"-listen", "127.0.0.1:0", "-database", "sqlite:/tmp/x.db", "-log-level", "WARN"},
			env: map[string]string{
				EnvListen:   "0.0.0.0:9000",
				EnvDatabase: "postgres://db/meterline",
				EnvLogLevel: "debug",
			},
			want: Config{Listen: "127.0.0.1:0", Database: "sqlite:/tmp/x.db", LogLevel: slog.LevelWarn},
		},
		{
			name: "database URL from a file",
			env:  map[string]string{EnvDatabaseFile: urlFile},
			want: Config{Listen: DefaultListen, Database: "postgres://meterline:from-file@db/meterline", LogLevel: slog.LevelInfo},
		},
		{
			name: "flag file over the environment",
			args: []string{"-database-url-file", urlFile},
			env:  map[string]string{EnvDatabase: "postgres://db/other"},
			want: Config{Listen: DefaultListen, Database: "postgres://meterline:from-file@db/meterline", LogLevel: slog.LevelInfo},
		},
		{
			name: "version",
			args: []string{"-version"},
			want: Config{Listen: DefaultListen, Database: DefaultDatabase, LogLevel: slog.LevelInfo, Version: true},
		},
		{
			name: "SMTP from the environment",
			env: map[string]string{
				EnvSMTPHost: "smtp.example.com", EnvSMTPPort: "2525", EnvSMTPMode: "TLS",
				EnvSMTPUser: "portal", EnvSMTPPassword: "pw", EnvMailFrom: from,
			},
			want: Config{Listen: DefaultListen, Database: DefaultDatabase, LogLevel: slog.LevelInfo,
				SMTP: SMTP{Host: "smtp.example.com", Port: 2525, Mode: SMTPTLS, User: "portal", Password: "pw", From: from}},
		},
		{
			name: "SMTP flags over the environment, password from a file",
			args: []string{"-smtp-host", "127.0.0.1", "-smtp-mode", "none", "-smtp-user", "u", "-smtp-password-file", passwordFile},
			env: map[string]string{
				EnvSMTPHost: "smtp.example.com", EnvSMTPMode: "tls", EnvSMTPPassword: "pw", EnvMailFrom: from,
			},
			want: Config{Listen: DefaultListen, Database: DefaultDatabase, LogLevel: slog.LevelInfo,
				SMTP: SMTP{Host: "127.0.0.1", Port: DefaultSMTPPort, Mode: SMTPNone, User: "u", Password: "pw-from-file", From: from}},
		},
		{
			name: "SMTP tls mode defaults to port 465",
			args: []string{"-smtp-host", "smtp.example.com", "-smtp-mode", "tls", "-mail-from", "noreply@example.com"},
			want: Config{Listen: DefaultListen, Database: DefaultDatabase, LogLevel: slog.LevelInfo,
				SMTP: SMTP{Host: "smtp.example.com", Port: DefaultSMTPTLSPort, Mode: SMTPTLS, From: "noreply@example.com"}},
		},
		{
			name: "SMTP password file from the environment",
			env: map[string]string{
				EnvSMTPHost: "smtp.example.com", EnvSMTPUser: "u", EnvSMTPPasswordFile: passwordFile, EnvMailFrom: from,
			},
			want: Config{Listen: DefaultListen, Database: DefaultDatabase, LogLevel: slog.LevelInfo,
				SMTP: SMTP{Host: "smtp.example.com", Port: DefaultSMTPPort, Mode: SMTPStartTLS, User: "u", Password: "pw-from-file", From: from}},
		},
		{
			name: "back-office address from the environment",
			env:  map[string]string{EnvBackOfficeEmail: "support@supplier.example"},
			want: Config{Listen: DefaultListen, Database: DefaultDatabase, LogLevel: slog.LevelInfo, BackOfficeEmail: "support@supplier.example"},
		},
		{
			name: "back-office address flag over the environment",
			args: []string{"-backoffice-email", "desk@supplier.example"},
			env:  map[string]string{EnvBackOfficeEmail: "support@supplier.example"},
			want: Config{Listen: DefaultListen, Database: DefaultDatabase, LogLevel: slog.LevelInfo, BackOfficeEmail: "desk@supplier.example"},
		},
		{
			name: "mail retention from the environment",
			env:  map[string]string{EnvMailRetention: "720h"},
			want: Config{Listen: DefaultListen, Database: DefaultDatabase, LogLevel: slog.LevelInfo, MailRetention: 720 * time.Hour},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tt.want.SMTP == (SMTP{}) {
				tt.want.SMTP = SMTP{Port: DefaultSMTPPort, Mode: DefaultSMTPMode}
			}
			if tt.want.MailRetention == 0 {
				tt.want.MailRetention = DefaultMailRetention
			}
			if tt.want.BackOfficeEmail == "" {
				tt.want.BackOfficeEmail = DefaultBackOfficeEmail
			}
			if tt.want.Billing == (billing.Config{}) {
				tt.want.Billing = billing.DefaultConfig()
			}
			if tt.want.Uploads == (Uploads{}) {
				tt.want.Uploads = Uploads{Dir: UploadDirFor(tt.want.Database), MaxBytes: DefaultUploadMaxBytes}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestParseUploads: the upload folder defaults to the data directory
// (beside the SQLite file), and the flags and variables set it.
func TestParseUploads(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want Uploads
	}{
		{nil, nil, Uploads{Dir: filepath.Join("data", "uploads"), MaxBytes: DefaultUploadMaxBytes}},
		{[]string{"-database", "sqlite:/var/lib/meterline/meterline.db"}, nil, Uploads{Dir: "/var/lib/meterline/uploads", MaxBytes: DefaultUploadMaxBytes}},
		{[]string{"-database", "postgres://db/meterline"}, nil, Uploads{Dir: filepath.Join("data", "uploads"), MaxBytes: DefaultUploadMaxBytes}},
		{[]string{"-upload-dir", "/srv/photos"}, map[string]string{EnvUploadDir: "/elsewhere", EnvUploadMaxBytes: "1048576"}, Uploads{Dir: "/srv/photos", MaxBytes: 1 << 20}},
	} {
		got, err := Parse(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		if err != nil || got.Uploads != tc.want {
			t.Errorf("Parse(%q, %v).Uploads = %+v, %v; want %+v", tc.args, tc.env, got.Uploads, err, tc.want)
		}
	}
}

func TestParseSignIn(t *testing.T) {
	got, err := Parse([]string{"-public-url", "https://portal.example.com", "-secure-cookies", "-login-limit", "3, 30/10m",
		"-session-idle", "30m"}, func(k string) string {
		return map[string]string{EnvTrustedProxies: "127.0.1.0/24, 127.0.2.7", EnvResetLimit: "2,10/2h", EnvSessionIdle: "2h"}[k]
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	si := got.SignIn
	if si.PublicURL != "https://portal.example.com" || !si.SecureCookies || si.SessionIdle != 30*time.Minute ||
		si.LoginLimit != (Limit{3, 30, 10 * time.Minute}) || si.ResetLimit != (Limit{2, 10, 2 * time.Hour}) || si.RegisterLimit != (Limit{}) {
		t.Errorf("SignIn = %+v", si)
	}
	if len(si.TrustedProxies) != 2 || si.TrustedProxies[0].String() != "127.0.1.0/24" || si.TrustedProxies[1].String() != "127.0.2.7/32" {
		t.Errorf("trusted proxies = %v", si.TrustedProxies)
	}
	if si.LoginLimit.String() != "3,30/10m0s" {
		t.Errorf("Limit.String = %q", si.LoginLimit.String())
	}
	for _, args := range [][]string{
		{"-public-url", "portal.example.com"},
		{"-public-url", "https://portal.example.com/sub"},
		{"-login-limit", "5/15m"},
		{"-login-limit", "0,5/15m"},
		{"-reset-limit", "5,5/soon"},
		{"-trusted-proxies", "127.0.1.0/33"},
		{"-session-idle", "13h", "-session-max-age", "12h"},
	} {
		if _, err := Parse(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("Parse(%q) accepted", args)
		}
	}
}

func TestParseBilling(t *testing.T) {
	got, err := Parse([]string{"-read-window-before", "120h", "-read-reminders", "24h, 48h,72h", "-read-jump", "4,500"}, func(k string) string {
		return map[string]string{EnvReadWindowAfter: "48h", EnvReadCloseAfter: "24h", EnvReadMinHistory: "720h", EnvReadEstimates: "4"}[k]
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := billing.DefaultConfig()
	want.Window = billing.Window{Before: 120 * time.Hour, After: 48 * time.Hour}
	want.Reminders = [3]time.Duration{24 * time.Hour, 48 * time.Hour, 72 * time.Hour}
	want.CloseAfter, want.MinHistory = 24*time.Hour, 720*time.Hour
	want.Jump.Factor, want.Jump.Floor = 4, 500
	want.EstimatesInARow = 4
	if got.Billing != want {
		t.Errorf("Billing = %+v, want %+v", got.Billing, want)
	}
	for _, args := range [][]string{
		{"-read-reminders", "24h,48h"},
		{"-read-reminders", "48h,24h,72h"},
		{"-read-window-after", "-1h"},
		{"-read-jump", "1,100"},
		{"-read-jump", "3"},
		{"-read-estimates-in-a-row", "-1"},
	} {
		if _, err := Parse(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("Parse(%q) accepted", args)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad level", []string{"-log-level", "loud"}, `log level "loud"`},
		{"unknown flag", []string{"-nope"}, "flag provided but not defined"},
		{"stray argument", []string{"serve"}, "unexpected arguments: serve"},
		{"empty listen", []string{"-listen", ""}, "listen address is empty"},
		{"empty database", []string{"-database", " "}, "database URL is empty"},
		{"database and its file", []string{"-database", "sqlite:x.db", "-database-url-file", "f"}, "both -database and -database-url-file"},
		{"SMTP mode", []string{"-smtp-host", "h", "-mail-from", "a@b.c", "-smtp-mode", "ssl"}, `SMTP mode "ssl"`},
		{"SMTP port", []string{"-smtp-host", "h", "-mail-from", "a@b.c", "-smtp-port", "70000"}, "SMTP port 70000"},
		{"SMTP without a sender", []string{"-smtp-host", "h"}, "without a sender address"},
		{"bad sender", []string{"-smtp-host", "h", "-mail-from", "not an address"}, `sender address "not an address"`},
		{"password without user", []string{"-smtp-host", "h", "-mail-from", "a@b.c", "-smtp-password", "pw"}, "without a user"},
		{"password and its file", []string{"-smtp-password", "pw", "-smtp-password-file", "f"}, "both -smtp-password and -smtp-password-file"},
		{"bad back-office address", []string{"-backoffice-email", "Support <a@b.c>, d@e.f"}, `back-office address`},
		{"empty back-office address", []string{"-backoffice-email", ""}, `back-office address`},
		{"no upload size", []string{"-upload-max-bytes", "0"}, `upload size limit`},
		{"upload size too large", []string{"-upload-max-bytes", "1000000000"}, `upload size limit`},
		{"negative mail retention", []string{"-mail-retention", "-1h"}, "mail retention -1h0m0s is negative"},
		{"SMTP password file missing", []string{"-smtp-password-file", "/nonexistent/pw"}, "SMTP password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.args, func(string) string { return "" }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestHelpHidesTheEnvironment: -h prints the static defaults, never the
// database URL (with its password) of the environment.
func TestHelpHidesTheEnvironment(t *testing.T) {
	env := map[string]string{
		EnvDatabase: "postgres://meterline:s3cret@db.internal/meterline",
		EnvListen:   "0.0.0.0:9000",
		EnvSMTPHost: "smtp.internal", EnvSMTPUser: "mailer", EnvSMTPPassword: "smtp-s3cret", EnvMailFrom: "ops@internal.example",
	}
	var out strings.Builder
	_, err := Parse([]string{"-h"}, func(k string) string { return env[k] }, &out)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("Parse(-h) error = %v, want ErrHelp", err)
	}
	for _, leak := range []string{"s3cret", "db.internal", "0.0.0.0:9000", "smtp.internal", "mailer", "ops@internal"} {
		if strings.Contains(out.String(), leak) {
			t.Errorf("usage shows %q from the environment:\n%s", leak, out.String())
		}
	}
	if !strings.Contains(out.String(), DefaultDatabase) {
		t.Errorf("usage lacks the default database %s:\n%s", DefaultDatabase, out.String())
	}
}

func TestParseHelp(t *testing.T) {
	var out strings.Builder
	_, err := Parse([]string{"-h"}, func(string) string { return "" }, &out)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("Parse(-h) error = %v, want ErrHelp", err)
	}
	for _, want := range []string{"-listen", EnvListen, "-database", EnvDatabase, "-database-url-file", EnvDatabaseFile, "-log-level", "-version",
		"-smtp-host", EnvSMTPHost, "-smtp-port", EnvSMTPPort, "-smtp-mode", EnvSMTPMode, "-smtp-user", EnvSMTPUser,
		"-smtp-password", EnvSMTPPassword, "-smtp-password-file", EnvSMTPPasswordFile, "-mail-from", EnvMailFrom,
		"-backoffice-email", EnvBackOfficeEmail, "-upload-dir", EnvUploadDir, "-upload-max-bytes", EnvUploadMaxBytes} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}
