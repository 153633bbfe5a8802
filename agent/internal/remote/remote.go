// Package remote lets the collector change, over MQTT and without a
// restart, what an agent polls and how often, and ask it to poll or
// discover now (DESIGN.md §3: the config and commands topics).
//
// The local configuration file gives the defaults and stays the only
// source of the broker address and of secrets. A retained remote
// configuration overrides it field by field; an empty retained message
// (how MQTT clears one) goes back to the file. The last remote
// configuration applied is kept in the state directory, so that an agent
// restarted without a broker polls as the collector last said.
package remote

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/meterline/meterline/agent/internal/statefile"
	"github.com/meterline/meterline/shared/topic"
)

// StateFile is the name, in the state directory, of the file holding the
// last remote configuration applied, as the collector sent it.
const StateFile = "remote-config.json"

// Subscriber delivers the payloads of the messages on one of the agent's
// topics; the uplink's MQTT connection is one.
type Subscriber interface {
	Subscribe(kind topic.Kind, handle func(payload []byte))
}

// Options configure a Controller.
type Options struct {
	// Local are the settings of the local file (LocalSettings).
	Local Settings
	// StateDir is where the last remote configuration is kept; empty
	// keeps nothing.
	StateDir string
	// PollNow and DiscoverNow receive a value, without blocking, when a
	// command (or a change of targets, credentials or ranges) asks for a
	// poll round or a discovery sweep at once. Give them a buffer of 1, so
	// that a burst of requests makes one round. A nil channel refuses the
	// command.
	PollNow     chan<- struct{}
	DiscoverNow chan<- struct{}
	// Allow widens the addresses a remote configuration may make the
	// agent poll or sweep beyond Local's targets and ranges
	// (config.Config.RemoteAllow, in ranges syntax).
	Allow []string
	// Log receives what is applied, refused and run.
	Log *slog.Logger
}

// Controller holds the agent's effective settings: the local file's, with
// the collector's remote configuration over them. It is safe for
// concurrent use.
type Controller struct {
	local       Settings
	scope       scope
	statePath   string
	pollNow     chan<- struct{}
	discoverNow chan<- struct{}
	log         *slog.Logger

	mu        sync.Mutex
	effective Settings
	saved     []byte          // the remote configuration on disk; nil when none
	refused   []string        // what was refused of the last remote configuration, one reason each
	watchers  []chan struct{} // one per Changes call
	commands  recentIDs
}

// New returns a Controller with the local settings, or with the remote
// configuration saved in the state directory when there is one that is
// still valid against the local file. A saved configuration that cannot
// be read or applied is logged and left aside: the agent runs on the
// local file until the collector's retained configuration comes again.
func New(opts Options) *Controller {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		local:       opts.Local.Clone(),
		pollNow:     opts.PollNow,
		discoverNow: opts.DiscoverNow,
		log:         opts.Log.With("task", "remote"),
		effective:   opts.Local.Clone(),
		commands:    newRecentIDs(recentCommands),
	}
	var err error
	if c.scope, err = newScope(c.local, opts.Allow); err != nil {
		c.log.Error("remote config may only name the local targets", "error", oneLine(err))
	}
	if opts.StateDir != "" {
		c.statePath = filepath.Join(opts.StateDir, StateFile)
	}
	c.restore()
	return c
}

// restore applies the remote configuration saved by an earlier run.
func (c *Controller) restore() {
	if c.statePath == "" {
		return
	}
	payload, err := os.ReadFile(c.statePath)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		c.log.Warn("saved remote config unreadable; using the local file until the collector's comes", "file", c.statePath, "error", err.Error())
		return
	}
	next, _, refused, err := decodeRemote(c.local, c.scope, payload)
	c.noteRefused(refused, nil)
	if err != nil {
		c.log.Warn("saved remote config no longer valid against the local file; using the local file until the collector's comes",
			"file", c.statePath, "error", oneLine(err))
		return
	}
	c.saved = payload
	c.effective = next
	if changes := c.local.diff(next); len(changes) > 0 {
		c.log.Info("remote config restored from the state directory", "changes", strings.Join(changes, "; "), "file", c.statePath)
	}
}

// Settings returns a copy of the effective settings.
func (c *Controller) Settings() Settings {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.effective.Clone()
}

