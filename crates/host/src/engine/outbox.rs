//! Writing to a worker's channel: straight from the caller when the channel
//! is idle (no task hop, so no extra wake-up), through a writer task that
//! coalesces lines into one write when it is not. While the reader handles
//! what one read brought, what is sent (callbacks' answers, mostly) waits and
//! leaves in one write when it is done. A line may follow the binary frames
//! it refers to.

use std::io::ErrorKind;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

use super::socket::WriteEnd;
use crate::binary::{frame_header, FRAME_HEADER};

/// The sending side of a worker's channel.
#[derive(Debug)]
pub(crate) struct Outbox {
    socket: WriteEnd,
    state: Mutex<State>,
    wake: Notify,
    /// Bytes written into the socket so far.
    written: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    /// Bytes given to the outbox so far: a line's offset in the stream.
    appended: u64,
    /// Bytes waiting for the writer task.
    pending: Vec<u8>,
    /// The writer task owns the channel: new lines queue behind `pending`.
    busy: bool,
    /// The reader is handling a read: new lines queue in `pending` until it
    /// is done ([`Outbox::hold`]).
    held: bool,
    closed: bool,
}

/// Lines larger than this are queued whole rather than tried directly.
const DIRECT_LIMIT: usize = 256 * 1024;

impl Outbox {
    /// The outbox and the writer task to spawn beside it.
    pub(crate) fn new(
        socket: WriteEnd,
    ) -> (Arc<Outbox>, impl std::future::Future<Output = ()> + Send) {
        let outbox = Arc::new(Outbox {
            socket,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            written: AtomicU64::new(0),
        });
        let task = write_loop(outbox.clone());
        (outbox, task)
    }

    /// Sends one line (a newline is added).
    pub(crate) fn send(&self, line: String) {
        self.send_line(line, false);
    }

    /// Sends one line after the frames it refers to.
    pub(crate) fn send_framed(&self, frames: &[Bytes], line: String) {
        self.send_message(frames, line, false);
    }

    /// Sends one line; with `coalesce`, through the writer task, which writes
    /// it together with whatever else the tasks ready to run now send.
    /// Returns where the line ends in the stream (its newline included).
    pub(crate) fn send_line(&self, line: String, coalesce: bool) -> u64 {
        self.send_message(&[], line, coalesce)
    }

    /// Sends `frames` and then `line`, as [`Outbox::send_line`] does.
    pub(crate) fn send_message(&self, frames: &[Bytes], line: String, coalesce: bool) -> u64 {
        let framed: usize = frames.iter().map(|f| f.len() + FRAME_HEADER).sum();
        let mut state = self.state.lock().unwrap();
        if state.closed {
            return state.appended;
        }
        state.appended += (framed + line.len()) as u64 + 1;
        let end = state.appended;
        if state.busy || state.held || coalesce || framed + line.len() >= DIRECT_LIMIT {
            append_message(&mut state.pending, frames, &line);
            // What waits for the reader leaves when it lets go, unless it is
            // large or asked to be coalesced: that is the writer task's.
            if state.held && !coalesce && framed + line.len() < DIRECT_LIMIT {
                return end;
            }
            if !state.busy {
                state.busy = true;
                self.wake.notify_one();
            }
            return end;
        }
        let bytes = if framed == 0 {
            let mut bytes = line.into_bytes();
            bytes.push(b'\n');
            bytes
        } else {
            let mut bytes = Vec::with_capacity(framed + line.len() + 1);
            append_message(&mut bytes, frames, &line);
            bytes
        };
        self.write_now(&mut state, &bytes);
        end
    }

