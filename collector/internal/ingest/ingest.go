// Package ingest takes what agents publish over MQTT (read batches,
// statuses, events), validates it, stores it and acknowledges it only once
// it is committed. It subscribes through a shared subscription so that
// collector replicas split the stream.
//
// Flow: paho hands each message to Pipeline.Handle, which only queues it;
// a pool of workers decodes and stores; after the commit a worker publishes
// the agent's acknowledgement and sends the MQTT PUBACK. A payload that
// can never be stored goes to dead_letters and is acknowledged; a database
// failure is retried and the message stays unacknowledged meanwhile.
package ingest

import (
	"context"
	"log/slog"
)

// Config is the configuration of the ingest service.
type Config struct {
	Client   ClientConfig
	Pipeline PipelineConfig
}

// Service is the running ingest: an MQTT client feeding a pipeline.
type Service struct {
	client   *Client
	pipeline *Pipeline
}

// Start connects to the broker and starts storing what arrives. It
// returns once the subscriptions are in place.
func Start(cfg Config, store Store, logger *slog.Logger) (*Service, error) {
	client := NewClient(cfg.Client, logger)
	pipeline := NewPipeline(store, client, cfg.Pipeline, logger)
	if err := client.Connect(pipeline.Handle); err != nil {
		_ = pipeline.Stop(context.Background()) // nothing was queued yet: the connect error is the one to report
		return nil, err
	}
	return &Service{client: client, pipeline: pipeline}, nil
}

// Stop stops taking messages, stores and acknowledges those queued, then
// disconnects. ctx bounds the wait for the queue to drain.
func (s *Service) Stop(ctx context.Context) error {
	err := s.pipeline.Stop(ctx)
	s.client.Disconnect()
	return err
}

// Connected reports whether the MQTT connection is up.
func (s *Service) Connected() bool { return s.client.Connected() }

// QueueDepth is how many messages wait for a worker.
func (s *Service) QueueDepth() int { return s.pipeline.QueueDepth() }
