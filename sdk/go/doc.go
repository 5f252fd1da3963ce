// Package plugin writes d-back provider plugins in stock Go.
//
// A provider is a WebAssembly component targeting the `provider` world of
// d-back's wit/world.wit. This package is the Go side of that contract: it
// defines the world's exports with //go:wasmexport, calls the host's
// imports with //go:wasmimport, and converts between Go values and the
// component model's canonical ABI. A plugin implements Provider, registers
// it from an init function and leaves main empty:
//
//	package main
//
//	import "dback.dev/plugin"
//
//	type hello struct{ plugin.Defaults }
//
//	func (hello) GetServerData() ([]plugin.Server, error) {
//		return []plugin.Server{{Snowflake: "1", ID: "hello", Name: "Hello", IsDefault: true}}, nil
//	}
//
//	func init() { plugin.Register(hello{}) }
//	func main() {}
//
// Build it as a WASI preview1 reactor, then turn the core module into a
// component with d-back-componentize-go (tools/componentize-go in d-back):
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o core.wasm .
//	componentize-go --wit wit --world provider core.wasm -o plugin.wasm
//
// # Types
//
// Records are structs, option<T> is *T (Some builds one), list<T> is []T,
// the enums are Status and Level, and the variant event is the Event
// interface, implemented by PresenceEvent, MessageEvent and ClientIDEvent
// (as values or non-nil pointers). Strings that are not valid UTF-8 are
// sent with U+FFFD in place of the bad bytes.
//
// # Errors and panics
//
// An error returned by a Provider method becomes the WIT `err` value with
// the error's text; the host logs it and answers with the callback's safe
// fallback. A Provider method that answers something the WIT types cannot
// carry (a Status out of range, a nil Event) gets an `err` saying so.
//
// A panic is not turned into an `err`. The SDK logs "panic in <callback>:
// <value>" through the host at error level and lets the panic go on; Go's
// runtime prints it with its stack to stderr (which the host logs too) and
// aborts with an `unreachable` trap. The host contains the trap, discards
// the instance and answers with the fallback; the next call gets a fresh
// instance.
//
// # Instances and memory
//
// The host may call one instance many times, one call at a time, or throw
// it away at any time: package variables are a fine cache but may start
// empty. Goroutines run only while a callback is running (when it blocks);
// nothing runs between calls.
//
// Arguments from the host are copied into Go values before the Provider
// method runs, and answers are copied out of Go values, so a Provider may
// keep or reuse anything it receives or returns. Incoming data is received
// in memory reserved ahead of time, because the host calls cabi_realloc at
// moments when Go's runtime must not run a garbage collection: up to
// 64 KiB at first, growing to the largest batch seen so far, with a 4 MiB
// reserve outside the Go heap for a first large batch (for example a big
// config value). A single host call handing over more than that at once may
// trap the first time on an instance.
//
// The package also reserves 256 KiB of its data for the WASI preview1
// adapter's stack and state (see d-back-componentize-go). Its functions
// are not safe for concurrent use; a plugin has a single thread.
//
// Outside WebAssembly (go test on the build machine) Log writes to stderr
// and ConfigGet and ConfigAll read the values given to SetTestConfig, so a
// Provider can be unit-tested natively.
package plugin
