package redact_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/meterline/meterline/shared/redact"
)

func TestURL(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"postgres://meterline:s3cret@db:5432/meterline?sslmode=disable", "postgres://meterline:redacted@db:5432/meterline?sslmode=disable"},
		{"postgres://db/meterline?password=s3cret&sslmode=disable", "postgres://db/meterline?password=redacted&sslmode=disable"},
		{"postgres://meterline@db/meterline", "postgres://meterline@db/meterline"},
		{"ssl://collector:s3cret@broker:8883", "ssl://collector:redacted@broker:8883"},
		{"tcp://127.0.0.1:1883", "tcp://127.0.0.1:1883"},
		{"sqlite:./data/meterline.db", "sqlite:./data/meterline.db"},
		{"", ""},
		// Not URLs: the password's place cannot be told.
		{"postgres://meterline:s3cret@db:port/meterline", "postgres://<not a valid URL, hidden>"},
		{"postgres://meter line:s3cret@db/x%zz", "postgres://<not a valid URL, hidden>"},
		{":s3cret@db", "<not a valid URL, hidden>"},
	}
	for _, tt := range tests {
		got := redact.URL(tt.raw)
		if got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.raw, got, tt.want)
		}
		if strings.Contains(got, "s3cret") {
			t.Errorf("URL(%q) = %q shows the password", tt.raw, got)
		}
	}
}

func TestParseError(t *testing.T) {
	_, err := url.Parse("postgres://meterline:s3cret@db:port/meterline") //nolint:staticcheck // a bad port is the point
	if err == nil {
		t.Fatal("url.Parse accepted a bad port")
	}
	got := redact.ParseError(err)
	if got == nil || strings.Contains(got.Error(), "s3cret") {
		t.Errorf("ParseError = %v, want the cause without the URL", got)
	}
	other := errors.New("other")
	if got := redact.ParseError(other); !errors.Is(got, other) {
		t.Error("ParseError changed an error that is not a url.Error")
	}
}
