package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
)

// TestAPIBillingReads: a quarter closed on an agent's read (a jump,
// waiting for review) and a campaign closed with an estimate, exported as
// JSON and CSV, and the back office's review.
func TestAPIBillingReads(t *testing.T) {
	for _, b := range apiBackends {
		t.Run(b.name, func(t *testing.T) {
			env := newAPIEnv(t, b.url(t))
			st, ctx := env.st, context.Background()
			acct, err := st.CreateAccount(ctx, store.Account{CustomerNumber: "CL001007", Name: "Interparking", Language: domain.LanguageFrench})
			if err != nil {
				t.Fatal(err)
			}
			k, err := st.CreateContract(ctx, store.Contract{Number: "K-7", AccountID: acct.ID, BillingPeriod: domain.BillingQuarterly,
				BillsBlack: true, BillsColour: true, Start: time.Date(2024, 10, 1, 0, 0, 0, 0, time.UTC), ExpectedMonthlyVolume: 3000})
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, serial := range []string{"3923656030", "AUTO1"} {
				d, err := st.PutDeviceUnderContract(ctx, store.ContractedDevice{Serial: serial, Model: "7855V_F", ContractID: k.ID}, store.BySystem("test"))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, d.ID)
			}
			driver := schema.DriverSQLite
			if st.Dialect() == schema.Postgres {
				driver = schema.DriverPostgres
			}
			db := sqlx.NewDb(st.DB(), driver)
			// AUTO1: 10 pages a day for 90 days, then 2,000 pages in a day.
			var reads []storetest.Meters
			for i := range 91 {
				at := time.Date(2024, 12, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * 24 * time.Hour)
				reads = append(reads, storetest.Meters{At: at, Black: p64(1000 + int64(i)*10), Colour: p64(500)})
			}
			reads = append(reads, storetest.Meters{At: time.Date(2025, 3, 31, 9, 0, 0, 0, time.UTC), Black: p64(1900 + 20000), Colour: p64(500)})
			if err := storetest.AddReads(ctx, db, ids[1], "agent-api", reads...); err != nil {
				t.Fatal(err)
			}
			// Q4 2024 closes on 8 January, Q1 2025 on 8 April.
			if _, err := st.ClosePeriods(ctx, time.Date(2025, 1, 8, 0, 0, 0, 0, time.UTC), testBaseURL); err != nil {
				t.Fatal(err)
			}
			closeAt := time.Date(2025, 4, 8, 0, 0, 0, 0, time.UTC)
			if _, err := st.ClosePeriods(ctx, closeAt, testBaseURL); err != nil {
				t.Fatal(err)
			}
			if _, err := st.RunCampaigns(ctx, closeAt.Add(40*24*time.Hour), testBaseURL); err != nil {
				t.Fatal(err)
			}

			var got []apiBillingRead
			env.json(t, env.read, "GET", "/api/v1/billing-reads?period_end=2025-03-31", "", 200, &got)
			if len(got) != 2 {
				t.Fatalf("billing reads = %+v, want 2", got)
			}
			if g := got[0]; g.Serial != "3923656030" || g.CustomerNumber != "CL001007" || g.ContractNumber != "K-7" ||
				g.Source != billing.SourceEstimated || g.Method != billing.MethodNoBase || g.Black != nil || g.Review != billing.ReviewPending ||
				g.PeriodStart != "2025-01-01" || g.PeriodEnd != "2025-03-31" || g.ReadAt != "2025-04-01T00:00:00Z" {
				t.Errorf("first read = %+v", g)
			}
			if g := got[1]; g.Serial != "AUTO1" || g.Source != billing.SourceAgent || g.Black == nil || *g.Black != 21900 ||
				g.Flags != billing.FlagJump || g.Review != billing.ReviewPending || g.ReadAt != "2025-03-31T09:00:00Z" {
				t.Errorf("second read = %+v", g)
			}

			rec := env.call(t, env.read, "GET", "/api/v1/billing-reads.csv?period_end=2025-03-31", "", "")
			if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") ||
				!strings.Contains(rec.Header().Get("Content-Disposition"), "billing-reads-2025-03-31.csv") {
				t.Fatalf("CSV: %d %v", rec.Code, rec.Header())
			}
			wantCSV := strings.Join(billing.ExportColumns, ",") + "\n" +
				"CL001007,K-7,3923656030,7855V_F,2025-01-01,2025-03-31,2025-04-01T00:00:00Z,,,,estimated,no_base,,pending\n" +
				"CL001007,K-7,AUTO1,7855V_F,2025-01-01,2025-03-31,2025-03-31T09:00:00Z,21900,500,,agent,,jump,pending\n"
			if rec.Body.String() != wantCSV {
				t.Errorf("CSV:\n%s\nwant:\n%s", rec.Body, wantCSV)
			}
			for _, target := range []string{"/api/v1/billing-reads", "/api/v1/billing-reads?period_end=31/03/2025", "/api/v1/billing-reads.csv?period_end=2025-13-01"} {
				if rec := env.call(t, env.read, "GET", target, "", ""); rec.Code != 400 || errorCode(t, rec) != domain.EINVALID {
					t.Errorf("GET %s: %d %s, want 400", target, rec.Code, rec.Body)
				}
			}
			env.json(t, env.read, "GET", "/api/v1/billing-reads?period_end=2023-12-31", "", 200, &got)
			if len(got) != 0 {
				t.Errorf("2023 = %+v, want none", got)
			}

			var queue []apiBillingRead
			env.json(t, env.read, "GET", "/api/v1/billing-reads/review", "", 200, &queue)
			if len(queue) != 3 {
				t.Fatalf("review queue = %+v, want both estimates without a base and the jump", queue)
			}
			jumpID := got2ID(queue, "AUTO1")
			jump := itoa(jumpID)
			env.json(t, env.write, "POST", "/api/v1/billing-reads/"+jump+"/review", `{"accept":true}`, 204, nil)
			env.json(t, env.write, "POST", "/api/v1/billing-reads/"+jump+"/review", `{"accept":true}`, 404, nil)
			env.json(t, env.write, "POST", "/api/v1/billing-reads/"+jump+"/review", `{}`, 400, nil)
			env.json(t, env.read, "GET", "/api/v1/billing-reads/review", "", 200, &queue)
			if len(queue) != 2 || queue[0].Serial != "3923656030" || queue[1].Serial != "3923656030" {
				t.Errorf("review queue after the decision = %+v", queue)
			}
			// An extra read of the jumping device, asked of its agent;
			// the other has none.
			var poll apiPollRequest
			env.json(t, env.write, "POST", "/api/v1/devices/"+itoa(ids[1])+"/extra-read", `{"reason":"jump in Q1"}`, 202, &poll)
			if poll.AgentID != "agent-api" || poll.Reason != "jump in Q1" || poll.SentAt != nil {
				t.Errorf("extra read = %+v", poll)
			}
			var again apiPollRequest
			env.json(t, env.write, "POST", "/api/v1/devices/"+itoa(ids[1])+"/extra-read", `{}`, 202, &again)
			if again.ID != poll.ID {
				t.Errorf("a second request while the first waits: %+v, want the first", again)
			}
			env.json(t, env.write, "POST", "/api/v1/devices/"+itoa(ids[0])+"/extra-read", `{}`, 409, nil)
			env.json(t, env.write, "POST", "/api/v1/devices/999999/extra-read", `{}`, 404, nil)

			changes, err := st.StateChanges(ctx, store.EntityBillingRead, jumpID)
			if err != nil || len(changes) != 1 || *changes[0].New != billing.ReviewAccepted || *changes[0].BySystem != "api:writer" {
				t.Errorf("changes = %+v, %v", changes, err)
			}
		})
	}
}

func got2ID(rows []apiBillingRead, serial string) int64 {
	for _, r := range rows {
		if r.Serial == serial {
			return r.ID
		}
	}
	return 0
}
