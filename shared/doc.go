// Package shared holds what two Meterline binaries must agree on: the wire
// format (package wire), MQTT topic names (topic), the domain vocabulary and
// error codes (domain), the database schema and its migrations (schema) and
// build information (buildinfo). It uses the standard library only.
package shared
