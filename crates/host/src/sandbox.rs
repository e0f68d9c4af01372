//! What scripts may reach: the [`Sandbox`] setting of a pool. Each engine
//! maps it onto its own means (for Node, `engine/node.rs`: the permission
//! model's flags and the heap size); the environment workers see, the bound
//! on a worker's whole memory (`engine/memory`) and the limits the worker
//! enforces itself (fetch allowlist, console output per run) are the same
//! everywhere. See SECURITY.md for the threat model.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::paths::absolute_file;
use crate::wire::methods::SandboxInit;

/// What scripts may reach, and how much they may take. Strict by default:
/// no network, no files, no child processes, worker threads, native addons,
/// WASI or inspector, no environment variables of the host.
///
/// ```
/// use outrigger_host::Sandbox;
/// let sandbox = Sandbox::strict()
///     .allow_fetch("https://api.example.com")       // an origin
///     .allow_fetch("https://*.example.org/v1/")     // subdomains, a path prefix
///     .allow_read("/srv/data")
///     .env_passthrough(["TZ"])
///     .max_memory_mb(1024)
///     .max_console_bytes(1024 * 1024);
/// # let _ = sandbox;
/// ```
#[derive(Debug, Clone)]
pub struct Sandbox {
    permission_model: bool,
    fetch: Vec<String>,
    read: Vec<PathBuf>,
    write: Vec<PathBuf>,
    env_passthrough: Vec<String>,
    max_heap_mb: Option<u64>,
    max_memory_mb: Option<u64>,
    max_console_bytes: usize,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox {
            permission_model: true,
            fetch: Vec::new(),
            read: Vec::new(),
            write: Vec::new(),
            env_passthrough: Vec::new(),
            max_heap_mb: None,
            max_memory_mb: None,
            max_console_bytes: 8 * 1024 * 1024,
        }
    }
}

impl Sandbox {
    /// The default: nothing reachable beyond the script's own world.
    pub fn strict() -> Self {
        Sandbox::default()
    }

    /// No sandbox, for trusted code: [`strict`](Self::strict) with the
    /// engine's own permissions off ([`permission_model(false)`](Self::permission_model):
    /// Node's permission model, Deno's permissions as `--allow-all`). What
    /// the runtime still checks itself (the fetch allowlist, the built-ins a
    /// script is given, the memory bound) shapes scripts' world but is no
    /// boundary: a script that wants out can get out. The setting that says
    /// the code is trusted, which [`Engine::Bun`](crate::Engine::Bun) needs
    /// (SECURITY.md, "Bun").
    pub fn none() -> Self {
        Sandbox::strict().permission_model(false)
    }

    /// Lets `fetch` (and `WebSocket`) reach URLs matching `pattern`: an
    /// origin (`https://api.example.com`, any path), an origin with a path
    /// prefix (`https://api.example.com/v1/`, also written
    /// `https://api.example.com/v1/*`), or a wildcard host
    /// (`https://*.example.com`, its subdomains). Scheme and port must
    /// match (`http`/`https` patterns also allow `ws`/`wss`). Nothing is
    /// allowed by default, loopback addresses (`localhost`, `127.0.0.1`,
    /// `[::1]`) included; redirects are followed only to allowed URLs. A
    /// refused request rejects with an error naming the URL and this
    /// setting. A pattern in another form (not a URL, a `*` anywhere else)
    /// makes `build()` fail with [`Error::InvalidInput`](crate::Error::InvalidInput)
    /// naming the accepted forms.
    pub fn allow_fetch(mut self, pattern: impl Into<String>) -> Self {
        self.fetch.push(pattern.into());
        self
    }

    /// Lets scripts read a file or directory (and everything under it)
    /// through `node:fs`. The project directory, when one is set, is
    /// readable without this; nothing else is by default. Paths are checked
    /// where they really lead (through symbolic links), by the worker and by
    /// the engine's permission model; a refused one is an
    /// [`Error::Denied`](crate::Error::Denied) naming this setting.
    pub fn allow_read(mut self, path: impl Into<PathBuf>) -> Self {
        self.read.push(path.into());
        self
    }

