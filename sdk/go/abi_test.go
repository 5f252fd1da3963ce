package plugin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// fakeMemory is linear memory holding data at base.
type fakeMemory struct {
	base uint32
	data []byte
}

func (m fakeMemory) bytes(addr, n uint32) []byte {
	if addr < m.base || uint64(addr)+uint64(n) > uint64(m.base)+uint64(len(m.data)) {
		panic("read outside fake memory")
	}
	return m.data[addr-m.base : addr-m.base+n]
}

// placed is an encoded answer as the host sees it: its bytes at base.
type placed struct {
	t    *testing.T
	base uint32
	buf  []byte
}

const testBase uint32 = 0x10008 // 8-aligned, like every Go []uint64 buffer

func place(t *testing.T, e *encoder) placed {
	t.Helper()
	buf := e.finish(testBase)
	return placed{t, testBase, append([]byte(nil), buf...)}
}

func (p placed) u8(addr uint32) uint8 {
	p.t.Helper()
	return p.buf[p.off(addr, 1)]
}

func (p placed) u16(addr uint32) uint16 {
	p.t.Helper()
	return binary.LittleEndian.Uint16(p.buf[p.off(addr, 2):])
}

func (p placed) u32(addr uint32) uint32 {
	p.t.Helper()
	return binary.LittleEndian.Uint32(p.buf[p.off(addr, 4):])
}

func (p placed) off(addr, n uint32) uint32 {
	p.t.Helper()
	if addr < p.base || addr+n > p.base+uint32(len(p.buf)) {
		p.t.Fatalf("address %#x (+%d) outside the answer [%#x, %#x)", addr, n, p.base, p.base+uint32(len(p.buf)))
	}
	return addr - p.base
}

// str reads the (ptr, len) pair at addr and the bytes it points to.
func (p placed) str(addr uint32) string {
	p.t.Helper()
	ptr, n := p.u32(addr), p.u32(addr+4)
	if n == 0 {
		return ""
	}
	return string(p.buf[p.off(ptr, n) : p.off(ptr, n)+n])
}

// optStr reads an option<string> at addr.
func (p placed) optStr(addr uint32) *string {
	p.t.Helper()
	switch p.u8(addr) {
	case 0:
		return nil
	case 1:
		s := p.str(addr + 4)
		return &s
	}
	p.t.Fatalf("option tag %d at %#x", p.u8(addr), addr)
	return nil
}

// list checks the (ptr, len) pair at addr and returns ptr and len.
func (p placed) list(addr, align uint32) (uint32, uint32) {
	p.t.Helper()
	ptr, n := p.u32(addr), p.u32(addr+4)
	if n > 0 && ptr%align != 0 {
		p.t.Fatalf("list at %#x is not %d-aligned", ptr, align)
	}
	return ptr, n
}

func eqPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func TestCanonicalSizes(t *testing.T) {
	// Sizes from the canonical ABI's rules (fields aligned to their
	// alignment, total rounded up to the record's alignment).
	for name, got := range map[string][2]uint32{
		"option<string>":         {sizeOptionString, 12},
		"server":                 {sizeServer, 40},
		"user":                   {sizeUser, 28},
		"timer":                  {sizeTimer, 12},
		"static-response":        {sizeStaticResponse, 20},
		"presence-event":         {sizePresenceEvent, 48},
		"event":                  {sizeEvent, 52},
		"tuple<string,string>":   {sizeConfigEntry, 16},
		"result<list,string>":    {sizeResultList, 12},
		"result<opt<resp>,str>":  {sizeResultStaticResponse, 28},
		"result<bool,string>":    {sizeResultBool, 12},
		"result<opt<str>,str>":   {sizeResultOptionString, 16},
		"list<timer> (ret area)": {sizeTimerList, 8},
	} {
		if got[0] != got[1] {
			t.Errorf("%s: size %d, want %d", name, got[0], got[1])
		}
	}
}

