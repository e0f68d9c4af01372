//! The host's end of a worker's channel: read through the runtime, written
//! straight to the socket.
//!
//! The read side is registered for writing too, on purpose: the kernel then
//! wakes the host's runtime when the worker reads what the host wrote, and a
//! thread woken that recently wakes faster for the worker's next message.
//! Registered for reading alone, the host spent ~6% less CPU at 16 runs in
//! flight, but a script's sequential callbacks took 30–60% longer a call
//! (BENCHMARKS.md, "What was found", 18). Writes never wait on that
//! registration; only a write the buffer cannot take waits, on a
//! registration made for that wait.

use std::io::{self, ErrorKind};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Splits the (non-blocking) host end of a channel into its two halves.
pub(crate) fn split(stream: UnixStream) -> io::Result<(ReadEnd, WriteEnd)> {
    stream.set_nonblocking(true)?;
    let writer = stream.try_clone()?;
    // SAFETY: the stream owns its descriptor, open until the `AsyncFd` drops it.
    let reader = unsafe {
        AsyncFd::register_with_interest(stream, Interest::READABLE | Interest::WRITABLE)
    }?;
    Ok((ReadEnd { socket: reader }, WriteEnd { socket: writer }))
}

/// Reads what the worker says.
#[derive(Debug)]
pub(crate) struct ReadEnd {
    socket: AsyncFd<UnixStream>,
}

impl ReadEnd {
    /// Reads what has arrived into `buffer`'s spare capacity (reserving some
    /// if it has none), waiting until something has; 0 at the end.
    pub(crate) async fn read_buf(&mut self, buffer: &mut Vec<u8>) -> io::Result<usize> {
        if buffer.capacity() == buffer.len() {
            buffer.reserve(64 * 1024);
        }
        loop {
            let mut ready = self.socket.readable().await?;
            let room = buffer.capacity() - buffer.len();
            match ready.try_io(|socket| read_into(socket.get_ref(), buffer)) {
                Ok(Ok(n)) => {
                    // A short read emptied the socket: the next one waits for
                    // news rather than asking the kernel to hear it has none.
                    if n > 0 && n < room {
                        ready.clear_ready();
                    }
                    return Ok(n);
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}

fn read_into(socket: &UnixStream, buffer: &mut Vec<u8>) -> io::Result<usize> {
    let spare = buffer.spare_capacity_mut();
    let n = loop {
        // SAFETY: `spare` is writable memory of `spare.len()` bytes owned by
        // `buffer`; `read` writes at most that many and says how many.
        let n = unsafe { libc::read(socket.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
        if n >= 0 {
            break n as usize;
        }
        let error = io::Error::last_os_error();
        if error.kind() != ErrorKind::Interrupted {
            return Err(error);
        }
    };
    // SAFETY: the kernel initialized the first `n` spare bytes.
    unsafe { buffer.set_len(buffer.len() + n) };
    Ok(n)
}

/// Writes to the worker.
#[derive(Debug)]
pub(crate) struct WriteEnd {
    socket: UnixStream,
}

impl WriteEnd {
    /// Writes what the socket's buffer takes now, without waiting. A worker
    /// gone is an error, never a `SIGPIPE` to the host.
    pub(crate) fn try_write(&self, bytes: &[u8]) -> io::Result<usize> {
        loop {
            // SAFETY: `bytes` is readable for its length; `send` reads no more.
            let n = unsafe {
                libc::send(
                    self.socket.as_raw_fd(),
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            let error = io::Error::last_os_error();
            if error.kind() != ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }

    /// Waits until the socket's buffer has room (or the channel failed).
    pub(crate) async fn writable(&self) -> io::Result<()> {
        let copy = self.socket.try_clone()?;
        // SAFETY: the copy owns its descriptor, open until the `AsyncFd` drops it.
        let waiter = unsafe { AsyncFd::register_with_interest(copy, Interest::WRITABLE) }?;
        let _ready = waiter.writable().await?;
        Ok(())
    }
}