    /// Lets scripts write (and read) a file or directory and everything
    /// under it, through `node:fs`. Nothing is writable by default, the
    /// project directory included.
    pub fn allow_write(mut self, path: impl Into<PathBuf>) -> Self {
        self.write.push(path.into());
        self
    }

    /// Host environment variables the workers see, with the host's values at
    /// `build()` time (a variable the host does not have is left out).
    /// [`PoolBuilder::env`](crate::PoolBuilder::env) sets others explicitly.
    pub fn env_passthrough<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.env_passthrough
            .extend(names.into_iter().map(Into::into));
        self
    }

    /// The JavaScript heap of each worker, in MiB (`--max-old-space-size`;
    /// default: the whole memory's bound, [`max_memory_mb`](Self::max_memory_mb)).
    /// A worker whose heap runs out is replaced, as for
    /// [`max_memory_mb`](Self::max_memory_mb): the run that took the memory
    /// ends with [`Error::Limit`](crate::Error::Limit) naming this setting,
    /// the others with [`Error::WorkerExited`](crate::Error::WorkerExited).
    pub fn max_heap_mb(mut self, mib: u64) -> Self {
        self.max_heap_mb = Some(mib);
        self
    }

    /// The whole memory of each worker, in MiB: its JavaScript heap and
    /// everything outside it (ArrayBuffers, `Buffer`s, WebAssembly memories,
    /// strings kept outside the heap, the engine's own allocations).
    ///
    /// Default: a share of the machine's memory (physical memory, or the
    /// host's cgroup limit when lower) divided by one more than the pool's
    /// most workers, so that the workers at their bound leave the host a
    /// share as large; at least 256 MiB, at most 4 GiB.
    ///
    /// How it holds (on Linux; elsewhere only the heap's limit does): an
    /// allocation that would take a worker past the bound is refused by the
    /// kernel where it is made, and the run that asked ends with
    /// [`Error::Limit`](crate::Error::Limit) naming this setting while the
    /// worker goes on. A heap that cannot grow, or resident memory a quarter
    /// past the bound (what that count misses), ends the worker instead: the
    /// run that took the memory ends with `Error::Limit` where the host can
    /// tell which it was (the only run on the worker, or the one holding it
    /// in a synchronous loop), the others with
    /// [`Error::WorkerExited`](crate::Error::WorkerExited), and a
    /// replacement starts. The kernel's OOM killer takes workers before the
    /// host. SECURITY.md has the layers, the rule for naming the run, and how
    /// far past the bound each layer lets a worker get.
    ///
    /// A bound below what a worker uses once started (Node.js: 40-80 MiB)
    /// plus 32 MiB makes `build()` fail with [`Error::Spawn`](crate::Error::Spawn).
    pub fn max_memory_mb(mut self, mib: u64) -> Self {
        self.max_memory_mb = Some(mib);
        self
    }

    /// The console output one run may produce, in bytes of JSON (default
    /// 8 MiB); the run that passes it ends with
    /// [`Error::Limit`](crate::Error::Limit) naming this setting.
    pub fn max_console_bytes(mut self, bytes: usize) -> Self {
        self.max_console_bytes = bytes;
        self
    }

    /// Turns Node's permission model off (default on): scripts that reach a
    /// Node built-in (see [`PoolBuilder::allow_builtin`](crate::PoolBuilder::allow_builtin))
    /// then have the worker process's full rights over files and processes.
    /// For trusted code only.
    pub fn permission_model(mut self, enabled: bool) -> Self {
        self.permission_model = enabled;
        self
    }

    /// Refuses what the worker would not read as the user meant: a fetch
    /// pattern in none of the accepted forms.
    pub(crate) fn check(&self) -> crate::Result<()> {
        for pattern in &self.fetch {
            if let Err(why) = check_fetch_pattern(pattern) {
                return Err(crate::Error::InvalidInput(format!(
                    "Sandbox::allow_fetch({pattern:?}): {why}; the accepted forms are an origin \
                     (\"https://api.example.com\", any path), a path prefix \
                     (\"https://api.example.com/v1/\" or \"https://api.example.com/v1/*\") and \
                     subdomains (\"https://*.example.com\")"
                )));
            }
        }
        Ok(())
    }

    /// Whether the engine's permission model is on.
    pub(crate) fn permission_model_enabled(&self) -> bool {
        self.permission_model
    }

    /// The `allow_fetch` patterns, as given.
    pub(crate) fn fetch_patterns(&self) -> &[String] {
        &self.fetch
    }

    /// The paths workers may read (the project aside).
    pub(crate) fn read_paths(&self) -> &[PathBuf] {
        &self.read
    }

    /// The paths workers may write.
    pub(crate) fn write_paths(&self) -> &[PathBuf] {
        &self.write
    }

    /// The JavaScript heap of a worker, in MiB, when it is set.
    pub(crate) fn heap_mb(&self) -> Option<u64> {
        self.max_heap_mb
    }

    /// The bound on a worker's whole memory, in MiB, when it is set.
    pub(crate) fn memory_mb(&self) -> Option<u64> {
        self.max_memory_mb
    }

    /// The host variables passed through, with their values now.
    pub(crate) fn env(&self) -> Vec<(OsString, OsString)> {
        self.env_passthrough
            .iter()
            .filter_map(|name| std::env::var_os(name).map(|value| (name.into(), value)))
            .collect()
    }

    /// What the worker enforces itself, for `init`; `memory_mb` is the
    /// bound in force (this one's or the pool's default).
    pub(crate) fn init(&self, memory_mb: u64) -> SandboxInit {
        SandboxInit {
            fetch_allow: self.fetch.clone(),
            read_paths: self.read.iter().map(|p| absolute_file(p)).collect(),
            write_paths: self.write.iter().map(|p| absolute_file(p)).collect(),
            max_console_bytes: self.max_console_bytes,
            permission_model: self.permission_model,
            max_memory_mb: memory_mb,
        }
    }
}