func TestServers(t *testing.T) {
	servers := []Server{
		{Snowflake: "500000000000000001", ID: "town", Name: "Town Square", IsDefault: true},
		{Snowflake: "500000000000000002", ID: "club", Name: "", Passworded: true, Password: Some("hunter2")},
	}
	p := place(t, encodeServers(servers, nil))
	if p.u8(testBase) != tagOk {
		t.Fatalf("tag %d, want ok", p.u8(testBase))
	}
	ptr, n := p.list(testBase+4, 4)
	if n != 2 {
		t.Fatalf("len %d, want 2", n)
	}
	for i, want := range servers {
		at := ptr + uint32(i)*40
		got := Server{
			Snowflake:  p.str(at),
			ID:         p.str(at + 8),
			Name:       p.str(at + 16),
			Passworded: p.u8(at+24) == 1,
			IsDefault:  p.u8(at+25) == 1,
			Password:   p.optStr(at + 28),
		}
		if got.Snowflake != want.Snowflake || got.ID != want.ID || got.Name != want.Name ||
			got.Passworded != want.Passworded || got.IsDefault != want.IsDefault || !eqPtr(got.Password, want.Password) {
			t.Errorf("server %d: got %+v, want %+v", i, got, want)
		}
		for _, b := range []uint32{at + 24, at + 25} {
			if v := p.u8(b); v > 1 {
				t.Errorf("server %d: bool byte %d at %#x", i, v, b)
			}
		}
	}
	// The empty name is (0, 0); padding after the bools is zero.
	if p.u32(ptr+40+16) != 0 || p.u32(ptr+40+20) != 0 {
		t.Errorf("empty string is not (0, 0)")
	}
	if p.u8(ptr+26) != 0 || p.u8(ptr+27) != 0 {
		t.Errorf("padding not zero")
	}
}

func TestEmptyListAndError(t *testing.T) {
	p := place(t, encodeServers(nil, nil))
	if p.u8(testBase) != tagOk || p.u32(testBase+4) != 0 || p.u32(testBase+8) != 0 {
		t.Fatalf("empty list: % x", p.buf)
	}
	if len(p.buf) != sizeResultList {
		t.Errorf("empty answer is %d bytes, want %d", len(p.buf), sizeResultList)
	}
	p = place(t, encodeServers([]Server{{Snowflake: "1", ID: "x"}}, errors.New("config key `servers` is not set")))
	if p.u8(testBase) != tagErr || p.str(testBase+4) != "config key `servers` is not set" {
		t.Fatalf("err: tag %d, %q", p.u8(testBase), p.str(testBase+4))
	}
	p = place(t, encodeUsers(nil, errors.New("")))
	if p.u8(testBase) != tagErr || p.str(testBase+4) == "" {
		t.Errorf("an empty error message must still say something")
	}
}

func TestUsers(t *testing.T) {
	users := []User{
		{UID: "1", Username: "ada", Status: StatusDnd, RoleColor: "#e91e63"},
		{UID: "2", Username: "brian", Status: StatusOffline, RoleColor: "#99aab5"},
		{UID: "3", Username: "cy", Status: StatusOnline, RoleColor: "#000000"},
	}
	p := place(t, encodeUsers(users, nil))
	ptr, n := p.list(testBase+4, 4)
	if p.u8(testBase) != tagOk || n != 3 {
		t.Fatalf("tag %d len %d", p.u8(testBase), n)
	}
	for i, want := range users {
		at := ptr + uint32(i)*28
		got := User{UID: p.str(at), Username: p.str(at + 8), Status: Status(p.u8(at + 16)), RoleColor: p.str(at + 20)}
		if got != want {
			t.Errorf("user %d: got %+v, want %+v", i, got, want)
		}
	}
}

func TestInvalidStatusIsAnError(t *testing.T) {
	p := place(t, encodeUsers([]User{{UID: "9", Username: "x", Status: 7}}, nil))
	if p.u8(testBase) != tagErr || !strings.Contains(p.str(testBase+4), "status(7)") {
		t.Fatalf("got tag %d %q", p.u8(testBase), p.str(testBase+4))
	}
	p = place(t, encodeEvents([]Event{PresenceEvent{Server: "1", UID: "2", Status: 4}}, nil))
	if p.u8(testBase) != tagErr {
		t.Fatalf("presence with status 4: tag %d", p.u8(testBase))
	}
}

