package schedule

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/lib/pq"  // the "postgres" driver
	_ "modernc.org/sqlite" // the "sqlite" driver

	"github.com/meterline/meterline/portal/internal/mail"
	"github.com/meterline/meterline/portal/internal/store/storetest"
	"github.com/meterline/meterline/shared/jobs"
	"github.com/meterline/meterline/shared/schema"
	"github.com/meterline/meterline/shared/schema/schematest"
)

// The scheduler (shared/jobs) is tested here, on both databases: the
// shared module holds no driver.

var backends = []struct {
	name string
	url  func(testing.TB) string
}{
	{"sqlite", schematest.SQLiteURL},
	{"postgres", schematest.PostgresURL},
}

// replica opens its own handle on the migrated database url, as another
// process would.
func replica(t *testing.T, url string) (*sql.DB, schema.Dialect) {
	t.Helper()
	src, err := schema.ParseSource(url)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(src.Driver, src.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, src.Dialect
}

// clock is a test clock every replica reads.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var t0 = time.Date(2026, 4, 1, 3, 0, 0, 0, time.UTC)

// counter is a job that counts its runs and fails the test when two
// overlap.
type counter struct {
	runs, running atomic.Int64
	t             *testing.T
}

func (c *counter) job(every time.Duration) jobs.Job {
	return jobs.Job{Name: "count", Every: every, Run: func(context.Context, time.Time) error {
		if c.running.Add(1) != 1 {
			c.t.Error("two runs at once")
		}
		defer c.running.Add(-1)
		c.runs.Add(1)
		return nil
	}}
}

func newScheduler(t *testing.T, db *sql.DB, d schema.Dialect, owner string, clk *clock, js ...jobs.Job) *jobs.Scheduler {
	t.Helper()
	s, err := jobs.New(db, d, jobs.Config{Owner: owner, Now: clk.Now}, js...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func runDue(t *testing.T, s *jobs.Scheduler) []string {
	t.Helper()
	ran, err := s.RunDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ran
}

// TestTwoReplicasRunOncePerDueTime: two schedulers on one database,
// claiming at the same moments, run the job exactly once per due time,
// never both at once; between due times neither runs it.
func TestTwoReplicasRunOncePerDueTime(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			storetest.Seed(t, url)
			clk := &clock{t: t0}
			c := &counter{t: t}
			var replicas []*jobs.Scheduler
			for _, owner := range []string{"a", "b"} {
				db, d := replica(t, url)
				replicas = append(replicas, newScheduler(t, db, d, owner, clk, c.job(time.Hour)))
			}
			const rounds = 12
			for round := range rounds {
				clk.Set(t0.Add(time.Duration(round) * time.Hour))
				for range 3 { // the first claim runs it, the others find it not due
					var wg sync.WaitGroup
					for _, s := range replicas {
						wg.Go(func() {
							if _, err := s.RunDue(context.Background()); err != nil {
								t.Error(err)
							}
						})
					}
					wg.Wait()
				}
				if got := c.runs.Load(); got != int64(round+1) {
					t.Fatalf("round %d: %d runs, want %d", round, got, round+1)
				}
				// Half an hour on: not due.
				clk.Set(t0.Add(time.Duration(round)*time.Hour + 30*time.Minute))
				for _, s := range replicas {
					if ran := runDue(t, s); len(ran) != 0 {
						t.Fatalf("round %d: ran %v half an hour after the last run", round, ran)
					}
				}
			}
		})
	}
}

// TestDeadOwnersLeaseExpires: a replica that loses its database mid-run
// leaves its lease; another takes the job over once the lease has run
// out, not before.
func TestDeadOwnersLeaseExpires(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			storetest.Seed(t, url)
			clk := &clock{t: t0}
			deadDB, d := replica(t, url)
			dies := jobs.Job{Name: "count", Every: time.Hour, Lease: 10 * time.Minute, Run: func(context.Context, time.Time) error {
				return deadDB.Close() // the run never gets to record its end
			}}
			dead := newScheduler(t, deadDB, d, "dead", clk, dies)
			if _, err := dead.RunDue(context.Background()); err == nil {
				t.Fatal("the dead replica recorded the end of its run")
			}
			db, _ := replica(t, url)
			l, err := jobs.LeaseOf(context.Background(), db, d, "count")
			if err != nil || l.Owner.String != "dead" || !l.LeaseUntil.Time.Equal(t0.Add(10*time.Minute)) || l.LastFinishedAt.Valid {
				t.Fatalf("lease = %+v, %v; want dead's, live until %v", l, err, t0.Add(10*time.Minute))
			}
			c := &counter{t: t}
			alive := newScheduler(t, db, d, "alive", clk, c.job(time.Hour))
			clk.Set(t0.Add(10*time.Minute - time.Second))
			if ran := runDue(t, alive); len(ran) != 0 {
				t.Errorf("ran %v under a live lease", ran)
			}
			clk.Set(t0.Add(10 * time.Minute))
			if ran := runDue(t, alive); len(ran) != 1 || c.runs.Load() != 1 {
				t.Errorf("ran %v once the lease expired, want the job", ran)
			}
			l, err = jobs.LeaseOf(context.Background(), db, d, "count")
			if err != nil || l.Owner.String != "alive" || l.LeaseUntil.Valid || !l.LastFinishedAt.Time.Equal(t0.Add(10*time.Minute)) {
				t.Errorf("lease = %+v, %v; want alive's, finished", l, err)
			}
		})
	}
}

