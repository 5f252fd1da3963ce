//! A tiny pseudo-random generator: the mock needs variety, not security.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// A number in `0..bound` (xorshift64*, seeded from the wall clock once).
pub fn below(bound: usize) -> usize {
    STATE.with(|state| {
        let mut x = state.get();
        if x == 0 {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0x9e37_79b9_7f4a_7c15);
            x = nanos | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % bound.max(1)
    })
}

/// One element of a non-empty slice, picked at random.
pub fn pick<T>(items: &[T]) -> &T {
    &items[below(items.len())]
}
