package plugin

import "errors"

// Provider is what a plugin implements: d-back's five callbacks and the
// activity timers of the `provider` world. Embed Defaults to implement only
// some of them.
//
// A returned error becomes the WIT `err` value: the host logs its text and
// answers with the safe fallback named on each method. A panic is not
// turned into an error: the Go runtime prints it to stderr (the host's log)
// and stops the instance, which the host contains and discards.
type Provider interface {
	// The servers to offer, in the order they are searched when a browser
	// joins. Called for every new connection and every join.
	GetServerData() ([]Server, error)
	// The members of the server with this snowflake.
	GetUserData(server string) ([]User, error)
	// A plain HTTP request for path (query stripped, starts with "/").
	// Return nil to let the host serve its static files.
	StaticRequest(path string) (*StaticResponse, error)
	// May the holder of this Discord OAuth2 token, who claims to be user,
	// join the passworded server with this snowflake?
	ValidateDiscordUser(token string, user DiscordUser, server string) (bool, error)
	// The OAuth2 client id browsers should use for this server; nil when
	// unknown.
	GetClientID(server string) (*string, error)
	// The timers this plugin wants. Called once when the plugin is loaded.
	Timers() []Timer
	// Timer name fired; servers lists the snowflakes with at least one
	// joined browser. The events are validated and broadcast by the host.
	OnTimer(name string, servers []string) ([]Event, error)
}

// Defaults answers every callback with the host's safe answer: no servers,
// no members, no static response, no OAuth2 login, no client id, no timers.
// Embed it in a provider and override what you need.
type Defaults struct{}

func (Defaults) GetServerData() ([]Server, error)              { return nil, nil }
func (Defaults) GetUserData(string) ([]User, error)            { return nil, nil }
func (Defaults) StaticRequest(string) (*StaticResponse, error) { return nil, nil }
func (Defaults) ValidateDiscordUser(string, DiscordUser, string) (bool, error) {
	return false, nil
}
func (Defaults) GetClientID(string) (*string, error)       { return nil, nil }
func (Defaults) Timers() []Timer                           { return nil }
func (Defaults) OnTimer(string, []string) ([]Event, error) { return nil, nil }

var registered Provider

// errNotRegistered answers every callback of a plugin that registered no
// provider.
var errNotRegistered = errors.New("no provider registered: call plugin.Register from an init function")

// Register makes p the plugin's provider. Call it once, from an init
// function of the plugin's main package; main itself stays empty:
//
//	func init() { plugin.Register(myProvider{}) }
//	func main() {}
func Register(p Provider) {
	if p == nil {
		panic("plugin.Register: nil provider")
	}
	if registered != nil {
		panic("plugin.Register: called twice")
	}
	registered = p
}

// Registered returns the provider given to Register, or nil.
func Registered() Provider {
	return registered
}
