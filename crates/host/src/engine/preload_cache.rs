//! V8 code caches of the preloads, kept by the host for the workers it
//! starts later (a pool's new and restarted workers, and later pools of the
//! same preloads): importing a large package from its code cache skips
//! parsing and compiling it, and the cache is made after the preloads ran,
//! so the functions they called come compiled too.
//!
//! The bytes travel as files, in a directory private to one worker's start
//! (mode 0700, removed once the worker has answered `init`): the host
//! writes the cache it has (`--code-cache-in=`), and a worker whose
//! preloads found none that fits leaves what it made (`--code-cache-out=`).
//! The host reads that file only when `init` is answered, before any
//! script ran in the worker, so what later workers are given comes from
//! the preloads alone (js-client/src/20_compile.mjs says how the worker
//! makes and checks it). V8 refuses a cache of another version or other
//! flags, and the worker one made from another source: then the preloads
//! are compiled as without a cache, and that worker's cache replaces it.

use std::collections::HashSet;
use std::ffi::OsString;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// How many preload sets the host keeps caches of (least recently used go).
const KEPT: usize = 8;

/// A kept cache: the project its preloads came from, and its bytes.
type Kept = (Option<PathBuf>, Arc<[u8]>);

/// Caches by preload set (program, its arguments, project and preloads).
fn store() -> &'static Mutex<lru::LruCache<blake3::Hash, Kept>> {
    static STORE: OnceLock<Mutex<lru::LruCache<blake3::Hash, Kept>>> = OnceLock::new();
    STORE.get_or_init(|| Mutex::new(lru::LruCache::new(NonZeroUsize::new(KEPT).unwrap())))
}

/// The preload sets a starting worker is making a cache of: one worker at
/// a time makes it (the workers of a first pool start together, and making
/// one costs as much as a third of compiling).
fn making() -> &'static Mutex<HashSet<blake3::Hash>> {
    static MAKING: OnceLock<Mutex<HashSet<blake3::Hash>>> = OnceLock::new();
    MAKING.get_or_init(Mutex::default)
}

/// The code cache of one pool's preloads.
#[derive(Debug)]
pub(crate) struct PreloadCache {
    key: blake3::Hash,
    project: Option<PathBuf>,
    /// Whether the worker runs under Node's permission model, which must
    /// grant it the two files.
    permission_model: bool,
}

impl PreloadCache {
    /// The cache of the preloads a worker started with `args` imports.
    pub(crate) fn new(
        program: &Path,
        args: &[OsString],
        project: Option<&Path>,
        preloads: &[(String, String)],
        permission_model: bool,
    ) -> Self {
        let mut hasher = blake3::Hasher::new();
        let mut part = |bytes: &[u8]| {
            hasher.update(&(bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        };
        part(program.as_os_str().as_encoded_bytes());
        for arg in args {
            part(arg.as_encoded_bytes());
        }
        part(project.map_or(&b""[..], |p| p.as_os_str().as_encoded_bytes()));
        for (name, specifier) in preloads {
            part(name.as_bytes());
            part(specifier.as_bytes());
        }
        PreloadCache {
            key: hasher.finalize(),
            project: project.map(Path::to_path_buf),
            permission_model,
        }
    }

    /// The files of one worker's start: the cache to take, if the host has
    /// one, and where to leave a new one.
    pub(crate) fn for_worker(&self) -> std::io::Result<WorkerFiles> {
        use std::os::unix::fs::DirBuilderExt;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "outrigger-code-cache-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let mut files = WorkerFiles {
            input: None,
            output: making()
                .lock()
                .unwrap()
                .insert(self.key)
                .then(|| dir.join("made")),
            dir,
            key: self.key,
            project: self.project.clone(),
            permission_model: self.permission_model,
        };
        let kept = store().lock().unwrap().get(&self.key).cloned();
        if let Some((_, bytes)) = kept {
            let input = files.dir.join("given");
            std::fs::write(&input, &bytes)?;
            files.input = Some(input);
        }
        Ok(files)
    }
}

/// The files of one worker's start, removed with it.
#[derive(Debug)]
pub(crate) struct WorkerFiles {
    dir: PathBuf,
    input: Option<PathBuf>,
    /// Where it leaves a cache it makes, unless another worker is making one.
    output: Option<PathBuf>,
    key: blake3::Hash,
    project: Option<PathBuf>,
    permission_model: bool,
}

impl WorkerFiles {
    /// Node options: what the permission model must grant for the files.
    pub(crate) fn engine_args(&self) -> Vec<OsString> {
        if !self.permission_model {
            return Vec::new();
        }
        self.args("--allow-fs-read=", "--allow-fs-write=")
    }

