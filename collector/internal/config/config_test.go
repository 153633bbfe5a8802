package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meterline/meterline/shared/topic"
)

// env returns a getenv over the map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeFile writes a file in a temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeCert writes a self-signed certificate and its key as PEM files and
// returns their paths; the certificate serves as a CA too.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "meterline test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = writeFile(t, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	return certFile, keyFile
}

func TestParse(t *testing.T) {
	passwordFile := writeFile(t, "password", "from-file\n")
	dbURLFile := writeFile(t, "database-url", "postgres://meterline:from-file@127.0.0.1:5432/meterline\r\n")
	certFile, keyFile := writeCert(t)
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{"defaults", nil, nil, func(t *testing.T, c Config) {
			if c.DatabaseURL != "sqlite:"+filepath.Join("data", "meterline.db") || !c.DatabaseDefaulted {
				t.Errorf("database = %q (defaulted %v), want sqlite:data/meterline.db", c.DatabaseURL, c.DatabaseDefaulted)
			}
			if !c.EmbeddedBroker() || c.BrokerListen != "127.0.0.1:1883" || c.BrokerPasswordFile != "" {
				t.Errorf("broker: embedded %v on %q, passwords %q, want embedded on 127.0.0.1:1883 without", c.EmbeddedBroker(), c.BrokerListen, c.BrokerPasswordFile)
			}
			if c.ShareGroup != topic.DefaultShareGroup {
				t.Errorf("share group = %q", c.ShareGroup)
			}
			if !strings.HasPrefix(c.ClientID, "meterline-collector-") {
				t.Errorf("client id = %q", c.ClientID)
			}
			if c.LogLevel != slog.LevelInfo || c.LogFormat != LogAuto {
				t.Errorf("log = %v %s", c.LogLevel, c.LogFormat)
			}
			if c.HTTPListen != "127.0.0.1:9464" {
				t.Errorf("http listen = %q, want 127.0.0.1:9464", c.HTTPListen)
			}
			if c.IngestWorkers != 0 || c.IngestQueue != 0 || c.IngestBatchReads != 0 || c.IngestBatchWait != 0 {
				t.Errorf("ingest tunables = %d %d %d %v, want all 0 (the pipeline's defaults)",
					c.IngestWorkers, c.IngestQueue, c.IngestBatchReads, c.IngestBatchWait)
			}
			if c.MQTTTLS != nil {
				t.Errorf("TLS config %+v for the embedded broker, want nil", c.MQTTTLS)
			}
			if c.DeadLetterMaxAge != 30*24*time.Hour || c.DeadLetterMaxRows != 100_000 || c.DeadLetterMaxPerAgent != 1_000 {
				t.Errorf("dead letter retention = %v, %d rows, %d per agent; want 720h, 100000, 1000",
					c.DeadLetterMaxAge, c.DeadLetterMaxRows, c.DeadLetterMaxPerAgent)
			}
		}},
		{"dead letter retention from the environment, flags first", []string{"-dead-letter-max-rows", "0"}, map[string]string{
			EnvDeadLetterMaxAge: "168h", EnvDeadLetterMaxRows: "50", EnvDeadLetterMaxPerAgent: "20",
		}, func(t *testing.T, c Config) {
			if c.DeadLetterMaxAge != 7*24*time.Hour || c.DeadLetterMaxRows != 0 || c.DeadLetterMaxPerAgent != 20 {
				t.Errorf("dead letter retention = %v, %d rows, %d per agent; want 168h, 0 (no bound), 20",
					c.DeadLetterMaxAge, c.DeadLetterMaxRows, c.DeadLetterMaxPerAgent)
			}
		}},
		{"data dir moves the default database", []string{"-data-dir", "/var/lib/meterline"}, nil, func(t *testing.T, c Config) {
			if c.DatabaseURL != "sqlite:/var/lib/meterline/meterline.db" {
				t.Errorf("database = %q", c.DatabaseURL)
			}
		}},
		{"environment", nil, map[string]string{
			EnvDatabaseURL:  "postgres://meterline:s3cret@db:5432/meterline",
			EnvMQTTURL:      "ssl://broker.example.net:8883",
			EnvMQTTUsername: "collector",
			EnvMQTTPassword: "pw",
			EnvLogLevel:     "debug",
			EnvLogFormat:    "json",
			EnvShareGroup:   "eu-collectors",
			EnvClientID:     "collector-eu-1",
		}, func(t *testing.T, c Config) {
			if c.DatabaseDefaulted || c.EmbeddedBroker() || c.MQTTPassword != "pw" || c.LogLevel != slog.LevelDebug ||
				c.LogFormat != LogJSON || c.ShareGroup != "eu-collectors" || c.ClientID != "collector-eu-1" {
				t.Errorf("config = %+v", c)
			}
		}},
		{"flags override the environment", []string{"-mqtt", "tcp://127.0.0.1:1884", "-log-level", "warn"},
			map[string]string{EnvMQTTURL: "tcp://elsewhere:1883", EnvLogLevel: "debug"}, func(t *testing.T, c Config) {
				if c.MQTTURL != "tcp://127.0.0.1:1884" || c.LogLevel != slog.LevelWarn {
					t.Errorf("mqtt %q, log level %v", c.MQTTURL, c.LogLevel)
				}
			}},
		{"password file from the environment", nil, map[string]string{EnvMQTTUsername: "u", EnvMQTTPasswordFile: passwordFile}, func(t *testing.T, c Config) {
			if c.MQTTPassword != "from-file" {
				t.Errorf("password = %q, want the file's content without its newline", string(c.MQTTPassword))
			}
		}},
		{"password flag overrides the environment file", []string{"-mqtt-username", "u", "-mqtt-password", "flag"},
			map[string]string{EnvMQTTPasswordFile: passwordFile}, func(t *testing.T, c Config) {
				if c.MQTTPassword != "flag" {
					t.Errorf("password = %q, want flag", string(c.MQTTPassword))
				}
			}},
		{"database URL file from the environment", nil, map[string]string{EnvDatabaseURLFile: dbURLFile}, func(t *testing.T, c Config) {
			if c.DatabaseURL != "postgres://meterline:from-file@127.0.0.1:5432/meterline" || c.DatabaseDefaulted {
				t.Errorf("database = %q (defaulted %v), want the file's URL without its line ending", c.DatabaseURL, c.DatabaseDefaulted)
			}
		}},
		{"database URL file flag", []string{"-database-url-file", dbURLFile}, nil, func(t *testing.T, c Config) {
			if !strings.Contains(c.DatabaseURL, "from-file@") {
				t.Errorf("database = %q, want the file's URL", c.DatabaseURL)
			}
		}},
		{"database flag overrides the environment file", []string{"-database", "sqlite:flag.db"},
			map[string]string{EnvDatabaseURLFile: dbURLFile}, func(t *testing.T, c Config) {
				if c.DatabaseURL != "sqlite:flag.db" {
					t.Errorf("database = %q, want sqlite:flag.db", c.DatabaseURL)
				}
			}},
		{"database URL file flag overrides the environment", []string{"-database-url-file", dbURLFile},
			map[string]string{EnvDatabaseURL: "sqlite:env.db"}, func(t *testing.T, c Config) {
				if !strings.Contains(c.DatabaseURL, "from-file@") {
					t.Errorf("database = %q, want the file's URL", c.DatabaseURL)
				}
			}},
		{"http listen from the environment", nil, map[string]string{EnvHTTPListen: "127.0.0.1:9100"}, func(t *testing.T, c Config) {
			if c.HTTPListen != "127.0.0.1:9100" {
				t.Errorf("http listen = %q", c.HTTPListen)
			}
		}},
		{"http listen flag overrides the environment", []string{"-http-listen", "127.0.0.1:0"},
			map[string]string{EnvHTTPListen: "127.0.0.1:9100"}, func(t *testing.T, c Config) {
				if c.HTTPListen != "127.0.0.1:0" {
					t.Errorf("http listen = %q", c.HTTPListen)
				}
			}},
		{"empty http listen flag disables", []string{"-http-listen", ""}, map[string]string{EnvHTTPListen: ":9100"}, func(t *testing.T, c Config) {
			if c.HTTPListen != "" {
				t.Errorf("http listen = %q, want empty: disabled", c.HTTPListen)
			}
		}},
		{"http listen off in the environment disables", nil, map[string]string{EnvHTTPListen: "off"}, func(t *testing.T, c Config) {
			if c.HTTPListen != "" {
				t.Errorf("http listen = %q, want empty: disabled", c.HTTPListen)
			}
		}},
		{"ingest tunables from the environment", nil, map[string]string{
			EnvIngestWorkers: "8", EnvIngestQueue: "1024", EnvIngestBatchReads: "5000", EnvIngestBatchWait: "25ms",
		}, func(t *testing.T, c Config) {
			if c.IngestWorkers != 8 || c.IngestQueue != 1024 || c.IngestBatchReads != 5000 || c.IngestBatchWait != 25*time.Millisecond {
				t.Errorf("ingest tunables = %d %d %d %v", c.IngestWorkers, c.IngestQueue, c.IngestBatchReads, c.IngestBatchWait)
			}
		}},
		{"ingest flags override the environment", []string{"-ingest-workers", "2", "-ingest-queue", "0", "-ingest-batch-reads", "100", "-ingest-batch-wait", "1s"},
			map[string]string{EnvIngestWorkers: "8", EnvIngestQueue: "1024", EnvIngestBatchReads: "5000", EnvIngestBatchWait: "25ms"},
			func(t *testing.T, c Config) {
				if c.IngestWorkers != 2 || c.IngestQueue != 0 || c.IngestBatchReads != 100 || c.IngestBatchWait != time.Second {
					t.Errorf("ingest tunables = %d %d %d %v", c.IngestWorkers, c.IngestQueue, c.IngestBatchReads, c.IngestBatchWait)
				}
			}},
		{"plain broker has no TLS", []string{"-mqtt", "tcp://127.0.0.1:1883"}, nil, func(t *testing.T, c Config) {
			if c.MQTTOverTLS() || c.MQTTTLS != nil {
				t.Errorf("TLS %v %+v for tcp://, want none", c.MQTTOverTLS(), c.MQTTTLS)
			}
		}},
		{"TLS broker with the system roots", []string{"-mqtt", "mqtts://broker.example.net:8883"}, nil, func(t *testing.T, c Config) {
			if c.MQTTTLS == nil || c.MQTTTLS.MinVersion != tls.VersionTLS12 || c.MQTTTLS.RootCAs != nil ||
				c.MQTTTLS.ServerName != "broker.example.net" || len(c.MQTTTLS.Certificates) != 0 {
				t.Errorf("TLS config = %+v, want TLS 1.2 at least, system roots, server name, no client certificate", c.MQTTTLS)
			}
		}},
		{"TLS broker with CA and client certificate from the environment", nil, map[string]string{
			EnvMQTTURL: "ssl://127.0.0.1:8883", EnvMQTTCAFile: certFile, EnvMQTTCertFile: certFile, EnvMQTTKeyFile: keyFile,
		}, func(t *testing.T, c Config) {
			if c.MQTTTLS == nil || c.MQTTTLS.MinVersion != tls.VersionTLS12 || c.MQTTTLS.RootCAs == nil || len(c.MQTTTLS.Certificates) != 1 {
				t.Errorf("TLS config = %+v, want TLS 1.2 at least, the CA and the client certificate", c.MQTTTLS)
			}
			if c.MQTTCAFile != certFile || c.MQTTKeyFile != keyFile {
				t.Errorf("TLS files = %q %q", c.MQTTCAFile, c.MQTTKeyFile)
			}
		}},
		{"TLS flags", []string{"-mqtt", "tls://127.0.0.1:8883", "-mqtt-ca-file", certFile}, nil, func(t *testing.T, c Config) {
			if c.MQTTTLS == nil || c.MQTTTLS.RootCAs == nil || len(c.MQTTTLS.Certificates) != 0 {
				t.Errorf("TLS config = %+v, want the CA and no client certificate", c.MQTTTLS)
			}
		}},
		{"modes", []string{"-migrate", "-version", "-config-dump"}, nil, func(t *testing.T, c Config) {
			if !c.Migrate || !c.Version || !c.ConfigDump {
				t.Errorf("config = %+v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, c)
		})
	}
}

// TestMQTTTLSHandshake checks the built TLS configuration against a TLS
// server on 127.0.0.1 that trusts only the test CA for client
// certificates: the client verifies the server and presents its own.
func TestMQTTTLSHandshake(t *testing.T) {
	certFile, keyFile := writeCert(t)
	serverCert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(serverCert.Leaf)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCAs,
		MaxVersion:   tls.VersionTLS12, // the oldest the collector accepts
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer conn.Close()
		served <- conn.(*tls.Conn).Handshake()
	}()

	c, err := Parse([]string{"-mqtt", "ssl://" + ln.Addr().String(),
		"-mqtt-ca-file", certFile, "-mqtt-cert-file", certFile, "-mqtt-key-file", keyFile}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", ln.Addr().String(), c.MQTTTLS)
	if err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	conn.Close()
	if err := <-served; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	certFile, keyFile := writeCert(t)
	emptyFile := writeFile(t, "empty", "\n")
	notPEM := writeFile(t, "not-pem", "not a certificate\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"database scheme", []string{"-database", "mysql://db/x"}, nil, "-database"},
		{"mqtt scheme", []string{"-mqtt", "http://broker:1883"}, nil, "scheme must be tcp://"},
		{"mqtt without port", []string{"-mqtt", "tcp://broker"}, nil, "want scheme://host:port"},
		{"broker listen", []string{"-broker-listen", "1883"}, nil, "-broker-listen"},
		{"broker passwords with an external broker", []string{"-mqtt", "tcp://127.0.0.1:1883", "-broker-password-file", "passwd"}, nil, "-broker-password-file: set only with the embedded broker"},
		{"share group with a slash", []string{"-share-group", "a/b"}, nil, "-share-group"},
		{"client id with a wildcard", []string{"-client-id", "c#1"}, nil, "-client-id"},
		{"log level", []string{"-log-level", "loud"}, nil, "log level"},
		{"log format", []string{"-log-format", "xml"}, nil, "-log-format"},
		{"password without user", []string{"-mqtt-password", "x"}, nil, "set -mqtt-username"},
		{"password and file", nil, map[string]string{EnvMQTTPassword: "a", EnvMQTTPasswordFile: "/f"},
			"both METERLINE_MQTT_PASSWORD and METERLINE_MQTT_PASSWORD_FILE are set"},
		{"password flag and file flag", []string{"-mqtt-password", "a", "-mqtt-password-file", "/f"}, nil,
			"both -mqtt-password and -mqtt-password-file are set"},
		{"missing password file", []string{"-mqtt-password-file", "/nonexistent/pw"}, nil, "-mqtt-password-file"},
		{"empty password file", []string{"-mqtt-username", "u", "-mqtt-password-file", emptyFile}, nil, "is empty"},
		{"database URL and file", nil, map[string]string{EnvDatabaseURL: "sqlite:x.db", EnvDatabaseURLFile: "/f"},
			"both METERLINE_DATABASE_URL and METERLINE_DATABASE_URL_FILE are set"},
		{"database flag and file flag", []string{"-database", "sqlite:x.db", "-database-url-file", "/f"}, nil,
			"both -database and -database-url-file are set"},
		{"missing database URL file", nil, map[string]string{EnvDatabaseURLFile: "/nonexistent/db"}, "METERLINE_DATABASE_URL_FILE"},
		{"empty database URL file", []string{"-database-url-file", emptyFile}, nil, "is empty"},
		{"http listen", []string{"-http-listen", "9464"}, nil, "-http-listen"},
		{"negative workers flag", []string{"-ingest-workers", "-1"}, nil, "-ingest-workers: must not be negative"},
		{"negative queue from the environment", nil, map[string]string{EnvIngestQueue: "-5"}, "-ingest-queue: must not be negative"},
		{"negative batch reads", []string{"-ingest-batch-reads", "-10"}, nil, "-ingest-batch-reads: must not be negative"},
		{"negative batch wait", nil, map[string]string{EnvIngestBatchWait: "-1s"}, "-ingest-batch-wait: must not be negative"},
		{"unparsable workers flag", []string{"-ingest-workers", "many"}, nil, "-ingest-workers"},
		{"unparsable workers from the environment", nil, map[string]string{EnvIngestWorkers: "many"}, "METERLINE_INGEST_WORKERS=\"many\": want a whole number"},
		{"unparsable batch reads from the environment", nil, map[string]string{EnvIngestBatchReads: "1e3"}, "METERLINE_INGEST_BATCH_READS"},
		{"unparsable batch wait from the environment", nil, map[string]string{EnvIngestBatchWait: "20"}, "METERLINE_INGEST_BATCH_WAIT=\"20\": want a duration"},
		{"unparsable batch wait flag", []string{"-ingest-batch-wait", "soon"}, nil, "-ingest-batch-wait"},
		{"negative dead letter age", []string{"-dead-letter-max-age", "-1h"}, nil, "-dead-letter-max-age: must not be negative"},
		{"negative dead letters per agent", nil, map[string]string{EnvDeadLetterMaxPerAgent: "-1"}, "-dead-letter-max-per-agent: must not be negative"},
		{"unparsable dead letter age from the environment", nil, map[string]string{EnvDeadLetterMaxAge: "30d"}, "METERLINE_DEAD_LETTER_MAX_AGE=\"30d\": want a duration"},
		{"TLS file with a plain broker", []string{"-mqtt", "tcp://127.0.0.1:1883", "-mqtt-ca-file", certFile}, nil, "-mqtt-ca-file: set only with a TLS broker URL"},
		{"TLS file with the embedded broker", nil, map[string]string{EnvMQTTCertFile: certFile, EnvMQTTKeyFile: keyFile}, "-mqtt-cert-file: set only with a TLS broker URL"},
		{"certificate without key", []string{"-mqtt", "ssl://127.0.0.1:8883", "-mqtt-cert-file", certFile}, nil, "set both or neither"},
		{"missing CA file", []string{"-mqtt", "ssl://127.0.0.1:8883", "-mqtt-ca-file", "/nonexistent/ca.pem"}, nil, "-mqtt-ca-file"},
		{"CA file without a certificate", []string{"-mqtt", "ssl://127.0.0.1:8883", "-mqtt-ca-file", notPEM}, nil, "no PEM certificate"},
		{"key that is no key", []string{"-mqtt", "ssl://127.0.0.1:8883", "-mqtt-cert-file", certFile, "-mqtt-key-file", notPEM}, nil, "-mqtt-key-file"},
		{"unknown flag", []string{"-nope"}, nil, "not defined"},
		{"stray argument", []string{"run"}, nil, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.args, env(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestParseHelp(t *testing.T) {
	var usage bytes.Buffer
	_, err := Parse([]string{"-h"}, env(nil), &usage)
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("Parse(-h) = %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(usage.String(), EnvDatabaseURL) {
		t.Errorf("usage does not name the environment variables:\n%s", usage.String())
	}
}

func TestDumpRedactsSecrets(t *testing.T) {
	dbURLFile := writeFile(t, "database-url", "postgres://meterline:file-secret@db:5432/meterline\n")
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		secrets []string
		lines   []string
	}{
		{"flags", []string{
			"-database", "postgres://meterline:db-secret@db:5432/meterline?sslmode=disable",
			"-mqtt", "ssl://collector:url-secret@broker:8883",
			"-mqtt-username", "collector", "-mqtt-password", "mqtt-secret",
			"-client-id", "collector-1",
		}, nil, []string{"db-secret", "url-secret", "mqtt-secret"}, []string{
			"METERLINE_DATABASE_URL=postgres://meterline:redacted@db:5432/meterline?sslmode=disable",
			"METERLINE_MQTT_PASSWORD=<redacted>",
			"METERLINE_CLIENT_ID=collector-1",
			"METERLINE_HTTP_LISTEN=127.0.0.1:9464",
			"METERLINE_MQTT_CA_FILE=",
			"METERLINE_INGEST_WORKERS=0",
			"METERLINE_INGEST_QUEUE=0",
			"METERLINE_INGEST_BATCH_READS=0",
			"METERLINE_INGEST_BATCH_WAIT=0s",
		}},
		{"files and tunables", []string{"-http-listen", "", "-ingest-workers", "6", "-ingest-batch-wait", "50ms"},
			map[string]string{EnvDatabaseURLFile: dbURLFile}, []string{"file-secret"}, []string{
				"METERLINE_DATABASE_URL=postgres://meterline:redacted@db:5432/meterline",
				"METERLINE_HTTP_LISTEN=off",
				"METERLINE_INGEST_WORKERS=6",
				"METERLINE_INGEST_BATCH_WAIT=50ms",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(tt.args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := c.Dump(&out); err != nil {
				t.Fatal(err)
			}
			for _, secret := range tt.secrets {
				if strings.Contains(out.String(), secret) {
					t.Errorf("dump shows %q:\n%s", secret, out.String())
				}
			}
			for _, line := range tt.lines {
				if !strings.Contains(out.String(), line+"\n") {
					t.Errorf("dump lacks %q:\n%s", line, out.String())
				}
			}
		})
	}
}

// TestDumpParsesBack checks that the dump, used as an environment, gives
// the same configuration.
func TestDumpParsesBack(t *testing.T) {
	certFile, keyFile := writeCert(t)
	c, err := Parse([]string{
		"-mqtt", "ssl://127.0.0.1:8883", "-mqtt-ca-file", certFile, "-mqtt-cert-file", certFile, "-mqtt-key-file", keyFile,
		"-http-listen", "", "-ingest-workers", "3", "-ingest-queue", "64", "-ingest-batch-reads", "2000", "-ingest-batch-wait", "15ms",
		"-client-id", "collector-1", "-dead-letter-max-age", "0", "-dead-letter-max-per-agent", "7",
	}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := c.Dump(&out); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		k, v, _ := strings.Cut(line, "=")
		vars[k] = v
	}
	back, err := Parse(nil, env(vars), io.Discard)
	if err != nil {
		t.Fatalf("Parse of the dump: %v\n%s", err, out.String())
	}
	if back.HTTPListen != "" || back.IngestWorkers != 3 || back.IngestQueue != 64 || back.IngestBatchReads != 2000 ||
		back.IngestBatchWait != 15*time.Millisecond || back.MQTTCertFile != certFile || back.MQTTTLS == nil ||
		back.DeadLetterMaxAge != 0 || back.DeadLetterMaxPerAgent != 7 || back.DeadLetterMaxRows != DefaultDeadLetterMaxRows {
		t.Errorf("parsed back = %+v, want the dumped configuration", back)
	}
}

// TestErrorsHidePasswords: a malformed URL is named in the error without
// the password it carries.
func TestErrorsHidePasswords(t *testing.T) {
	for _, args := range [][]string{
		{"-database", "postgres://meterline:s3cret@db:port/meterline"},
		{"-database", "mysql://meterline:s3cret@db/meterline"},
		{"-mqtt", "tcp://collector:s3cret@broker:port"},
		{"-mqtt", "http://collector:s3cret@broker:1883"},
	} {
		_, err := Parse(args, func(string) string { return "" }, io.Discard)
		if err == nil {
			t.Errorf("Parse(%q) accepted", args)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Parse(%q) error shows the password: %v", args, err)
		}
	}
}
