//go:build !wasm

// Tests run natively (go test), where plugin.SetTestConfig exists.

package main

import (
	"strings"
	"testing"

	"dback.dev/plugin"
)

// The example of plugins/CONFIG-PROVIDER.md.
const exampleServers = `
[
  {"snowflake": "500000000000000001", "id": "town", "name": "Town Square", "default": true,
   "users": [
     {"uid": "1", "username": "ada", "status": "online", "color": "#e91e63"},
     {"uid": "2", "username": "brian"}
   ]},
  {"snowflake": "500000000000000002", "id": "club", "name": "Members Club",
   "password": "hunter2", "allowed_users": ["1"], "client_id": "900000000000000002",
   "users": [{"uid": "1", "username": "ada", "status": "dnd"}]}
]`

func setConfig(t *testing.T, values map[string]string) {
	t.Helper()
	plugin.SetTestConfig(values)
	cached, cachedErr, loaded = nil, nil, false
	firings = 0
	t.Cleanup(func() { cached, cachedErr, loaded = nil, nil, false })
}

func TestExample(t *testing.T) {
	setConfig(t, map[string]string{"servers": exampleServers, "client_id": "900000000000000001"})
	p := configProvider{}

	servers, err := p.GetServerData()
	if err != nil {
		t.Fatal(err)
	}
	want := []plugin.Server{
		{Snowflake: "500000000000000001", ID: "town", Name: "Town Square", IsDefault: true},
		{Snowflake: "500000000000000002", ID: "club", Name: "Members Club", Passworded: true, Password: plugin.Some("hunter2")},
	}
	if len(servers) != len(want) {
		t.Fatalf("%d servers", len(servers))
	}
	for i := range want {
		got := servers[i]
		if got.Snowflake != want[i].Snowflake || got.ID != want[i].ID || got.Name != want[i].Name ||
			got.Passworded != want[i].Passworded || got.IsDefault != want[i].IsDefault ||
			(got.Password == nil) != (want[i].Password == nil) || (got.Password != nil && *got.Password != *want[i].Password) {
			t.Errorf("server %d: %+v", i, got)
		}
	}

	users, err := p.GetUserData("500000000000000001")
	if err != nil {
		t.Fatal(err)
	}
	wantUsers := []plugin.User{
		{UID: "1", Username: "ada", Status: plugin.StatusOnline, RoleColor: "#e91e63"},
		{UID: "2", Username: "brian", Status: plugin.StatusOffline, RoleColor: "#99aab5"},
	}
	if len(users) != 2 || users[0] != wantUsers[0] || users[1] != wantUsers[1] {
		t.Errorf("users: %+v", users)
	}
	if users, err := p.GetUserData("nope"); err != nil || len(users) != 0 {
		t.Errorf("unknown server: %v %v", users, err)
	}

	for _, c := range []struct {
		token, id, server string
		want              bool
	}{
		{"t", "1", "500000000000000002", true},
		{"t", "2", "500000000000000002", false},
		{"", "1", "500000000000000002", false},
		{"t", "1", "500000000000000001", false},
		{"t", "1", "nope", false},
	} {
		got, err := p.ValidateDiscordUser(c.token, plugin.DiscordUser{ID: c.id}, c.server)
		if err != nil || got != c.want {
			t.Errorf("validate %+v: %v %v", c, got, err)
		}
	}

	for server, want := range map[string]string{
		"500000000000000001": "900000000000000001",
		"500000000000000002": "900000000000000002",
		"unknown":            "900000000000000001",
	} {
		got, err := p.GetClientID(server)
		if err != nil || got == nil || *got != want {
			t.Errorf("client id of %s: %v %v", server, got, err)
		}
	}
	if r, err := p.StaticRequest("/"); r != nil || err != nil {
		t.Errorf("static-request: %v %v", r, err)
	}
}

func TestNoClientID(t *testing.T) {
	setConfig(t, map[string]string{"servers": exampleServers})
	got, err := configProvider{}.GetClientID("500000000000000001")
	if err != nil || got != nil {
		t.Errorf("got %v %v, want none", got, err)
	}
}

func TestPresenceRotation(t *testing.T) {
	setConfig(t, map[string]string{"servers": exampleServers, "presence_interval_ms": "300"})
	p := configProvider{}
	timers := p.Timers()
	if len(timers) != 1 || timers[0] != (plugin.Timer{Name: "presence", IntervalMs: 300}) {
		t.Fatalf("timers: %+v", timers)
	}
	watched := []string{"500000000000000002", "unknown", "500000000000000001"}
	// Worked out by hand from the formula of CONFIG-PROVIDER.md.
	want := [][]string{
		{"club 1 offline", "town 1 idle"},  // n=0: club ada dnd+1; town users[0] ada online+1
		{"club 1 online", "town 2 online"}, // n=1: dnd+1+1; town users[1] brian offline+1
		{"club 1 idle", "town 1 dnd"},      // n=2: dnd+1+2; ada online+1+1
		{"club 1 dnd", "town 2 idle"},      // n=3: dnd+1+3; brian offline+1+1
	}
	names := map[string]string{"500000000000000001": "town", "500000000000000002": "club"}
	for n, events := range want {
		got, err := p.OnTimer("presence", watched)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, ev := range got {
			pe := ev.(plugin.PresenceEvent)
			if pe.Remove || pe.Username == nil || pe.RoleColor == nil {
				t.Errorf("firing %d: %+v", n, pe)
			}
			lines = append(lines, names[pe.Server]+" "+pe.UID+" "+pe.Status.String())
		}
		if strings.Join(lines, "; ") != strings.Join(events, "; ") {
			t.Errorf("firing %d: got %q, want %q", n, lines, events)
		}
	}
	if ev, err := p.OnTimer("other", watched); err != nil || len(ev) != 0 {
		t.Errorf("other timer: %v %v", ev, err)
	}
}

