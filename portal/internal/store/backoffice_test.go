package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

func TestBackOfficeAccounts(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			f := customer(t, s, "100200")
			customer(t, s, "100300")
			customer(t, s, "200100")
			if _, err := s.CreateAccount(ctx, store.Account{CustomerNumber: "300", Name: "Imprimerie 50%_off", Language: domain.LanguageFrench}); err != nil {
				t.Fatal(err)
			}
			put(t, s, f, "A-1", nil)
			gone := put(t, s, f, "A-2", nil)
			if err := s.SetDeviceState(ctx, gone.ID, domain.ContractRemoved, store.BySystem("test")); err != nil {
				t.Fatal(err)
			}
			numbers := func(p store.AccountPage) string {
				var n []string
				for _, a := range p.Accounts {
					n = append(n, a.CustomerNumber)
				}
				return fmt.Sprintf("%d:%s", p.Total, strings.Join(n, ","))
			}
			for _, tc := range []struct {
				search        string
				limit, offset int
				want          string
			}{
				{"", 0, 0, "4:100200,100300,200100,300"},
				{"100", 0, 0, "3:100200,100300,200100"}, // number prefix or name
				{"3", 0, 0, "2:100300,300"},
				{"  abc CO 2001 ", 0, 0, "1:200100"}, // name, case aside
				{"", 2, 1, "4:100300,200100"},
				{"", 2, 4, "4:"},
				{"%", 0, 0, "1:300"}, // a literal, not a wildcard
				{"_", 0, 0, "1:300"},
				{"nothing", 0, 0, "0:"},
			} {
				p, err := s.BackOfficeAccounts(ctx, tc.search, tc.limit, tc.offset)
				if err != nil || numbers(p) != tc.want {
					t.Errorf("BackOfficeAccounts(%q, %d, %d) = %s, %v; want %s", tc.search, tc.limit, tc.offset, numbers(p), err, tc.want)
				}
			}
			p, err := s.BackOfficeAccounts(ctx, "100200", 0, 0)
			if err != nil || len(p.Accounts) != 1 || p.Accounts[0].Devices != 1 || p.Accounts[0].Users != 1 || p.Accounts[0].Name != f.account.Name {
				t.Errorf("account summary = %+v, %v", p, err)
			}
			_, err = s.BackOfficeAccounts(ctx, "", -1, 0)
			code(t, "negative limit", err, domain.EINVALID)
		})
	}
}

func TestBackOfficeDevices(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			f := customer(t, s, "1")
			other := customer(t, s, "2")
			put(t, s, other, "SHARED-1", nil)
			put(t, s, f, "MINE-1", nil)
			// What ingest writes for a serial an agent of account f reports
			// that f has not registered (migration 0008).
			db := sqlxOf(s)
			seen := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
			for i, serial := range []string{"SHARED-1", "LONE-1"} {
				if _, err := db.Exec(db.Rebind(`INSERT INTO devices (owner, device_key, serial, model, account_id, state, first_seen, last_seen)
VALUES (?, ?, ?, 'C405', ?, 'unconfirmed', ?, ?)`), fmt.Sprintf("acct:%d", f.account.ID), "sn:"+serial, serial, f.account.ID,
					seen.Add(time.Duration(i)*time.Hour), seen.Add(time.Duration(i)*time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			// The review lists of issue 14 (review.go) see them.
			unconfirmed, err := s.UnconfirmedDevices(ctx, 0)
			if err != nil || len(unconfirmed) != 2 {
				t.Fatalf("unconfirmed = %+v, %v", unconfirmed, err)
			}
			d := unconfirmed[0]
			if d.Serial != "SHARED-1" || d.AccountID != f.account.ID || d.CustomerNumber != "1" || !d.Conflict ||
				!d.FirstSeen.Equal(seen) || d.LastReadAt.Valid || unconfirmed[1].Conflict {
				t.Errorf("unconfirmed devices = %+v", unconfirmed)
			}
			// Unconfirmed devices are nobody's equipment yet.
			if eq, _ := s.AccountEquipment(ctx, f.account.ID, time.Hour); len(eq) != 1 || eq[0].Serial != "MINE-1" {
				t.Errorf("equipment = %+v", eq)
			}

			conflicts, err := s.SerialConflicts(ctx)
			if err != nil || len(conflicts) != 2 || conflicts[0].Serial != "SHARED-1" || conflicts[1].Serial != "SHARED-1" {
				t.Fatalf("conflicts = %+v, %v", conflicts, err)
			}
		})
	}
}
