//! ReplicaFetcherManager: followers copy their leaders' logs with Kafka's replica Fetch
//! (Kafka's ReplicaFetcherManager / ReplicaFetcherThread, with truncation on fetch, KIP-320).
//!
//! One fetcher task per leader broker (num.replica.fetchers = 1) fetches every partition this
//! broker follows from that leader, in one long-polling Fetch at a time:
//! - the request names this broker (replica_state: id and broker epoch), each partition's
//!   current leader epoch, fetch offset (the log end offset), last fetched epoch (the log's
//!   latest epoch), log start offset and high watermark;
//! - records are appended as they are ([`PartitionLog::append_as_follower`]); the high
//!   watermark and log start offset follow the leader's;
//! - a diverging epoch in the answer truncates the log where it diverges (to the end of the
//!   largest epoch both have, at most the leader's end of it); the next fetch checks again;
//! - OFFSET_OUT_OF_RANGE: the leader's log end is below this log's (truncate to it) or its
//!   start is above this log's end (start over empty at it), asked with ListOffsets as a
//!   replica;
//! - other partition errors back off for replica.fetch.backoff.ms; the metadata (leader
//!   changes) moves partitions between fetchers.
//!
//! File I/O (appends, truncation) runs through [`crate::blocking::run`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice_protocol::kafka_protocol::messages::fetch_request::{
    FetchPartition, FetchTopic, ReplicaState,
};
use sluice_protocol::kafka_protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsTopic,
};
use sluice_protocol::kafka_protocol::messages::{
    BrokerId, FetchRequest, ListOffsetsRequest, RequestKind, ResponseKind, TopicName,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;
use sluice_storage::TopicPartition;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::partition::Partition;
use crate::cluster::channel::NodeChannel;

/// Kafka's ListOffsetsRequest.EARLIEST_TIMESTAMP / LATEST_TIMESTAMP.
const EARLIEST: i64 = -2;
const LATEST: i64 = -1;

/// Settings of the fetchers (Kafka's replica.* configs).
#[derive(Debug, Clone)]
pub struct FetcherConfig {
    pub node_id: i32,
    /// replica.fetch.wait.max.ms
    pub max_wait_ms: i32,
    /// replica.fetch.min.bytes
    pub min_bytes: i32,
    /// replica.fetch.response.max.bytes
    pub response_max_bytes: i32,
    /// replica.fetch.max.bytes
    pub partition_max_bytes: i32,
    /// replica.fetch.backoff.ms
    pub backoff: Duration,
    /// replica.socket.timeout.ms
    pub request_timeout: Duration,
}

impl FetcherConfig {
    pub fn new(node_id: i32) -> Self {
        Self {
            node_id,
            max_wait_ms: 500,
            min_bytes: 1,
            response_max_bytes: 10 * 1024 * 1024,
            partition_max_bytes: 1024 * 1024,
            backoff: Duration::from_secs(1),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Where a leader broker listens (inter-broker listener) and who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderEndpoint {
    pub id: i32,
    /// `host:port`
    pub addr: String,
}

/// A partition a fetcher copies, and how far.
struct FetchState {
    partition: Arc<Partition>,
    current_leader_epoch: i32,
    /// Not fetched again before this instant (after an error).
    delayed_until: Option<Instant>,
}

struct Fetcher {
    leader: LeaderEndpoint,
    partitions: Arc<Mutex<HashMap<TopicPartition, FetchState>>>,
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
}

/// See the module docs.
pub struct ReplicaFetcherManager {
    config: FetcherConfig,
    /// The broker epoch this broker's fetches carry.
    broker_epoch: Arc<dyn Fn() -> i64 + Send + Sync>,
    fetchers: Mutex<HashMap<i32, Fetcher>>,
}

impl std::fmt::Debug for ReplicaFetcherManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaFetcherManager")
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ReplicaFetcherManager {
    pub fn new(config: FetcherConfig, broker_epoch: Arc<dyn Fn() -> i64 + Send + Sync>) -> Self {
        Self {
            config,
            broker_epoch,
            fetchers: Mutex::new(HashMap::new()),
        }
    }

    /// Follow `partition` from `leader` in `leader_epoch` (replacing whatever fetched it).
    /// Spawns the leader's fetcher task on the current runtime if it has none.
    pub fn add_partition(
        &self,
        leader: LeaderEndpoint,
        partition: Arc<Partition>,
        leader_epoch: i32,
    ) {
        let tp = partition.topic_partition().clone();
        self.remove_partitions(std::slice::from_ref(&tp));
        let mut fetchers = lock(&self.fetchers);
        if fetchers.get(&leader.id).is_some_and(|f| f.leader != leader) {
            // The leader moved to another address: start over.
            if let Some(f) = fetchers.remove(&leader.id) {
                let _ = f.stop.send(true);
            }
        }
        let fetcher = fetchers.entry(leader.id).or_insert_with(|| {
            let (stop, stop_rx) = watch::channel(false);
            let f = Fetcher {
                leader: leader.clone(),
                partitions: Arc::new(Mutex::new(HashMap::new())),
                wake: Arc::new(Notify::new()),
                stop,
            };
            let task = FetcherTask {
                config: self.config.clone(),
                broker_epoch: self.broker_epoch.clone(),
                channel: NodeChannel::new(
                    format!("broker {}", leader.id),
                    leader.addr.clone(),
                    &format!("broker-{}-fetcher-0", self.config.node_id),
                    self.config.request_timeout,
                ),
                leader: leader.clone(),
                partitions: f.partitions.clone(),
                wake: f.wake.clone(),
            };
            tokio::spawn(task.run(stop_rx));
            f
        });
        lock(&fetcher.partitions).insert(
            tp,
            FetchState {
                partition,
                current_leader_epoch: leader_epoch,
                delayed_until: None,
            },
        );
        fetcher.wake.notify_one();
    }

    /// Stop fetching these partitions (this broker leads them now, or no longer holds them).
    pub fn remove_partitions(&self, tps: &[TopicPartition]) {
        let mut fetchers = lock(&self.fetchers);
        let mut idle = Vec::new();
        for (id, f) in fetchers.iter() {
            let mut parts = lock(&f.partitions);
            for tp in tps {
                parts.remove(tp);
            }
            if parts.is_empty() {
                idle.push(*id);
            }
        }
        for id in idle {
            if let Some(f) = fetchers.remove(&id) {
                let _ = f.stop.send(true);
            }
        }
    }

    /// The partitions being fetched, by leader (for tests and DescribeLogDirs' lag).
    pub fn fetched_partitions(&self) -> Vec<(i32, TopicPartition)> {
        let fetchers = lock(&self.fetchers);
        fetchers
            .iter()
            .flat_map(|(id, f)| {
                lock(&f.partitions)
                    .keys()
                    .map(|tp| (*id, tp.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Stop every fetcher (shutdown).
    pub fn shutdown(&self) {
        for (_, f) in lock(&self.fetchers).drain() {
            let _ = f.stop.send(true);
        }
    }
}

struct FetcherTask {
    config: FetcherConfig,
    broker_epoch: Arc<dyn Fn() -> i64 + Send + Sync>,
    channel: NodeChannel,
    leader: LeaderEndpoint,
    partitions: Arc<Mutex<HashMap<TopicPartition, FetchState>>>,
    wake: Arc<Notify>,
}

/// One partition of a fetch being built: what was asked, to match the answer.
struct Asked {
    tp: TopicPartition,
    partition: Arc<Partition>,
    leader_epoch: i32,
    fetch_offset: i64,
}

impl FetcherTask {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(leader = self.leader.id, addr = %self.leader.addr, "replica fetcher started");
        loop {
            if *stop.borrow() {
                break;
            }
            let asked = self.fetchable();
            if asked.is_empty() {
                let next = self.next_due();
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = stop.changed() => {}
                    _ = async {
                        match next {
                            Some(at) => tokio::time::sleep_until(at).await,
                            None => std::future::pending().await,
                        }
                    } => {}
                }
                continue;
            }
            let request = self.request(&asked);
            let timeout = self.config.request_timeout
                + Duration::from_millis(self.config.max_wait_ms.max(0) as u64);
            let result = tokio::select! {
                r = self.channel.call_with_timeout(RequestKind::Fetch(request), None, timeout) => r,
                _ = stop.changed() => break,
            };
            match result {
                Ok(resp) => {
                    if let ResponseKind::Fetch(r) = resp.body {
                        if r.error_code != 0 {
                            tracing::warn!(
                                leader = self.leader.id,
                                error = r.error_code,
                                "replica fetch failed"
                            );
                            self.delay_all();
                        } else {
                            self.process(asked, r).await;
                        }
                    }
                }
                Err(e) => {
                    tracing::info!(leader = self.leader.id, error = %e, "replica fetch failed; retrying after the backoff");
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.backoff) => {}
                        _ = stop.changed() => break,
                    }
                }
            }
        }
        tracing::info!(leader = self.leader.id, "replica fetcher stopped");
    }

    fn fetchable(&self) -> Vec<Asked> {
        let now = Instant::now();
        let mut parts = lock(&self.partitions);
        let mut out = Vec::new();
        for (tp, s) in parts.iter_mut() {
            if s.delayed_until.is_some_and(|t| t > now) {
                continue;
            }
            s.delayed_until = None;
            out.push(Asked {
                tp: tp.clone(),
                partition: s.partition.clone(),
                leader_epoch: s.current_leader_epoch,
                fetch_offset: s.partition.log().log_end_offset(),
            });
        }
        out
    }

    fn next_due(&self) -> Option<Instant> {
        lock(&self.partitions)
            .values()
            .filter_map(|s| s.delayed_until)
            .min()
    }

    fn delay(&self, tp: &TopicPartition) {
        if let Some(s) = lock(&self.partitions).get_mut(tp) {
            s.delayed_until = Some(Instant::now() + self.config.backoff);
        }
    }

    fn delay_all(&self) {
        let at = Instant::now() + self.config.backoff;
        for s in lock(&self.partitions).values_mut() {
            s.delayed_until = Some(at);
        }
    }

    /// Still fetching `tp` in `epoch` (the metadata did not move it meanwhile).
    fn still_fetching(&self, tp: &TopicPartition, epoch: i32) -> bool {
        lock(&self.partitions)
            .get(tp)
            .is_some_and(|s| s.current_leader_epoch == epoch)
    }

    fn request(&self, asked: &[Asked]) -> FetchRequest {
        let mut topics: Vec<FetchTopic> = Vec::new();
        for a in asked {
            let log = a.partition.log();
            let last_fetched_epoch = log
                .leader_epoch_entries()
                .last()
                .map_or(-1, |(epoch, _)| *epoch);
            let fp = FetchPartition::default()
                .with_partition(a.tp.partition)
                .with_current_leader_epoch(a.leader_epoch)
                .with_fetch_offset(a.fetch_offset)
                .with_last_fetched_epoch(last_fetched_epoch)
                .with_log_start_offset(log.log_start_offset())
                .with_partition_max_bytes(self.config.partition_max_bytes)
                .with_high_watermark(log.high_watermark());
            match topics
                .iter_mut()
                .find(|t| t.topic_id == a.partition.topic_id())
            {
                Some(t) => t.partitions.push(fp),
                // Topic ids: Fetch v13+ (every Kafka 4 broker serves v13-18).
                None => topics.push(
                    FetchTopic::default()
                        .with_topic_id(a.partition.topic_id())
                        .with_partitions(vec![fp]),
                ),
            }
        }
        // replica_state: Fetch v15+ (replica_id is v0-14 only).
        FetchRequest::default()
            .with_replica_state(
                ReplicaState::default()
                    .with_replica_id(BrokerId(self.config.node_id))
                    .with_replica_epoch((self.broker_epoch)()),
            )
            .with_max_wait_ms(self.config.max_wait_ms)
            .with_min_bytes(self.config.min_bytes)
            .with_max_bytes(self.config.response_max_bytes)
            .with_isolation_level(0)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(topics)
    }

    async fn process(
        &self,
        asked: Vec<Asked>,
        r: sluice_protocol::kafka_protocol::messages::FetchResponse,
    ) {
        let mut answers = HashMap::new();
        for t in r.responses {
            for p in t.partitions {
                answers.insert((t.topic_id, t.topic.to_string(), p.partition_index), p);
            }
        }
        for a in asked {
            let key_by_id = (a.partition.topic_id(), String::new(), a.tp.partition);
            let key_by_name = (uuid::Uuid::nil(), a.tp.topic.clone(), a.tp.partition);
            let Some(p) = answers
                .remove(&key_by_id)
                .or_else(|| answers.remove(&key_by_name))
            else {
                continue;
            };
            if !self.still_fetching(&a.tp, a.leader_epoch) {
                continue;
            }
            match p.error_code {
                0 => {
                    if let Err(e) = self.apply_data(&a, p) {
                        tracing::error!(tp = %a.tp, error = %e, "cannot apply the leader's data");
                        self.delay(&a.tp);
                    }
                }
                1 => {
                    // OFFSET_OUT_OF_RANGE
                    if let Err(e) = self.handle_out_of_range(&a).await {
                        tracing::warn!(tp = %a.tp, error = %e, "cannot handle an out-of-range fetch offset");
                        self.delay(&a.tp);
                    }
                }
                code => {
                    tracing::debug!(tp = %a.tp, error = code, leader = self.leader.id, "replica fetch error; backing off");
                    self.delay(&a.tp);
                }
            }
        }
    }

    fn apply_data(
        &self,
        a: &Asked,
        p: sluice_protocol::kafka_protocol::messages::fetch_response::PartitionData,
    ) -> Result<(), String> {
        let log = a.partition.log();
        if p.diverging_epoch.epoch >= 0 {
            // Kafka's truncateOnFetchResponse / getOffsetTruncationState.
            let leader_epoch = p.diverging_epoch.epoch;
            let leader_end = p.diverging_epoch.end_offset;
            let (follower_epoch, follower_end) = log.end_offset_for_epoch(leader_epoch);
            let leo = log.log_end_offset();
            let target = if follower_epoch < 0 {
                leader_end.min(leo)
            } else if follower_epoch != leader_epoch {
                follower_end.min(leo)
            } else {
                follower_end.min(leader_end).min(leo)
            };
            tracing::info!(
                tp = %a.tp,
                leader_epoch, leader_end, follower_epoch, follower_end,
                "the log diverges from the leader's: truncating to offset {target}"
            );
            crate::blocking::run(|| log.truncate_to(target)).map_err(|e| e.to_string())?;
            return Ok(());
        }
        if let Some(records) = p.records.filter(|r| !r.is_empty()) {
            if log.log_end_offset() != a.fetch_offset {
                // The log moved meanwhile (truncated by a newer decision): fetch again.
                return Ok(());
            }
            // The one copy of the fetched bytes: into a buffer the log writes.
            let mut buf = records.to_vec();
            crate::blocking::run(|| log.append_as_follower(&mut buf, a.leader_epoch))
                .map_err(|e| e.to_string())?;
        }
        log.update_high_watermark(p.high_watermark.min(log.log_end_offset()));
        if p.log_start_offset > log.log_start_offset() {
            crate::blocking::run(|| log.maybe_increment_log_start_offset(p.log_start_offset))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Kafka's fetchOffsetAndTruncate for OFFSET_OUT_OF_RANGE.
    async fn handle_out_of_range(&self, a: &Asked) -> Result<(), String> {
        let log = a.partition.log();
        let leo = log.log_end_offset();
        let leader_end = self.list_offset(a, LATEST).await?;
        if leader_end < leo {
            tracing::warn!(tp = %a.tp, leader_end, leo, "the leader's log ends before this replica's: truncating to it");
            return crate::blocking::run(|| log.truncate_to(leader_end)).map_err(|e| e.to_string());
        }
        let leader_start = self.list_offset(a, EARLIEST).await?;
        if leo < leader_start {
            tracing::warn!(tp = %a.tp, leader_start, leo, "the leader's log starts after this replica's end: starting over at its start");
            return crate::blocking::run(|| log.truncate_fully_and_start_at(leader_start))
                .map_err(|e| e.to_string());
        }
        Ok(())
    }

    async fn list_offset(&self, a: &Asked, timestamp: i64) -> Result<i64, String> {
        let request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(self.config.node_id))
            .with_isolation_level(0)
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(TopicName(StrBytes::from_string(a.tp.topic.clone())))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(a.tp.partition)
                    .with_current_leader_epoch(a.leader_epoch)
                    .with_timestamp(timestamp)])]);
        let resp = self
            .channel
            .call(RequestKind::ListOffsets(request), None)
            .await
            .map_err(|e| e.to_string())?;
        let ResponseKind::ListOffsets(r) = resp.body else {
            return Err("ListOffsets answered with another response".into());
        };
        let p = r
            .topics
            .first()
            .and_then(|t| t.partitions.first())
            .ok_or("ListOffsets answered without the partition")?;
        if p.error_code != 0 {
            return Err(format!("ListOffsets error {}", p.error_code));
        }
        Ok(p.offset)
    }
}
