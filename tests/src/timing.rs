//! Summaries of timed samples, shared by the benches.

use std::time::Duration;

/// The median and the 99th percentile of a set of samples.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub median: Duration,
    pub p99: Duration,
}

impl Summary {
    /// Sorts `samples` and reads the two ranks from them.
    ///
    /// # Panics
    ///
    /// When `samples` is empty: a bench that timed nothing has no numbers.
    pub fn of(samples: &mut [Duration]) -> Self {
        assert!(!samples.is_empty(), "no samples to summarise");
        samples.sort_unstable();
        Summary {
            median: samples[samples.len() / 2],
            p99: samples[samples.len() * 99 / 100],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_are_read_from_the_sorted_samples() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let summary = Summary::of(&mut samples);
        assert_eq!(summary.median, Duration::from_micros(51));
        assert_eq!(summary.p99, Duration::from_micros(100));
    }
}
