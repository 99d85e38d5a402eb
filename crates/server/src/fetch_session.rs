//! Incremental fetch sessions (KIP-227), as Kafka's FetchManager / FetchSessionCache.
//!
//! A fetch names its session by (session_id, epoch):
//! - (0, -1): a full fetch without a session.
//! - (0, 0): a full fetch that opens a session; the response carries the new id (or 0 when the
//!   cache has no room).
//! - (id, -1): close session `id`, then a full sessionless fetch. (id, 0): close `id` and open a
//!   new one.
//! - (id, n > 0): an incremental fetch: the request lists only partitions whose fetch state
//!   changed, plus forgotten ones; the broker fetches every partition of the session and returns
//!   only those with something new (records, high watermark, last stable offset or log start
//!   offset changed, or an error). Unknown id: FETCH_SESSION_ID_NOT_FOUND; wrong epoch:
//!   INVALID_FETCH_SESSION_EPOCH. Each successful incremental fetch advances the epoch.
//!
//! The cache is bounded (max.incremental.fetch.session.cache.slots, default 1000). When full, a
//! new session takes the slot of the least recently used session idle for longer than the
//! eviction time (Kafka's min.incremental.fetch.session.eviction.ms, 120 s); otherwise no
//! session is created and the client carries on with full fetches.

use indexmap::IndexMap;
use sluice_protocol::error::KafkaError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

pub const DEFAULT_CACHE_SLOTS: usize = 1000;
pub const DEFAULT_EVICTION_MS: i64 = 120_000;

/// A partition in a session: topic id (nil before Fetch v13), topic name, partition index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionPartition {
    pub topic_id: Uuid,
    pub topic: Arc<str>,
    pub partition: i32,
}

/// What the client asked for a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionFetch {
    pub fetch_offset: i64,
    pub partition_max_bytes: i32,
    pub log_start_offset: i64,
    /// The epoch of the last batch the fetcher has (v12+; -1: none). A follower's log diverges
    /// from the leader's when the leader ended that epoch before `fetch_offset`.
    pub last_fetched_epoch: i32,
}

/// The state last sent to the client for a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SentState {
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
}

struct CachedPartition {
    fetch: PartitionFetch,
    sent: Option<SentState>,
}

struct Session {
    epoch: i32,
    partitions: IndexMap<SessionPartition, CachedPartition>,
    last_used_ms: i64,
}

struct Inner {
    sessions: HashMap<i32, Session>,
    next_id: i32,
}

pub struct FetchSessionCache {
    inner: Mutex<Inner>,
    max_slots: usize,
    eviction_ms: i64,
}

/// How a fetch relates to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchContext {
    /// Full fetch, no session: respond with every requested partition, session id 0.
    Sessionless,
    /// Full fetch that opens a session (when `session_id` != 0) once the response is known.
    Full { new_session: bool },
    /// Incremental fetch of session `session_id`.
    Incremental { session_id: i32 },
}

/// The partitions to fetch, in order, with their fetch state.
pub type FetchPlan = Vec<(SessionPartition, PartitionFetch)>;

