//! How much may be written to the log about one source (a plugin's own
//! lines, the host's reports of its failures, refused connections): a
//! budget of bytes per second, with a count of what was held back. Past the
//! budget lines are dropped, never queued, so a loud source costs the host
//! no more than its budget.

use std::sync::Mutex;
use std::time::Instant;

use super::TokenBucket;

/// What a short line costs at least, so a flood of empty lines is bounded
/// in lines as well as in bytes.
const LINE_COST: usize = 64;

/// Seconds of the rate a burst may use at once.
const BURST_SECONDS: u32 = 4;

#[derive(Debug)]
pub struct LogBudget {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    bucket: TokenBucket,
    suppressed: u64,
}

/// May this line be written?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Yes; `suppressed` lines were dropped since the last line written.
    Write { suppressed: u64 },
    /// No: it is over the budget and is dropped.
    Drop,
}

impl LogBudget {
    pub fn new(bytes_per_second: u32) -> Self {
        let burst = bytes_per_second.saturating_mul(BURST_SECONDS);
        Self {
            state: Mutex::new(State {
                bucket: TokenBucket::new(f64::from(bytes_per_second), burst, Instant::now()),
                suppressed: 0,
            }),
        }
    }

    pub fn admit(&self, line_bytes: usize, now: Instant) -> Verdict {
        let cost = u32::try_from(line_bytes.max(LINE_COST)).unwrap_or(u32::MAX);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.bucket.try_take_many(cost, now) {
            Verdict::Write {
                suppressed: std::mem::take(&mut state.suppressed),
            }
        } else {
            state.suppressed += 1;
            Verdict::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn drops_past_the_budget_and_counts_what_it_dropped() {
        let budget = LogBudget::new(1000);
        let t0 = Instant::now();
        let mut written = 0;
        while budget.admit(100, t0) != Verdict::Drop {
            written += 1;
        }
        assert_eq!(written, 40, "a burst of four seconds");
        assert_eq!(budget.admit(10, t0), Verdict::Drop);
        let later = t0 + Duration::from_millis(200);
        assert_eq!(budget.admit(100, later), Verdict::Write { suppressed: 2 });
    }
}
