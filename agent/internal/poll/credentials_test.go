package poll

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/agent/internal/snmp/snmptest"
)

// TestCredentialReader serves a printer that answers only community
// "private" on one target and only "public" on another, and checks which
// credentials are tried, in which order, and what is remembered.
func TestCredentialReader(t *testing.T) {
	fake, err := snmptest.Load(filepath.Join("..", "printer", "testdata", "quirks", "levels.snmprec"))
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string]string{"p1:161": "private", "p2:161": "public"}
	var mu sync.Mutex
	var tried []string
	dial := func(_ context.Context, target string, p snmp.Params) (snmp.Client, error) {
		mu.Lock()
		tried = append(tried, target+"/"+p.Community)
		mu.Unlock()
		switch answers[target] {
		case p.Community:
			return fake, nil
		case "":
			return nil, errors.New("walk broke half-way")
		}
		return nil, &snmp.NoAnswerError{Target: target, Err: errors.New("timeout")}
	}
	creds := []snmp.Credential{
		{Name: "office", Params: snmp.Params{Version: snmp.Version2c, Community: "public"}},
		{Name: "back-office", Params: snmp.Params{Version: snmp.Version2c, Community: "private"}},
	}
	r := NewCredentialReader(dial, creds, time.Now)
	steps := []struct {
		target     string
		wantTried  string
		wantWorked string
		wantErr    string
	}{
		{"p1:161", "p1:161/public p1:161/private", "back-office", ""},
		{"p1:161", "p1:161/private", "back-office", ""}, // remembered: tried first
		{"p2:161", "p2:161/public", "office", ""},
		{"broken:161", "broken:161/public", "", "walk broke half-way"}, // a device failure ends the read
	}
	for _, s := range steps {
		tried = nil
		_, err := r.Read(context.Background(), s.target)
		if got := strings.Join(tried, " "); got != s.wantTried {
			t.Errorf("%s: tried %q, want %q", s.target, got, s.wantTried)
		}
		if (err == nil) != (s.wantErr == "") || err != nil && !strings.Contains(err.Error(), s.wantErr) {
			t.Errorf("%s: err %v, want %q", s.target, err, s.wantErr)
		}
		if got, _ := r.Worked(s.target); got != s.wantWorked {
			t.Errorf("%s: worked %q, want %q", s.target, got, s.wantWorked)
		}
	}
	// Discovery's finding goes first; when nothing answers, the error is
	// the one of the credential tried first.
	answers["p3:161"] = "nobody"
	r.Use("p3:161", "back-office")
	tried = nil
	_, err = r.Read(context.Background(), "p3:161")
	if got := strings.Join(tried, " "); got != "p3:161/private p3:161/public" || !snmp.IsNoAnswer(err) {
		t.Errorf("tried %q, err %v", got, err)
	}
}
