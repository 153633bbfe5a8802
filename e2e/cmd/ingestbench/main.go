// Command ingestbench measures the collector's ingest against this
// machine's raw limits, with the same data (bench/ingest/run.sh runs it):
//
//   - broker: the raw MQTT broker. Every batch payload of a simulated fleet
//     is published at QoS 1 (one client per agent, at most -inflight
//     unacknowledged PUBACKs each) to topics under -raw-topic that only
//     one subscriber reads, through a shared subscription like the
//     collector's; reads/s from the first publish to the last message
//     received.
//   - db: the raw database. The same reads, as the collector stores them
//     (one meter_reads row each, JSON columns encoded beforehand), are
//     copied with COPY FROM STDIN (lib/pq) into a copy of meter_reads in a
//     scratch schema (same columns, indexes and partitioning, a foreign key
//     to a scratch devices table), over -copy-conns connections, one
//     transaction per -copy-rows rows; reads/s.
//   - e2e: end to end. The fleet (e2e/fleetsim) publishes every batch to a
//     running collector and waits for its acknowledgements, which it sends
//     after the database commit; reads/s from the first publish to the last
//     acknowledgement; then count(*) of meter_reads is checked.
//
// It prints the three figures, the ratio of end to end to the smaller raw
// figure, and whether the targets are met. Exit status: 0 when both targets
// are met, 1 when one is not, 2 on an error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/meterline/meterline/e2e/fleetsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command-line flags.
type options struct {
	mqttURL      string
	dbURL        string
	agents       int
	devices      int
	reads        int
	inFlight     int
	ackTimeout   time.Duration
	prefix       string
	phases       string
	rawTopic     string
	rawShared    bool
	copyConns    int
	copyRows     int
	brokerPID    int
	collectorPID int
	timeout      time.Duration
	minRate      float64
	minRatio     float64
	cpuProfile   string
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("ingestbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.mqttURL, "mqtt", "tcp://127.0.0.1:1883", "MQTT broker URL")
	fs.StringVar(&o.dbURL, "db", "", "PostgreSQL URL of the collector's (migrated) database")
	fs.IntVar(&o.agents, "agents", 100, "simulated agents")
	fs.IntVar(&o.devices, "devices", 100, "devices per agent (reads per batch)")
	fs.IntVar(&o.reads, "reads", 1_000_000, "reads in all, rounded up to whole rounds of every agent")
	fs.IntVar(&o.inFlight, "inflight", fleetsim.DefaultInFlight, "batches each agent has unacknowledged at once")
	fs.DurationVar(&o.ackTimeout, "ack-timeout", fleetsim.DefaultAckTimeout, "re-send a batch not acknowledged within this")
	fs.StringVar(&o.prefix, "prefix", "bench-", "agent id prefix")
	fs.StringVar(&o.phases, "phases", "broker,db,e2e", "measurements to make, comma-separated: broker, db, e2e")
	fs.StringVar(&o.rawTopic, "raw-topic", "ingestbench/raw", "topic root of the raw broker measurement (the collector does not read it)")
	fs.BoolVar(&o.rawShared, "raw-shared", true, "read the raw broker topics through a shared subscription, like the collector")
	fs.IntVar(&o.copyConns, "copy-conns", 2, "connections copying at once in the raw database measurement")
	fs.IntVar(&o.copyRows, "copy-rows", 10_000, "rows per COPY transaction in the raw database measurement")
	fs.IntVar(&o.brokerPID, "broker-pid", 0, "process id of the broker, to report its CPU use")
	fs.IntVar(&o.collectorPID, "collector-pid", 0, "process id of the collector, to report its CPU use")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "time allowed for each measurement")
	fs.Float64Var(&o.minRate, "target-rate", 20_000, "target: end-to-end reads/s at least this")
	fs.Float64Var(&o.minRatio, "target-ratio", 0.5, "target: end to end at least this share of the smaller raw figure")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of this tool to this file")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	for _, p := range strings.Split(o.phases, ",") {
		switch p {
		case "broker", "db", "e2e":
		default:
			return o, fmt.Errorf("-phases: unknown measurement %q (want broker, db, e2e)", p)
		}
	}
	if o.dbURL == "" && (o.has("db") || o.has("e2e")) {
		return o, errors.New("-db is needed for the db and e2e measurements")
	}
	if o.agents < 1 || o.devices < 1 || o.reads < 1 || o.copyConns < 1 || o.copyRows < 1 {
		return o, errors.New("-agents, -devices, -reads, -copy-conns and -copy-rows must be positive")
	}
	return o, nil
}

