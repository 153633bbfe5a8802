package discover

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/meterline/meterline/agent/internal/netrange"
	"github.com/meterline/meterline/agent/internal/snmp"
	"github.com/meterline/meterline/printersim/sim"
)

// TestRunSchedule runs the discovery loop over one printer with an
// interval of 0: it sweeps once at start, then only when woken, and a
// plan that fails skips the sweep.
func TestRunSchedule(t *testing.T) {
	fleet := servePerAddress(t, standardSerials(sim.DemoFleet())[:1], "public")
	served := fleet.Devices()[0]
	type sweep struct{ all, added []Device }
	found := make(chan sweep)
	wake := make(chan struct{})
	planErr := make(chan error, 1)
	plan := func() (Plan, error) {
		select {
		case err := <-planErr:
			return Plan{}, err
		default:
		}
		return Plan{Ranges: netrange.MustParse("127.0.1.1"), Credentials: []snmp.Credential{v2c("office", "public")}}, nil
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	inv := NewInventory()
	go func() {
		defer close(done)
		RunSchedule(ctx, snmp.Dial, inv, Schedule{
			Plan: plan,
			Wake: wake,
			Found: func(all, added []Device) {
				select {
				case found <- sweep{all, added}:
				case <-ctx.Done():
				}
			},
		}, Options{Port: served.Addr.Port()}, testLogger(t))
	}()
	next := func(what string) sweep {
		t.Helper()
		select {
		case s := <-found:
			return s
		case <-time.After(60 * time.Second): // only keeps a broken test from hanging
			t.Fatalf("no sweep %s", what)
			return sweep{}
		}
	}

	first := next("at start")
	if len(first.added) != 1 || first.added[0].Serial != served.Serial || first.added[0].Credential != "office" {
		t.Fatalf("first sweep added %s, want %s with office", describe(first.added), served.Serial)
	}
	// A failing plan is a wake-up without a sweep; the next wake-up sweeps.
	planErr <- errors.New("bad ranges")
	wake <- struct{}{}
	wake <- struct{}{}
	second := next("when woken")
	if len(second.added) != 0 || !slices.EqualFunc(second.all, first.all, func(a, b Device) bool { return a.Address == b.Address }) {
		t.Errorf("second sweep: all %s, added %s; want the same printer, none added", describe(second.all), describe(second.added))
	}
	cancel()
	<-done
}

func TestTargets(t *testing.T) {
	tests := []struct {
		name   string
		static []string
		found  []string
		want   []string
	}{
		{"none", nil, nil, nil},
		{"static only", []string{"127.0.0.1:161"}, nil, []string{"127.0.0.1:161"}},
		{"found after static, once", []string{"127.0.0.2:161"}, []string{"127.0.0.1:161", "127.0.0.2:161"}, []string{"127.0.0.2:161", "127.0.0.1:161"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var found []Device
			for _, a := range tt.found {
				found = append(found, Device{Address: a})
			}
			if got := Targets(tt.static, found); !slices.Equal(got, tt.want) {
				t.Errorf("Targets = %q, want %q", got, tt.want)
			}
		})
	}
}