// Changes returns a channel that receives after every change of the
// effective settings; a consumer then reads Settings. Each call makes a
// new channel for one consumer (the poll loop, the discovery loop), with
// a buffer of 1: changes that come while the consumer is busy make one
// receive.
func (c *Controller) Changes() <-chan struct{} {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watchers = append(c.watchers, ch)
	return ch
}

// Attach subscribes the Controller to the agent's config and commands
// topics.
func (c *Controller) Attach(sub Subscriber) {
	sub.Subscribe(topic.Config, func(payload []byte) { _ = c.ApplyConfig(payload) })
	sub.Subscribe(topic.Commands, func(payload []byte) { _ = c.HandleCommand(payload) })
}

// ApplyConfig applies a message of the config topic: a wire.AgentConfig
// over the local settings, or, when empty, the local settings alone. A
// configuration with any invalid field is refused whole and the current
// settings stay; the error says why (it is logged too). An applied
// configuration is saved in the state directory; failing to save it is
// logged, not an error, as the settings are applied anyway.
func (c *Controller) ApplyConfig(payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(bytes.TrimSpace(payload)) == 0 {
		c.forget()
		c.refused = nil
		c.install(c.local.Clone(), "remote config cleared: back to the local file")
		return nil
	}
	next, ignored, refused, err := decodeRemote(c.local, c.scope, payload)
	if len(ignored) > 0 {
		c.log.Warn("remote config: ignoring fields the collector may not set", "fields", strings.Join(ignored, ", "))
	}
	c.noteRefused(refused, err)
	if err != nil {
		c.log.Warn("remote config refused; keeping the current settings", "error", oneLine(err))
		return fmt.Errorf("remote config refused: %w", err)
	}
	c.save(payload)
	c.install(next, "remote config applied")
	return nil
}

// Refused lists what was refused of the collector's last configuration,
// one reason per refused entry (a target or range outside what the local
// file allows), and the reason it was refused whole if it was; nil when
// nothing was. It is for the agent's status.
func (c *Controller) Refused() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.refused)
}

// noteRefused keeps, and logs, what was refused of a configuration:
// entries outside the scope, and whole is why it was refused whole, if it
// was. The caller holds c.mu, or is New.
func (c *Controller) noteRefused(entries []string, whole error) {
	c.refused = slices.Clone(entries)
	if len(entries) > 0 {
		c.log.Warn("remote config: entries refused, outside what the local file allows; the rest applies",
			"refused", strings.Join(entries, "; "))
	}
	if whole != nil {
		c.refused = append(c.refused, "config refused whole: "+oneLine(whole))
	}
}

// install makes next the effective settings, tells the watchers, and
// asks for a poll round or a sweep at once when what is polled changed.
// The caller holds c.mu.
func (c *Controller) install(next Settings, message string) {
	changes := c.effective.diff(next)
	if len(changes) == 0 {
		c.log.Debug("remote config unchanged")
		return
	}
	previous := c.effective
	c.effective = next
	c.log.Info(message, "changes", strings.Join(changes, "; "))
	for _, w := range c.watchers {
		notify(w)
	}
	if !slices.Equal(previous.Targets, next.Targets) || !slices.Equal(previous.Credentials, next.Credentials) {
		notify(c.pollNow)
	}
	if !slices.Equal(previous.Ranges, next.Ranges) {
		notify(c.discoverNow)
	}
}

// save keeps payload as the last remote configuration applied, replacing
// the file atomically so that a crash leaves the old or the new one. The
// collector re-sends its retained configuration on every connection, so
// an unchanged one is not written again. The caller holds c.mu.
func (c *Controller) save(payload []byte) {
	if c.statePath == "" || bytes.Equal(payload, c.saved) {
		return
	}
	if err := statefile.WriteAtomic(c.statePath, payload); err != nil {
		c.log.Error("save remote config; a restart without a broker will use the local file", "file", c.statePath, "error", err.Error())
		return
	}
	c.saved = bytes.Clone(payload)
}

// forget removes the saved remote configuration. The caller holds c.mu.
func (c *Controller) forget() {
	if c.statePath == "" {
		return
	}
	if err := os.Remove(c.statePath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Error("remove saved remote config; a restart without a broker will use it", "file", c.statePath, "error", err.Error())
		return
	}
	c.saved = nil
}

// notify sends on ch without blocking: a value already waiting says it
// all. A nil ch is never notified.
func notify(ch chan<- struct{}) {
	if ch == nil {
		return
	}
	select {
	case ch <- struct{}{}:
	default:
	}
}

// oneLine joins the lines of an errors.Join error.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
