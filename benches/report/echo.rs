//! The floor under any protocol over a worker's channel: a Node.js process
//! that echoes every line it reads on an inherited socketpair, driven by the
//! same tokio runtime as the pools it is compared with.

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

pub struct Echoer {
    child: std::process::Child,
    reader: tokio::io::BufReader<tokio::net::unix::OwnedReadHalf>,
    writer: tokio::net::unix::OwnedWriteHalf,
}

impl Echoer {
    pub fn start() -> Echoer {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = theirs.as_raw_fd();
        let mut command = std::process::Command::new("node");
        command.args([
            "-e",
            "const s = new (require('net').Socket)({ fd: 3, readable: true, writable: true }); s.on('data', (d) => s.write(d)); s.on('end', () => process.exit(0));",
        ]);
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
            child,
            reader: tokio::io::BufReader::new(read),
            writer,
        }
    }

    /// The echo process, for its CPU time.
    pub fn pid(&self) -> u32 {
        self.child.id()
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

impl Drop for Echoer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
