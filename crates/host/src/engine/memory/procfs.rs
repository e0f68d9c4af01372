//! What the kernel says about a process's memory, and the per-process
//! limits the host sets on its workers: `/proc/<pid>` files and `prlimit`.
//! Linux only; elsewhere every read fails and every limit is refused, and
//! the callers carry on without this layer.

use std::io;

/// A process's memory as `/proc/<pid>/status` counts it, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Resident now (`VmRSS`): anonymous, file-backed and shared pages.
    pub(crate) resident: u64,
    /// The most it has ever been resident (`VmHWM`), kept by the kernel:
    /// exact, however rarely it is read.
    pub(crate) peak: u64,
    /// Private writable mappings (`VmData`): what `RLIMIT_DATA` counts,
    /// reserved or touched.
    pub(crate) data: u64,
}

/// Reads `/proc/<pid>/status`.
pub(crate) fn usage(pid: u32) -> io::Result<Usage> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_status(&text).ok_or_else(|| {
        // A zombie's status has no Vm lines: its memory is gone.
        io::Error::new(io::ErrorKind::NotFound, "no memory lines in its status")
    })
}

fn parse_status(text: &str) -> Option<Usage> {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kib| kib.trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    Some(Usage {
        resident: field("VmRSS")?,
        peak: field("VmHWM")?,
        data: field("VmData")?,
    })
}

/// Resident bytes now, from `/proc/<pid>/statm` (a few numbers, cheaper to
/// read and parse than `status`, for sampling).
pub(crate) fn resident(pid: u32) -> io::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/statm"))?;
    let pages = text
        .split_ascii_whitespace()
        .nth(1)
        .and_then(|pages| pages.parse::<u64>().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed statm"))?;
    Ok(pages * page_size())
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

/// The machine's physical memory, in bytes.
pub(crate) fn physical_memory() -> Option<u64> {
    // SAFETY: sysconf has no preconditions.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    u64::try_from(pages)
        .ok()
        .filter(|&pages| pages > 0)
        .map(|pages| pages * page_size())
}

/// Limits the private writable memory process `pid` may map to `bytes`
/// (`RLIMIT_DATA`, soft and hard): past it, `mmap`, `brk` and `mprotect`
/// to writable fail with `ENOMEM`, so an allocation is refused where it is
/// made. Any user may set it on its own children; Linux counts these
/// mappings since 4.7.
#[cfg(target_os = "linux")]
pub(crate) fn limit_data(pid: u32, bytes: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: `limit` is a valid rlimit; the old value is not asked for.
    let r = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_DATA,
            &limit,
            std::ptr::null_mut(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Elsewhere a running process's limits cannot be set.
#[cfg(not(target_os = "linux"))]
pub(crate) fn limit_data(_pid: u32, _bytes: u64) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "prlimit is Linux only",
    ))
}

/// Makes `pid` the kernel's first choice when the machine runs out of
/// memory (`oom_score_adj` 1000): a worker is killed before the host is.
/// Raising it needs no privilege. Written from the host after `exec`: a
/// child that still shares the host's memory would set the host's too.
pub(crate) fn prefer_as_oom_victim(pid: u32) -> io::Result<()> {
    std::fs::write(format!("/proc/{pid}/oom_score_adj"), "1000")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_memory_lines_of_a_status() {
        let status = "Name:\tnode\nVmPeak:\t 1014220 kB\nVmHWM:\t   65908 kB\nVmRSS:\t   60192 kB\nRssAnon:\t   20632 kB\nVmData:\t   66424 kB\nThreads:\t7\n";
        assert_eq!(
            parse_status(status),
            Some(Usage {
                resident: 60192 * 1024,
                peak: 65908 * 1024,
                data: 66424 * 1024,
            })
        );
        assert_eq!(parse_status("Name:\tnode\nState:\tZ (zombie)\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_its_own_process() {
        let pid = std::process::id();
        let usage = usage(pid).expect("its own status");
        assert!(usage.resident > 0 && usage.peak >= usage.resident && usage.data > 0);
        assert!(resident(pid).expect("its own statm") > 0);
        assert!(physical_memory().expect("a machine has memory") > usage.resident);
    }
}
