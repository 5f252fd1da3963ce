package plugin

// The component model's canonical ABI for the types of d-back:plugin@0.1.0,
// written out by hand.
//
// Go on wasm has 8-byte ints and pointers while the canonical ABI lays
// values out in a 32-bit linear memory, so Go structs are never mapped onto
// ABI memory: every value is written and read field by field at the offsets
// below. This file has no wasm-only code, so it is tested natively.
//
// Layouts (size, alignment; field offsets):
//
//	string, list<T>          8, 4   ptr u32 @0, len u32 @4
//	option<string>          12, 4   tag u8 @0, string @4
//	option<u16>              4, 2   tag u8 @0, u16 @2
//	status, level (enums)    1, 1   u8
//	server                  40, 4   snowflake @0, id @8, name @16,
//	                                passworded @24, is-default @25,
//	                                password option<string> @28
//	user                    28, 4   uid @0, username @8, status @16,
//	                                role-color @20
//	timer                   12, 4   name @0, interval-ms u32 @8
//	static-response         20, 4   status option<u16> @0,
//	                                content-type @4, body @12
//	presence-event          48, 4   server @0, uid @8, status @16,
//	                                username option<string> @20,
//	                                role-color option<string> @32, remove @44
//	message-event           32, 4   server @0, uid @8, message @16, channel @24
//	client-id-event         16, 4   server @0, client-id @8
//	event (variant)         52, 4   tag u8 @0, payload @4
//	tuple<string, string>   16, 4   @0, @8
//
// Every export returns more than one flat value, so it returns a pointer to
// a return area the plugin owns until the host calls cabi_post_<export>:
//
//	result<list<T>, string>                   12, 4   tag @0, payload @4
//	result<option<static-response>, string>   28, 4   tag @0, payload @4
//	                                                  (option: tag @4, response @8)
//	result<bool, string>                      12, 4   tag @0, bool or string @4
//	result<option<string>, string>            16, 4   tag @0, payload @4
//	                                                  (option: tag @4, string @8)
//	list<timer>                                8, 4
//
// Imports that return more than one flat value (config-get's
// option<string>, config-all's list) take a pointer to a return area the
// plugin provides; the host allocates the strings and lists in it through
// cabi_realloc.

import (
	"encoding/binary"
	"errors"
	"strings"
	"unicode/utf8"
)

const (
	sizeString         = 8
	sizeOptionString   = 12
	sizeServer         = 40
	sizeUser           = 28
	sizeTimer          = 12
	sizeStaticResponse = 20
	sizePresenceEvent  = 48
	sizeEvent          = 52
	sizeConfigEntry    = 16

	sizeResultList           = 12
	sizeResultStaticResponse = 28
	sizeResultBool           = 12
	sizeResultOptionString   = 16
	sizeTimerList            = 8
)

// Variant case numbers.
const (
	tagOk  = 0
	tagErr = 1

	tagNone = 0
	tagSome = 1

	tagPresence = 0
	tagMessage  = 1
	tagClientID = 2
)

func alignUp(n, align uint32) uint32 {
	return (n + align - 1) &^ (align - 1)
}

// encoder lays canonical-ABI values out in one buffer. Offsets are relative
// to the start of the buffer, which is 8-aligned wherever it is placed;
// every field holding an address is remembered and relocated by finish once
// the buffer's address is known.
type encoder struct {
	buf    []byte
	relocs []uint32
}

// reserve appends size zero bytes at the next multiple of align and returns
// their offset.
func (e *encoder) reserve(size, align uint32) uint32 {
	off := alignUp(uint32(len(e.buf)), align)
	end := off + size
	if end > uint32(cap(e.buf)) {
		grown := make([]byte, len(e.buf), 2*end+64)
		copy(grown, e.buf)
		e.buf = grown
	}
	e.buf = e.buf[:end]
	clear(e.buf[off:end])
	return off
}

func (e *encoder) u8(off uint32, v uint8) {
	e.buf[off] = v
}

func (e *encoder) bool(off uint32, v bool) {
	if v {
		e.buf[off] = 1
	} else {
		e.buf[off] = 0
	}
}

func (e *encoder) u16(off uint32, v uint16) {
	binary.LittleEndian.PutUint16(e.buf[off:], v)
}

func (e *encoder) u32(off uint32, v uint32) {
	binary.LittleEndian.PutUint32(e.buf[off:], v)
}

// ptr writes the buffer-relative address target at off.
func (e *encoder) ptr(off, target uint32) {
	e.u32(off, target)
	e.relocs = append(e.relocs, off)
}

// bytes writes (ptr, len) of a copy of b at off.
func (e *encoder) bytes(off uint32, b []byte) {
	if len(b) == 0 {
		e.u32(off, 0)
		e.u32(off+4, 0)
		return
	}
	at := e.reserve(uint32(len(b)), 1)
	copy(e.buf[at:], b)
	e.ptr(off, at)
	e.u32(off+4, uint32(len(b)))
}