impl FetchSessionCache {
    pub fn new(max_slots: usize, eviction_ms: i64) -> Self {
        Self {
            inner: Mutex::new(Inner {
                sessions: HashMap::new(),
                next_id: 1,
            }),
            max_slots,
            eviction_ms,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Work out the context of a fetch and the partitions it covers.
    pub fn begin(
        &self,
        session_id: i32,
        epoch: i32,
        requested: FetchPlan,
        forgotten: &[SessionPartition],
        now_ms: i64,
    ) -> Result<(FetchContext, FetchPlan), KafkaError> {
        let mut inner = self.lock();
        if epoch == -1 || epoch == 0 {
            if session_id != 0 {
                inner.sessions.remove(&session_id);
            }
            let ctx = if epoch == -1 {
                FetchContext::Sessionless
            } else {
                FetchContext::Full { new_session: true }
            };
            return Ok((ctx, requested));
        }
        if session_id == 0 {
            return Err(KafkaError::InvalidFetchSessionEpoch);
        }
        let session = inner
            .sessions
            .get_mut(&session_id)
            .ok_or(KafkaError::FetchSessionIdNotFound)?;
        if session.epoch != epoch {
            return Err(KafkaError::InvalidFetchSessionEpoch);
        }
        for f in forgotten {
            session.partitions.shift_remove(f);
        }
        for (p, fetch) in requested {
            match session.partitions.get_mut(&p) {
                Some(c) => c.fetch = fetch,
                None => {
                    session
                        .partitions
                        .insert(p, CachedPartition { fetch, sent: None });
                }
            }
        }
        session.epoch = next_epoch(session.epoch);
        session.last_used_ms = now_ms;
        let plan = session
            .partitions
            .iter()
            .map(|(p, c)| (p.clone(), c.fetch))
            .collect();
        Ok((FetchContext::Incremental { session_id }, plan))
    }

    /// After fetching: decide which partitions go into the response and remember what was sent.
    /// `results` holds (partition, state, has_records_or_error) for every planned partition.
    /// Returns the session id for the response and a keep-flag per result.
    pub fn finish(
        &self,
        ctx: &FetchContext,
        plan: &FetchPlan,
        results: &[(SentState, bool)],
        now_ms: i64,
    ) -> (i32, Vec<bool>) {
        match ctx {
            FetchContext::Sessionless => (0, vec![true; results.len()]),
            FetchContext::Full { .. } => {
                let id = self.create(plan, results, now_ms);
                (id, vec![true; results.len()])
            }
            FetchContext::Incremental { session_id } => {
                let mut inner = self.lock();
                let Some(session) = inner.sessions.get_mut(session_id) else {
                    return (*session_id, vec![true; results.len()]);
                };
                let keep = plan
                    .iter()
                    .zip(results)
                    .map(|((p, _), (state, has_data))| {
                        let Some(c) = session.partitions.get_mut(p) else {
                            return true;
                        };
                        let changed = c.sent != Some(*state);
                        c.sent = Some(*state);
                        *has_data || changed
                    })
                    .collect();
                (*session_id, keep)
            }
        }
    }

    fn create(&self, plan: &FetchPlan, results: &[(SentState, bool)], now_ms: i64) -> i32 {
        let mut inner = self.lock();
        if inner.sessions.len() >= self.max_slots {
            let victim = inner
                .sessions
                .iter()
                .filter(|(_, s)| now_ms - s.last_used_ms > self.eviction_ms)
                .min_by_key(|(_, s)| s.last_used_ms)
                .map(|(id, _)| *id);
            match victim {
                Some(id) => {
                    inner.sessions.remove(&id);
                }
                None => return 0,
            }
        }
        let mut id = inner.next_id;
        while id == 0 || inner.sessions.contains_key(&id) {
            id = id.wrapping_add(1).max(1);
        }
        inner.next_id = id.wrapping_add(1).max(1);
        let partitions = plan
            .iter()
            .zip(results)
            .map(|((p, fetch), (state, _))| {
                (
                    p.clone(),
                    CachedPartition {
                        fetch: *fetch,
                        sent: Some(*state),
                    },
                )
            })
            .collect();
        inner.sessions.insert(
            id,
            Session {
                epoch: 1,
                partitions,
                last_used_ms: now_ms,
            },
        );
        id
    }
}

fn next_epoch(e: i32) -> i32 {
    if e == i32::MAX {
        1
    } else {
        e + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(t: &str, p: i32) -> SessionPartition {
        SessionPartition {
            topic_id: Uuid::nil(),
            topic: Arc::from(t),
            partition: p,
        }
    }

    fn pf(offset: i64) -> PartitionFetch {
        PartitionFetch {
            fetch_offset: offset,
            partition_max_bytes: 1 << 20,
            log_start_offset: -1,
            last_fetched_epoch: -1,
        }
    }

    fn st(hw: i64) -> SentState {
        SentState {
            high_watermark: hw,
            last_stable_offset: hw,
            log_start_offset: 0,
        }
    }

    #[test]
    fn full_then_incremental_lifecycle() {
        let cache = FetchSessionCache::new(10, 1000);
        let req = vec![(sp("a", 0), pf(0)), (sp("a", 1), pf(0))];
        let (ctx, plan) = cache.begin(0, 0, req, &[], 0).unwrap();
        assert_eq!(ctx, FetchContext::Full { new_session: true });
        let (id, keep) = cache.finish(&ctx, &plan, &[(st(5), true), (st(0), false)], 0);
        assert!(id > 0);
        assert_eq!(keep, vec![true, true]);

        // Epoch 1: nothing changed on partition 1, new data on 0.
        let (ctx, plan) = cache
            .begin(id, 1, vec![(sp("a", 0), pf(5))], &[], 1)
            .unwrap();
        assert_eq!(plan.len(), 2, "the session covers both partitions");
        assert_eq!(plan[0].1.fetch_offset, 5);
        let (rid, keep) = cache.finish(&ctx, &plan, &[(st(9), true), (st(0), false)], 1);
        assert_eq!(rid, id);
        assert_eq!(keep, vec![true, false]);

        // A high-watermark change alone is reported.
        let (ctx, plan) = cache.begin(id, 2, vec![], &[], 2).unwrap();
        let (_, keep) = cache.finish(&ctx, &plan, &[(st(9), false), (st(3), false)], 2);
        assert_eq!(keep, vec![false, true]);

        // Forget partition 1.
        let (_, plan) = cache.begin(id, 3, vec![], &[sp("a", 1)], 3).unwrap();
        assert_eq!(plan.len(), 1);

        // Wrong epoch, unknown id.
        assert_eq!(
            cache.begin(id, 99, vec![], &[], 4).unwrap_err(),
            KafkaError::InvalidFetchSessionEpoch
        );
        assert_eq!(
            cache.begin(12345, 1, vec![], &[], 4).unwrap_err(),
            KafkaError::FetchSessionIdNotFound
        );
        // Close with epoch -1: sessionless from then on.
        let (ctx, _) = cache.begin(id, -1, vec![], &[], 5).unwrap();
        assert_eq!(ctx, FetchContext::Sessionless);
        assert!(cache.is_empty());
    }

    #[test]
    fn bounded_cache_evicts_only_idle_sessions() {
        let cache = FetchSessionCache::new(1, 100);
        let (ctx, plan) = cache
            .begin(0, 0, vec![(sp("a", 0), pf(0))], &[], 0)
            .unwrap();
        let (first, _) = cache.finish(&ctx, &plan, &[(st(0), false)], 0);
        assert!(first > 0);
        let (ctx, plan) = cache
            .begin(0, 0, vec![(sp("b", 0), pf(0))], &[], 50)
            .unwrap();
        let (second, _) = cache.finish(&ctx, &plan, &[(st(0), false)], 50);
        assert_eq!(second, 0, "no room while the first session is fresh");
        let (ctx, plan) = cache
            .begin(0, 0, vec![(sp("b", 0), pf(0))], &[], 500)
            .unwrap();
        let (third, _) = cache.finish(&ctx, &plan, &[(st(0), false)], 500);
        assert!(third > 0 && third != first);
        assert_eq!(
            cache.begin(first, 1, vec![], &[], 501).unwrap_err(),
            KafkaError::FetchSessionIdNotFound
        );
    }
}
