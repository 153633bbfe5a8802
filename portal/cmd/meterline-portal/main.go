// Command meterline-portal is the Meterline customer web site: it shows the
// devices the agents read, their counters and their supplies, in French and
// English.
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
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "meterline-portal: %v\n", err)
		os.Exit(1)
	}
}
