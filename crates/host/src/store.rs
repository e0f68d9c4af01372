//! Files the host provides: a [`FileStore`] mounted at a path
//! ([`PoolBuilder::mount`](crate::PoolBuilder::mount)) answers the
//! `node:fs` calls scripts make under it, whole files at a time. The worker
//! side is in `js-client/src/17_files.mjs`, the channel in
//! `engine/mounts.rs`.

use std::collections::BTreeMap;
use std::io;
use std::sync::Mutex;
use std::time::SystemTime;

/// A store of whole files that scripts see through `node:fs` under a mount
/// point. Paths are relative to the mount, `/`-separated and normalized
/// (`"notes/today.md"`; `""` is the mount's root). Directories need not be
/// stored: a path is a directory when a file lies under it, or when
/// [`stat`](FileStore::stat) says so; a store that can keep empty ones
/// does so in [`create_dir`](FileStore::create_dir).
///
/// Calls are made from blocking threads (a store may do I/O), one at a time
/// per worker; several workers may call at once. What a call returns as an
/// error reaches the script as a Node error: `NotFound` as `ENOENT`,
/// `PermissionDenied` as `EACCES`, `AlreadyExists` as `EEXIST`, anything
/// else as `EIO` with its message.
///
/// ```
/// use outrigger_host::{FileStore, MemoryStore};
/// let store = MemoryStore::new();
/// store.write("notes/a.txt", b"hello")?;
/// assert_eq!(store.read("notes/a.txt")?, Some(b"hello".to_vec()));
/// assert!(store.stat("notes")?.unwrap().is_dir());
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait FileStore: Send + Sync + 'static {
    /// The whole file at `path`, or `None` when there is none.
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>>;
    /// Creates the file at `path`, or replaces it, with `data`.
    fn write(&self, path: &str, data: &[u8]) -> io::Result<()>;
    /// What lies directly in the directory `path`: files and directories,
    /// by name. A directory that does not exist lists as empty.
    fn list(&self, path: &str) -> io::Result<Vec<DirEntry>>;
    /// What `path` is, or `None` when it is nothing.
    fn stat(&self, path: &str) -> io::Result<Option<FileInfo>>;
    /// Removes the file, or the empty directory, at `path`; `false` when
    /// there was none.
    fn remove(&self, path: &str) -> io::Result<bool>;
    /// Keeps the directory `path` (its parent exists), so that it exists
    /// while empty. By default nothing is kept: a directory exists while
    /// files lie under it.
    fn create_dir(&self, path: &str) -> io::Result<()> {
        let _ = path;
        Ok(())
    }
}

/// A shared store: the host keeps a handle to look into what scripts wrote.
impl<T: FileStore> FileStore for std::sync::Arc<T> {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        (**self).read(path)
    }
    fn write(&self, path: &str, data: &[u8]) -> io::Result<()> {
        (**self).write(path, data)
    }
    fn list(&self, path: &str) -> io::Result<Vec<DirEntry>> {
        (**self).list(path)
    }
    fn stat(&self, path: &str) -> io::Result<Option<FileInfo>> {
        (**self).stat(path)
    }
    fn remove(&self, path: &str) -> io::Result<bool> {
        (**self).remove(path)
    }
    fn create_dir(&self, path: &str) -> io::Result<()> {
        (**self).create_dir(path)
    }
}

/// What a path in a [`FileStore`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Whether it is a directory (else a file).
    pub dir: bool,
    /// Its size in bytes (0 for a directory).
    pub size: u64,
    /// When it last changed, when the store knows.
    pub modified: Option<SystemTime>,
}

impl FileInfo {
    /// A file of `size` bytes, changed at `modified`.
    pub fn file(size: u64, modified: Option<SystemTime>) -> FileInfo {
        FileInfo {
            dir: false,
            size,
            modified,
        }
    }

    /// A directory.
    pub fn dir() -> FileInfo {
        FileInfo {
            dir: true,
            size: 0,
            modified: None,
        }
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.dir
    }
}

/// One entry of a directory in a [`FileStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Its name within the directory.
    pub name: String,
    /// What it is.
    pub info: FileInfo,
}

