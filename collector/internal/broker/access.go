package broker

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/meterline/meterline/shared/topic"
)

// CollectorUser is the user name of the collector's own connection to the
// embedded broker, which may use every topic. In a password file it names
// other collector processes that connect to this broker (as in
// deploy/mosquitto/acl); never an agent.
const CollectorUser = "meterline-collector"

// ErrPasswordsRequired is returned by Start for an address reachable from
// the network without a password file: every stranger could forge acks and
// configs there.
var ErrPasswordsRequired = errors.New("not a loopback address: a broker open to the network needs a password file")

// LoopbackOnly reports whether a listen address (host:port) is reachable
// from this machine only: a loopback IP or "localhost". Every other host,
// the empty one (every interface) first, is open to the network.
func LoopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// accessHook decides who may connect and what each client may do:
//
//   - the collector (CollectorUser, with the password this process made,
//     or the one of the password file) may do everything;
//   - any other user name is an agent id, and that agent may use only its
//     own topics (topic.AgentMayPublish, topic.AgentMayReceive), its Last
//     Will included;
//   - with a password file, every user needs its password, and anonymous
//     clients are refused;
//   - without one (loopback only, a single-box trial) user names are taken
//     on trust, and anonymous clients may do everything.
//
// A client may not take the client id of a connected client, or of a
// session kept for one, of another user: an agent could otherwise kick the
// collector off and drop what its session holds.
type accessHook struct {
	mqtt.HookBase
	server            *mqtt.Server
	passwords         *Passwords // nil: no password file
	collectorPassword []byte
	log               *slog.Logger
}

func newAccessHook(server *mqtt.Server, passwords *Passwords, log *slog.Logger) *accessHook {
	return &accessHook{server: server, passwords: passwords, collectorPassword: []byte(rand.Text()), log: log}
}

func (h *accessHook) ID() string { return "meterline-access" }

func (h *accessHook) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

// OnConnectAuthenticate admits or refuses a CONNECT.
func (h *accessHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := string(cl.Properties.Username)
	if reason := h.refusal(cl, user, pk.Connect.Password); reason != "" {
		h.log.Warn("connection refused", "reason", reason, "user", user, "client_id", cl.ID, "remote", cl.Net.Remote)
		return false
	}
	return true
}

// refusal says why a client may not connect, or "" when it may.
func (h *accessHook) refusal(cl *mqtt.Client, user string, password []byte) string {
	switch {
	case user == "":
		if h.passwords != nil {
			return "anonymous clients are refused: this broker requires passwords"
		}
	case user == CollectorUser:
		if subtle.ConstantTimeCompare(password, h.collectorPassword) != 1 &&
			(h.passwords == nil || !h.passwords.Check(user, string(password))) {
			return "wrong password"
		}
	case !topic.ValidAgentID(user):
		return "the user name is not an agent id"
	case h.passwords != nil && !h.passwords.Check(user, string(password)):
		return "unknown user or wrong password"
	}
	if cl.Properties.Will.Flag == 1 && !h.allowed(user, cl.Properties.Will.TopicName, true) {
		return "the Last Will is on a topic the client may not publish to"
	}
	if other, ok := h.server.Clients.Get(cl.ID); ok && !bytes.Equal(other.Properties.Username, cl.Properties.Username) {
		return "the client id is another user's"
	}
	return ""
}

// OnACLCheck says whether a client may publish on a topic (write), or
// subscribe to a filter or be delivered a message (read).
func (h *accessHook) OnACLCheck(cl *mqtt.Client, name string, write bool) bool {
	return h.allowed(string(cl.Properties.Username), name, write)
}

func (h *accessHook) allowed(user, name string, write bool) bool {
	switch {
	case user == "" || user == CollectorUser:
		// Anonymous clients got in only without a password file.
		return true
	case write:
		return topic.AgentMayPublish(user, name)
	default:
		return topic.AgentMayReceive(user, name)
	}
}
