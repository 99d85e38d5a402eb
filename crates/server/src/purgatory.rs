//! Where long-polling fetches wait for appends (Kafka's DelayedFetch purgatory, keyed by
//! partition).
//!
//! A fetch that cannot be answered yet registers one waiter on every partition it reads, checks
//! once more (so an append between its first read and its registration is not missed), then
//! waits until a partition it reads moves its high watermark or `max_wait_ms` runs out. Appends
//! wake the waiters of their partition only: no polling loop, no broker-wide broadcast.
//!
//! Registrations are weak: a waiter that gave up (timed out, connection closed) costs nothing
//! but an entry, pruned on the next registration for that partition or the next wake.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::Notify;

/// A topic partition as the purgatory keys it.
pub type PartitionKey = (Arc<str>, i32);

#[derive(Default)]
pub struct FetchPurgatory {
    waiters: Mutex<HashMap<PartitionKey, Vec<Weak<Notify>>>>,
    /// Set at shutdown: waiting fetches are answered with what they have.
    shut_down: AtomicBool,
}

impl FetchPurgatory {
    /// Register one waiter on every partition in `keys`. Await `notified()` on the result; a
    /// wake that happens before the await is kept (Notify stores a permit).
    pub fn register<'a>(&self, keys: impl IntoIterator<Item = &'a PartitionKey>) -> Arc<Notify> {
        let waiter = Arc::new(Notify::new());
        if self.is_shut_down() {
            waiter.notify_one();
            return waiter;
        }
        let weak = Arc::downgrade(&waiter);
        let mut map = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            let list = map.entry(k.clone()).or_default();
            list.retain(|w| w.strong_count() > 0);
            list.push(weak.clone());
        }
        waiter
    }

    /// Wake every waiter registered on (topic, partition).
    pub fn wake(&self, topic: &str, partition: i32) {
        let woken = {
            let mut map = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
            map.remove(&(Arc::from(topic), partition))
        };
        for w in woken.into_iter().flatten() {
            if let Some(n) = w.upgrade() {
                n.notify_one();
            }
        }
    }

    /// The broker is shutting down: wake every waiting fetch now and later ones at once, so
    /// that long polls end instead of holding their connections open (a fetch checks
    /// [`is_shut_down`](Self::is_shut_down) and answers with what it read).
    pub fn shutdown(&self) {
        self.shut_down.store(true, Ordering::SeqCst);
        let all = std::mem::take(&mut *self.waiters.lock().unwrap_or_else(|p| p.into_inner()));
        for w in all.into_values().flatten() {
            if let Some(n) = w.upgrade() {
                n.notify_one();
            }
        }
    }

    pub fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::SeqCst)
    }

    /// Number of partitions with registrations (for tests and metrics).
    pub fn watched_partitions(&self) -> usize {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn wake_before_wait_is_not_lost_and_only_the_partition_wakes() {
        let p = FetchPurgatory::default();
        let a: PartitionKey = (Arc::from("t"), 0);
        let b: PartitionKey = (Arc::from("t"), 1);
        let wa = p.register([&a]);
        let wb = p.register([&b]);
        p.wake("t", 0);
        // The permit is stored: this returns at once.
        tokio::time::timeout(Duration::from_secs(5), wa.notified())
            .await
            .expect("woken");
        // b was not woken: a paused-clock timeout proves it without real waiting.
        tokio::time::pause();
        assert!(tokio::time::timeout(Duration::from_secs(5), wb.notified())
            .await
            .is_err());
    }

    #[tokio::test]
    async fn shutdown_wakes_waiters_and_later_registrations() {
        let p = FetchPurgatory::default();
        let a: PartitionKey = (Arc::from("t"), 0);
        let waiting = p.register([&a]);
        tokio::time::pause();
        p.shutdown();
        assert!(p.is_shut_down());
        tokio::time::timeout(Duration::from_secs(5), waiting.notified())
            .await
            .expect("woken by shutdown");
        tokio::time::timeout(Duration::from_secs(5), p.register([&a]).notified())
            .await
            .expect("a registration after shutdown is woken at once");
        assert_eq!(p.watched_partitions(), 0);
    }

    #[test]
    fn dead_waiters_are_pruned() {
        let p = FetchPurgatory::default();
        let a: PartitionKey = (Arc::from("t"), 0);
        for _ in 0..100 {
            drop(p.register([&a]));
        }
        let live = p.register([&a]);
        let map = p.waiters.lock().unwrap();
        assert_eq!(map.get(&a).unwrap().len(), 1);
        drop(map);
        drop(live);
    }
}
