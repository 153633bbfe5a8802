package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/meterline/meterline/shared/domain"
)

func TestDropEscapedNUL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no escape", `{"a":"b"}`, `{"a":"b"}`},
		{"NUL escape", `{"a":"x\u0000y"}`, `{"a":"xy"}`},
		{"other unicode escape", `{"a":"\u003c\u0000"}`, `{"a":"\u003c"}`},
		{"escaped backslash before u0000", `{"a":"\\u0000"}`, `{"a":"\\u0000"}`},
		{"quote escape", `{"a":"\"\u0000\""}`, `{"a":"\"\""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(dropEscapedNUL([]byte(tt.in)))
			if got != tt.want {
				t.Errorf("dropEscapedNUL(%s) = %s, want %s", tt.in, got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("result %s is not valid JSON", got)
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"pad\x00\x00", "pad"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
	}
	for _, tt := range tests {
		if got := text(tt.in); got != tt.want {
			t.Errorf("text(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

type fakePGError string

func (e fakePGError) Error() string    { return "pq: " + string(e) }
func (e fakePGError) SQLState() string { return string(e) }

type fakeSQLiteError int

func (e fakeSQLiteError) Error() string { return fmt.Sprintf("sqlite error %d", int(e)) }
func (e fakeSQLiteError) Code() int     { return int(e) }

func TestRefused(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"postgres data exception", fakePGError("22P05"), domain.EINVALID},
		{"postgres index row too large", fmt.Errorf("insert: %w", fakePGError("54000")), domain.EINVALID},
		{"postgres connection failure", fakePGError("08006"), domain.EINTERNAL},
		{"postgres deadlock", fakePGError("40P01"), domain.EINTERNAL},
		{"sqlite too big", fakeSQLiteError(18), domain.EINVALID},
		{"sqlite busy", fakeSQLiteError(5), domain.EINTERNAL},
		{"sqlite busy snapshot (extended code)", fakeSQLiteError(5 | 2<<8), domain.EINTERNAL},
		{"other", errors.New("connection refused"), domain.EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domain.ErrorCode(refused(tt.err)); got != tt.want {
				t.Errorf("code of refused(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}
