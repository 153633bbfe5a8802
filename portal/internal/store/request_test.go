package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/shared/domain"
)

func TestRemovalRequests(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
			s.SetClock(func() time.Time { return now })
			f := customer(t, s, "1")
			other := customer(t, s, "2")
			staff, err := s.CreateUser(ctx, store.User{Email: "staff@supplier.example", Language: domain.LanguageFrench})
			if err != nil {
				t.Fatal(err)
			}
			a := put(t, s, f, "A-1", &f.location.ID)
			bdev := put(t, s, f, "B-1", &f.location.ID)
			theirs := put(t, s, other, "Z-1", &other.location.ID)

			r, err := s.RequestRemoval(ctx, f.account.ID, f.user.ID, a.ID, "  Vendue  ")
			if err != nil {
				t.Fatal(err)
			}
			if r.Kind != store.RequestRemoval || r.Serial != "A-1" || r.Body != "Vendue" || len(r.Devices) != 1 || r.Devices[0].ID != a.ID ||
				!r.CreatedAt.Equal(now) || !r.Open() || r.UserEmail != f.user.Email || r.AccountName != f.account.Name {
				t.Errorf("removal request = %+v", r)
			}
			// Pending removal at once, recorded with the user: shown with "*".
			if d, err := s.ContractedDevice(ctx, a.ID); err != nil || d.State != domain.ContractPendingRemoval {
				t.Errorf("device after the request = %+v, %v", d, err)
			}
			last := lastChange(t, s, store.EntityDevice, a.ID)
			if last.Field != "state" || deref(last.Old) != "active" || deref(last.New) != "pending_removal" || last.ByUserID == nil || *last.ByUserID != f.user.ID {
				t.Errorf("recorded %+v", last)
			}
			eq, err := s.AccountEquipment(ctx, f.account.ID, time.Hour)
			if err != nil || len(eq) != 2 || !eq[0].PendingRemoval || eq[1].PendingRemoval {
				t.Errorf("equipment = %+v, %v", eq, err)
			}

			for _, tc := range []struct {
				name             string
				account, user, d int64
				reason           string
				want             string
			}{
				{"asked twice", f.account.ID, f.user.ID, a.ID, "", domain.ECONFLICT},
				{"another account's device", f.account.ID, f.user.ID, theirs.ID, "", domain.ENOTFOUND},
				{"through the other account, a user not of it", other.account.ID, f.user.ID, theirs.ID, "", domain.ENOTFOUND},
				{"missing device", f.account.ID, f.user.ID, 999999, "", domain.ENOTFOUND},
				{"reason too long", f.account.ID, f.user.ID, bdev.ID, strings.Repeat("x", 2001), domain.EINVALID},
			} {
				_, err := s.RequestRemoval(ctx, tc.account, tc.user, tc.d, tc.reason)
				code(t, tc.name, err, tc.want)
			}
			if d, _ := s.ContractedDevice(ctx, theirs.ID); d.State != domain.ContractActive {
				t.Errorf("the other account's device is %s", d.State)
			}

			// The back office sees it and resolves it.
			open, err := s.BackOfficeOpenRequests(ctx, store.RequestRemoval, 10)
			if err != nil || len(open) != 1 || open[0].ID != r.ID || len(open[0].Devices) != 1 {
				t.Fatalf("open removals = %+v, %v", open, err)
			}
			counts, err := s.BackOfficeOpenRequestCounts(ctx)
			if err != nil || counts[store.RequestRemoval] != 1 || counts[store.RequestContact] != 0 || len(counts) != 4 {
				t.Errorf("counts = %v, %v", counts, err)
			}
			now = now.Add(time.Hour)
			done, err := s.ResolveRequest(ctx, r.ID, store.OutcomeDone, "retiré du contrat", store.ByUser(staff.ID))
			if err != nil || done.Open() || !done.ResolvedAt.Equal(now) || done.Outcome != store.OutcomeDone || done.Note != "retiré du contrat" ||
				done.ResolvedByUserID == nil || *done.ResolvedByUserID != staff.ID {
				t.Errorf("resolved = %+v, %v", done, err)
			}
			if d, _ := s.ContractedDevice(ctx, a.ID); d.State != domain.ContractRemoved {
				t.Errorf("device after removal done: %s", d.State)
			}
			if last := lastChange(t, s, store.EntityDevice, a.ID); deref(last.New) != "removed" || last.ByUserID == nil || *last.ByUserID != staff.ID {
				t.Errorf("recorded %+v", last)
			}
			if eq, _ := s.AccountEquipment(ctx, f.account.ID, time.Hour); len(eq) != 1 || eq[0].DeviceID != bdev.ID {
				t.Errorf("equipment after removal = %+v", eq)
			}
			_, err = s.ResolveRequest(ctx, r.ID, store.OutcomeRejected, "", store.ByUser(staff.ID))
			code(t, "resolved twice", err, domain.ECONFLICT)
			_, err = s.ResolveRequest(ctx, 999999, store.OutcomeDone, "", store.ByUser(staff.ID))
			code(t, "missing request", err, domain.ENOTFOUND)
			_, err = s.ResolveRequest(ctx, r.ID, "maybe", "", store.ByUser(staff.ID))
			code(t, "bad outcome", err, domain.EINVALID)
			_, err = s.ResolveRequest(ctx, r.ID, store.OutcomeDone, "", store.Actor{})
			code(t, "no actor", err, domain.EINVALID)

			// Rejected: the device is active again.
			r2, err := s.RequestRemoval(ctx, f.account.ID, f.user.ID, bdev.ID, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.ResolveRequest(ctx, r2.ID, store.OutcomeRejected, "encore sous contrat", store.BySystem("back-office")); err != nil {
				t.Fatal(err)
			}
			if d, _ := s.ContractedDevice(ctx, bdev.ID); d.State != domain.ContractActive {
				t.Errorf("device after removal rejected: %s", d.State)
			}
			if open, err := s.BackOfficeOpenRequests(ctx, store.RequestRemoval, 0); err != nil || len(open) != 0 {
				t.Errorf("open removals after resolving = %+v, %v", open, err)
			}
			mine, err := s.AccountRequests(ctx, f.account.ID, 0)
			if err != nil || len(mine) != 2 || mine[0].ID != r2.ID || mine[0].Outcome != store.OutcomeRejected || mine[0].ResolvedBySystem == nil {
				t.Errorf("account requests = %+v, %v", mine, err)
			}
			_, err = s.BackOfficeOpenRequests(ctx, "other", 0)
			code(t, "unknown kind", err, domain.EINVALID)
			_, err = s.AccountRequests(ctx, f.account.ID, 501)
			code(t, "page too large", err, domain.EINVALID)
			if got, err := s.BackOfficeRequest(ctx, r.ID); err != nil || got.ID != r.ID || got.Outcome != store.OutcomeDone {
				t.Errorf("BackOfficeRequest = %+v, %v", got, err)
			}
			_, err = s.BackOfficeRequest(ctx, 999999)
			code(t, "missing request", err, domain.ENOTFOUND)
		})
	}
}