// TestRestartDoesNotRunEarly: a replica restarted (a new scheduler, a new
// owner) reads when the job is due from the database; a clock moved far
// ahead runs it once, not once per interval missed; a clock moved back
// runs nothing until an interval after the last run. A run's error and a
// panic are recorded and the job is due again an interval later.
func TestRestartDoesNotRunEarly(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			storetest.Seed(t, url)
			clk := &clock{t: t0}
			db, d := replica(t, url)
			c := &counter{t: t}
			first := newScheduler(t, db, d, "first", clk, c.job(time.Hour))
			if ran := runDue(t, first); len(ran) != 1 {
				t.Fatalf("first run: ran %v", ran)
			}
			restarted := newScheduler(t, db, d, "", clk, c.job(time.Hour))
			steps := []struct {
				at   time.Duration
				runs int64
			}{
				{0, 1},
				{59 * time.Minute, 1},
				{time.Hour, 2},
				{10 * time.Hour, 3}, // far ahead: once
				{10 * time.Hour, 3},
				{5 * time.Hour, 3}, // back: last finished at 10 h
				{10*time.Hour + 59*time.Minute, 3},
				{11 * time.Hour, 4},
			}
			for _, st := range steps {
				clk.Set(t0.Add(st.at))
				runDue(t, restarted)
				if got := c.runs.Load(); got != st.runs {
					t.Errorf("at +%v: %d runs, want %d", st.at, got, st.runs)
				}
			}
			l, err := jobs.LeaseOf(context.Background(), db, d, "count")
			if err != nil || !l.NextRun(time.Hour).Equal(t0.Add(12*time.Hour)) {
				t.Errorf("next run = %v, %v; want %v", l.NextRun(time.Hour), err, t0.Add(12*time.Hour))
			}

			failing := newScheduler(t, db, d, "", clk,
				jobs.Job{Name: "fails", Every: time.Hour, Run: func(context.Context, time.Time) error { return errors.New("no luck") }},
				jobs.Job{Name: "panics", Every: time.Hour, Run: func(context.Context, time.Time) error { panic("boom") }})
			if ran := runDue(t, failing); len(ran) != 2 {
				t.Fatalf("ran %v, want both", ran)
			}
			for name, want := range map[string]string{"fails": "no luck", "panics": "panic: boom"} {
				l, err := jobs.LeaseOf(context.Background(), db, d, name)
				if err != nil || l.LastError.String != want || l.LeaseUntil.Valid || !l.NextRun(time.Hour).Equal(t0.Add(12*time.Hour)) {
					t.Errorf("%s: %+v, %v; want error %q, due an hour later", name, l, err, want)
				}
			}
			if ran := runDue(t, failing); len(ran) != 0 {
				t.Errorf("failed jobs ran again at once: %v", ran)
			}
		})
	}
}

