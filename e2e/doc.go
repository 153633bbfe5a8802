// Package e2e tests Meterline as its users run it: the real binaries, built
// from this workspace, talking over real sockets — printers simulated over
// UDP, the agent publishing over MQTT, the collector storing into SQL.
package e2e