func TestInterval(t *testing.T) {
	for text, want := range map[string]uint32{"100": 100, " 3000\n": 3000, "+250": 250, "4294967295": 4294967295} {
		if got, ok := parseInterval(text); !ok || got != want {
			t.Errorf("%q: %d %v", text, got, ok)
		}
	}
	for _, text := range []string{"", "99", "-100", "1e3", "3000ms", "4294967296", "++100", "+", "1_000", "100.0"} {
		if got, ok := parseInterval(text); ok {
			t.Errorf("%q accepted as %d", text, got)
		}
	}
	setConfig(t, map[string]string{"servers": "[]"})
	if timers := (configProvider{}).Timers(); len(timers) != 0 {
		t.Errorf("no interval: %+v", timers)
	}
	setConfig(t, map[string]string{"servers": "[]", "presence_interval_ms": "fast"})
	if timers := (configProvider{}).Timers(); len(timers) != 0 {
		t.Errorf("bad interval: %+v", timers)
	}
}

func TestDefaultsAndOverrides(t *testing.T) {
	servers, err := parseServers(`[
		{"snowflake": "1", "id": "a"},
		{"snowflake": "2", "id": "b", "allowed_users": ["7"], "name": null, "password": null, "passworded": null},
		{"snowflake": "3", "id": "c", "password": "p", "passworded": false, "extra": {"ignored": [1, 2]}},
		{"snowflake": "4", "id": "d", "users": [{"uid": "5", "username": "e", "color": null, "status": "idle"}]}
	]`)
	if err != nil {
		t.Fatal(err)
	}
	if s := servers[0]; s.name != "a" || s.passworded || s.isDefault || s.password != nil || s.clientID != nil || len(s.users) != 0 {
		t.Errorf("defaults: %+v", s)
	}
	if s := servers[1]; s.name != "b" || !s.passworded {
		t.Errorf("allowed_users makes it passworded: %+v", s)
	}
	if s := servers[2]; s.passworded || s.password == nil {
		t.Errorf("passworded override: %+v", s)
	}
	if u := servers[3].users[0]; u.color != "#99aab5" || statuses[u.status] != plugin.StatusIdle {
		t.Errorf("user defaults: %+v", u)
	}
}

func TestInvalidServers(t *testing.T) {
	for _, text := range []string{
		``,
		`null`,
		`{}`,
		`[`,
		`[] []`,
		`[null]`,
		`["town"]`,
		`[{"id": "a"}]`,
		`[{"snowflake": "1"}]`,
		`[{"snowflake": 1, "id": "a"}]`,
		`[{"snowflake": null, "id": "a"}]`,
		`[{"Snowflake": "1", "id": "a"}]`,
		`[{"snowflake": "1", "id": "a", "name": 5}]`,
		`[{"snowflake": "1", "id": "a", "default": "yes"}]`,
		`[{"snowflake": "1", "id": "a", "default": null}]`,
		`[{"snowflake": "1", "id": "a", "passworded": 1}]`,
		`[{"snowflake": "1", "id": "a", "allowed_users": "1"}]`,
		`[{"snowflake": "1", "id": "a", "allowed_users": [1]}]`,
		`[{"snowflake": "1", "id": "a", "allowed_users": null}]`,
		`[{"snowflake": "1", "id": "a", "users": {}}]`,
		`[{"snowflake": "1", "id": "a", "users": null}]`,
		`[{"snowflake": "1", "id": "a", "users": [{"uid": "1"}]}]`,
		`[{"snowflake": "1", "id": "a", "users": [{"uid": "1", "username": "x", "status": "busy"}]}]`,
		`[{"snowflake": "1", "id": "a", "users": [{"uid": "1", "username": "x", "status": "Online"}]}]`,
		`[{"snowflake": "1", "id": "a", "users": [{"uid": "1", "username": "x", "status": null}]}]`,
		`[{"snowflake": "1", "id": "a", "users": [{"uid": "1", "username": "x", "color": 16777215}]}]`,
		`[{"snowflake": "1", "id": "a", "id": "b"}]`,
	} {
		if _, err := parseServers(text); err == nil {
			t.Errorf("accepted %s", text)
		}
	}
}

func TestServersErrorsAreCachedAndNamed(t *testing.T) {
	setConfig(t, map[string]string{})
	_, err := configProvider{}.GetServerData()
	if err == nil || !strings.Contains(err.Error(), "`servers` is not set") {
		t.Fatalf("missing: %v", err)
	}
	setConfig(t, map[string]string{"servers": `[{"snowflake": "1", "id": "a", "users": [{"uid": "1", "username": "x", "status": "busy"}]}]`})
	_, err = configProvider{}.GetServerData()
	if err == nil || !strings.Contains(err.Error(), "`servers` is not valid") || !strings.Contains(err.Error(), "servers[0].users[0].status") {
		t.Fatalf("invalid: %v", err)
	}
	for _, call := range []func() error{
		func() error { _, err := (configProvider{}).GetUserData("1"); return err },
		func() error {
			_, err := (configProvider{}).ValidateDiscordUser("t", plugin.DiscordUser{ID: "1"}, "1")
			return err
		},
		func() error { _, err := (configProvider{}).GetClientID("1"); return err },
		func() error { _, err := (configProvider{}).OnTimer("presence", []string{"1"}); return err },
	} {
		if call() == nil {
			t.Errorf("a callback answered from an invalid config")
		}
	}
	// Parsed once: a config change after the first use is not seen.
	plugin.SetTestConfig(map[string]string{"servers": exampleServers})
	if _, err := (configProvider{}).GetServerData(); err == nil {
		t.Errorf("the configuration was parsed again")
	}
}
