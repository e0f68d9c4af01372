//! The eval floor as a client serving independent callers must drive it:
//! each caller is a task of its own that sends its request and waits for its
//! answer. Per process, a writer task sends what the callers queued since it
//! last ran in one write, and a reader task hands each answer to the caller
//! waiting for it. This is the least any library multiplexing many tasks over
//! one channel per worker does; a pool adds its own bookkeeping on top.
//! A caller may instead write its line itself when no write is under way
//! ([`Callers::call_direct`]): then only the answer crosses to it from
//! another task, the one hop a multiplexing client cannot save.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncBufReadExt;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{oneshot, Notify};

use crate::echo::{Echoer, Process};

/// One process's channel as the callers share it.
struct Channel {
    queue: Mutex<Queue>,
    wake: Notify,
    socket: OwnedWriteHalf,
}

#[derive(Default)]
struct Queue {
    /// Lines not yet written.
    bytes: Vec<u8>,
    /// The callers waiting, in the order their lines went out (the
    /// evaluator answers in order).
    waiting: VecDeque<oneshot::Sender<()>>,
    /// The writer task is writing what it took from `bytes`.
    writing: bool,
}

impl Channel {
    async fn call(&self, line: &[u8]) {
        let (done, answered) = oneshot::channel();
        {
            let mut queue = self.queue.lock().unwrap();
            queue.bytes.extend_from_slice(line);
            queue.waiting.push_back(done);
        }
        self.wake.notify_one();
        answered.await.unwrap();
    }

    /// As [`Channel::call`], but the line is written here when nothing is
    /// queued or being written.
    async fn call_direct(&self, line: &[u8]) {
        let (done, answered) = oneshot::channel();
        let queued = {
            let mut queue = self.queue.lock().unwrap();
            queue.waiting.push_back(done);
            let mut written = 0;
            if !queue.writing && queue.bytes.is_empty() {
                written = match self.socket.try_write(line) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
                    Err(e) => panic!("the floor's channel failed: {e}"),
                };
            }
            queue.bytes.extend_from_slice(&line[written..]);
            written < line.len()
        };
        if queued {
            self.wake.notify_one();
        }
        answered.await.unwrap();
    }
}

/// Writes all of `bytes` to `socket`, waiting while it is full.
async fn write_all(socket: &OwnedWriteHalf, bytes: &[u8]) -> std::io::Result<()> {
    let mut offset = 0;
    while offset < bytes.len() {
        match socket.try_write(&bytes[offset..]) {
            Ok(n) => offset += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => socket.writable().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The processes and the tasks that serve their channels to callers.
pub struct Callers {
    processes: Vec<Process>,
    channels: Vec<Arc<Channel>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Callers {
    /// Takes over `echoers`: a writer and a reader task for each.
    pub fn start(echoers: Vec<Echoer>) -> Callers {
        let mut processes = Vec::new();
        let mut channels = Vec::new();
        let mut tasks = Vec::new();
        for echoer in echoers {
            let (process, mut reader, socket) = echoer.into_parts();
            processes.push(process);
            let channel = Arc::new(Channel {
                queue: Mutex::default(),
                wake: Notify::new(),
                socket,
            });
            let writes = channel.clone();
            tasks.push(tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    writes.wake.notified().await;
                    // What the callers ready to run now send goes out in this write.
                    tokio::task::yield_now().await;
                    {
                        let mut queue = writes.queue.lock().unwrap();
                        std::mem::swap(&mut buffer, &mut queue.bytes);
                        queue.writing = !buffer.is_empty();
                    }
                    if buffer.is_empty() {
                        continue;
                    }
                    let written = write_all(&writes.socket, &buffer).await;
                    writes.queue.lock().unwrap().writing = false;
                    if written.is_err() {
                        return;
                    }
                    buffer.clear();
                }
            }));
            let reads = channel.clone();
            tasks.push(tokio::spawn(async move {
                let mut answer = String::new();
                loop {
                    answer.clear();
                    match reader.read_line(&mut answer).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let waiting = reads.queue.lock().unwrap().waiting.pop_front();
                    if let Some(waiting) = waiting {
                        let _ = waiting.send(());
                    }
                }
            }));
            channels.push(channel);
        }
        Callers {
            processes,
            channels,
            tasks,
        }
    }

    /// One round trip of `line` through the first process's channel, as
    /// one caller waiting for its answer makes it, the line written by the
    /// caller itself when the channel is idle ([`Channel::call_direct`]).
    pub async fn call_direct(&self, line: &[u8]) {
        self.channels[0].call_direct(line).await;
    }

    /// Stops the tasks and returns the processes, for their CPU time.
    pub fn into_processes(self) -> Vec<Process> {
        for task in &self.tasks {
            task.abort();
        }
        self.processes
    }
}

/// Takes over `echoers` and runs `total` round trips of `line` from
/// `concurrency` caller tasks, split over the processes as a pool splits its
/// callers over two workers. Returns the processes, for their CPU time.
pub async fn run(
    echoers: Vec<Echoer>,
    line: &'static [u8],
    total: usize,
    concurrency: usize,
) -> Vec<Process> {
    let served = Callers::start(echoers);
    let per_caller = total / concurrency;
    let callers: Vec<_> = (0..concurrency)
        .map(|i| {
            let channel = served.channels[i % served.channels.len()].clone();
            tokio::spawn(async move {
                for _ in 0..per_caller {
                    channel.call(line).await;
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    served.into_processes()
}
