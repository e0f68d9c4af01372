//! The floor under any protocol over a worker's channel: a Node.js process
//! that echoes every line it reads on an inherited socketpair, driven by the
//! same tokio runtime as the pools it is compared with.

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

pub struct Echoer {
    process: Process,
    reader: tokio::io::BufReader<tokio::net::unix::OwnedReadHalf>,
    writer: tokio::net::unix::OwnedWriteHalf,
}

/// The echoing process, killed when dropped.
pub struct Process(std::process::Child);

impl Process {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The echo: every chunk read is written back as it is.
const ECHO: &str = "const s = new (require('net').Socket)({ fd: 3, readable: true, writable: true }); s.on('data', (d) => s.write(d)); s.on('end', () => process.exit(0));";

/// An evaluating process: `$prelude` first, then each line parsed as a
/// JSON-RPC request, its `params.code` run in one shared `vm` context
/// (compiled once, then from a cache) by the expression `$run` (of `m`, the
/// request, and `script`), the value answered as a JSON-RPC line, every
/// answer to what one read brought in one write.
macro_rules! evaluator {
    ($prelude:literal, $run:literal) => {
        concat!(
            $prelude,
            r#"const vm = require('vm'); const context = vm.createContext({}); const scripts = new Map();
const s = new (require('net').Socket)({ fd: 3, readable: true, writable: true }); let rest = '';
s.on('data', (d) => { const text = rest + d; let start = 0, end, out = '';
  while ((end = text.indexOf('\n', start)) >= 0) { const m = JSON.parse(text.slice(start, end)); start = end + 1;
    let script = scripts.get(m.params.code); if (script === undefined) { script = new vm.Script(m.params.code); scripts.set(m.params.code, script); }
    const value = "#,
            $run,
            r#";
    out += '{"jsonrpc":"2.0","id":' + JSON.stringify(m.id) + ',"result":' + JSON.stringify(value) + '}\n'; }
  rest = text.slice(start); if (out !== '') s.write(out); });
s.on('end', () => process.exit(0));"#
        )
    };
}

/// The least an evaluating worker does.
const EVALUATOR: &str = evaluator!("", "script.runInContext(context)");

/// The evaluator with the guarantees a worker gives its shared context:
/// first the realm's ECMAScript intrinsics and all they reach are frozen (as
/// the worker runtime freezes its own, so that no script can change them
/// for another run), then each eval runs entered into an
/// `AsyncLocalStorage` (as a shared context's run is, so that what it
/// starts stays its own).
const HARDENED_EVALUATOR: &str = evaluator!(
    r#"const { AsyncLocalStorage } = require('async_hooks'); const als = new AsyncLocalStorage();
const pending = ['Object', 'Function', 'Array', 'String', 'Number', 'Boolean', 'Symbol', 'BigInt', 'Error', 'TypeError', 'RangeError',
  'SyntaxError', 'Promise', 'Date', 'RegExp', 'Map', 'Set', 'WeakMap', 'WeakSet', 'ArrayBuffer', 'Uint8Array', 'DataView', 'JSON',
  'Math', 'Reflect', 'Proxy'].map((name) => globalThis[name]);
pending.push(Object.getPrototypeOf(Uint8Array), Object.getPrototypeOf([][Symbol.iterator]()));
const frozen = new Set();
while (pending.length > 0) { const v = pending.pop();
  if ((typeof v !== 'object' && typeof v !== 'function') || v === null || frozen.has(v)) continue;
  frozen.add(v); Object.freeze(v); pending.push(Object.getPrototypeOf(v));
  for (const d of Object.values(Object.getOwnPropertyDescriptors(v))) { if ('value' in d) pending.push(d.value); else pending.push(d.get, d.set); } }
"#,
    "als.run(m, () => script.runInContext(context))"
);

/// A request the evaluator answers with `4`.
pub const EVAL_LINE: &[u8] =
    b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"run\",\"params\":{\"code\":\"2 + 2\"}}\n";

impl Echoer {
    pub fn start() -> Echoer {
        Echoer::start_program(ECHO)
    }

    /// A process that evaluates rather than echoes (see [`EVALUATOR`]).
    pub fn start_evaluating() -> Echoer {
        Echoer::start_program(EVALUATOR)
    }

    /// The evaluator hardened as a worker's shared context is (see
    /// [`HARDENED_EVALUATOR`]).
    pub fn start_hardened() -> Echoer {
        Echoer::start_program(HARDENED_EVALUATOR)
    }

    fn start_program(program: &str) -> Echoer {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = theirs.as_raw_fd();
        let mut command = std::process::Command::new("node");
        command.args(["-e", program]);
        // SAFETY: dup2 is async-signal-safe; the descriptor is open until spawn returns.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap();
        drop(theirs);
        ours.set_nonblocking(true).unwrap();
        let (read, writer) = tokio::net::UnixStream::from_std(ours).unwrap().into_split();
        Echoer {
            process: Process(child),
            reader: tokio::io::BufReader::new(read),
            writer,
        }
    }

    /// The echo process, for its CPU time.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The process and the two ends of its channel, for a driver of its own.
    pub fn into_parts(
        self,
    ) -> (
        Process,
        tokio::io::BufReader<tokio::net::unix::OwnedReadHalf>,
        tokio::net::unix::OwnedWriteHalf,
    ) {
        (self.process, self.reader, self.writer)
    }

    pub async fn round_trip(&mut self, line: &[u8], buffer: &mut String) {
        self.writer.write_all(line).await.unwrap();
        buffer.clear();
        self.reader.read_line(buffer).await.unwrap();
    }

    /// Sends `n` lines at once and waits for all echoes.
    pub async fn pipelined(&mut self, n: usize, line: &[u8]) -> Duration {
        let started = Instant::now();
        let mut batch = Vec::with_capacity(n * line.len());
        for _ in 0..n {
            batch.extend_from_slice(line);
        }
        self.writer.write_all(&batch).await.unwrap();
        let mut buffer = String::new();
        for _ in 0..n {
            buffer.clear();
            self.reader.read_line(&mut buffer).await.unwrap();
        }
        started.elapsed()
    }

    /// `total` round trips with `window` of them in flight at all times: each
    /// wake-up takes every echo that has arrived and sends as many new lines
    /// in one write, the fewest system calls a line protocol can make at
    /// that concurrency.
    pub async fn windowed(&mut self, total: usize, window: usize, line: &[u8]) {
        let window = window.min(total).max(1);
        let mut batch = line.repeat(window);
        self.writer.write_all(&batch).await.unwrap();
        let (mut sent, mut received) = (window, 0);
        let mut buffer = String::new();
        while received < total {
            buffer.clear();
            self.reader.read_line(&mut buffer).await.unwrap();
            let mut arrived = 1;
            // Whole lines already read into the buffer cost no wake-up.
            while self.reader.buffer().contains(&b'\n') {
                buffer.clear();
                self.reader.read_line(&mut buffer).await.unwrap();
                arrived += 1;
            }
            received += arrived;
            let more = arrived.min(total - sent);
            if more > 0 {
                batch.clear();
                for _ in 0..more {
                    batch.extend_from_slice(line);
                }
                self.writer.write_all(&batch).await.unwrap();
                sent += more;
            }
        }
    }
}
