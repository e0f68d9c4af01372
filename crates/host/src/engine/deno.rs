//! The Deno engine: finding `deno`, its command line, and the sandbox
//! mapped onto Deno's permissions, which, unlike Node's permission model,
//! also cover the network.
//!
//! Deno runs the same runtime program as Node.js (its `node:` built-ins,
//! `node:vm` included, are enough), read from stdin as JavaScript. What it
//! must never do on its own is fetch code: `--no-npm` and `--no-remote`
//! stop `import('npm:…')` and `import('https://…')` from downloading and
//! running packages with no permission asked, `--no-prompt` turns a missing
//! permission into an error instead of a question on a terminal, and
//! `--no-config` and `--no-lock` keep a `deno.json` or lock file found
//! around the working directory out of it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{node, runtime, spawn, Engine, EngineCommand, EngineSettings, Launch, ProcessLaunch};
use crate::error::{Error, Result};
use crate::paths::absolute_file;
use crate::sandbox::Sandbox;

/// The oldest Deno major version the runtime supports.
const MIN_MAJOR: u32 = 2;

/// Builds the command line: `deno run`, the flags that keep Deno from
/// fetching code or asking questions, the user's arguments (`deno run`
/// flags; their `--v8-flags` join the runtime's), the sandbox as
/// permissions, V8's flags, and the runtime read from stdin. The names of
/// the environment variables the worker may read follow as the program's
/// arguments: Deno lets a program list the environment only with every
/// variable allowed, so the runtime reads these by name instead.
pub(crate) async fn prepare(settings: &EngineSettings<'_>) -> Result<Launch> {
    let program = spawn::resolve_program(
        settings.program.unwrap_or(Path::new("deno")),
        "install Deno 2 or newer (e.g. `npm install deno`), or set the engine path with \
         PoolBuilder::engine_path",
    )?;
    let cache = Arc::new(PrivateDir::new()?);
    let env = settings.worker_env();
    let names = super::env_names(&env);
    let mut args: Vec<OsString> = [
        "run",
        "--no-prompt",
        "--no-config",
        "--no-lock",
        "--no-npm",
        "--no-remote",
        "--quiet",
        "--ext=js",
    ]
    .map(OsString::from)
    .to_vec();
    let mut user_v8 = Vec::new();
    for arg in settings.args {
        match arg.to_str().and_then(|a| a.strip_prefix("--v8-flags=")) {
            Some(flags) => user_v8.push(flags.to_owned()),
            None => args.push(arg.clone()),
        }
    }
    args.extend(permissions(settings.sandbox, settings.project, &names)?);
    args.push(v8_flags(
        settings.memory_mb,
        &user_v8,
        settings.sandbox.heap_mb(),
    ));
    args.push("-".into());
    args.extend(names);
    let env = env
        .into_iter()
        .chain([
            ("DENO_NO_UPDATE_CHECK".into(), "1".into()),
            ("DENO_DIR".into(), cache.path.clone().into_os_string()),
        ])
        .collect();
    Ok(Launch::Process(ProcessLaunch {
        engine: Engine::Deno,
        command: EngineCommand {
            program,
            args,
            env,
            stdin: Some(runtime::program_arc()),
        },
        min_major: MIN_MAJOR,
        out_of_memory: node::out_of_memory,
        _private_dir: Some(cache),
        preload_cache: None,
    }))
}

/// V8's flags, in one `--v8-flags` (V8 reads them in order, the last of a
/// kind winning): no code generation from strings in the worker's own realm
/// (contexts ask for it per context); the heap's limit from the bound (see
/// `node::heap_flag`), then the user's own `--v8-flags`, then
/// `Sandbox::max_heap_mb`, as on Node. The realm's intrinsics are frozen by
/// the runtime itself, as on every engine (`freezeWorkerRealm`).
fn v8_flags(bound_mb: u64, user: &[String], heap_mb: Option<u64>) -> OsString {
    let mut flags = vec!["--disallow-code-generation-from-strings".to_owned()];
    if heap_mb.is_none() {
        flags.push(format!("--max-old-space-size={bound_mb}"));
    }
    flags.extend(user.iter().cloned());
    if let Some(mib) = heap_mb {
        flags.push(format!("--max-old-space-size={mib}"));
    }
    format!("--v8-flags={}", flags.join(",")).into()
}

/// The sandbox as Deno permissions. With the permission model off
/// (`Sandbox::permission_model(false)`, trusted code), everything.
fn permissions(
    sandbox: &Sandbox,
    project: Option<&Path>,
    env: &[OsString],
) -> Result<Vec<OsString>> {
    if !sandbox.permission_model_enabled() {
        return Ok(vec!["--allow-all".into()]);
    }
    let read: Vec<String> = sandbox
        .read_paths()
        .iter()
        .chain(sandbox.write_paths())
        .map(PathBuf::as_path)
        .chain(project)
        .map(absolute_file)
        .collect();
    let write: Vec<String> = sandbox
        .write_paths()
        .iter()
        .map(|p| absolute_file(p))
        .collect();
    let net: Vec<String> = sandbox
        .fetch_patterns()
        .iter()
        .filter_map(|p| net_host(p))
        .collect();
    let env: Vec<String> = env
        .iter()
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    let mut args = Vec::new();
    for (flag, items) in [
        ("--allow-read=", read),
        ("--allow-write=", write),
        ("--allow-net=", net),
        ("--allow-env=", env),
    ] {
        // A bare `--allow-read` would allow everything.
        if items.is_empty() {
            continue;
        }
        if let Some(item) = items.iter().find(|item| item.contains(',')) {
            return Err(Error::InvalidInput(format!(
                "{item:?} holds a comma, which Deno's {} list cannot say",
                flag.trim_end_matches('=')
            )));
        }
        args.push(format!("{flag}{}", items.join(",")).into());
    }
    Ok(args)
}

