//go:build wasip1 && wasm

package plugin

// Linear memory shared with the host: cabi_realloc, answers kept until
// their cabi_post_* call, and the rule that keeps Go's runtime quiet while
// the host is in control.
//
// Ownership:
//   - cabi_realloc gives the host memory for the arguments of exports and the
//     results of imports. Both are copied into Go values as soon as Go runs
//     again and then released (releaseIncoming).
//   - An export's answer is laid out in one buffer, kept in `results` until
//     the host calls the matching cabi_post_* function.
//   - Buffers passed to imports are kept reachable until the import returns.
//
// Go's garbage collector never moves heap objects, so an address handed out
// stays valid as long as the buffer is reachable. Go stacks do move, which
// is why nothing on a stack is ever handed to the host.
//
// While the host runs cabi_realloc or a cabi_post_* function, the component
// model forbids calling any import, and Go's runtime calls WASI (clocks,
// timers) whenever an allocation starts or assists a garbage collection or
// grows the heap. So cabi_realloc does not allocate: it hands out memory
// reserved beforehand, first from `landing` (a Go buffer that grows, while
// Go is in control, to the largest batch of incoming data seen so far),
// then from `overflow` (a fixed array outside the Go heap, for a first
// large batch). Only a batch larger than both gets a Go allocation of its
// own, which can trap if the runtime happens to need the clock then.
// cabi_post_* only forgets a buffer.

import "unsafe"

type block []uint64

const (
	landingMin   = 64 << 10
	landingMax   = 64 << 20
	overflowSize = 4 << 20
)

var (
	// Reused buffer for incoming data, bump-allocated from landingUsed and
	// emptied by releaseIncoming.
	landing     block
	landingUsed uint32
	// Size the current batch of incoming data needs in one buffer.
	landingWanted uint64
	// Zeroed memory outside the Go heap (in the module's bss), used the same
	// way when landing is full.
	overflow     [overflowSize]byte
	overflowUsed uint32
	// Incoming buffers that did not fit in landing, by address.
	live = map[uint32]block{}
	// Addresses in live, oldest first.
	incoming []uint32
	// Answers of exports waiting for their cabi_post_* call, by address.
	results = map[uint32]block{}
	// Return area of the host imports (config-get needs 12 bytes).
	importRet [2]uint64
)

func init() {
	landing = make(block, landingMin/8)
}

func addressOf(b block) uint32 {
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

// newBlock returns a zeroed buffer of at least size bytes (and at least one
// word) and its address.
func newBlock(size uint32) (block, uint32) {
	b := make(block, (uint64(size)+7)/8+1)
	return b, addressOf(b)
}

//go:wasmexport cabi_realloc
func cabiRealloc(oldPtr, oldLen, align, newLen uint32) uint32 {
	if oldPtr != 0 && newLen <= oldLen {
		return oldPtr
	}
	if newLen == 0 {
		// A valid address that is never read, as for an empty slice.
		return align
	}
	ptr := allocate(align, newLen)
	if oldPtr != 0 && oldLen > 0 {
		copy(mem.bytes(ptr, oldLen), mem.bytes(oldPtr, oldLen))
	}
	return ptr
}

func allocate(align, size uint32) uint32 {
	if align == 0 {
		align = 1
	}
	landingWanted += uint64(size) + uint64(align)
	if ptr, ok := bump(addressOf(landing), uint32(len(landing))*8, &landingUsed, align, size); ok {
		return ptr
	}
	if ptr, ok := bump(uint32(uintptr(unsafe.Pointer(&overflow))), overflowSize, &overflowUsed, align, size); ok {
		return ptr
	}
	b, addr := newBlock(size + align)
	ptr := alignUp(addr, align)
	live[ptr] = b
	incoming = append(incoming, ptr)
	return ptr
}

// bump hands out size bytes aligned to align from the region of capacity
// bytes at base, of which *used are taken.
func bump(base, capacity uint32, used *uint32, align, size uint32) (uint32, bool) {
	start := uint64(alignUp(base+*used, align) - base)
	end := start + uint64(size)
	if end > uint64(capacity) {
		return 0, false
	}
	*used = uint32(end)
	return base + uint32(start), true
}

// releaseIncoming forgets everything cabi_realloc handed out since the last
// release: the arguments of the running export, or the results of the
// import that just returned, once they have been copied. It runs while Go
// is in control, so it may allocate: when the batch did not fit in landing,
// landing grows so that the next one of the same size does.
func releaseIncoming() {
	if landingWanted > uint64(len(landing))*8 && landingWanted <= landingMax {
		landing = make(block, (landingWanted+landingWanted/4+7)/8)
	}
	landingWanted = 0
	landingUsed = 0
	overflowUsed = 0
	for _, ptr := range incoming {
		delete(live, ptr)
	}
	incoming = incoming[:0]
}

// linearMemory reads and writes the module's own memory.
type linearMemory struct{}

func (linearMemory) bytes(addr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	// addr is inside a buffer this package keeps reachable (or importRet),
	// so the pointer always points into a live Go object.
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(nil), addr)), n)
}

var mem linearMemory

// answer copies an encoded answer into a buffer that lives until its
// cabi_post_* call and returns the address of its return area.
func answer(e *encoder) uint32 {
	b, base := newBlock(uint32(len(e.buf)))
	copy(mem.bytes(base, uint32(len(e.buf))), e.finish(base))
	results[base] = b
	return base
}

func postReturn(ptr uint32) {
	delete(results, ptr)
}