// str writes the string s at off. Invalid UTF-8 (which the host would
// reject as a trap) becomes U+FFFD.
func (e *encoder) str(off uint32, s string) {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) == 0 {
		e.u32(off, 0)
		e.u32(off+4, 0)
		return
	}
	at := e.reserve(uint32(len(s)), 1)
	copy(e.buf[at:], s)
	e.ptr(off, at)
	e.u32(off+4, uint32(len(s)))
}

// optStr writes an option<string> at off.
func (e *encoder) optStr(off uint32, s *string) {
	if s == nil {
		e.u8(off, tagNone)
		return
	}
	e.u8(off, tagSome)
	e.str(off+4, *s)
}

// list reserves n elements of size and align, writes (ptr, len) at off and
// returns the offset of the first element.
func (e *encoder) list(off, n, size, align uint32) uint32 {
	if n == 0 {
		e.u32(off, 0)
		e.u32(off+4, 0)
		return 0
	}
	at := e.reserve(n*size, align)
	e.ptr(off, at)
	e.u32(off+4, n)
	return at
}

// finish relocates every address by base, the address the buffer will have
// in linear memory, and returns the buffer.
func (e *encoder) finish(base uint32) []byte {
	for _, off := range e.relocs {
		e.u32(off, binary.LittleEndian.Uint32(e.buf[off:])+base)
	}
	e.relocs = e.relocs[:0]
	return e.buf
}

func checkStatus(s Status) error {
	if s > StatusOffline {
		return errors.New("invalid status " + s.String())
	}
	return nil
}

func putServer(e *encoder, off uint32, s *Server) {
	e.str(off, s.Snowflake)
	e.str(off+8, s.ID)
	e.str(off+16, s.Name)
	e.bool(off+24, s.Passworded)
	e.bool(off+25, s.IsDefault)
	e.optStr(off+28, s.Password)
}

func putUser(e *encoder, off uint32, u *User) error {
	if err := checkStatus(u.Status); err != nil {
		return errors.New("user " + u.UID + ": " + err.Error())
	}
	e.str(off, u.UID)
	e.str(off+8, u.Username)
	e.u8(off+16, uint8(u.Status))
	e.str(off+20, u.RoleColor)
	return nil
}

func putTimer(e *encoder, off uint32, t *Timer) {
	e.str(off, t.Name)
	e.u32(off+8, t.IntervalMs)
}

func putStaticResponse(e *encoder, off uint32, r *StaticResponse) {
	if r.Status == nil {
		e.u8(off, tagNone)
	} else {
		e.u8(off, tagSome)
		e.u16(off+2, *r.Status)
	}
	e.str(off+4, r.ContentType)
	e.bytes(off+12, r.Body)
}

func putEvent(e *encoder, off uint32, ev Event) error {
	switch v := ev.(type) {
	case PresenceEvent:
		return putPresence(e, off, &v)
	case *PresenceEvent:
		if v != nil {
			return putPresence(e, off, v)
		}
	case MessageEvent:
		putMessage(e, off, &v)
		return nil
	case *MessageEvent:
		if v != nil {
			putMessage(e, off, v)
			return nil
		}
	case ClientIDEvent:
		putClientID(e, off, &v)
		return nil
	case *ClientIDEvent:
		if v != nil {
			putClientID(e, off, v)
			return nil
		}
	}
	return errors.New("nil event")
}

func putPresence(e *encoder, off uint32, p *PresenceEvent) error {
	if err := checkStatus(p.Status); err != nil {
		return errors.New("presence event for " + p.UID + ": " + err.Error())
	}
	e.u8(off, tagPresence)
	off += 4
	e.str(off, p.Server)
	e.str(off+8, p.UID)
	e.u8(off+16, uint8(p.Status))
	e.optStr(off+20, p.Username)
	e.optStr(off+32, p.RoleColor)
	e.bool(off+44, p.Remove)
	return nil
}

func putMessage(e *encoder, off uint32, m *MessageEvent) {
	e.u8(off, tagMessage)
	off += 4
	e.str(off, m.Server)
	e.str(off+8, m.UID)
	e.str(off+16, m.Message)
	e.str(off+24, m.Channel)
}

func putClientID(e *encoder, off uint32, c *ClientIDEvent) {
	e.u8(off, tagClientID)
	off += 4
	e.str(off, c.Server)
	e.str(off+8, c.ClientID)
}

// errResult writes err(message) into a fresh result<_, string> return area.
func errResult(size uint32, err error) *encoder {
	e := &encoder{}
	ret := e.reserve(size, 4)
	e.u8(ret, tagErr)
	msg := err.Error()
	if msg == "" {
		msg = "error"
	}
	e.str(ret+4, msg)
	return e
}