/// Why `pattern` is not one of `allow_fetch`'s forms, if it is not.
fn check_fetch_pattern(pattern: &str) -> Result<(), String> {
    let Some((scheme, rest)) = pattern.split_once("://") else {
        return Err("it is not a URL (no scheme)".into());
    };
    if !matches!(scheme, "http" | "https" | "ws" | "wss") {
        return Err(format!("the scheme {scheme:?} is not one fetch uses"));
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.strip_prefix("*.").unwrap_or(authority);
    let host = host.rsplit_once(':').map_or(host, |(host, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) || host.ends_with(']') {
            host
        } else {
            authority
        }
    });
    if host.is_empty() {
        return Err("it names no host".into());
    }
    if host.contains('*')
        || authority.matches('*').count() > usize::from(authority.starts_with("*."))
    {
        return Err(
            "a `*` in a host stands only for subdomains, as its first label (\"*.example.com\")"
                .into(),
        );
    }
    let path = path
        .strip_suffix('*')
        .filter(|p| p.ends_with('/'))
        .unwrap_or(path);
    if path.contains('*') || path.contains('?') || path.contains('#') {
        return Err(
            "a path is a prefix: a `*` only at its end, after a `/`, and no query or fragment"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_fetch_pattern;

    #[test]
    fn fetch_patterns_in_the_accepted_forms_pass_and_others_say_why() {
        for good in [
            "https://api.example.com",
            "https://api.example.com/",
            "https://api.example.com/v1/",
            "https://api.example.com/v1/*",
            "http://127.0.0.1:8080/*",
            "http://[::1]:3000",
            "https://*.example.org/v1/",
            "wss://stream.example.com",
        ] {
            assert_eq!(check_fetch_pattern(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("not a url", "no scheme"),
            ("ftp://example.com", "scheme"),
            ("https://", "no host"),
            ("https://*", "first label"),
            ("https://api.*.com", "first label"),
            ("https://*.*.com", "first label"),
            ("http://127.0.0.1:*", "first label"),
            ("https://api.example.com/v1/*/items", "prefix"),
            ("https://api.example.com/v1*", "prefix"),
            ("https://api.example.com/?q=1", "prefix"),
        ] {
            let error = check_fetch_pattern(bad).expect_err(bad);
            assert!(error.contains(why), "{bad}: {error}");
        }
    }
}
