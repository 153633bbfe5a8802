package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/meterline/meterline/shared/domain"
)

func TestErrorCodeAndMessage(t *testing.T) {
	wrapped := fmt.Errorf("save device: %w", domain.Errorf(domain.ENOTFOUND, "no device %q", "X1"))
	tests := []struct {
		err       error
		code, msg string
	}{
		{nil, "", ""},
		{wrapped, domain.ENOTFOUND, `no device "X1"`},
		{errors.New("disk on fire"), domain.EINTERNAL, "internal error"},
	}
	for _, tt := range tests {
		if got := domain.ErrorCode(tt.err); got != tt.code {
			t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.code)
		}
		if got := domain.ErrorMessage(tt.err); got != tt.msg {
			t.Errorf("ErrorMessage(%v) = %q, want %q", tt.err, got, tt.msg)
		}
	}
}
