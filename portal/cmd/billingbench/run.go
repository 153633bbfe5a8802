package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/portal/internal/billing"
	"github.com/meterline/meterline/portal/internal/store"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/schema"
)

// portalURL is where the simulated e-mails link; nothing is sent.
const portalURL = "http://127.0.0.1:8080"

// jobsAt is when in the simulated day the billing jobs run.
const jobsAt = 9 * time.Hour

// simClock is the store's clock, moved by the simulation.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *simClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (bool, error) {
	fs := flag.NewFlagSet("billingbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	database := fs.String("database", "", "URL of a throwaway database (sqlite:PATH or postgres://…), migrated here")
	count := fs.Int("devices", 150, "devices under contract")
	seed := fs.Uint64("seed", 1, "random seed: the same seed simulates the same year")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	if *database == "" || *count < 20 {
		return false, errors.New("-database is required, and -devices at least 20")
	}
	st, err := openMigrated(ctx, *database)
	if err != nil {
		return false, err
	}
	defer st.Close()
	clock := &simClock{t: simStart}
	st.SetClock(clock.Now)
	r := rand.New(rand.NewPCG(*seed, *seed^0x9e3779b97f4a7c15)) //nolint:gosec // G404: a simulation, reproducible from -seed

	fleet := newFleet(r, *count)
	start := time.Now()
	// The devices are put under contract on the contracts' first day,
	// with their opening reads, then the year is simulated from the
	// agents' first reads.
	clock.Set(contractStart)
	if err := setUp(ctx, st, r, fleet); err != nil {
		return false, fmt.Errorf("set up: %w", err)
	}
	clock.Set(simStart)
	fmt.Fprintf(stderr, "billingbench: %d devices on %s; simulating %s to %s\n", len(fleet), st.Dialect(),
		simStart.Format(time.DateOnly), simEnd.Format(time.DateOnly))
	if err := simulate(ctx, st, clock, r, fleet, stderr); err != nil {
		return false, err
	}
	fmt.Fprintf(stderr, "billingbench: simulated in %s\n", time.Since(start).Round(time.Second))
	return report(ctx, st, fleet, stdout)
}

// openMigrated migrates the database and opens the portal's store on it.
func openMigrated(ctx context.Context, url string) (*store.Store, error) {
	src, err := schema.ParseSource(url)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(src.Driver, src.DSN)
	if err != nil {
		return nil, err
	}
	_, err = schema.Migrate(ctx, db, src.Dialect)
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return store.Open(ctx, url, slog.New(slog.DiscardHandler))
}

// newFleet draws the devices: of every 20, 12 read by an agent all along,
// 3 by an agent that goes offline around some period ends, 3 read by hand
// by a customer who answers most campaigns, 2 by one who stopped after the
// installation read; 60 % colour. The first colour device read by an
// agent has its board swapped on 20 May 2025.
func newFleet(r *rand.Rand, n int) []*device {
	fleet := make([]*device, n)
	swapped := false
	for i := range fleet {
		var k kind
		switch i % 20 {
		case 12, 13, 14:
			k = agentFlaky
		case 15, 16, 17:
			k = manualReader
		case 18, 19:
			k = neverReader
		default:
			k = agentSteady
		}
		d := newDevice(r, i, k, r.Float64() < 0.6)
		if !swapped && k == agentSteady && d.colour {
			d.swapAt, swapped = time.Date(measuredYear, 5, 20, 0, 0, 0, 0, time.UTC), true
		}
		fleet[i] = d
	}
	return fleet
}

// setUp writes the accounts (1 to 4 devices each, a primary user in
// French or English), their contracts (quarterly, one in five monthly,
// from 1 October 2024; black and colour when a device is colour, else
// black, or total for a third of those; the expected monthly volume the
// devices' true one within about 10 %) and the devices under contract
// with their opening reads (the true meters at the contract's start, as
// the supplier's technician reads them at installation or takeover); and
// draws the flaky agents' outages around their period ends.
func setUp(ctx context.Context, st *store.Store, r *rand.Rand, fleet []*device) error {
	for i, a := 0, 0; i < len(fleet); a++ {
		size := min(1+r.IntN(4), len(fleet)-i)
		group := fleet[i : i+size]
		i += size
		lang := domain.LanguageFrench
		if a%3 == 2 {
			lang = domain.LanguageEnglish
		}
		acct, err := st.CreateAccount(ctx, store.Account{CustomerNumber: fmt.Sprintf("CL%06d", a+1), Name: fmt.Sprintf("Customer %d", a+1), Language: lang})
		if err != nil {
			return err
		}
		user, err := st.CreateUser(ctx, store.User{Email: fmt.Sprintf("reads@cl%06d.example", a+1), Name: fmt.Sprintf("Contact %d", a+1), Language: lang})
		if err != nil {
			return err
		}
		if _, err := st.AddMembership(ctx, store.Membership{UserID: user.ID, AccountID: acct.ID, Role: domain.RolePrimary}, store.BySystem("bench")); err != nil {
			return err
		}
		c := store.Contract{Number: fmt.Sprintf("K%06d", a+1), AccountID: acct.ID, BillingPeriod: domain.BillingQuarterly, Start: contractStart}
		if r.IntN(5) == 0 {
			c.BillingPeriod = domain.BillingMonthly
		}
		volume := 0.0
		for _, d := range group {
			c.BillsColour = c.BillsColour || d.colour
			volume += d.monthlyVolume()
		}
		c.BillsBlack = c.BillsColour || r.IntN(3) > 0
		c.BillsTotal = !c.BillsBlack
		c.ExpectedMonthlyVolume = int64(volume * lognormal(r, 0.1))
		if c, err = st.CreateContract(ctx, c); err != nil {
			return err
		}
		terms := billing.Terms{Period: c.BillingPeriod, Start: c.Start}
		for _, d := range group {
			model := "HP LaserJet M507"
			if d.colour {
				model = "Xerox VersaLink C405"
			}
			b, col := d.at(contractStart)
			total := b + col
			opening := &store.OpeningRead{At: contractStart, Black: &b, Total: &total}
			if d.colour {
				opening.Colour = &col
			}
			cd, err := st.PutDeviceUnderContract(ctx, store.ContractedDevice{Serial: d.serial, Model: model, ProductCode: "SIM", ContractID: c.ID,
				Opening: opening}, store.BySystem("bench"))
			if err != nil {
				return err
			}
			d.id, d.accountID, d.userID = cd.ID, acct.ID, user.ID
			if d.kind == agentFlaky {
				for _, p := range terms.Periods(contractStart, simEnd) {
					if r.Float64() < 0.6 {
						end := p.EndsAt()
						d.outages = append(d.outages, outage{
							from: end.Add(-time.Duration(1+r.IntN(14)) * billing.Day).Add(time.Duration(r.IntN(24)) * time.Hour),
							to:   end.Add(time.Duration(2+r.IntN(29)) * billing.Day),
						})
					}
				}
			}
		}
	}
	return nil
}

// simulate runs the days: each day the agents' reads of the day are
// filed, the billing jobs run at 09:00, and the customers who read by hand
// answer the campaigns they decided to answer.
func simulate(ctx context.Context, st *store.Store, clock *simClock, r *rand.Rand, fleet []*device, progress io.Writer) error {
	driver := schema.DriverSQLite
	if st.Dialect() == schema.Postgres {
		driver = schema.DriverPostgres
	}
	db := sqlx.NewDb(st.DB(), driver)
	// answers are the planned manual reads, by campaign: when the
	// customer will read, zero when they will not.
	answers := map[int64]time.Time{}
	for day := simStart; day.Before(simEnd); day = day.Add(billing.Day) {
		if err := ctx.Err(); err != nil {
			return err
		}
		var batch []storetest.DeviceReads
		for _, d := range fleet {
			t := day.Add(d.readAt)
			if !d.kind.agent() || d.offline(t) {
				continue
			}
			b, c := d.at(t)
			m := storetest.Meters{At: t, Black: &b}
			tot := b
			if d.colour {
				m.Colour = &c
				tot += c
			}
			m.Total = &tot
			batch = append(batch, storetest.DeviceReads{DeviceID: d.id, Agent: "agent-" + d.serial, Reads: []storetest.Meters{m}})
		}
		if err := storetest.AddDeviceReads(ctx, db, batch...); err != nil {
			return fmt.Errorf("agent reads of %s: %w", day.Format(time.DateOnly), err)
		}
		now := day.Add(jobsAt)
		clock.Set(now)
		if _, err := st.ClosePeriods(ctx, now, portalURL); err != nil {
			return err
		}
		if _, err := st.RunCampaigns(ctx, now, portalURL); err != nil {
			return err
		}
		if err := answer(ctx, st, clock, r, fleet, day, answers); err != nil {
			return err
		}
		if day.Day() == 1 && day.Month()%3 == 1 {
			fmt.Fprintf(progress, "billingbench: %s\n", day.Format(time.DateOnly))
		}
	}
	return nil
}

// answer plans the manual reads of the campaigns opened today and enters
// those planned for today. A customer who reads by hand answers 85 % of
// the campaigns, 1 to 20 days after the invitation at a time of the
// working day; one who stopped answers only the campaigns of 2024 (the
// installation read).
func answer(ctx context.Context, st *store.Store, clock *simClock, r *rand.Rand, fleet []*device, day time.Time, answers map[int64]time.Time) error {
	type due struct {
		d  *device
		at time.Time
	}
	var today []due
	for _, d := range fleet {
		if d.kind.agent() {
			continue
		}
		cs, err := st.DeviceCampaigns(ctx, d.id)
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			continue
		}
		c := cs[len(cs)-1]
		if c.State != store.CampaignOpen || c.InvitedAt == nil {
			continue
		}
		at, planned := answers[c.ID]
		if !planned {
			if (d.kind == manualReader && r.Float64() < 0.85) || c.PeriodEnd.Year() < measuredYear {
				at = c.InvitedAt.Truncate(billing.Day).Add(time.Duration(1+r.IntN(20))*billing.Day + 10*time.Hour + time.Duration(r.IntN(7*60))*time.Minute)
			}
			answers[c.ID] = at
		}
		if !at.IsZero() && at.Truncate(billing.Day).Equal(day) {
			today = append(today, due{d, at})
		}
	}
	sort.Slice(today, func(i, j int) bool { return today[i].at.Before(today[j].at) })
	for _, a := range today {
		clock.Set(a.at)
		b, c := a.d.at(a.at)
		// Both meters, as the page may ask for both: a mono device under
		// a contract billing colour shows a colour meter of 0.
		r := store.ManualRead{AccountID: a.d.accountID, DeviceID: a.d.id, UserID: a.d.userID, Black: &b, Colour: &c}
		if _, err := st.SubmitManualRead(ctx, r, a.at); err != nil {
			return fmt.Errorf("manual read of %s: %w", a.d.serial, err)
		}
	}
	return nil
}
