package domain_test

import (
	"testing"

	"github.com/meterline/meterline/shared/domain"
)

func TestDeviceLabel(t *testing.T) {
	tests := []struct{ vendor, model, want string }{
		{"hp", "HP Color LaserJet M553", "HP Color LaserJet M553"},
		{"kyocera", "ECOSYS P3145dn", "Kyocera ECOSYS P3145dn"},
		{"konica_minolta", "bizhub C300i", "Konica Minolta bizhub C300i"},
		{"konica_minolta", "KONICA MINOLTA bizhub C300i", "KONICA MINOLTA bizhub C300i"},
		{"oki", "C834", "OKI C834"},
		{"", "Generic 28C-1", "Generic 28C-1"},
		{"acme", "", "acme"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := domain.DeviceLabel(tt.vendor, tt.model); got != tt.want {
			t.Errorf("DeviceLabel(%q, %q) = %q, want %q", tt.vendor, tt.model, got, tt.want)
		}
	}
}
