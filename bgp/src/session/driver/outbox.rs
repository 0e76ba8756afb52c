//! The write queue: messages waiting to be written, handed to the connection as it takes
//! them, and how long they may wait before the peer counts as not reading.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::time::Instant;

use bytes::Bytes;
use tokio::io::{AsyncWriteExt, WriteHalf};

use crate::session::transport::Stream;

/// At most this many queued messages are handed to one vectored write.
const WRITE_SLICES: usize = 64;

/// Messages waiting to be written, oldest first; `offset` octets of the first are written.
#[derive(Default)]
pub(super) struct Outbox {
    pub(super) queue: VecDeque<Bytes>,
    pub(super) offset: usize,
    /// When the queue last became non-empty or last made progress.
    pub(super) progress: Option<Instant>,
}

impl Outbox {
    pub(super) fn push(&mut self, message: Bytes, now: Instant) {
        if message.is_empty() {
            return;
        }
        if self.queue.is_empty() {
            self.progress = Some(now);
        }
        self.queue.push_back(message);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(super) fn clear(&mut self) {
        self.queue.clear();
        self.offset = 0;
        self.progress = None;
    }

    /// Marks `n` more octets written.
    pub(super) fn advance(&mut self, mut n: usize, now: Instant) {
        self.progress = Some(now);
        while n > 0 {
            let Some(front) = self.queue.front() else {
                break;
            };
            let left = front.len() - self.offset;
            if n < left {
                self.offset += n;
                return;
            }
            n -= left;
            self.offset = 0;
            self.queue.pop_front();
        }
        if self.queue.is_empty() {
            self.progress = None;
        }
    }
}

/// Writes some of the queued messages; pending while there is nothing to write.
pub(super) async fn write_some<S: Stream>(
    writer: Option<&mut WriteHalf<S>>,
    outbox: &Outbox,
) -> io::Result<usize> {
    let Some(w) = writer.filter(|_| !outbox.is_empty()) else {
        return std::future::pending().await;
    };
    let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
    let mut count = 0;
    for (i, message) in outbox.queue.iter().take(WRITE_SLICES).enumerate() {
        let from = if i == 0 { outbox.offset } else { 0 };
        slices[i] = IoSlice::new(&message[from..]);
        count += 1;
    }
    w.write_vectored(&slices[..count]).await
}