// lastChange returns the latest recorded change of an entity.
func lastChange(t *testing.T, s *store.Store, entity string, id int64) store.StateChange {
	t.Helper()
	cs, err := s.StateChanges(context.Background(), entity, id)
	if err != nil || len(cs) == 0 {
		t.Fatalf("StateChanges(%s %d) = %v, %v", entity, id, cs, err)
	}
	return cs[len(cs)-1]
}

func TestGroupingRequests(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			f := customer(t, s, "1")
			other := customer(t, s, "2")
			a := put(t, s, f, "A-1", &f.location.ID)
			bdev := put(t, s, f, "B-1", nil)
			gone := put(t, s, f, "C-1", nil)
			if err := s.SetDeviceState(ctx, gone.ID, domain.ContractRemoved, store.BySystem("test")); err != nil {
				t.Fatal(err)
			}
			theirs := put(t, s, other, "Z-1", nil)
			r, err := s.RequestGrouping(ctx, f.account.ID, f.user.ID, []int64{bdev.ID, a.ID, a.ID}, "même adresse")
			if err != nil {
				t.Fatal(err)
			}
			if r.Kind != store.RequestGrouping || len(r.Devices) != 2 || r.Devices[0].Serial != "A-1" || r.Devices[1].Serial != "B-1" || r.Body != "même adresse" {
				t.Errorf("grouping = %+v", r)
			}
			for _, tc := range []struct {
				name string
				ids  []int64
				user int64
				want string
			}{
				{"one device", []int64{a.ID, a.ID}, f.user.ID, domain.EINVALID},
				{"another account's device", []int64{a.ID, theirs.ID}, f.user.ID, domain.ENOTFOUND},
				{"a removed device", []int64{a.ID, gone.ID}, f.user.ID, domain.ENOTFOUND},
				{"a user of another account", []int64{a.ID, bdev.ID}, other.user.ID, domain.ENOTFOUND},
			} {
				_, err := s.RequestGrouping(ctx, f.account.ID, tc.user, tc.ids, "")
				code(t, tc.name, err, tc.want)
			}
			// A grouping changes no device.
			if d, _ := s.ContractedDevice(ctx, a.ID); d.State != domain.ContractActive {
				t.Errorf("device after grouping asked: %s", d.State)
			}
			if _, err := s.ResolveRequest(ctx, r.ID, store.OutcomeDone, "", store.BySystem("back-office")); err != nil {
				t.Fatal(err)
			}
			if d, _ := s.ContractedDevice(ctx, a.ID); d.State != domain.ContractActive {
				t.Errorf("device after grouping done: %s", d.State)
			}
		})
	}
}

