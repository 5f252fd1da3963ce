package plugin

// Status is a member's presence, as Discord reports it (WIT enum `status`).
type Status uint8

// The four presences, in the order of the WIT enum.
const (
	StatusOnline Status = iota
	StatusIdle
	StatusDnd
	StatusOffline
)

// String returns the WIT name of the status ("online", "idle", "dnd",
// "offline"), or "status(N)" for a value out of range.
func (s Status) String() string {
	switch s {
	case StatusOnline:
		return "online"
	case StatusIdle:
		return "idle"
	case StatusDnd:
		return "dnd"
	case StatusOffline:
		return "offline"
	}
	return "status(" + itoa(uint64(s)) + ")"
}

// Server is one Discord server (a "guild") the host offers to browsers
// (WIT record `server`).
type Server struct {
	// The guild's Discord snowflake, e.g. "232769614004748288". Non-empty
	// and unique within one GetServerData answer.
	Snowflake string
	// The short name browsers ask for, e.g. "dworld". Non-empty.
	ID string
	// Human-readable name, shown by d-zone.
	Name string
	// True when joining needs Discord OAuth2 (or the legacy password).
	Passworded bool
	// True for the server a browser gets when it asks for none.
	IsDefault bool
	// Legacy shared password; nil for none.
	Password *string
}

// User is one member of a server, drawn as an actor (WIT record `user`).
type User struct {
	// The member's Discord user id. Non-empty and unique within one answer.
	UID string
	// Display name. Non-empty.
	Username string
	Status   Status
	// Role color as "#rrggbb".
	RoleColor string
}

// DiscordUser is the Discord user object a browser sent with its OAuth2
// token (WIT record `discord-user`). Never trust it.
type DiscordUser struct {
	// The object's `id` field ("" when absent).
	ID string
	// The object's `username` field ("" when absent).
	Username string
	// The whole object as JSON text.
	RawJSON string
}

// StaticResponse is an HTTP response served by StaticRequest (WIT record
// `static-response`).
type StaticResponse struct {
	// HTTP status code in 100..=599; nil means 200.
	Status *uint16
	// Value of the Content-Type header.
	ContentType string
	// The response body.
	Body []byte
}

// Event is something the host broadcasts to every browser joined to a
// server (WIT variant `event`). It is one of PresenceEvent, MessageEvent
// and ClientIDEvent (values or non-nil pointers).
type Event interface {
	isEvent()
}

// PresenceEvent says a member's presence changed.
type PresenceEvent struct {
	// Snowflake of the server whose browsers get the event.
	Server string
	UID    string
	Status Status
	// Set it when the uid may be new to browsers; nil otherwise.
	Username *string
	// "#rrggbb", or nil.
	RoleColor *string
	// True removes the member's actor.
	Remove bool
}

// MessageEvent says a member wrote in a channel (a speech bubble).
type MessageEvent struct {
	Server  string
	UID     string
	Message string
	Channel string
}

// ClientIDEvent says the OAuth2 client id of a server changed.
type ClientIDEvent struct {
	Server   string
	ClientID string
}

func (PresenceEvent) isEvent() {}
func (MessageEvent) isEvent()  {}
func (ClientIDEvent) isEvent() {}

// Timer is a timer the host runs for the plugin (WIT record `timer`).
type Timer struct {
	// Passed back to OnTimer; unique within the plugin.
	Name string
	// Time between two firings, at least 100.
	IntervalMs uint32
}

// Some returns a pointer to a copy of v, for the optional fields:
// plugin.Some("hunter2"), plugin.Some[uint16](404).
func Some[T any](v T) *T {
	return &v
}

func itoa(v uint64) string {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(buf[i:])
		}
	}
}
