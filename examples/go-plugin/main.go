// The smallest useful d-back provider in Go: one server whose members come
// from the plugin's config (`members = "alice,bob"`), and a greeting every
// `greet_ms` milliseconds when set.
package main

import (
	"strconv"
	"strings"

	"dback.dev/plugin"
)

const snowflake = "100000000000000001"

// hello implements plugin.Provider; plugin.Defaults answers the callbacks
// it does not override (no static responses, no OAuth2, no client id).
type hello struct {
	plugin.Defaults
}

func (hello) GetServerData() ([]plugin.Server, error) {
	return []plugin.Server{{
		Snowflake: snowflake,
		ID:        "hello",
		Name:      "Hello World",
		IsDefault: true,
	}}, nil
}

func (hello) GetUserData(server string) ([]plugin.User, error) {
	if server != snowflake {
		return nil, nil
	}
	var users []plugin.User
	for _, name := range strings.Split(plugin.ConfigValue("members", "alice,bob"), ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		users = append(users, plugin.User{
			UID:       strconv.Itoa(1000 + len(users)),
			Username:  name,
			Status:    plugin.StatusOnline,
			RoleColor: "#7289da",
		})
	}
	return users, nil
}

func (hello) Timers() []plugin.Timer {
	ms, err := strconv.ParseUint(plugin.ConfigValue("greet_ms", ""), 10, 32)
	if err != nil {
		return nil
	}
	return []plugin.Timer{{Name: "greet", IntervalMs: uint32(ms)}}
}

func (hello) OnTimer(name string, servers []string) ([]plugin.Event, error) {
	plugin.Log(plugin.LevelDebug, "greeting")
	events := make([]plugin.Event, 0, len(servers))
	for _, server := range servers {
		events = append(events, plugin.MessageEvent{
			Server:  server,
			UID:     "1000",
			Message: "hello!",
			Channel: "1",
		})
	}
	return events, nil
}

func init() {
	plugin.Register(hello{})
}

// main stays empty: the plugin is a library (-buildmode=c-shared) whose
// exports the host calls.
func main() {}
