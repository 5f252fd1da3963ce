//go:build wasip1 && wasm

package plugin

// The host imports, and the public functions that call them.

import (
	"strings"
	"unicode/utf8"
)

//go:wasmimport d-back:plugin/host@0.1.0 log
func hostLog(level, msgPtr, msgLen uint32)

//go:wasmimport d-back:plugin/host@0.1.0 config-get
func hostConfigGet(keyPtr, keyLen, ret uint32)

//go:wasmimport d-back:plugin/host@0.1.0 config-all
func hostConfigAll(ret uint32)

// pinned keeps the buffer an import reads reachable (and off the stack)
// until the import returns.
var pinned block

// pinString copies s into a heap buffer held by pinned and returns its
// address and length.
func pinString(s string) (uint32, uint32) {
	b, ptr := newBlock(uint32(len(s)))
	copy(mem.bytes(ptr, uint32(len(s))), s)
	pinned = b
	return ptr, uint32(len(s))
}

// Log writes one line to the host's log, tagged with the plugin's name.
// Invalid UTF-8 is replaced by U+FFFD.
func Log(level Level, message string) {
	if level > LevelError {
		level = LevelError
	}
	if !utf8.ValidString(message) {
		message = strings.ToValidUTF8(message, "\uFFFD")
	}
	ptr, n := pinString(message)
	hostLog(uint32(level), ptr, n)
	pinned = nil
}

// ConfigGet returns the operator's value for key in this plugin's section
// of the host config, and whether it is set.
func ConfigGet(key string) (string, bool) {
	ptr, n := pinString(key)
	importRet = [2]uint64{}
	ret := addressOf(importRet[:])
	hostConfigGet(ptr, n, ret)
	pinned = nil
	value, ok := loadOptionString(mem, ret)
	releaseIncoming()
	return value, ok
}

// ConfigAll returns every configuration value the operator set for this
// plugin, sorted by key.
func ConfigAll() []ConfigEntry {
	importRet = [2]uint64{}
	ret := addressOf(importRet[:])
	hostConfigAll(ret)
	entries := loadConfigEntries(mem, loadU32(mem, ret), loadU32(mem, ret+4))
	releaseIncoming()
	return entries
}
