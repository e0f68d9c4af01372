//! Latency histograms for `Pool::stats`: fixed memory, lock-free recording.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power of two: values are kept to within 1/8 (12.5%).
const SUB_BUCKETS: usize = 8;
/// Powers of two covered, in microseconds: up to 2^36 µs (19 hours).
const MAGNITUDES: usize = 36;
const BUCKETS: usize = MAGNITUDES * SUB_BUCKETS;

/// A histogram that records durations concurrently.
#[derive(Debug)]
pub(crate) struct Recorder {
    counts: Box<[AtomicU64; BUCKETS]>,
    total: AtomicU64,
    sum_micros: AtomicU64,
    max_micros: AtomicU64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            counts: Box::new(std::array::from_fn(|_| AtomicU64::new(0))),
            total: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
            max_micros: AtomicU64::new(0),
        }
    }
}

fn bucket_of(micros: u64) -> usize {
    if micros < SUB_BUCKETS as u64 {
        return micros as usize;
    }
    let magnitude = 63 - micros.leading_zeros() as usize; // floor(log2)
    let shift = magnitude - 3; // SUB_BUCKETS = 2^3
    let sub = ((micros >> shift) as usize) & (SUB_BUCKETS - 1);
    ((magnitude - 2) * SUB_BUCKETS + sub).min(BUCKETS - 1)
}

/// The smallest value a bucket holds.
fn floor_of(bucket: usize) -> u64 {
    if bucket < SUB_BUCKETS {
        return bucket as u64;
    }
    let magnitude = bucket / SUB_BUCKETS + 2;
    let sub = (bucket % SUB_BUCKETS) as u64;
    (SUB_BUCKETS as u64 + sub) << (magnitude - 3)
}

impl Recorder {
    pub(crate) fn record(&self, duration: Duration) {
        // Every run's: in u64 arithmetic (`as_micros` divides a u128).
        let micros = duration
            .as_secs()
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(duration.subsec_micros()));
        self.counts[bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.max_micros.fetch_max(micros, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Histogram {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        Histogram {
            count: counts.iter().sum(),
            sum_micros: self.sum_micros.load(Ordering::Relaxed),
            max_micros: self.max_micros.load(Ordering::Relaxed),
            counts,
        }
    }
}

/// A snapshot of a duration histogram (values kept to within 12.5%).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    count: u64,
    sum_micros: u64,
    max_micros: u64,
    counts: Vec<u64>,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("p50", &self.p50())
            .field("p99", &self.p99())
            .field("max", &self.max())
            .finish()
    }
}

impl Histogram {
    /// How many durations were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The mean, or zero when empty.
    pub fn mean(&self) -> Duration {
        Duration::from_micros(self.sum_micros.checked_div(self.count).unwrap_or(0))
    }

    /// The largest duration recorded.
    pub fn max(&self) -> Duration {
        Duration::from_micros(self.max_micros)
    }

    /// The duration below which `q` (0.0 to 1.0) of the recorded ones fall,
    /// or zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let rank = ((self.count as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_micros(floor_of(bucket).min(self.max_micros));
            }
        }
        self.max()
    }

    /// The median.
    pub fn p50(&self) -> Duration {
        self.quantile(0.5)
    }

    /// The 99th percentile.
    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_tight() {
        let mut last = 0;
        for micros in (0..100_000u64).chain([1 << 20, 1 << 30, u64::MAX >> 30]) {
            let bucket = bucket_of(micros);
            assert!(bucket >= last, "{micros}");
            last = bucket;
            let floor = floor_of(bucket);
            assert!(floor <= micros, "{micros}: floor {floor}");
            assert!(micros - floor <= micros / 8 + 1, "{micros}: floor {floor}");
        }
    }

    #[test]
    fn quantiles_come_from_the_recorded_values() {
        let recorder = Recorder::default();
        for micros in 1..=1000u64 {
            recorder.record(Duration::from_micros(micros));
        }
        let histogram = recorder.snapshot();
        assert_eq!(histogram.count(), 1000);
        assert_eq!(histogram.max(), Duration::from_micros(1000));
        let p50 = histogram.p50().as_micros() as i64;
        let p99 = histogram.p99().as_micros() as i64;
        assert!((p50 - 500).abs() <= 500 / 8, "{p50}");
        assert!((p99 - 990).abs() <= 990 / 8, "{p99}");
        assert_eq!(histogram.mean(), Duration::from_micros(500));
        assert_eq!(Recorder::default().snapshot().p99(), Duration::ZERO);
    }
}
