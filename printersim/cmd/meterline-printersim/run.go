package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/meterline/meterline/printersim/sim"
	"github.com/meterline/meterline/shared/logging"
	"github.com/meterline/meterline/shared/ready"
)

// defaultPort is the first device's port: 161 needs privileges, and 16100
// reads as "SNMP" to people.
const defaultPort = 16100

// config is the parsed command line.
type config struct {
	fleet        string
	dir          string
	files        []string
	count        int
	skipBadLines bool
	manifest     string
	logLevel     slog.Level
	options      sim.Options
}

// run serves the fleet until ctx is done. It prints one line per device and
// then "serving N printers" once every socket is bound.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := logging.New(stderr, logging.Auto, cfg.logLevel)
	cfg.options.Logger = logger

	devs, err := loadDevices(cfg, logger)
	if err != nil {
		return err
	}
	if cfg.count > 0 {
		devs = sim.Replicate(devs, cfg.count)
	}
	fleet, err := sim.Serve(ctx, devs, cfg.options)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer fleet.Close()

	infos := fleet.Devices()
	if cfg.manifest != "" {
		if err := writeManifest(cfg.manifest, infos); err != nil {
			return err
		}
	}
	for _, d := range infos {
		fmt.Fprintf(stdout, "%-21s  %-32s  %s\n", d.Addr, d.Name, d.Serial)
	}
	fmt.Fprintf(stdout, "serving %d printers\n", len(infos))

	<-ctx.Done()
	logger.Info("shutting down", "stats", fleet.Stats())
	return fleet.Close()
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("meterline-printersim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: meterline-printersim [flags] [recording.snmprec ...]\n\n"+
			"Serves simulated printers over SNMP v1/v2c, one UDP port (or address) per device.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.fleet, "fleet", "demo", "built-in fleet to serve when no recordings are given (only \"demo\")")
	fs.StringVar(&cfg.dir, "dir", "", "serve every *.snmprec recording in `DIR`")
	fs.IntVar(&cfg.count, "count", 0, "serve `N` devices, cycling through the fleet with unique serials (default: the fleet's size)")
	fs.BoolVar(&cfg.skipBadLines, "skip-bad-lines", false, "skip recording lines that do not parse (each is logged) instead of failing")
	fs.StringVar(&cfg.options.Host, "host", sim.DefaultHost, "IP address to listen on")
	fs.IntVar(&cfg.options.BasePort, "port", defaultPort, "UDP port of the first device; device i listens on port+i (0: any free ports)")
	fs.BoolVar(&cfg.options.PerAddress, "per-address", false, "give each device its own address, 127.0.1.1, 127.0.1.2, …, all on -port")
	fs.StringVar(&cfg.options.Community, "community", sim.DefaultCommunity, "SNMP community to answer")
	fs.Float64Var(&cfg.options.PagesPerMinute, "rate", 1, "pages per minute each device prints (0: serve the recorded values unchanged)")
	fs.IntVar(&cfg.options.TonerYield, "toner-yield", sim.DefaultTonerYield, "pages per full toner cartridge, for levels reported in percent")
	fs.StringVar(&cfg.manifest, "manifest", "", "write the served devices as JSON (name, address, serial) to `FILE`")
	fs.TextVar(&cfg.logLevel, "log-level", slog.LevelInfo, "`level` of the logs on stderr: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	cfg.files = fs.Args()
	if cfg.count < 0 {
		return cfg, fmt.Errorf("-count must not be negative, got %d", cfg.count)
	}
	return cfg, nil
}

// loadDevices loads the recordings named on the command line, or the
// built-in fleet when there are none.
func loadDevices(cfg config, logger *slog.Logger) ([]sim.Device, error) {
	if cfg.dir == "" && len(cfg.files) == 0 {
		if cfg.fleet != "demo" {
			return nil, fmt.Errorf("unknown fleet %q: the built-in fleet is \"demo\"; use -dir or file arguments for recordings", cfg.fleet)
		}
		return sim.DemoFleet(), nil
	}
	var opts []sim.LoadOption
	if cfg.skipBadLines {
		opts = append(opts, sim.SkipBadLines(func(err error) {
			logger.Warn("recording line skipped", "error", err)
		}))
	}
	var devs []sim.Device
	if cfg.dir != "" {
		loaded, err := sim.LoadDir(cfg.dir, opts...)
		if err != nil {
			return nil, err
		}
		devs = append(devs, loaded...)
	}
	for _, path := range cfg.files {
		dev, err := sim.LoadFile(path, opts...)
		if err != nil {
			return nil, err
		}
		devs = append(devs, dev)
	}
	return devs, nil
}

// manifestEntry is one device in the -manifest file.
type manifestEntry struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Serial  string `json:"serial"`
}

// writeManifest writes the device list atomically (see ready.WriteJSON),
// so a script waiting for the file never reads half of it: the manifest is
// printersim's ready file.
func writeManifest(path string, infos []sim.DeviceInfo) error {
	entries := make([]manifestEntry, len(infos))
	for i, d := range infos {
		entries[i] = manifestEntry{Name: d.Name, Address: d.Addr.String(), Serial: d.Serial}
	}
	if err := ready.WriteJSON(path, entries); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	return nil
}
