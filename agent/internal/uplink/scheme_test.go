package uplink

import (
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url     string
		wantErr string // "" for none
	}{
		{"tcp://127.0.0.1:1883", ""},
		{"tcps://127.0.0.1:8883", ""},
		{"wss://127.0.0.1/mqtt", ""},
		{"http://127.0.0.1", "scheme must be tcp://, mqtt://, ws://, ssl://, tls://, mqtts://, mqtt+ssl://, tcps://, wss://"},
		{"tcp://", "has no host"},
		{"tcp://user:hunter2@:1883", "has no host"},
		{"tcp://user:hunter2@127.0.0.1:%zz", "is not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := CheckURL(tt.url)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("CheckURL: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("CheckURL: %v, want %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), "hunter2"):
				t.Errorf("CheckURL: %v: the password is shown", err)
			}
		})
	}
}