    /// The runtime's arguments, after the program.
    pub(crate) fn runtime_args(&self) -> Vec<OsString> {
        self.args("--code-cache-in=", "--code-cache-out=")
    }

    /// `input` after `read`, `output` after `write`, for the files there are.
    fn args(&self, read: &str, write: &str) -> Vec<OsString> {
        [(read, &self.input), (write, &self.output)]
            .into_iter()
            .filter_map(|(flag, path)| {
                let mut arg = OsString::from(flag);
                arg.push(path.as_ref()?);
                Some(arg)
            })
            .collect()
    }

    /// Keeps what the worker made, now that it has answered `init`.
    pub(crate) fn keep_made(self) {
        let Some(output) = &self.output else {
            return;
        };
        if let Ok(bytes) = std::fs::read(output) {
            if well_formed(&bytes) {
                let kept = (self.project.clone(), bytes.into());
                store().lock().unwrap().put(self.key, kept);
            }
        }
    }
}

impl Drop for WorkerFiles {
    fn drop(&mut self) {
        if self.output.is_some() {
            making().lock().unwrap().remove(&self.key);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Damages the V8 data (past the worker's header) of the kept caches of
/// preloads from `project`, as a cache from another engine build would be,
/// and says how many: for drills of the fallback to compiling.
pub fn corrupt_preload_caches(project: &Path) -> usize {
    let mut store = store().lock().unwrap();
    let mut damaged = 0;
    for (_, (from, bytes)) in store.iter_mut() {
        if from.as_deref() != Some(project) {
            continue;
        }
        let mut copy = bytes.to_vec();
        let header = 4 + u32::from_le_bytes(copy[..4].try_into().unwrap()) as usize;
        for byte in copy.iter_mut().skip(header).take(64) {
            *byte ^= 0x5a;
        }
        *bytes = copy.into();
        damaged += 1;
    }
    damaged
}

/// Whether `bytes` has the shape the worker writes: a length, a JSON header
/// of `[file, hash, size]` entries, and as many bytes as they say.
fn well_formed(bytes: &[u8]) -> bool {
    let Some(length) = bytes.get(..4) else {
        return false;
    };
    let header_end = 4 + u32::from_le_bytes(length.try_into().unwrap()) as usize;
    let Some(header) = bytes.get(4..header_end) else {
        return false;
    };
    let Ok(entries) = serde_json::from_slice::<Vec<(String, String, usize)>>(header) else {
        return false;
    };
    !entries.is_empty()
        && entries.iter().map(|(_, _, size)| size).sum::<usize>() == bytes.len() - header_end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(entries: &[(&str, &str, &[u8])]) -> Vec<u8> {
        let header = serde_json::to_vec(
            &entries
                .iter()
                .map(|(f, h, d)| (f, h, d.len()))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let mut bytes = (header.len() as u32).to_le_bytes().to_vec();
        bytes.extend(header);
        for (_, _, data) in entries {
            bytes.extend(*data);
        }
        bytes
    }

    #[test]
    fn only_files_of_the_workers_shape_are_kept() {
        assert!(well_formed(&file(&[
            ("/a.js", "h", b"xyz"),
            ("/b.js", "g", b"")
        ])));
        assert!(!well_formed(&file(&[])));
        let mut short = file(&[("/a.js", "h", b"xyz")]);
        short.pop();
        assert!(!well_formed(&short));
        assert!(!well_formed(b"\xff\xff\xff\xff{}"));
        assert!(!well_formed(b""));
    }

    #[test]
    fn a_workers_files_grant_what_it_reads_and_writes_and_go_with_it() {
        let cache = PreloadCache::new(
            Path::new("node-for-this-test"),
            &[],
            None,
            &[("big".into(), "big-package".into())],
            true,
        );
        let files = cache.for_worker().unwrap();
        assert!(files.input.is_none());
        assert_eq!(files.engine_args().len(), 1);
        // One worker at a time makes the cache.
        let meanwhile = cache.for_worker().unwrap();
        assert!(meanwhile.output.is_none() && meanwhile.engine_args().is_empty());
        drop(meanwhile);
        std::fs::write(
            files.output.as_ref().unwrap(),
            file(&[("/a.js", "h", b"xyz")]),
        )
        .unwrap();
        let dir = files.dir.clone();
        files.keep_made();
        assert!(!dir.exists());
        let files = cache.for_worker().unwrap();
        assert!(files.input.as_ref().is_some_and(|input| input.exists()));
        assert_eq!(files.engine_args().len(), 2);
        assert_eq!(files.runtime_args().len(), 2);
    }
}