/// A [`FileStore`] in memory: gone with the process. For tests, and for
/// scratch space shared by the runs of a pool.
#[derive(Debug, Default)]
pub struct MemoryStore {
    files: Mutex<BTreeMap<String, (Vec<u8>, SystemTime)>>,
    dirs: Mutex<std::collections::BTreeSet<String>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

/// `path` as the prefix of what lies under it (`""` for the root).
fn prefix_of(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}/")
    }
}

impl FileStore for MemoryStore {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self
            .files
            .lock()
            .unwrap()
            .get(path)
            .map(|(data, _)| data.clone()))
    }

    fn write(&self, path: &str, data: &[u8]) -> io::Result<()> {
        self.files
            .lock()
            .unwrap()
            .insert(path.to_owned(), (data.to_vec(), SystemTime::now()));
        Ok(())
    }

    fn list(&self, path: &str) -> io::Result<Vec<DirEntry>> {
        let prefix = prefix_of(path);
        let files = self.files.lock().unwrap();
        let mut entries: BTreeMap<String, FileInfo> = BTreeMap::new();
        for (name, (data, modified)) in files.range(prefix.clone()..) {
            let Some(rest) = name.strip_prefix(&prefix) else {
                break;
            };
            match rest.split_once('/') {
                Some((dir, _)) => {
                    entries.insert(dir.to_owned(), FileInfo::dir());
                }
                None => {
                    entries.insert(
                        rest.to_owned(),
                        FileInfo::file(data.len() as u64, Some(*modified)),
                    );
                }
            }
        }
        drop(files);
        for dir in self.dirs.lock().unwrap().range(prefix.clone()..) {
            let Some(rest) = dir.strip_prefix(&prefix) else {
                break;
            };
            let name = rest.split_once('/').map_or(rest, |(first, _)| first);
            entries.entry(name.to_owned()).or_insert_with(FileInfo::dir);
        }
        Ok(entries
            .into_iter()
            .map(|(name, info)| DirEntry { name, info })
            .collect())
    }

    fn stat(&self, path: &str) -> io::Result<Option<FileInfo>> {
        let files = self.files.lock().unwrap();
        if let Some((data, modified)) = files.get(path) {
            return Ok(Some(FileInfo::file(data.len() as u64, Some(*modified))));
        }
        let prefix = prefix_of(path);
        let dirs = self.dirs.lock().unwrap();
        let is_dir = path.is_empty()
            || dirs.contains(path)
            || files
                .range(prefix.clone()..)
                .next()
                .is_some_and(|(name, _)| name.starts_with(&prefix))
            || dirs
                .range(prefix.clone()..)
                .next()
                .is_some_and(|name| name.starts_with(&prefix));
        Ok(is_dir.then(FileInfo::dir))
    }

    fn remove(&self, path: &str) -> io::Result<bool> {
        let file = self.files.lock().unwrap().remove(path).is_some();
        let dir = self.dirs.lock().unwrap().remove(path);
        Ok(file || dir)
    }

    fn create_dir(&self, path: &str) -> io::Result<()> {
        self.dirs.lock().unwrap().insert(path.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memory_store_lists_files_and_the_directories_they_imply() {
        let store = MemoryStore::new();
        store.write("a/b/c.txt", b"c").unwrap();
        store.write("a/d.txt", b"dd").unwrap();
        store.write("e.txt", b"").unwrap();
        let names = |dir: &str| {
            store
                .list(dir)
                .unwrap()
                .into_iter()
                .map(|e| (e.name, e.info.dir))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(""),
            [("a".to_owned(), true), ("e.txt".to_owned(), false)]
        );
        assert_eq!(
            names("a"),
            [("b".to_owned(), true), ("d.txt".to_owned(), false)]
        );
        assert!(names("nope").is_empty());
        assert!(store.stat("a/b").unwrap().unwrap().is_dir());
        assert_eq!(store.stat("a/d.txt").unwrap().unwrap().size, 2);
        assert_eq!(store.stat("a/b/c").unwrap(), None);
        assert!(store.remove("a/d.txt").unwrap());
        assert!(!store.remove("a/d.txt").unwrap());
        store.create_dir("a/empty").unwrap();
        assert!(store.stat("a/empty").unwrap().unwrap().is_dir());
        assert_eq!(
            names("a"),
            [("b".to_owned(), true), ("empty".to_owned(), true)]
        );
    }
}