func TestContactMessages(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			f := customer(t, s, "1")
			other := customer(t, s, "2")
			msg := store.ContactMessage{AccountID: f.account.ID, UserID: f.user.ID, Subject: " Toner <b>cyan</b> ", Body: "Bonjour,\n\nIl nous manque du cyan.\n"}
			r, err := s.SendContactMessage(ctx, msg, "support@supplier.example")
			if err != nil {
				t.Fatal(err)
			}
			if r.Kind != store.RequestContact || r.Subject != "Toner <b>cyan</b>" || r.Body != "Bonjour,\n\nIl nous manque du cyan." || r.UserEmail != f.user.Email {
				t.Errorf("message = %+v", r)
			}
			mails := outbox(t, s)
			if len(mails) != 1 {
				t.Fatalf("outbox = %+v; want one e-mail", mails)
			}
			m := mails[0]
			if m.To != "support@supplier.example" || m.Template != "contact_message" || m.Language != "fr" ||
				!strings.Contains(m.Subject, "Toner <b>cyan</b>") || !strings.Contains(m.Subject, "compte 1") ||
				!strings.Contains(m.Text, "Il nous manque du cyan.") || !strings.Contains(m.Text, f.user.Email) ||
				!strings.Contains(m.HTML, "Toner &lt;b&gt;cyan&lt;/b&gt;") {
				t.Errorf("e-mail = %+v", m)
			}
			for _, tc := range []struct {
				name string
				m    store.ContactMessage
				want string
			}{
				{"no subject", store.ContactMessage{AccountID: f.account.ID, UserID: f.user.ID, Subject: " ", Body: "x"}, domain.EINVALID},
				{"no text", store.ContactMessage{AccountID: f.account.ID, UserID: f.user.ID, Subject: "x", Body: "\n"}, domain.EINVALID},
				{"two-line subject", store.ContactMessage{AccountID: f.account.ID, UserID: f.user.ID, Subject: "a\nBcc: x@y.z", Body: "x"}, domain.EINVALID},
				{"text too long", store.ContactMessage{AccountID: f.account.ID, UserID: f.user.ID, Subject: "x", Body: strings.Repeat("é", 5001)}, domain.EINVALID},
				{"user of another account", store.ContactMessage{AccountID: f.account.ID, UserID: other.user.ID, Subject: "x", Body: "x"}, domain.ENOTFOUND},
			} {
				_, err := s.SendContactMessage(ctx, tc.m, "support@supplier.example")
				code(t, tc.name, err, tc.want)
			}
			// A bad back-office address fails the whole change: no message
			// stored without its e-mail.
			_, err = s.SendContactMessage(ctx, msg, "not an address")
			code(t, "bad back-office address", err, domain.EINVALID)
			if open, err := s.BackOfficeOpenRequests(ctx, store.RequestContact, 0); err != nil || len(open) != 1 || open[0].ID != r.ID {
				t.Errorf("open contact messages = %+v, %v", open, err)
			}
			if len(outbox(t, s)) != 1 {
				t.Error("an e-mail was queued for a refused message")
			}
		})
	}
}

