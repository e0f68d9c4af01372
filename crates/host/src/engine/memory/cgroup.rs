//! A memory cgroup per worker, where the host may make one: the kernel then
//! charges every page the worker uses (anonymous, file cache, kernel
//! buffers) against its own limit, and when reclaim cannot keep it under,
//! the kernel's OOM killer ends the worker and nothing else.
//!
//! The host makes its workers' cgroups under its own: with cgroup v2 when
//! its cgroup hands the memory controller to its children
//! (`cgroup.subtree_control`), else in the v1 memory hierarchy. Either needs
//! the right to `mkdir` there; without it (no cgroup delegation, not root),
//! the pool runs without this layer.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

/// Which cgroup interface a hierarchy speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

impl Version {
    fn limit_file(self) -> &'static str {
        match self {
            Version::V1 => "memory.limit_in_bytes",
            Version::V2 => "memory.max",
        }
    }

    /// The file with the `oom_kill` count.
    fn events_file(self) -> &'static str {
        match self {
            Version::V1 => "memory.oom_control",
            Version::V2 => "memory.events",
        }
    }

    fn peak_file(self) -> &'static str {
        match self {
            Version::V1 => "memory.max_usage_in_bytes",
            Version::V2 => "memory.peak",
        }
    }
}

/// The host's own memory cgroup, where its workers' cgroups are made.
#[derive(Debug, Clone)]
pub(crate) struct CgroupParent {
    dir: PathBuf,
    version: Version,
}

impl CgroupParent {
    /// The host's memory cgroup, if it may make children with the memory
    /// controller there.
    pub(crate) fn find() -> Option<CgroupParent> {
        let (dir, version) = own_memory_cgroup()?;
        if version == Version::V2 {
            let delegated = std::fs::read_to_string(dir.join("cgroup.subtree_control"))
                .is_ok_and(|text| text.split_whitespace().any(|c| c == "memory"));
            if !delegated {
                return None;
            }
        }
        writable(&dir).then_some(CgroupParent { dir, version })
    }

    /// Which interface, for messages: `"v1"` or `"v2"`.
    pub(crate) fn version(&self) -> &'static str {
        match self.version {
            Version::V1 => "v1",
            Version::V2 => "v2",
        }
    }

    /// Makes a cgroup for one worker, limited to `limit` bytes, swap
    /// included where the kernel accounts it.
    pub(crate) fn create(&self, limit: u64) -> io::Result<Cgroup> {
        static SWEEP: Once = Once::new();
        SWEEP.call_once(|| sweep_stale(&self.dir));
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let name = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = self.dir.join(name);
        std::fs::create_dir(&dir)?;
        // From here on, dropping it removes the directory.
        let cgroup = Cgroup {
            dir,
            version: self.version,
        };
        cgroup.write(self.version.limit_file(), &limit.to_string())?;
        match self.version {
            // Absent without swap accounting; set after the memory limit,
            // which it may not be below.
            Version::V1 => {
                let _ = cgroup.write("memory.memsw.limit_in_bytes", &limit.to_string());
            }
            Version::V2 => {
                let _ = cgroup.write("memory.swap.max", "0");
            }
        }
        Ok(cgroup)
    }
}

/// Worker cgroups are named `outrigger-<host pid>-<n>`.
const PREFIX: &str = "outrigger-";

/// One worker's cgroup. Dropping it removes it (once its process has ended).
#[derive(Debug)]
pub(crate) struct Cgroup {
    dir: PathBuf,
    version: Version,
}

impl Cgroup {
    /// Moves process `pid` into it. Blocks: the kernel takes a lock that
    /// waits for an RCU grace period (~10 ms here) when no move happened
    /// lately. Done from the host while the engine boots, rather than by the
    /// child before `exec` (which would hold the spawner thread that long);
    /// what the engine allocates before the move stays charged to the host's
    /// cgroup, a few MiB.
    pub(crate) fn add(&self, pid: u32) -> io::Result<()> {
        self.write("cgroup.procs", &pid.to_string())
    }