func TestEvents(t *testing.T) {
	events := []Event{
		PresenceEvent{Server: "s1", UID: "u1", Status: StatusIdle, Username: Some("ada"), RoleColor: Some("#e91e63")},
		&MessageEvent{Server: "s2", UID: "u2", Message: "hello!", Channel: "c"},
		ClientIDEvent{Server: "s3", ClientID: "900"},
		&PresenceEvent{Server: "s4", UID: "u4", Status: StatusOffline, Remove: true},
	}
	p := place(t, encodeEvents(events, nil))
	ptr, n := p.list(testBase+4, 4)
	if p.u8(testBase) != tagOk || n != 4 {
		t.Fatalf("tag %d len %d", p.u8(testBase), n)
	}
	at := func(i uint32) uint32 { return ptr + i*52 }

	if p.u8(at(0)) != tagPresence {
		t.Fatalf("event 0 tag %d", p.u8(at(0)))
	}
	e := at(0) + 4
	if p.str(e) != "s1" || p.str(e+8) != "u1" || p.u8(e+16) != uint8(StatusIdle) ||
		!eqPtr(p.optStr(e+20), Some("ada")) || !eqPtr(p.optStr(e+32), Some("#e91e63")) || p.u8(e+44) != 0 {
		t.Errorf("presence event decoded wrong: % x", p.buf[p.off(at(0), 52):p.off(at(0), 52)+52])
	}

	if p.u8(at(1)) != tagMessage {
		t.Fatalf("event 1 tag %d", p.u8(at(1)))
	}
	e = at(1) + 4
	if p.str(e) != "s2" || p.str(e+8) != "u2" || p.str(e+16) != "hello!" || p.str(e+24) != "c" {
		t.Errorf("message event decoded wrong")
	}

	if p.u8(at(2)) != tagClientID {
		t.Fatalf("event 2 tag %d", p.u8(at(2)))
	}
	e = at(2) + 4
	if p.str(e) != "s3" || p.str(e+8) != "900" {
		t.Errorf("client-id event decoded wrong")
	}

	e = at(3) + 4
	if p.u8(at(3)) != tagPresence || p.optStr(e+20) != nil || p.optStr(e+32) != nil || p.u8(e+44) != 1 {
		t.Errorf("presence event with none and remove decoded wrong")
	}
}

func TestNilEventIsAnError(t *testing.T) {
	var nilMessage *MessageEvent
	for _, ev := range []Event{nil, nilMessage} {
		p := place(t, encodeEvents([]Event{MessageEvent{Server: "1"}, ev}, nil))
		if p.u8(testBase) != tagErr || !strings.Contains(p.str(testBase+4), "event 1") {
			t.Errorf("%#v: tag %d %q", ev, p.u8(testBase), p.str(testBase+4))
		}
	}
}

func TestStaticResponse(t *testing.T) {
	p := place(t, encodeStaticResponse(nil, nil))
	if len(p.buf) != 28 || p.u8(testBase) != tagOk || p.u8(testBase+4) != tagNone {
		t.Fatalf("none: % x", p.buf)
	}
	body := []byte("<h1>hi</h1>")
	p = place(t, encodeStaticResponse(&StaticResponse{Status: Some[uint16](404), ContentType: "text/html", Body: body}, nil))
	r := testBase + 8
	if p.u8(testBase) != tagOk || p.u8(testBase+4) != tagSome {
		t.Fatalf("tags % x", p.buf[:8])
	}
	if p.u8(r) != tagSome || p.u16(r+2) != 404 || p.str(r+4) != "text/html" || p.str(r+12) != string(body) {
		t.Errorf("response decoded wrong: % x", p.buf[:28])
	}
	p = place(t, encodeStaticResponse(&StaticResponse{ContentType: "text/plain"}, nil))
	if p.u8(testBase+8) != tagNone || p.u32(testBase+8+12) != 0 || p.u32(testBase+8+16) != 0 {
		t.Errorf("status none / empty body decoded wrong")
	}
	p = place(t, encodeStaticResponse(nil, errors.New("nope")))
	if p.u8(testBase) != tagErr || p.str(testBase+4) != "nope" {
		t.Errorf("err decoded wrong")
	}
}

