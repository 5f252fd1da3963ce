//! How much one plugin may write to the host's log: a budget of bytes per
//! second shared by all of its instances and all of its outputs
//! (`host.log`, stdout, stderr), with a summary of what was held back. Past
//! the budget lines are dropped, never queued, so a loud plugin costs the
//! host no more than the budget.

use std::sync::Mutex;
use std::time::Instant;

use crate::limits::TokenBucket;

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

/// `text` on one line: control characters (line breaks, escape sequences),
/// Unicode line and paragraph separators and direction overrides are
/// written as escapes, so nothing a plugin writes can start a line of its
/// own or disguise itself as the host's.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return text.into();
    }
    let mut clean = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            clean.extend(c.escape_default());
        } else {
            clean.push(c);
        }
    }
    clean.into()
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

    #[test]
    fn nothing_can_start_a_new_line() {
        assert_eq!(one_line("plain text"), "plain text");
        let forged =
            "ok\n2026-01-01T00:00:00Z  INFO d_back::ws::join: accepted\r\x1b[2K\u{2028}x\u{202e}";
        let clean = one_line(forged);
        assert!(!clean.chars().any(|c| c.is_control()));
        assert!(!clean.contains('\u{2028}') && !clean.contains('\u{202e}'));
        assert!(clean.starts_with("ok\\n2026"));
    }
}