    /// Writes `bytes` straight to the socket; what it cannot take now goes
    /// to the writer task. Whether all of it was written.
    fn write_now(&self, state: &mut State, bytes: &[u8]) -> bool {
        let written = match self.socket.try_write(bytes) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
            Err(_) => {
                state.closed = true;
                return false;
            }
        };
        self.written.fetch_add(written as u64, Ordering::SeqCst);
        if written < bytes.len() {
            state.pending.extend_from_slice(&bytes[written..]);
            state.busy = true;
            self.wake.notify_one();
            return false;
        }
        true
    }

    /// Holds what is sent until the guard goes: the reader handles a read
    /// (many callbacks answer in it), and their answers leave together.
    pub(crate) fn hold(&self) -> Held<'_> {
        self.state.lock().unwrap().held = true;
        Held(self)
    }

    /// Writes what waited while held, when the writer task is not busy.
    fn release(&self) {
        let mut state = self.state.lock().unwrap();
        state.held = false;
        if state.busy || state.closed || state.pending.is_empty() {
            return;
        }
        let mut bytes = std::mem::take(&mut state.pending);
        // The buffer is kept for the next read's answers, unless large.
        if self.write_now(&mut state, &bytes) && bytes.capacity() <= 4 * 1024 * 1024 {
            bytes.clear();
            state.pending = bytes;
        }
    }

    /// Bytes written into the socket so far.
    pub(crate) fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    /// Stops sending; the writer task ends.
    pub(crate) fn close(&self) {
        self.state.lock().unwrap().closed = true;
        self.wake.notify_one();
    }
}

/// Appends a message to `out`: each of `frames` after its header, then
/// `line` and its newline.
fn append_message(out: &mut Vec<u8>, frames: &[Bytes], line: &str) {
    for frame in frames {
        out.extend_from_slice(&frame_header(frame.len()));
        out.extend_from_slice(frame);
    }
    out.extend_from_slice(line.as_bytes());
    out.push(b'\n');
}

/// While it lives, what is sent waits ([`Outbox::hold`]).
pub(crate) struct Held<'a>(&'a Outbox);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

async fn write_loop(outbox: Arc<Outbox>) {
    let mut buffer = Vec::new();
    loop {
        outbox.wake.notified().await;
        // Let the tasks that are ready run first: what they send goes out in
        // this same write.
        tokio::task::yield_now().await;
        loop {
            {
                let mut state = outbox.state.lock().unwrap();
                if state.closed {
                    return;
                }
                if state.pending.is_empty() {
                    state.busy = false;
                    break;
                }
                std::mem::swap(&mut buffer, &mut state.pending);
            }
            let mut offset = 0;
            while offset < buffer.len() {
                match outbox.socket.try_write(&buffer[offset..]) {
                    Ok(n) => {
                        offset += n;
                        outbox.written.fetch_add(n as u64, Ordering::SeqCst);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        if outbox.socket.writable().await.is_err() {
                            outbox.close();
                            return;
                        }
                    }
                    Err(_) => {
                        outbox.close();
                        return;
                    }
                }
            }
            buffer.clear();
            if buffer.capacity() > 4 * 1024 * 1024 {
                buffer = Vec::new();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    use super::*;

    /// Everything the peer can read within `wait`, until it has `want` bytes.
    fn read_until(peer: &mut UnixStream, want: usize, wait: Duration) -> Vec<u8> {
        peer.set_read_timeout(Some(wait)).unwrap();
        let mut got = Vec::new();
        let mut chunk = vec![0; 64 * 1024];
        while got.len() < want {
            match peer.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            }
        }
        got
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_is_sent_while_held_leaves_in_order_when_released() {
        let (ours, mut peer) = UnixStream::pair().unwrap();
        let (_read, write) = super::super::socket::split(ours).unwrap();
        let (outbox, task) = Outbox::new(write);
        tokio::spawn(task);

        let held = outbox.hold();
        outbox.send("a".into());
        outbox.send_line("b".into(), false);
        // Nothing leaves while the reader holds the channel.
        assert!(read_until(&mut peer, 1, Duration::from_millis(50)).is_empty());
        // A line too large to wait, and one asked to be coalesced, go to the
        // writer task: behind what waited, never before it.
        let large = "x".repeat(DIRECT_LIMIT);
        outbox.send(large.clone());
        outbox.send_line("c".into(), true);
        outbox.send("d".into());
        drop(held);
        let expected = format!("a\nb\n{large}\nc\nd\n");
        let got = read_until(&mut peer, expected.len(), Duration::from_secs(5));
        assert_eq!(String::from_utf8(got).unwrap(), expected);

        // Held and released with nothing sent: nothing is written, and a
        // later line goes straight out.
        drop(outbox.hold());
        outbox.send("e".into());
        assert_eq!(read_until(&mut peer, 2, Duration::from_secs(5)), b"e\n");
        // Every byte given was counted as written (the count follows the
        // write, maybe on the other thread).
        for _ in 0..500 {
            if outbox.written() == expected.len() as u64 + 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(outbox.written(), expected.len() as u64 + 2);
    }
}