func TestBoolAndOptionString(t *testing.T) {
	for _, want := range []bool{false, true} {
		p := place(t, encodeBool(want, nil))
		if len(p.buf) != 12 || p.u8(testBase) != tagOk || p.u8(testBase+4) != map[bool]uint8{false: 0, true: 1}[want] {
			t.Errorf("bool %v: % x", want, p.buf)
		}
	}
	p := place(t, encodeOptionString(nil, nil))
	if len(p.buf) != 16 || p.u8(testBase) != tagOk || p.optStr(testBase+4) != nil {
		t.Errorf("none: % x", p.buf)
	}
	p = place(t, encodeOptionString(Some("900000000000000002"), nil))
	if p.u8(testBase) != tagOk || !eqPtr(p.optStr(testBase+4), Some("900000000000000002")) {
		t.Errorf("some: % x", p.buf)
	}
	p = place(t, encodeOptionString(Some("x"), errors.New("bad")))
	if p.u8(testBase) != tagErr || p.str(testBase+4) != "bad" {
		t.Errorf("err: % x", p.buf)
	}
}

func TestTimers(t *testing.T) {
	p := place(t, encodeTimers([]Timer{{Name: "presence", IntervalMs: 3000}, {Name: "greet", IntervalMs: 100}}))
	ptr, n := p.list(testBase, 4)
	if n != 2 {
		t.Fatalf("len %d", n)
	}
	if p.str(ptr) != "presence" || p.u32(ptr+8) != 3000 || p.str(ptr+12) != "greet" || p.u32(ptr+20) != 100 {
		t.Errorf("timers decoded wrong: % x", p.buf)
	}
}

func TestInvalidUTF8IsReplaced(t *testing.T) {
	p := place(t, encodeServers([]Server{{Snowflake: "1", ID: "a\xffb", Name: "ok"}}, nil))
	ptr, _ := p.list(testBase+4, 4)
	if got := p.str(ptr + 8); got != "a\uFFFDb" {
		t.Errorf("got %q", got)
	}
}

func TestRelocationUsesBase(t *testing.T) {
	// The same answer placed at two addresses differs only in its pointers.
	enc := func() *encoder { return encodeUsers([]User{{UID: "1", Username: "ada", RoleColor: "#000000"}}, nil) }
	a := enc().finish(0x1000)
	b := enc().finish(0x9000)
	if len(a) != len(b) {
		t.Fatalf("lengths differ")
	}
	diff := 0
	for i := 0; i+4 <= len(a); i += 4 {
		x, y := binary.LittleEndian.Uint32(a[i:]), binary.LittleEndian.Uint32(b[i:])
		if x != y {
			diff++
			if y-x != 0x8000 {
				t.Errorf("word %d: %#x vs %#x", i/4, x, y)
			}
		}
	}
	// The list pointer and three string pointers.
	if diff != 4 {
		t.Errorf("%d words relocated, want 4", diff)
	}
}

