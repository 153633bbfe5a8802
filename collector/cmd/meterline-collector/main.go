// Command meterline-collector stores what Meterline agents publish over
// MQTT: it subscribes to their reads, statuses and events, writes them to
// PostgreSQL or an embedded SQLite database, and acknowledges each batch
// once committed. With no broker configured it embeds one.
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
	// After the first signal, a second one kills at once.
	context.AfterFunc(ctx, stop)

	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "meterline-collector:", err)
		os.Exit(1)
	}
}
