//! A map keyed by the host's own request ids. Every run inserts, looks up
//! and removes its id on the way (its answer is routed by it), and the
//! default hasher, built to resist keys an attacker chooses, costs hundreds
//! of instructions each time. These keys are numbers the host hands out in
//! sequence, so one multiply spreads them well enough; a worker's message
//! can only name an id to look up, never add one.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map from the host's request ids.
pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Spreads an id over the hash's bits: a multiply by an odd constant keeps
/// sequential ids in distinct buckets (the low bits) and varies the high
/// bits the map keeps as tags.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

/// 2^64 divided by the golden ratio, made odd.
const SPREAD: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(byte)).wrapping_mul(SPREAD);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(SPREAD);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_spread_over_buckets_and_tags() {
        let hash = |id: u64| {
            let mut hasher = IdHasher::default();
            hasher.write_u64(id);
            hasher.finish()
        };
        let ids = 1_000..1_256u64;
        let buckets: std::collections::HashSet<u64> =
            ids.clone().map(|id| hash(id) & 255).collect();
        assert_eq!(buckets.len(), 256, "256 sequential ids fill 256 buckets");
        let tags: std::collections::HashSet<u64> = ids.map(|id| hash(id) >> 57).collect();
        assert!(tags.len() > 64, "tags vary: {}", tags.len());
        let mut map = IdMap::default();
        for id in 0..10_000 {
            map.insert(id, id * 2);
        }
        assert!((0..10_000).all(|id| map.get(&id) == Some(&(id * 2))));
    }
}