func TestLoads(t *testing.T) {
	const base = 0x2000
	mem := fakeMemory{base: base, data: make([]byte, 256)}
	put := func(addr, v uint32) { binary.LittleEndian.PutUint32(mem.data[addr-base:], v) }
	text := func(addr uint32, s string) { copy(mem.data[addr-base:], s) }

	// list<string> at 0x2000: ["town", "", "club"]
	text(0x2080, "town")
	text(0x2090, "club")
	put(0x2000, 0x2080)
	put(0x2004, 4)
	put(0x2008, 0)
	put(0x200c, 0)
	put(0x2010, 0x2090)
	put(0x2014, 4)
	got := loadStringList(mem, 0x2000, 3)
	if strings.Join(got, ",") != "town,,club" {
		t.Errorf("loadStringList: %q", got)
	}
	if len(loadStringList(mem, 0, 0)) != 0 {
		t.Errorf("empty list")
	}

	// option<string> at 0x2020: some("club"); at 0x2030: none
	mem.data[0x2020-base] = 1
	put(0x2024, 0x2090)
	put(0x2028, 4)
	if s, ok := loadOptionString(mem, 0x2020); !ok || s != "club" {
		t.Errorf("some: %q %v", s, ok)
	}
	if s, ok := loadOptionString(mem, 0x2030); ok || s != "" {
		t.Errorf("none: %q %v", s, ok)
	}

	// list<tuple<string, string>> at 0x2040: [("town", "club")]
	put(0x2040, 0x2080)
	put(0x2044, 4)
	put(0x2048, 0x2090)
	put(0x204c, 4)
	entries := loadConfigEntries(mem, 0x2040, 1)
	if len(entries) != 1 || entries[0] != (ConfigEntry{"town", "club"}) {
		t.Errorf("loadConfigEntries: %+v", entries)
	}

	// The loads copy: changing memory afterwards does not change them.
	copy(mem.data[0x2080-base:], "XXXX")
	if got[0] != "town" || entries[0].Key != "town" {
		t.Errorf("loads alias linear memory")
	}
}

type stubProvider struct {
	Defaults
	servers []Server
	err     error
	gotUser DiscordUser
}

func (s *stubProvider) GetServerData() ([]Server, error) { return s.servers, s.err }
func (s *stubProvider) ValidateDiscordUser(token string, u DiscordUser, server string) (bool, error) {
	s.gotUser = u
	return token == "t" && u.ID == "1" && server == "s", nil
}

func TestDispatch(t *testing.T) {
	defer func() { registered = nil }()
	registered = nil
	p := place(t, callGetServerData())
	if p.u8(testBase) != tagErr || !strings.Contains(p.str(testBase+4), "plugin.Register") {
		t.Fatalf("without a provider: tag %d %q", p.u8(testBase), p.str(testBase+4))
	}
	if p := place(t, callTimers()); p.u32(testBase+4) != 0 {
		t.Errorf("timers without a provider")
	}

	stub := &stubProvider{servers: []Server{{Snowflake: "1", ID: "one"}}}
	Register(stub)
	p = place(t, callGetServerData())
	if _, n := p.list(testBase+4, 4); p.u8(testBase) != tagOk || n != 1 {
		t.Errorf("get-server-data through the provider")
	}
	p = place(t, callValidateDiscordUser("t", DiscordUser{ID: "1", Username: "ada", RawJSON: `{"id":"1"}`}, "s"))
	if p.u8(testBase) != tagOk || p.u8(testBase+4) != 1 || stub.gotUser.RawJSON != `{"id":"1"}` {
		t.Errorf("validate-discord-user: % x %+v", p.buf, stub.gotUser)
	}
	// Defaults answer the rest safely.
	if p := place(t, callGetUserData("1")); p.u8(testBase) != tagOk || p.u32(testBase+8) != 0 {
		t.Errorf("default get-user-data")
	}
	if p := place(t, callStaticRequest("/")); p.u8(testBase+4) != tagNone {
		t.Errorf("default static-request")
	}
	if p := place(t, callGetClientID("1")); p.u8(testBase+4) != tagNone {
		t.Errorf("default get-client-id")
	}
	if p := place(t, callOnTimer("x", []string{"1"})); p.u8(testBase) != tagOk || p.u32(testBase+8) != 0 {
		t.Errorf("default on-timer")
	}

	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("a second Register must panic")
			}
		}()
		Register(stub)
	}()
}

func TestEncoderGrowsWithoutMovingOffsets(t *testing.T) {
	var e encoder
	first := e.reserve(12, 4)
	long := strings.Repeat("x", 10000)
	e.str(first+4, long)
	buf := e.finish(0)
	ptr := binary.LittleEndian.Uint32(buf[first+4:])
	if !bytes.Equal(buf[ptr:ptr+10000], []byte(long)) {
		t.Errorf("string not where its pointer says")
	}
}
