//! The channel a request's replies come back on: its logs and events, then
//! its answer. One is made per request, and most carry a single reply, so it
//! is made to be cheap for that: one small allocation, the first reply held
//! in place, a queue only for the ones after it.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::connection::Reply;

/// A new channel: the sending side (cloned by whoever may reply) and the
/// receiving side.
pub(crate) fn channel() -> (ReplySender, Replies) {
    let shared = Arc::new(Mutex::new(State {
        first: None,
        rest: VecDeque::new(),
        waker: None,
        senders: 1,
        receiving: true,
    }));
    (ReplySender(shared.clone()), Replies(shared))
}

#[derive(Debug)]
struct State {
    /// The oldest reply not yet received, when nothing came after it.
    first: Option<Reply>,
    /// Replies after `first`, oldest first.
    rest: VecDeque<Reply>,
    waker: Option<Waker>,
    senders: usize,
    receiving: bool,
}

/// Sends replies to one request's waiter.
#[derive(Debug)]
pub(crate) struct ReplySender(Arc<Mutex<State>>);

impl ReplySender {
    /// Hands `reply` to the waiter; gives it back if the waiter is gone.
    pub(crate) fn send(&self, reply: Reply) -> Result<(), Reply> {
        let waker = {
            let mut state = self.0.lock().unwrap();
            if !state.receiving {
                return Err(reply);
            }
            if state.first.is_none() && state.rest.is_empty() {
                state.first = Some(reply);
            } else {
                state.rest.push_back(reply);
            }
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }
}

impl Clone for ReplySender {
    fn clone(&self) -> Self {
        self.0.lock().unwrap().senders += 1;
        ReplySender(self.0.clone())
    }
}

impl Drop for ReplySender {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.0.lock().unwrap();
            state.senders -= 1;
            if state.senders > 0 {
                return;
            }
            state.waker.take()
        };
        // No reply can come any more: the waiter hears the end.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Receives one request's replies, in the order they were sent.
#[derive(Debug)]
pub(crate) struct Replies(Arc<Mutex<State>>);

impl Replies {
    /// The next reply; `None` once every sender is gone and all was received.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Reply>> {
        let mut state = self.0.lock().unwrap();
        if let Some(reply) = state.first.take().or_else(|| state.rest.pop_front()) {
            return Poll::Ready(Some(reply));
        }
        if state.senders == 0 {
            return Poll::Ready(None);
        }
        match &mut state.waker {
            Some(waker) => waker.clone_from(cx.waker()),
            none => *none = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The next reply, as [`Replies::poll_recv`].
    pub(crate) async fn recv(&mut self) -> Option<Reply> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }
}

impl Drop for Replies {
    fn drop(&mut self) {
        let unread = {
            let mut state = self.0.lock().unwrap();
            state.receiving = false;
            state.waker = None;
            (state.first.take(), std::mem::take(&mut state.rest))
        };
        // Dropped outside the lock: a reply may own much.
        drop(unread);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{LogEntry, LogLevel};

    fn log(n: i64) -> Reply {
        Reply::Log(LogEntry {
            level: LogLevel::Log,
            args: vec![n.into()],
        })
    }

    fn number(reply: Option<Reply>) -> Option<i64> {
        match reply {
            Some(Reply::Log(entry)) => entry.args[0].as_i64(),
            Some(other) => panic!("unexpected {other:?}"),
            None => None,
        }
    }

    #[tokio::test]
    async fn replies_arrive_in_order_then_the_end() {
        let (tx, mut rx) = channel();
        let other = tx.clone();
        tx.send(log(1)).unwrap();
        other.send(log(2)).unwrap();
        assert_eq!(number(rx.recv().await), Some(1));
        tx.send(log(3)).unwrap();
        other.send(log(4)).unwrap();
        drop(tx);
        assert_eq!(number(rx.recv().await), Some(2));
        assert_eq!(number(rx.recv().await), Some(3));
        drop(other);
        assert_eq!(number(rx.recv().await), Some(4));
        assert_eq!(number(rx.recv().await), None);
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_a_reply_and_for_the_end() {
        let (tx, mut rx) = channel();
        let waiting = tokio::spawn(async move {
            let first = number(rx.recv().await);
            (first, number(rx.recv().await))
        });
        tokio::task::yield_now().await;
        let sender = std::thread::spawn(move || {
            tx.send(log(7)).unwrap();
            drop(tx);
        });
        sender.join().unwrap();
        assert_eq!(waiting.await.unwrap(), (Some(7), None));
    }

    #[test]
    fn a_reply_to_a_dropped_receiver_comes_back() {
        let (tx, rx) = channel();
        drop(rx);
        assert!(matches!(tx.send(log(1)), Err(Reply::Log(_))));
    }
}