func (o options) has(phase string) bool {
	for _, p := range strings.Split(o.phases, ",") {
		if p == phase {
			return true
		}
	}
	return false
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "ingestbench:", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "ingestbench: cpu profile:", err)
			return 2
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}

	perRound := o.agents * o.devices
	rounds := (o.reads + perRound - 1) / perRound
	t0 := time.Now()
	fleet, err := fleetsim.New(fleetsim.Config{
		BrokerURL: o.mqttURL, Agents: o.agents, DevicesPerAgent: o.devices, Rounds: rounds,
		AgentPrefix: o.prefix, AckTimeout: o.ackTimeout, InFlight: o.inFlight, Logger: logger,
	})
	if err != nil {
		fmt.Fprintln(stderr, "ingestbench:", err)
		return 2
	}
	defer fleet.Close()
	var payloadBytes int64
	for _, b := range fleet.Batches() {
		payloadBytes += int64(len(b.Payload))
	}
	total := fleet.TotalReads()
	fmt.Fprintf(stdout, "ingestbench: %d agents × %d devices × %d rounds = %s reads in %s batches; %s bytes per read, %s KB per batch (payloads built in %.1f s)\n",
		o.agents, o.devices, rounds, group(total), group(o.agents*rounds), group(int(payloadBytes/int64(total))),
		group(int(payloadBytes/int64(o.agents*rounds)/1024)), time.Since(t0).Seconds())
	fmt.Fprintf(stdout, "machine: %d CPUs (GOMAXPROCS %d); in flight per agent: %d batches\n\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), o.inFlight)

	procs := procSet{broker: o.brokerPID, collector: o.collectorPID}
	var rows []phaseResult
	fail := false
	for _, phase := range []struct {
		name string
		run  func(context.Context, options, *fleetsim.Fleet, *meter, *slog.Logger) (phaseResult, error)
	}{
		{"broker", rawBroker},
		{"db", rawDB},
		{"e2e", endToEnd},
	} {
		if !o.has(phase.name) {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, o.timeout)
		logger.Info("measuring", "phase", phase.name)
		m := &meter{procs: procs}
		res, err := phase.run(pctx, o, fleet, m, logger)
		res.cpu = m.use()
		cancel()
		if err != nil {
			fmt.Fprintf(stderr, "ingestbench: %s: %v\n", phase.name, err)
			fail = true
			if res.reads == 0 {
				continue
			}
			// Shown, but neither judged nor compared.
			res.name += " (incomplete)"
		}
		rows = append(rows, res)
		logger.Info("measured", "phase", phase.name, "reads_per_second", int(res.rate()))
	}
	if report(stdout, o, rows) && !fail {
		return 0
	}
	if fail {
		return 2
	}
	return 1
}

// phaseResult is one measurement.
type phaseResult struct {
	name    string
	reads   int
	bytes   int64
	elapsed time.Duration
	note    string
	cpu     cpuUse
}

func (r phaseResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.reads) / r.elapsed.Seconds()
}

// report prints the table and the targets; it returns whether both were
// met.
func report(w io.Writer, o options, rows []phaseResult) bool {
	fmt.Fprintf(w, "%-30s %10s %8s %10s %7s   %s\n", "measurement", "reads", "s", "reads/s", "MB/s", "CPU cores used: this tool / broker / collector / postgres / others (machine)")
	byName := map[string]phaseResult{}
	for _, r := range rows {
		byName[r.name] = r
		fmt.Fprintf(w, "%-30s %10s %8.2f %10s %7.1f   %s\n", r.name, group(r.reads), r.elapsed.Seconds(), group(int(r.rate())),
			float64(r.bytes)/r.elapsed.Seconds()/1e6, r.cpu.String(r.elapsed))
	}
	for _, r := range rows {
		if r.note != "" {
			fmt.Fprintf(w, "  %s: %s\n", r.name, r.note)
		}
	}
	fmt.Fprintln(w)
	e2e, okE := byName[nameE2E]
	if !okE {
		fmt.Fprintln(w, "(no end-to-end figure: targets not checked)")
		return true
	}
	var minRaw phaseResult
	for _, n := range []string{nameBroker, nameDB} {
		if r, ok := byName[n]; ok && (minRaw.name == "" || r.rate() < minRaw.rate()) {
			minRaw = r
		}
	}
	pass := true
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		pass = false
		return "FAIL"
	}
	fmt.Fprintf(w, "%s  end to end >= %s reads/s: %s reads/s\n", verdict(e2e.rate() >= o.minRate), group(int(o.minRate)), group(int(e2e.rate())))
	if minRaw.name == "" {
		fmt.Fprintln(w, "(no raw figure: the ratio target is not checked)")
		return pass
	}
	ratio := e2e.rate() / minRaw.rate()
	fmt.Fprintf(w, "%s  end to end >= %.0f %% of the smaller raw figure (%s, %s reads/s): %.1f %%\n",
		verdict(ratio >= o.minRatio), 100*o.minRatio, minRaw.name, group(int(minRaw.rate())), 100*ratio)
	return pass
}

// group writes n with thousands separators.
func group(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
