//! The eval floor as a client serving independent callers must drive it:
//! each caller is a task of its own that sends its request and waits for its
//! answer. Per process, a writer task sends what the callers queued since it
//! last ran in one write, and a reader task hands each answer to the caller
//! waiting for it. This is the least any library multiplexing many tasks over
//! one channel per worker does; a pool adds its own bookkeeping on top.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::{oneshot, Notify};

use crate::echo::{Echoer, Process};

/// One process's channel as the callers share it.
struct Channel {
    queue: Mutex<Queue>,
    wake: Notify,
}

#[derive(Default)]
struct Queue {
    /// Lines not yet written.
    bytes: Vec<u8>,
    /// The callers waiting, in the order their lines went out (the
    /// evaluator answers in order).
    waiting: VecDeque<oneshot::Sender<()>>,
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
            let (process, mut reader, mut writer) = echoer.into_parts();
            processes.push(process);
            let channel = Arc::new(Channel {
                queue: Mutex::default(),
                wake: Notify::new(),
            });
            let writes = channel.clone();
            tasks.push(tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    writes.wake.notified().await;
                    // What the callers ready to run now send goes out in this write.
                    tokio::task::yield_now().await;
                    std::mem::swap(&mut buffer, &mut writes.queue.lock().unwrap().bytes);
                    if buffer.is_empty() {
                        continue;
                    }
                    if writer.write_all(&buffer).await.is_err() {
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
    /// one caller waiting for its answer makes it.
    pub async fn call(&self, line: &[u8]) {
        self.channels[0].call(line).await;
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
