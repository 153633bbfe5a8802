package schedule

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/jobs"
	"github.com/meterline/meterline/shared/schema"
)

func p64(v int64) *int64 { return &v }

// TestBillingJobsOnceAcrossReplicas: two portals' schedulers, each on its
// own store, claim the billing jobs at the same moments through a
// quarter: the close runs once, every device gets one billing read or
// one campaign, the campaign gets one invitation, three reminders and
// its estimate.
func TestBillingJobsOnceAcrossReplicas(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			storetest.Seed(t, url)
			ctx := context.Background()
			clk := &clock{t: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}
			var stores []*store.Store
			var replicas []*jobs.Scheduler
			for _, owner := range []string{"a", "b"} {
				st, err := store.Open(ctx, url, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				st.SetClock(clk.Now)
				stores = append(stores, st)
				js := Jobs(st.DB(), st.Dialect(), Config{Billing: Billing{Store: st, BaseURL: "https://portal.test"}})
				replicas = append(replicas, newScheduler(t, st.DB(), st.Dialect(), owner, clk, js...))
			}
			st := stores[0]
			acct, err := st.CreateAccount(ctx, store.Account{CustomerNumber: "S-1", Name: "Sched", Language: domain.LanguageFrench})
			if err != nil {
				t.Fatal(err)
			}
			user, err := st.CreateUser(ctx, store.User{Email: "p@s1.example", Name: "P", Language: domain.LanguageFrench})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.AddMembership(ctx, store.Membership{UserID: user.ID, AccountID: acct.ID, Role: domain.RolePrimary}, store.BySystem("test")); err != nil {
				t.Fatal(err)
			}
			contract, err := st.CreateContract(ctx, store.Contract{Number: "K-S1", AccountID: acct.ID, BillingPeriod: domain.BillingMonthly,
				BillsTotal: true, Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), ExpectedMonthlyVolume: 900})
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, serial := range []string{"READ", "UNREAD"} {
				d, err := st.PutDeviceUnderContract(ctx, store.ContractedDevice{Serial: serial, ContractID: contract.ID}, store.BySystem("test"))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, d.ID)
			}
			driver := schema.DriverSQLite
			if st.Dialect() == schema.Postgres {
				driver = schema.DriverPostgres
			}
			if err := storetest.AddReads(ctx, sqlx.NewDb(st.DB(), driver), ids[0], "agent-s1",
				storetest.Meters{At: time.Date(2025, 3, 30, 12, 0, 0, 0, time.UTC), Total: p64(5000)}); err != nil {
				t.Fatal(err)
			}
			// Every replica claims every 6 hours from the end of March's
			// window (6 April) to before April's (7 May).
			ran := map[string]int{}
			for at := time.Date(2025, 4, 7, 6, 0, 0, 0, time.UTC); at.Before(time.Date(2025, 5, 5, 6, 0, 0, 0, time.UTC)); at = at.Add(6 * time.Hour) {
				clk.Set(at)
				var mu sync.Mutex
				var wg sync.WaitGroup
				for _, r := range replicas {
					wg.Go(func() {
						names, err := r.RunDue(ctx)
						if err != nil {
							t.Error(err)
						}
						mu.Lock()
						for _, n := range names {
							ran[n]++
						}
						mu.Unlock()
					})
				}
				wg.Wait()
			}
			// Hourly jobs claimed every 6 hours for 28 days: once per claim.
			if ran[JobPeriodClose] != 28*4 || ran[JobReadCampaigns] != 28*4 {
				t.Errorf("runs = %v, want %d of each", ran, 28*4)
			}
			read, err := st.CurrentBillingRead(ctx, ids[0], time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC))
			if err != nil || read.Source != billing.SourceAgent || *read.Total != 5000 {
				t.Errorf("READ's March read = %+v, %v", read, err)
			}
			cs, err := st.DeviceCampaigns(ctx, ids[1])
			if err != nil || len(cs) != 1 || cs[0].State != store.CampaignClosed || cs[0].Reminders != 3 {
				t.Fatalf("UNREAD's campaigns = %+v, %v; want March's, closed after 3 reminders", cs, err)
			}
			rows, err := st.DeviceBillingReads(ctx, ids[1])
			if err != nil || len(rows) != 1 || rows[0].Source != billing.SourceEstimated || rows[0].Method != billing.MethodNoBase {
				t.Errorf("UNREAD's billing reads = %+v, %v; want one estimate without a base", rows, err)
			}
			var templates []string
			if err := sqlx.NewDb(st.DB(), driver).Select(&templates, `SELECT template FROM email_outbox ORDER BY id`); err != nil {
				t.Fatal(err)
			}
			want := []string{"meter_read_invitation", "meter_read_reminder", "meter_read_reminder", "meter_read_reminder"}
			if !slices.Equal(templates, want) {
				t.Errorf("e-mails = %v, want %v", templates, want)
			}
		})
	}
}
