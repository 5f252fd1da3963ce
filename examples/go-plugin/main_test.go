//go:build !wasm

// Tests run natively (go test), where plugin.SetTestConfig exists.

package main

import (
	"testing"

	"dback.dev/plugin"
)

func TestMembersComeFromConfig(t *testing.T) {
	plugin.SetTestConfig(map[string]string{"members": " ann, ,bo "})
	users, err := hello{}.GetUserData(snowflake)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[0].Username != "ann" || users[0].UID != "1000" ||
		users[1].Username != "bo" || users[1].UID != "1001" {
		t.Errorf("got %+v", users)
	}
	if users, _ := (hello{}).GetUserData("other"); len(users) != 0 {
		t.Errorf("another server has members: %+v", users)
	}
}

func TestGreetingTimer(t *testing.T) {
	plugin.SetTestConfig(map[string]string{})
	if timers := (hello{}).Timers(); len(timers) != 0 {
		t.Errorf("timers without greet_ms: %+v", timers)
	}
	plugin.SetTestConfig(map[string]string{"greet_ms": "3000"})
	if timers := (hello{}).Timers(); len(timers) != 1 || timers[0].IntervalMs != 3000 {
		t.Errorf("timers: %+v", timers)
	}
	events, err := hello{}.OnTimer("greet", []string{snowflake})
	if err != nil || len(events) != 1 || events[0].(plugin.MessageEvent).Message != "hello!" {
		t.Errorf("events: %+v %v", events, err)
	}
}
