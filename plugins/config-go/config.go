package main

// The operator's configuration, parsed once per instance: it cannot change
// while an instance lives.
//
// `servers` is checked strictly, field by field, with the rules serde
// applies to the Rust version: exact (case-sensitive) field names, unknown
// fields ignored, a known field given twice is an error, `null` means
// "absent" for the optional text fields and `passworded` only, and any
// value of the wrong type makes the whole value invalid.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"dback.dev/plugin"
)

// neutralColor is the color of members whose config names none (Discord's
// neutral grey).
const neutralColor = "#99aab5"

// statuses is the order the timed rotation walks through.
var statuses = [4]plugin.Status{
	plugin.StatusOnline, plugin.StatusIdle, plugin.StatusDnd, plugin.StatusOffline,
}

type config struct {
	servers  []serverEntry
	clientID *string
}

type serverEntry struct {
	snowflake    string
	id           string
	name         string
	isDefault    bool
	password     *string
	allowedUsers []string
	passworded   bool
	clientID     *string
	users        []userEntry
}

type userEntry struct {
	uid      string
	username string
	status   int // index into statuses
	color    string
}

func (c *config) server(snowflake string) *serverEntry {
	for i := range c.servers {
		if c.servers[i].snowflake == snowflake {
			return &c.servers[i]
		}
	}
	return nil
}

var (
	cached    *config
	cachedErr error
	loaded    bool
)

// loadConfig returns this instance's configuration, read from the host on
// first use.
func loadConfig() (*config, error) {
	if !loaded {
		cached, cachedErr = readConfig()
		loaded = true
	}
	return cached, cachedErr
}

func readConfig() (*config, error) {
	text, ok := plugin.ConfigGet("servers")
	if !ok {
		return nil, errors.New("config key `servers` is not set")
	}
	servers, err := parseServers(text)
	if err != nil {
		return nil, fmt.Errorf("config key `servers` is not valid: %w", err)
	}
	c := &config{servers: servers}
	if id, ok := plugin.ConfigGet("client_id"); ok {
		c.clientID = &id
	}
	return c, nil
}

// presenceInterval returns the presence timer's interval when the operator
// asked for a usable one; an unusable value is logged at warn.
func presenceInterval() (uint32, bool) {
	text, ok := plugin.ConfigGet("presence_interval_ms")
	if !ok {
		return 0, false
	}
	if ms, ok := parseInterval(text); ok {
		return ms, true
	}
	plugin.Log(plugin.LevelWarn, "config key `presence_interval_ms` must be an integer of at least 100, got `"+
		text+"`: no presence timer")
	return 0, false
}

// parseInterval accepts a decimal u32 of at least 100, with surrounding
// white space and an optional leading '+'.
func parseInterval(text string) (uint32, bool) {
	s := strings.TrimSpace(text)
	s = strings.TrimPrefix(s, "+")
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	ms, err := strconv.ParseUint(s, 10, 32)
	if err != nil || ms < 100 {
		return 0, false
	}
	return uint32(ms), true
}

// parseServers parses the `servers` JSON text.
func parseServers(text string) ([]serverEntry, error) {
	items, err := decodeArray(json.RawMessage(text), "servers")
	if err != nil {
		return nil, err
	}
	servers := make([]serverEntry, 0, len(items))
	for i, item := range items {
		s, err := parseServer(item, fmt.Sprintf("servers[%d]", i))
		if err != nil {
			return nil, err
		}
		servers = append(servers, s)
	}
	return servers, nil
}

func parseServer(raw json.RawMessage, at string) (serverEntry, error) {
	var s serverEntry
	f, err := decodeObject(raw, at, "snowflake", "id", "name", "default", "password",
		"allowed_users", "passworded", "client_id", "users")
	if err != nil {
		return s, err
	}
	if s.snowflake, err = f.requiredString("snowflake"); err != nil {
		return s, err
	}
	if s.id, err = f.requiredString("id"); err != nil {
		return s, err
	}
	name, err := f.optionalString("name")
	if err != nil {
		return s, err
	}
	s.name = s.id
	if name != nil {
		s.name = *name
	}
	if s.isDefault, err = f.defaultBool("default"); err != nil {
		return s, err
	}
	if s.password, err = f.optionalString("password"); err != nil {
		return s, err
	}
	if s.allowedUsers, err = f.stringList("allowed_users"); err != nil {
		return s, err
	}
	passworded, err := f.optionalBool("passworded")
	if err != nil {
		return s, err
	}
	s.passworded = s.password != nil || len(s.allowedUsers) > 0
	if passworded != nil {
		s.passworded = *passworded
	}
	if s.clientID, err = f.optionalString("client_id"); err != nil {
		return s, err
	}
	users, err := f.array("users")
	if err != nil {
		return s, err
	}
	for i, item := range users {
		u, err := parseUser(item, fmt.Sprintf("%s.users[%d]", at, i))
		if err != nil {
			return s, err
		}
		s.users = append(s.users, u)
	}
	return s, nil
}