// The encode* functions build the return area of one export at offset 0 of
// a new encoder, followed by everything it points to.

func encodeServers(servers []Server, err error) *encoder {
	if err != nil {
		return errResult(sizeResultList, err)
	}
	e := &encoder{}
	ret := e.reserve(sizeResultList, 4)
	e.u8(ret, tagOk)
	at := e.list(ret+4, uint32(len(servers)), sizeServer, 4)
	for i := range servers {
		putServer(e, at+uint32(i)*sizeServer, &servers[i])
	}
	return e
}

func encodeUsers(users []User, err error) *encoder {
	if err != nil {
		return errResult(sizeResultList, err)
	}
	e := &encoder{}
	ret := e.reserve(sizeResultList, 4)
	e.u8(ret, tagOk)
	at := e.list(ret+4, uint32(len(users)), sizeUser, 4)
	for i := range users {
		if err := putUser(e, at+uint32(i)*sizeUser, &users[i]); err != nil {
			return errResult(sizeResultList, err)
		}
	}
	return e
}

func encodeStaticResponse(r *StaticResponse, err error) *encoder {
	if err != nil {
		return errResult(sizeResultStaticResponse, err)
	}
	e := &encoder{}
	ret := e.reserve(sizeResultStaticResponse, 4)
	e.u8(ret, tagOk)
	if r == nil {
		e.u8(ret+4, tagNone)
		return e
	}
	e.u8(ret+4, tagSome)
	putStaticResponse(e, ret+8, r)
	return e
}

func encodeBool(ok bool, err error) *encoder {
	if err != nil {
		return errResult(sizeResultBool, err)
	}
	e := &encoder{}
	ret := e.reserve(sizeResultBool, 4)
	e.u8(ret, tagOk)
	e.bool(ret+4, ok)
	return e
}

func encodeOptionString(s *string, err error) *encoder {
	if err != nil {
		return errResult(sizeResultOptionString, err)
	}
	e := &encoder{}
	ret := e.reserve(sizeResultOptionString, 4)
	e.u8(ret, tagOk)
	e.optStr(ret+4, s)
	return e
}

func encodeTimers(timers []Timer) *encoder {
	e := &encoder{}
	ret := e.reserve(sizeTimerList, 4)
	at := e.list(ret, uint32(len(timers)), sizeTimer, 4)
	for i := range timers {
		putTimer(e, at+uint32(i)*sizeTimer, &timers[i])
	}
	return e
}

func encodeEvents(events []Event, err error) *encoder {
	if err != nil {
		return errResult(sizeResultList, err)
	}
	e := &encoder{}
	ret := e.reserve(sizeResultList, 4)
	e.u8(ret, tagOk)
	at := e.list(ret+4, uint32(len(events)), sizeEvent, 4)
	for i, ev := range events {
		if err := putEvent(e, at+uint32(i)*sizeEvent, ev); err != nil {
			return errResult(sizeResultList, errors.New("event "+itoa(uint64(i))+": "+err.Error()))
		}
	}
	return e
}

// memory is read access to linear memory: n bytes at addr. The wasm build
// reads the module's own memory; tests use a byte slice.
type memory interface {
	bytes(addr, n uint32) []byte
}

func loadU32(m memory, addr uint32) uint32 {
	return binary.LittleEndian.Uint32(m.bytes(addr, 4))
}

// loadString copies the string of n bytes at ptr.
func loadString(m memory, ptr, n uint32) string {
	if n == 0 {
		return ""
	}
	return string(m.bytes(ptr, n))
}

// loadStringList copies the list<string> of n elements at ptr.
func loadStringList(m memory, ptr, n uint32) []string {
	out := make([]string, n)
	for i := range out {
		at := ptr + uint32(i)*sizeString
		out[i] = loadString(m, loadU32(m, at), loadU32(m, at+4))
	}
	return out
}

// loadOptionString reads the option<string> at addr.
func loadOptionString(m memory, addr uint32) (string, bool) {
	if m.bytes(addr, 1)[0] == tagNone {
		return "", false
	}
	return loadString(m, loadU32(m, addr+4), loadU32(m, addr+8)), true
}

// ConfigEntry is one configuration value: a key and its text.
type ConfigEntry struct {
	Key   string
	Value string
}

// loadConfigEntries reads the list<tuple<string, string>> of n elements at
// ptr.
func loadConfigEntries(m memory, ptr, n uint32) []ConfigEntry {
	out := make([]ConfigEntry, n)
	for i := range out {
		at := ptr + uint32(i)*sizeConfigEntry
		out[i] = ConfigEntry{
			Key:   loadString(m, loadU32(m, at), loadU32(m, at+4)),
			Value: loadString(m, loadU32(m, at+8), loadU32(m, at+12)),
		}
	}
	return out
}