func TestUpdateLocationContact(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, ctx := openMigrated(t, b.url(t)), context.Background()
			f := customer(t, s, "1")
			other := customer(t, s, "2")
			by := store.ByUser(f.user.ID)
			c := store.LocationContact{Attention: " Marie Curie ", Suite: "Bureau 210", Phone: "(418) 555-1234"}
			if err := s.UpdateLocationContact(ctx, f.account.ID, f.location.ID, c, by); err != nil {
				t.Fatal(err)
			}
			got, err := s.AccountLocation(ctx, f.account.ID, f.location.ID)
			want := store.LocationContact{Attention: "Marie Curie", Suite: "Bureau 210", Phone: "(418) 555-1234"}
			if err != nil || got.LocationContact != want || got.LocationAddress != f.location.LocationAddress {
				t.Errorf("after the update: %+v, %v", got, err)
			}
			cs, err := s.StateChanges(ctx, store.EntityLocation, f.location.ID)
			if err != nil || len(cs) != 3 {
				t.Fatalf("changes = %+v, %v; want attention, suite, phone", cs, err)
			}
			if cs[0].Field != "attention" || deref(cs[0].Old) != "Jean Picard" || deref(cs[0].New) != "Marie Curie" || cs[0].ByUserID == nil || *cs[0].ByUserID != f.user.ID {
				t.Errorf("first change = %+v", cs[0])
			}
			// The same values again: nothing recorded. One field: one change.
			if err := s.UpdateLocationContact(ctx, f.account.ID, f.location.ID, want, by); err != nil {
				t.Fatal(err)
			}
			want.Phone = ""
			if err := s.UpdateLocationContact(ctx, f.account.ID, f.location.ID, want, by); err != nil {
				t.Fatal(err)
			}
			if cs, _ := s.StateChanges(ctx, store.EntityLocation, f.location.ID); len(cs) != 4 || cs[3].Field != "phone" || cs[3].New == nil || *cs[3].New != "" {
				t.Errorf("changes = %+v; want one more, phone", cs)
			}
			for _, tc := range []struct {
				name     string
				account  int64
				location int64
				c        store.LocationContact
				by       store.Actor
				want     string
			}{
				{"another account's location", f.account.ID, other.location.ID, want, by, domain.ENOTFOUND},
				{"missing location", f.account.ID, 999999, want, by, domain.ENOTFOUND},
				{"too long", f.account.ID, f.location.ID, store.LocationContact{Attention: strings.Repeat("a", 101)}, by, domain.EINVALID},
				{"control character", f.account.ID, f.location.ID, store.LocationContact{Suite: "a\nb"}, by, domain.EINVALID},
				{"no actor", f.account.ID, f.location.ID, want, store.Actor{}, domain.EINVALID},
			} {
				code(t, tc.name, s.UpdateLocationContact(ctx, tc.account, tc.location, tc.c, tc.by), tc.want)
			}
			if o, err := s.AccountLocation(ctx, other.account.ID, other.location.ID); err != nil || o.LocationContact != other.location.LocationContact {
				t.Errorf("the other account's location = %+v, %v", o, err)
			}
			_, err = s.AccountLocation(ctx, f.account.ID, other.location.ID)
			code(t, "another account's location", err, domain.ENOTFOUND)
		})
	}
}
