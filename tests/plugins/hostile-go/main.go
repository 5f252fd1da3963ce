// A Go provider that panics on purpose, for the test that a Go panic is
// contained: get-server-data answers one server, get-user-data writes to a
// nil map, and the timer `boom` (every 200 ms) indexes past the end of a
// slice. The host must log plugin, callback and the panic message, discard
// the instance and keep answering.
package main

import "dback.dev/plugin"

type hostile struct {
	plugin.Defaults
}

func (hostile) GetServerData() ([]plugin.Server, error) {
	return []plugin.Server{{
		Snowflake: "700000000000000003",
		ID:        "hostile",
		Name:      "Hostile Go",
		IsDefault: true,
	}}, nil
}

// members is never made, so writing to it panics.
var members map[string]plugin.User

func (hostile) GetUserData(server string) ([]plugin.User, error) {
	members[server] = plugin.User{UID: "1", Username: "nobody"}
	return nil, nil
}

func (hostile) Timers() []plugin.Timer {
	return []plugin.Timer{{Name: "boom", IntervalMs: 200}}
}

func (hostile) OnTimer(name string, servers []string) ([]plugin.Event, error) {
	// The host only fires a timer for watched servers, so servers is never
	// empty; reading past its end panics.
	_ = servers[len(servers)]
	return nil, nil
}

func init() {
	plugin.Register(hostile{})
}

func main() {}
