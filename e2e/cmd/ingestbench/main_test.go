package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestGroup(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {20000, "20,000"}, {1234567, "1,234,567"}, {-45000, "-45,000"},
	} {
		if got := group(tc.n); got != tc.want {
			t.Errorf("group(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-phases", "broker"}, ""},
		{[]string{"-db", "postgres://127.0.0.1/x"}, ""},
		{nil, "-db is needed"},
		{[]string{"-phases", "broker,disk"}, "unknown measurement"},
		{[]string{"-phases", "broker", "-agents", "0"}, "must be positive"},
		{[]string{"-phases", "broker", "extra"}, "unexpected arguments"},
	} {
		_, err := parse(tc.args, io.Discard)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("parse(%q) = %v, want %q", tc.args, err, tc.wantErr)
		}
	}
}

func TestReportTargets(t *testing.T) {
	o := options{minRate: 20_000, minRatio: 0.5}
	raw := func(name string, rate int) phaseResult {
		return phaseResult{name: name, reads: rate * 10, elapsed: 10 * time.Second}
	}
	for _, tc := range []struct {
		name string
		e2e  int
		want bool
	}{
		{"both met", 30_000, true},
		{"rate missed", 19_000, false},
		{"ratio missed", 21_000, false}, // 21k of the smaller raw figure, 50k: 42 %
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			rows := []phaseResult{raw(nameBroker, 150_000), raw(nameDB, 50_000), raw(nameE2E, tc.e2e)}
			if got := report(&out, o, rows); got != tc.want {
				t.Errorf("report = %v, want %v:\n%s", got, tc.want, out.String())
			}
		})
	}
}

func TestProcTicks(t *testing.T) {
	if _, err := procTicks("self"); err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if _, err := machineBusyTicks(); err != nil {
		t.Errorf("machineBusyTicks: %v", err)
	}
}
