//! One shared timer for thousands of simulated things (container exits, node heartbeats): a single
//! task keeps every deadline in a tokio-util `DelayQueue` (a hierarchical timer wheel) and hands
//! each item back on a stream when it is due. No task or sleep per pod or per node.

use futures::channel::mpsc;
use futures::{Stream, StreamExt};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::time::DelayQueue;

/// A handle that schedules items on the shared timer; clones share it.
pub struct Timer<T> {
    tx: mpsc::UnboundedSender<(Instant, T)>,
}

impl<T> Clone for Timer<T> {
    fn clone(&self) -> Self {
        Timer { tx: self.tx.clone() }
    }
}

impl<T: Send + 'static> Timer<T> {
    /// Start the timer's task on the current runtime. Items come back on the returned stream when
    /// due; the task ends when every handle and the stream are dropped.
    pub fn start() -> (Timer<T>, impl Stream<Item = T> + Send + Unpin + 'static) {
        let (tx, rx) = mpsc::unbounded();
        let (out_tx, out_rx) = mpsc::unbounded();
        tokio::spawn(drive(rx, out_tx));
        (Timer { tx }, out_rx)
    }

    /// Hand `item` back at `when` (at once if that has passed).
    pub fn at(&self, when: Instant, item: T) {
        let _ = self.tx.unbounded_send((when, item));
    }

    /// Hand `item` back after `delay`.
    pub fn after(&self, delay: Duration, item: T) {
        self.at(Instant::now() + delay, item);
    }
}

async fn drive<T>(mut requests: mpsc::UnboundedReceiver<(Instant, T)>, due: mpsc::UnboundedSender<T>) {
    let mut queue: DelayQueue<T> = DelayQueue::new();
    let mut open = true;
    loop {
        tokio::select! {
            request = requests.next(), if open => match request {
                Some((when, item)) => {
                    queue.insert_at(item, when);
                }
                None => open = false,
            },
            Some(expired) = queue.next(), if !queue.is_empty() => {
                if due.unbounded_send(expired.into_inner()).is_err() {
                    return;
                }
            }
            else => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn items_come_back_in_deadline_order() {
        let (timer, mut due) = Timer::start();
        timer.after(Duration::from_millis(60), "late");
        timer.after(Duration::from_millis(10), "early");
        timer.after(Duration::ZERO, "now");
        let started = std::time::Instant::now();
        assert_eq!(due.next().await, Some("now"));
        assert_eq!(due.next().await, Some("early"));
        assert_eq!(due.next().await, Some("late"));
        assert!(started.elapsed() >= Duration::from_millis(60));
    }

    #[tokio::test]
    async fn past_deadlines_fire_at_once_and_many_items_share_one_task() {
        let (timer, due) = Timer::start();
        let past = Instant::now() - Duration::from_secs(5);
        for i in 0..10_000u32 {
            timer.at(past + Duration::from_nanos(u64::from(i)), i);
        }
        let all: Vec<u32> = tokio::time::timeout(Duration::from_secs(5), due.take(10_000).collect())
            .await
            .expect("every item fires");
        assert_eq!(all.len(), 10_000);
    }

    #[tokio::test]
    async fn the_stream_ends_when_every_handle_is_gone_and_nothing_is_pending() {
        let (timer, mut due) = Timer::<u8>::start();
        timer.after(Duration::from_millis(5), 1);
        drop(timer);
        assert_eq!(due.next().await, Some(1));
        assert_eq!(due.next().await, None);
    }
}
