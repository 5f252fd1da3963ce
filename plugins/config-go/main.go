// The config provider in Go: servers, members and client ids straight from
// the operator's configuration, and a timed presence rotation. Its
// behaviour is specified in plugins/CONFIG-PROVIDER.md, which the Rust,
// JavaScript and Python versions follow too.
package main

import (
	"slices"

	"dback.dev/plugin"
)

const presenceTimer = "presence"

type configProvider struct{}

func (configProvider) GetServerData() ([]plugin.Server, error) {
	c, err := loadConfig()
	if err != nil {
		return nil, err
	}
	servers := make([]plugin.Server, 0, len(c.servers))
	for _, s := range c.servers {
		servers = append(servers, plugin.Server{
			Snowflake:  s.snowflake,
			ID:         s.id,
			Name:       s.name,
			Passworded: s.passworded,
			IsDefault:  s.isDefault,
			Password:   s.password,
		})
	}
	return servers, nil
}

func (configProvider) GetUserData(snowflake string) ([]plugin.User, error) {
	c, err := loadConfig()
	if err != nil {
		return nil, err
	}
	s := c.server(snowflake)
	if s == nil {
		return nil, nil
	}
	users := make([]plugin.User, 0, len(s.users))
	for _, u := range s.users {
		users = append(users, plugin.User{
			UID:       u.uid,
			Username:  u.username,
			Status:    statuses[u.status],
			RoleColor: u.color,
		})
	}
	return users, nil
}

func (configProvider) StaticRequest(string) (*plugin.StaticResponse, error) {
	return nil, nil
}

func (configProvider) ValidateDiscordUser(token string, user plugin.DiscordUser, snowflake string) (bool, error) {
	c, err := loadConfig()
	if err != nil {
		return false, err
	}
	s := c.server(snowflake)
	return s != nil && token != "" && slices.Contains(s.allowedUsers, user.ID), nil
}

func (configProvider) GetClientID(snowflake string) (*string, error) {
	c, err := loadConfig()
	if err != nil {
		return nil, err
	}
	if s := c.server(snowflake); s != nil && s.clientID != nil {
		return s.clientID, nil
	}
	return c.clientID, nil
}

func (configProvider) Timers() []plugin.Timer {
	ms, ok := presenceInterval()
	if !ok {
		return nil
	}
	return []plugin.Timer{{Name: presenceTimer, IntervalMs: ms}}
}

// firings counts the presence firings handled by this instance; a fresh
// instance starts the rotation again.
var firings uint64

func (configProvider) OnTimer(name string, watched []string) ([]plugin.Event, error) {
	if name != presenceTimer {
		return nil, nil
	}
	n := firings
	firings++
	c, err := loadConfig()
	if err != nil {
		return nil, err
	}
	return presenceEvents(c, n, watched), nil
}

// presenceEvents is firing n of the presence rotation.
func presenceEvents(c *config, n uint64, watched []string) []plugin.Event {
	var events []plugin.Event
	for _, snowflake := range watched {
		s := c.server(snowflake)
		if s == nil || len(s.users) == 0 {
			continue
		}
		count := uint64(len(s.users))
		u := s.users[n%count]
		step := (uint64(u.status) + 1 + n/count) % 4
		events = append(events, plugin.PresenceEvent{
			Server:    s.snowflake,
			UID:       u.uid,
			Status:    statuses[step],
			Username:  plugin.Some(u.username),
			RoleColor: plugin.Some(u.color),
		})
	}
	return events
}

func init() {
	plugin.Register(configProvider{})
}

func main() {}