    /// How many processes the kernel's OOM killer has ended in it.
    pub(crate) fn oom_kills(&self) -> u64 {
        std::fs::read_to_string(self.dir.join(self.version.events_file()))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix("oom_kill "))
                    .and_then(|n| n.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// The most memory ever charged to it, where the kernel keeps it.
    pub(crate) fn peak(&self) -> Option<u64> {
        std::fs::read_to_string(self.dir.join(self.version.peak_file()))
            .ok()
            .and_then(|text| text.trim().parse().ok())
    }

    fn write(&self, file: &str, value: &str) -> io::Result<()> {
        std::fs::write(self.dir.join(file), value)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir(&self.dir) {
            tracing::debug!(dir = %self.dir.display(), %error, "cannot remove a worker's cgroup");
        }
    }
}

/// Removes worker cgroups left by hosts that are gone (a host killed
/// before it could remove its own). Ones still in use refuse to go.
fn sweep_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(host) = name
            .to_str()
            .and_then(|name| name.strip_prefix(PREFIX))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(host).exists() {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

/// The host's memory limit from its own cgroup and those above it, if any
/// is set (a container's limit, which physical memory does not show).
pub(crate) fn host_limit() -> Option<u64> {
    let (dir, version) = own_memory_cgroup()?;
    dir.ancestors()
        .take_while(|dir| dir.join(version.limit_file()).exists())
        .filter_map(|dir| std::fs::read_to_string(dir.join(version.limit_file())).ok())
        .filter_map(|text| text.trim().parse::<u64>().ok())
        // v1 writes "no limit" as a page-rounded i64::MAX.
        .filter(|&limit| limit < 1 << 62)
        .min()
}

/// The directory of the host's memory cgroup, and its interface: v2 when
/// the unified hierarchy has the memory controller, else v1's memory
/// hierarchy.
fn own_memory_cgroup() -> Option<(PathBuf, Version)> {
    let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mounts: Vec<Mount> = mounts.lines().filter_map(Mount::parse).collect();
    let v2 = membership
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .and_then(|path| {
            let mount = mounts.iter().find(|m| m.fstype == "cgroup2")?;
            let dir = mount.dir_of(path)?;
            let controllers = std::fs::read_to_string(dir.join("cgroup.controllers")).ok()?;
            controllers
                .split_whitespace()
                .any(|c| c == "memory")
                .then_some((dir, Version::V2))
        });
    v2.or_else(|| {
        let path = membership.lines().find_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            controllers
                .split(',')
                .any(|c| c == "memory")
                .then_some(path)
        })?;
        let mount = mounts
            .iter()
            .find(|m| m.fstype == "cgroup" && m.options.split(',').any(|o| o == "memory"))?;
        Some((mount.dir_of(path)?, Version::V1))
    })
}

/// A line of `/proc/self/mountinfo`, as far as finding cgroups needs.
#[derive(Debug)]
struct Mount {
    /// The path inside the filesystem that is mounted.
    root: String,
    point: PathBuf,
    fstype: String,
    /// The filesystem's own options (a v1 hierarchy lists its controllers).
    options: String,
}

impl Mount {
    /// `id parent major:minor root point options [optional...] - fstype source super-options`
    fn parse(line: &str) -> Option<Mount> {
        let (before, after) = line.split_once(" - ")?;
        let mut before = before.split(' ');
        let root = unescape(before.nth(3)?);
        let point = PathBuf::from(unescape(before.next()?));
        let mut after = after.split(' ');
        let fstype = after.next()?.to_owned();
        let options = after.nth(1)?.to_owned();
        Some(Mount {
            root,
            point,
            fstype,
            options,
        })
    }

    /// Where the cgroup at `path` of this hierarchy is in the filesystem.
    fn dir_of(&self, path: &str) -> Option<PathBuf> {
        let inside = path.strip_prefix(self.root.trim_end_matches('/'))?;
        if !inside.is_empty() && !inside.starts_with('/') {
            return None;
        }
        Some(self.point.join(inside.trim_start_matches('/')))
    }
}

/// Mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let mut out = Vec::with_capacity(field.len());
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|digits| {
            let digits = std::str::from_utf8(digits).ok()?;
            u8::from_str_radix(digits, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn writable(dir: &Path) -> bool {
    let Ok(path) = CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `path` is a valid C string for the duration of the call.
    unsafe { libc::access(path.as_ptr(), libc::W_OK) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_where_a_cgroup_lives_from_mountinfo() {
        let v1 = Mount::parse(
            "35 31 0:33 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
        )
        .unwrap();
        assert_eq!(
            (v1.fstype.as_str(), v1.options.as_str()),
            ("cgroup", "rw,memory")
        );
        assert_eq!(
            v1.dir_of("/process_api/a7").unwrap(),
            Path::new("/sys/fs/cgroup/memory/process_api/a7")
        );
        // A container sees its own part of the hierarchy mounted as the root.
        let v2 = Mount::parse(
            "40 31 0:34 /kubepods/pod1 /sys/fs/cgroup rw shared:9 - cgroup2 cgroup2 rw,nsdelegate",
        )
        .unwrap();
        assert_eq!(v2.fstype, "cgroup2");
        assert_eq!(
            v2.dir_of("/kubepods/pod1/app").unwrap(),
            Path::new("/sys/fs/cgroup/app")
        );
        assert_eq!(v2.dir_of("/elsewhere"), None);
        assert_eq!(v2.dir_of("/kubepods/pod10"), None);
        let spaced = Mount::parse("1 2 0:1 / /mnt/a\\040b rw - cgroup2 none rw").unwrap();
        assert_eq!(spaced.point, Path::new("/mnt/a b"));
    }
}