/// The `--allow-net` entry for an `allow_fetch` pattern: its host and port
/// (the scheme's default port when the pattern names none), subdomains kept
/// as Deno's `*.` form. Deno allows addresses, not paths: a path prefix is
/// still checked by the worker's fetch wrapper. `None` for what
/// `Sandbox::check` would refuse.
fn net_host(pattern: &str) -> Option<String> {
    let (scheme, rest) = pattern.split_once("://")?;
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    if authority.is_empty() {
        return None;
    }
    let has_port = match authority.rsplit_once(':') {
        Some((host, port)) => {
            !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) && !host.is_empty()
        }
        None => false,
    } && !authority.ends_with(']');
    if has_port {
        return Some(authority.to_owned());
    }
    let port = match scheme {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        _ => return None,
    };
    Some(format!("{authority}:{port}"))
}

/// Names of the private directories: `outrigger-deno-<host pid>-<n>`.
const PRIVATE_DIR_PREFIX: &str = "outrigger-deno-";

/// A directory of Deno's own (`DENO_DIR`: its caches, the compiled runtime's
/// code cache), private to the pool and removed with it, so that nothing a
/// user's Deno cache holds reaches the workers. Those of hosts that ended
/// without dropping their pool (killed) are swept when the next is made.
#[derive(Debug)]
pub(crate) struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    fn new() -> Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let temp = std::env::temp_dir();
        sweep_stale(&temp);
        let path = temp.join(format!(
            "{PRIVATE_DIR_PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| Error::Spawn {
                program: "deno".into(),
                message: format!(
                    "cannot make Deno's private directory {}: {e}",
                    path.display()
                ),
            })?;
        Ok(PrivateDir { path })
    }
}

/// Removes the private directories of hosts no longer running. One whose
/// host's pid was reused is left for a later sweep; another user's cannot
/// be removed and is left alone.
fn sweep_stale(temp: &Path) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PRIVATE_DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_patterns_become_host_and_port() {
        for (pattern, host) in [
            ("https://api.example.com", "api.example.com:443"),
            ("https://api.example.com/v1/*", "api.example.com:443"),
            ("http://127.0.0.1:8080/*", "127.0.0.1:8080"),
            ("http://[::1]:3000", "[::1]:3000"),
            ("http://[::1]/x", "[::1]:80"),
            ("wss://*.example.org/v1/", "*.example.org:443"),
            ("ws://stream.example.com", "stream.example.com:80"),
        ] {
            assert_eq!(net_host(pattern).as_deref(), Some(host), "{pattern}");
        }
        assert_eq!(net_host("https://"), None);
        assert_eq!(net_host("not a url"), None);
    }

    #[test]
    fn the_users_v8_flags_join_the_runtimes_and_the_sandbox_heap_wins() {
        assert_eq!(
            v8_flags(512, &[], None),
            "--v8-flags=--disallow-code-generation-from-strings,--max-old-space-size=512"
        );
        assert_eq!(
            v8_flags(512, &["--max-old-space-size=48".into()], Some(64)),
            "--v8-flags=--disallow-code-generation-from-strings,--max-old-space-size=48,\
             --max-old-space-size=64"
        );
    }

    #[test]
    fn private_dirs_of_ended_hosts_are_swept_and_live_ones_kept() {
        let temp = std::env::temp_dir().join(format!("outrigger-sweep-{}", std::process::id()));
        // No process has pid 0 in /proc; this one is live.
        let stale = temp.join(format!("{PRIVATE_DIR_PREFIX}0-0"));
        let live = temp.join(format!("{PRIVATE_DIR_PREFIX}{}-0", std::process::id()));
        let other = temp.join("something-else");
        for dir in [&stale, &live, &other] {
            std::fs::create_dir_all(dir.join("cache")).unwrap();
        }
        sweep_stale(&temp);
        assert!(!stale.exists() && live.exists() && other.exists());
        std::fs::remove_dir_all(&temp).unwrap();
    }

    #[test]
    fn strict_sandbox_grants_nothing_and_trusted_code_everything() {
        assert!(permissions(&Sandbox::strict(), None, &[])
            .unwrap()
            .is_empty());
        assert_eq!(
            permissions(&Sandbox::strict().permission_model(false), None, &[]).unwrap(),
            vec![OsString::from("--allow-all")]
        );
        let flags = permissions(
            &Sandbox::strict()
                .allow_read("/srv/data")
                .allow_write("/srv/out")
                .allow_fetch("https://api.example.com/v1/")
                .allow_fetch("http://127.0.0.1:8080"),
            Some(Path::new("/srv/project")),
            &["TZ".into()],
        )
        .unwrap();
        assert_eq!(
            flags,
            [
                "--allow-read=/srv/data,/srv/out,/srv/project",
                "--allow-write=/srv/out",
                "--allow-net=api.example.com:443,127.0.0.1:8080",
                "--allow-env=TZ",
            ]
            .map(OsString::from)
        );
        let comma = permissions(&Sandbox::strict().allow_read("/a,b"), None, &[]);
        assert!(matches!(comma, Err(Error::InvalidInput(m)) if m.contains("comma")));
    }
}
