//! The host's mirror of a worker's compiled-script cache: a script the
//! worker already compiled is sent by its key alone, without its source.

use std::num::NonZeroUsize;
use std::sync::Mutex;

/// The keys a worker holds compiled, as far as the host knows. The worker
/// evicts with the same LRU rule and size; when the two disagree the worker
/// answers `UNKNOWN_SCRIPT` and the host sends the source again.
#[derive(Debug)]
pub(crate) struct ScriptCache {
    known: Mutex<lru::LruCache<String, ()>>,
}

impl ScriptCache {
    pub(crate) fn new(size: NonZeroUsize) -> Self {
        ScriptCache {
            known: Mutex::new(lru::LruCache::new(size)),
        }
    }

    /// Whether the worker has this script compiled; records that it will.
    pub(crate) fn knows(&self, key: &str) -> bool {
        let mut known = self.known.lock().unwrap();
        if known.get(key).is_some() {
            return true;
        }
        known.put(key.to_owned(), ());
        false
    }

    /// Forgets a script the worker did not keep (it failed to compile).
    pub(crate) fn forget(&self, key: &str) {
        self.known.lock().unwrap().pop(key);
    }
}