func parseUser(raw json.RawMessage, at string) (userEntry, error) {
	var u userEntry
	f, err := decodeObject(raw, at, "uid", "username", "status", "color")
	if err != nil {
		return u, err
	}
	if u.uid, err = f.requiredString("uid"); err != nil {
		return u, err
	}
	if u.username, err = f.requiredString("username"); err != nil {
		return u, err
	}
	u.status = 3 // offline
	if raw, ok := f.values["status"]; ok {
		name, err := f.asString("status", raw)
		if err != nil {
			return u, err
		}
		switch name {
		case "online":
			u.status = 0
		case "idle":
			u.status = 1
		case "dnd":
			u.status = 2
		case "offline":
			u.status = 3
		default:
			return u, fmt.Errorf("%s.status: unknown status %q, expected online, idle, dnd or offline", at, name)
		}
	}
	color, err := f.optionalString("color")
	if err != nil {
		return u, err
	}
	u.color = neutralColor
	if color != nil {
		u.color = *color
	}
	return u, nil
}

// fields is one JSON object: the raw values of its known fields.
type fields struct {
	at     string
	values map[string]json.RawMessage
}

// jsonKind names the type of a raw JSON value by its first byte.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func isNull(raw json.RawMessage) bool {
	return jsonKind(raw) == "null"
}

// decodeObject reads a JSON object, keeping the fields named in known.
func decodeObject(raw json.RawMessage, at string, known ...string) (*fields, error) {
	if kind := jsonKind(raw); kind != "an object" {
		return nil, fmt.Errorf("%s: expected an object, found %s", at, kind)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	f := &fields{at: at, values: map[string]json.RawMessage{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		key, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("%s.%s: %w", at, key, err)
		}
		for _, k := range known {
			if k == key {
				if _, dup := f.values[key]; dup {
					return nil, fmt.Errorf("%s: field `%s` given twice", at, key)
				}
				f.values[key] = value
			}
		}
	}
	return f, nil
}

// decodeArray reads a JSON array whose text is all of raw.
func decodeArray(raw json.RawMessage, at string) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	if tok != json.Delim('[') {
		return nil, fmt.Errorf("%s: expected an array, found %s", at, jsonKind(raw))
	}
	var items []json.RawMessage
	for dec.More() {
		var item json.RawMessage
		if err := dec.Decode(&item); err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", at, len(items), err)
		}
		items = append(items, item)
	}
	if _, err := dec.Token(); err != nil { // ]
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: unexpected text after the array", at)
	}
	return items, nil
}

func (f *fields) asString(key string, raw json.RawMessage) (string, error) {
	if kind := jsonKind(raw); kind != "a string" {
		return "", fmt.Errorf("%s.%s: expected a string, found %s", f.at, key, kind)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s.%s: %w", f.at, key, err)
	}
	return s, nil
}

func (f *fields) requiredString(key string) (string, error) {
	raw, ok := f.values[key]
	if !ok {
		return "", fmt.Errorf("%s: missing field `%s`", f.at, key)
	}
	return f.asString(key, raw)
}

func (f *fields) optionalString(key string) (*string, error) {
	raw, ok := f.values[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	s, err := f.asString(key, raw)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

func (f *fields) asBool(key string, raw json.RawMessage) (bool, error) {
	if kind := jsonKind(raw); kind != "a boolean" {
		return false, fmt.Errorf("%s.%s: expected a boolean, found %s", f.at, key, kind)
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, fmt.Errorf("%s.%s: %w", f.at, key, err)
	}
	return b, nil
}

// defaultBool: absent is false; null is an error.
func (f *fields) defaultBool(key string) (bool, error) {
	raw, ok := f.values[key]
	if !ok {
		return false, nil
	}
	return f.asBool(key, raw)
}

// optionalBool: absent or null is nil.
func (f *fields) optionalBool(key string) (*bool, error) {
	raw, ok := f.values[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	b, err := f.asBool(key, raw)
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// array: absent is empty; null is an error.
func (f *fields) array(key string) ([]json.RawMessage, error) {
	raw, ok := f.values[key]
	if !ok {
		return nil, nil
	}
	if kind := jsonKind(raw); kind != "an array" {
		return nil, fmt.Errorf("%s.%s: expected an array, found %s", f.at, key, kind)
	}
	return decodeArray(raw, f.at+"."+key)
}

func (f *fields) stringList(key string) ([]string, error) {
	items, err := f.array(key)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		s, err := f.asString(fmt.Sprintf("%s[%d]", key, i), item)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
