//go:build wasip1 && wasm

package plugin

// The adapter arena: memory for the WASI preview1 adapter that turns this
// module into a component.
//
// The adapter needs about 64 KiB for its stack plus its state, and it first
// needs them while Go's runtime is still starting (the runtime reads the
// clock and random bytes through WASI inside _initialize). It cannot get
// them from Go: a go:wasmexport function called before the runtime is up
// traps. It must not take them with memory.grow either: Go's allocator
// treats all memory above its data, up to the size it last saw, as its own,
// and grows memory assuming nobody else does.
//
// So the SDK reserves this array in Go's initialised data, where Go's
// allocator never hands anything out. It starts with a 16-byte marker and
// its size; d-back-componentize-go finds the marker in the module's data
// segments and adds a bump allocator over the rest of the array, exported
// as cabi_realloc_adapter, which the adapter uses instead of cabi_realloc.
// Go code never touches the array past the header.

const arenaSize = 256 << 10

var adapterArena = [arenaSize]byte{
	0xb5, 0xb9, 0x0d, 0xb5, 0x22, 0xe8, 0x1a, 0x7f, 0xab, 0x14, 0xe7, 0xe6, 0x59, 0x21, 0x8e, 0x9f,
	arenaSize & 0xff, arenaSize >> 8 & 0xff, arenaSize >> 16 & 0xff, arenaSize >> 24 & 0xff,
}

func init() {
	// Reading the array keeps it in the binary (the linker drops
	// unreferenced data) and checks nothing overwrote its header.
	if adapterArena[0] != 0xb5 || adapterArena[15] != 0x9f {
		panic("d-back plugin SDK: the adapter arena's header was overwritten")
	}
}
