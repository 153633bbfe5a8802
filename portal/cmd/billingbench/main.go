// Command billingbench measures how well billing reads match the truth
// over a simulated year (bench/billing/run.sh runs it; bench/README.md,
// "billing", says what it does and why).
//
// It simulates a fleet under contract day by day from 1 July 2024 to
// early February 2026 with the documented daily-usage model of sim.go, on
// a database of its own: agents file their daily reads as the collector
// stores them (storetest.AddDeviceReads: readings, counter resets),
// customers without agents answer their meter-read campaigns or not, and
// the portal's own billing jobs (store.ClosePeriods, store.RunCampaigns)
// run every simulated morning on the store's clock. Then it compares
// every billing read of the periods ending in 2025 with the simulator's
// true meters and prints the figures and whether the targets are met.
//
// It lives in the portal module because it drives the portal's store
// (internal packages), not the binary: the binary's clock cannot be moved.
//
// Exit status: 0 targets met, 1 a target missed, 2 an error.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	met, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "billingbench:", err)
		os.Exit(2)
	}
	if !met {
		os.Exit(1)
	}
}