// TestRun: Run runs the due jobs at once and every tick until its context
// ends.
func TestRun(t *testing.T) {
	url := schematest.SQLiteURL(t)
	storetest.Seed(t, url)
	db, d := replica(t, url)
	ran := make(chan time.Time)
	clk := &clock{t: t0}
	s, err := jobs.New(db, d, jobs.Config{Now: clk.Now, Tick: 10 * time.Millisecond}, jobs.Job{Name: "tick", Every: time.Minute,
		Run: func(_ context.Context, at time.Time) error {
			ran <- at
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	if at := <-ran; !at.Equal(t0) {
		t.Errorf("first run at %v, want %v", at, t0)
	}
	// The clock moves once the first run is recorded as finished (at t0).
	for {
		l, err := jobs.LeaseOf(ctx, db, d, "tick")
		if err != nil {
			t.Fatal(err)
		}
		if l.LastFinishedAt.Valid {
			break
		}
		time.Sleep(time.Millisecond)
	}
	clk.Set(t0.Add(time.Minute))
	if at := <-ran; !at.Equal(t0.Add(time.Minute)) {
		t.Errorf("second run at %v", at)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

// TestStoppedRunIsDueAgain: a run cut short because its scheduler stops
// has not finished: its lease is given back and the job runs again at once
// (another replica, or after the restart).
func TestStoppedRunIsDueAgain(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			storetest.Seed(t, url)
			db, d := replica(t, url)
			clk := &clock{t: t0}
			ctx, stop := context.WithCancel(context.Background())
			stopping := newScheduler(t, db, d, "", clk, jobs.Job{Name: "count", Every: time.Hour, Run: func(ctx context.Context, _ time.Time) error {
				stop() // the portal shuts down mid-run
				<-ctx.Done()
				return ctx.Err()
			}})
			if ran, err := stopping.RunDue(ctx); err != nil || len(ran) != 1 {
				t.Fatalf("RunDue = %v, %v", ran, err)
			}
			l, err := jobs.LeaseOf(context.Background(), db, d, "count")
			if err != nil || l.LeaseUntil.Valid || l.LastFinishedAt.Valid || l.LastError.String != "context canceled" {
				t.Errorf("lease = %+v, %v; want given back, not finished", l, err)
			}
			c := &counter{t: t}
			if ran := runDue(t, newScheduler(t, db, d, "", clk, c.job(time.Hour))); len(ran) != 1 {
				t.Errorf("after the stop: ran %v, want the job again", ran)
			}
		})
	}
}

func TestNewRefusesBadJobs(t *testing.T) {
	ok := func(context.Context, time.Time) error { return nil }
	for _, js := range [][]jobs.Job{
		{{Every: time.Hour, Run: ok}},
		{{Name: "x", Run: ok}},
		{{Name: "x", Every: time.Hour}},
		{{Name: "x", Every: time.Hour, Run: ok}, {Name: "x", Every: time.Minute, Run: ok}},
	} {
		if _, err := jobs.New(nil, schema.SQLite, jobs.Config{}, js...); err == nil {
			t.Errorf("New accepted %+v", js)
		}
	}
}

// TestMailPrune: the housekeeping job deletes the e-mails sent longer ago
// than the retention, keeps the others and every e-mail not sent, and runs
// daily; with no retention it is not scheduled.
func TestMailPrune(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			storetest.Seed(t, url)
			db, d := replica(t, url)
			ctx := context.Background()
			outbox, err := mail.NewOutbox(d, func() time.Time { return t0 })
			if err != nil {
				t.Fatal(err)
			}
			// Sent 100, 40 and 10 days before t0, one pending and one failed
			// from long ago.
			for i, ago := range []int{100, 40, 10, 200, 300} {
				if _, err := outbox.Enqueue(ctx, db, mail.Message{Key: fmt.Sprint("k", i), To: "a@example.com", Lang: "fr", Template: "welcome",
					Data: map[string]string{"Name": "A", "CustomerNumber": "C-1", "PortalURL": "https://portal.meterline.test/"}}); err != nil {
					t.Fatal(err)
				}
				status, sentAt := "sent", any(t0.AddDate(0, 0, -ago))
				switch i {
				case 3:
					status, sentAt = "pending", nil
				case 4:
					status, sentAt = "failed", nil
				}
				_, err := db.ExecContext(ctx, schema.Rebind(d, `UPDATE email_outbox SET status = ?, sent_at = ?, created_at = ? WHERE idempotency_key = ?`),
					status, sentAt, t0.AddDate(0, 0, -ago), fmt.Sprint("k", i))
				if err != nil {
					t.Fatal(err)
				}
			}
			if js := Jobs(db, d, Config{}); len(js) != 0 {
				t.Errorf("no retention: jobs %v", js)
			}
			if s, err := New(db, d, Config{}, jobs.Config{}); s != nil || err != nil {
				t.Errorf("no retention: scheduler %v, %v", s, err)
			}
			clk := &clock{t: t0}
			s, err := New(db, d, Config{MailRetention: 30 * 24 * time.Hour}, jobs.Config{Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			if ran, err := s.RunDue(ctx); err != nil || len(ran) != 1 || ran[0] != JobMailPrune {
				t.Fatalf("RunDue = %v, %v", ran, err)
			}
			var keys []string
			rows, err := db.QueryContext(ctx, `SELECT idempotency_key FROM email_outbox ORDER BY idempotency_key`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					t.Fatal(err)
				}
				keys = append(keys, k)
			}
			if fmt.Sprint(keys) != "[k2 k3 k4]" {
				t.Errorf("left %v, want the e-mail sent 10 days ago, the pending and the failed one", keys)
			}
			clk.Set(t0.Add(MailPruneEvery - time.Minute))
			if ran, err := s.RunDue(ctx); err != nil || len(ran) != 0 {
				t.Errorf("ran again within a day: %v, %v", ran, err)
			}
		})
	}
}
