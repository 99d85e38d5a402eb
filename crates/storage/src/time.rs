//! An injectable clock, so that time-based behaviour (segment.ms, flush.ms, LogAppendTime) is
//! tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

/// Wall-clock milliseconds since the Unix epoch, as Kafka's `Time.milliseconds()`.
pub trait Time: Send + Sync + std::fmt::Debug {
    fn milliseconds(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemTime;

impl Time for SystemTime {
    fn milliseconds(&self) -> i64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(_) => 0,
        }
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct MockTime {
    now_ms: AtomicI64,
}

impl MockTime {
    pub fn new(now_ms: i64) -> Self {
        Self {
            now_ms: AtomicI64::new(now_ms),
        }
    }
    pub fn sleep(&self, ms: i64) {
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn set(&self, now_ms: i64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }
}

impl Time for MockTime {
    fn milliseconds(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}
