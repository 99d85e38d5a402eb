//! QuorumObserver: follows the KRaft controller quorum's metadata log as an observer, as a
//! Kafka broker's raft client does — long-polling Fetch of `__cluster_metadata-0` to the
//! quorum's leader (found through `controller.quorum.bootstrap.servers` / `voters`: a node
//! that is not the leader answers with who is), FetchSnapshot when the leader no longer holds
//! the offsets asked for, truncation where the leader says the log diverges. Every image that
//! committed records produce is published on a watch channel; the broker applies it.
//!
//! File I/O (appends, snapshot installs) runs through [`crate::blocking::run`].

use std::sync::Arc;
use std::time::Duration;

use sluice_metadata::{MetadataFollower, MetadataImage, SnapshotId};
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::fetch_request::{
    FetchPartition, FetchTopic, ReplicaState,
};
use sluice_protocol::kafka_protocol::messages::fetch_snapshot_request::{
    PartitionSnapshot, SnapshotId as RequestSnapshotId, TopicSnapshot,
};
use sluice_protocol::kafka_protocol::messages::{
    BrokerId, FetchRequest, FetchSnapshotRequest, RequestKind, ResponseKind, TopicName,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;
use tokio::sync::watch;
use uuid::Uuid;

use super::channel::NodeChannel;

/// Kafka's raft Fetch max wait (KafkaRaftClient's fetchMaxWaitMs).
const FETCH_MAX_WAIT_MS: i32 = 500;
/// Bytes per metadata Fetch (Kafka's quorum fetch max bytes, 8 MiB) and per FetchSnapshot.
const FETCH_MAX_BYTES: i32 = 8 * 1024 * 1024;
/// Kafka's `Uuid.METADATA_TOPIC_ID`.
const METADATA_TOPIC_ID: Uuid = Uuid::from_u128(1);
/// Pause before trying another node after a failure.
const RETRY_BACKOFF: Duration = Duration::from_millis(200);

/// The quorum's leader as last heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumLeader {
    pub id: i32,
    pub epoch: i32,
    /// `host:port` of its controller listener.
    pub addr: String,
}

/// What the observer publishes after each change.
#[derive(Debug, Clone)]
pub struct ObservedMetadata {
    pub image: Arc<MetadataImage>,
    /// The offset after the last committed record applied (BrokerHeartbeat's
    /// current_metadata_offset).
    pub applied_offset: i64,
    /// The leader's high watermark: caught up when `applied_offset` reaches it.
    pub high_watermark: i64,
}

/// How the observer identifies itself and whom it asks.
#[derive(Debug, Clone)]
pub struct ObserverConfig {
    pub node_id: i32,
    pub directory_id: Uuid,
    pub cluster_id: String,
    /// `host:port` of each bootstrap controller.
    pub bootstrap: Vec<String>,
    pub request_timeout: Duration,
}

/// See the module docs.
pub struct QuorumObserver {
    config: ObserverConfig,
    follower: MetadataFollower,
    leader: Option<QuorumLeader>,
    channel: Option<NodeChannel>,
    next_bootstrap: usize,
    images: watch::Sender<ObservedMetadata>,
    leaders: watch::Sender<Option<QuorumLeader>>,
}

impl QuorumObserver {
    pub fn new(
        config: ObserverConfig,
        follower: MetadataFollower,
    ) -> (
        Self,
        watch::Receiver<ObservedMetadata>,
        watch::Receiver<Option<QuorumLeader>>,
    ) {
        let first = ObservedMetadata {
            image: Arc::new(follower.image().clone()),
            applied_offset: follower.applied_offset(),
            high_watermark: follower.high_watermark(),
        };
        let (images, images_rx) = watch::channel(first);
        let (leaders, leaders_rx) = watch::channel(None);
        (
            Self {
                config,
                follower,
                leader: None,
                channel: None,
                next_bootstrap: 0,
                images,
                leaders,
            },
            images_rx,
            leaders_rx,
        )
    }

    /// Follow the quorum until `shutdown` turns true.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            let step = tokio::select! {
                r = self.fetch_once() => r,
                _ = shutdown.changed() => return,
            };
            if let Err(message) = step {
                tracing::debug!("metadata fetch: {message}");
                self.forget_leader();
                tokio::select! {
                    _ = tokio::time::sleep(RETRY_BACKOFF) => {},
                    _ = shutdown.changed() => return,
                }
            }
        }
    }

    fn forget_leader(&mut self) {
        self.leader = None;
        self.channel = None;
        self.leaders.send_replace(None);
    }

    /// The node to ask: the leader if known, else the next bootstrap server.
    fn target(&mut self) -> Result<&NodeChannel, String> {
        if self.channel.is_none() {
            let (name, addr) = match &self.leader {
                Some(l) => (
                    format!("controller {} (quorum leader)", l.id),
                    l.addr.clone(),
                ),
                None => {
                    if self.config.bootstrap.is_empty() {
                        return Err("no controller.quorum.bootstrap.servers".into());
                    }
                    let addr = self.config.bootstrap
                        [self.next_bootstrap % self.config.bootstrap.len()]
                    .clone();
                    self.next_bootstrap += 1;
                    (format!("bootstrap controller {addr}"), addr)
                }
            };
            self.channel = Some(NodeChannel::new(
                name,
                addr,
                &format!("raft-observer-{}", self.config.node_id),
                self.config.request_timeout,
            ));
        }
        self.channel
            .as_ref()
            .ok_or_else(|| "no channel".to_string())
    }

    async fn fetch_once(&mut self) -> Result<(), String> {
        let position = self.follower.position();
        // Kafka's leader refuses a request whose last fetched epoch is above its current epoch:
        // until the leader is known, ask in the newest epoch this log has seen.
        let epoch = self
            .leader
            .as_ref()
            .map_or(position.last_fetched_epoch, |l| l.epoch)
            .max(position.last_fetched_epoch);
        let request = FetchRequest::default()
            .with_cluster_id(Some(StrBytes::from_string(self.config.cluster_id.clone())))
            .with_replica_id(BrokerId(-1))
            .with_replica_state(
                ReplicaState::default()
                    .with_replica_id(BrokerId(self.config.node_id))
                    .with_replica_epoch(-1),
            )
            .with_max_wait_ms(FETCH_MAX_WAIT_MS)
            .with_min_bytes(0)
            .with_max_bytes(FETCH_MAX_BYTES)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str(
                    sluice_metadata::CLUSTER_METADATA_TOPIC,
                )))
                .with_topic_id(METADATA_TOPIC_ID)
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_current_leader_epoch(epoch)
                    .with_fetch_offset(position.fetch_offset)
                    .with_last_fetched_epoch(position.last_fetched_epoch)
                    .with_log_start_offset(-1)
                    .with_partition_max_bytes(FETCH_MAX_BYTES)
                    .with_replica_directory_id(self.config.directory_id)
                    .with_high_watermark(self.follower.high_watermark())])]);
        let timeout = self.config.request_timeout + Duration::from_millis(FETCH_MAX_WAIT_MS as u64);
        let channel = self.target()?;
        let response = channel
            .call_with_timeout(RequestKind::Fetch(request), None, timeout)
            .await
            .map_err(|e| e.to_string())?;
        let ResponseKind::Fetch(r) = response.body else {
            return Err("Fetch answered with another response".into());
        };
        if r.error_code != 0 {
            return Err(format!("Fetch error {}", r.error_code));
        }
        let endpoints: Vec<(i32, String)> = r
            .node_endpoints
            .iter()
            .map(|e| (e.node_id.0, format!("{}:{}", e.host, e.port)))
            .collect();
        let Some(p) = r
            .responses
            .into_iter()
            .next()
            .and_then(|t| t.partitions.into_iter().next())
        else {
            return Err("a Fetch response without the metadata partition".into());
        };
        self.learn_leader(
            p.current_leader.leader_id.0,
            p.current_leader.leader_epoch,
            &endpoints,
        );
        match (p.error_code != 0).then(|| KafkaError::try_from_code(p.error_code)) {
            None => {}
            Some(Some(
                KafkaError::FencedLeaderEpoch
                | KafkaError::NotLeaderOrFollower
                | KafkaError::UnknownLeaderEpoch,
            )) => {
                // Ask again, now of the leader it named (if it named one).
                if self.leader.is_none() {
                    return Err(format!("no leader known (error {})", p.error_code));
                }
                return Ok(());
            }
            Some(other) => {
                return Err(format!(
                    "Fetch partition error {} ({other:?})",
                    p.error_code
                ))
            }
        }
        if p.diverging_epoch.epoch >= 0 {
            let end = p.diverging_epoch.end_offset;
            tracing::info!(
                end_offset = end,
                "the metadata log diverges from the leader's: truncating"
            );
            let follower = &mut self.follower;
            crate::blocking::run(|| follower.truncate(end)).map_err(|e| e.to_string())?;
            return Ok(());
        }
        if p.snapshot_id.end_offset >= 0 && p.snapshot_id.epoch >= 0 {
            let id = SnapshotId {
                end_offset: p.snapshot_id.end_offset,
                epoch: p.snapshot_id.epoch,
            };
            self.fetch_snapshot(id).await?;
            self.publish();
            return Ok(());
        }
        let mut records = p.records.map(|b| b.to_vec()).unwrap_or_default();
        let hw = p.high_watermark;
        let epoch = self.leader.as_ref().map_or(i32::MAX, |l| l.epoch);
        let follower = &mut self.follower;
        let changed = crate::blocking::run(|| follower.append(&mut records, epoch, hw))
            .map_err(|e| e.to_string())?;
        if changed || self.images.borrow().high_watermark != hw {
            self.publish();
        }
        Ok(())
    }

    fn learn_leader(&mut self, id: i32, epoch: i32, endpoints: &[(i32, String)]) {
        if id < 0 {
            return;
        }
        let addr = endpoints
            .iter()
            .find(|(n, _)| *n == id)
            .map(|(_, a)| a.clone())
            .or_else(|| {
                self.leader
                    .as_ref()
                    .filter(|l| l.id == id)
                    .map(|l| l.addr.clone())
            })
            .or_else(|| self.channel.as_ref().map(|c| c.addr().to_string()));
        let Some(addr) = addr else {
            return;
        };
        let leader = QuorumLeader { id, epoch, addr };
        if self.leader.as_ref() != Some(&leader) {
            if self.leader.as_ref().map(|l| &l.addr) != Some(&leader.addr) {
                self.channel = None;
            }
            tracing::info!(leader = id, epoch, addr = %leader.addr, "controller quorum leader");
            self.leader = Some(leader.clone());
            self.leaders.send_replace(Some(leader));
        }
    }

    /// Download snapshot `id` from the leader in FetchSnapshot chunks and install it.
    async fn fetch_snapshot(&mut self, id: SnapshotId) -> Result<(), String> {
        let epoch = self.leader.as_ref().map_or(-1, |l| l.epoch);
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            let request = FetchSnapshotRequest::default()
                .with_cluster_id(Some(StrBytes::from_string(self.config.cluster_id.clone())))
                .with_replica_id(BrokerId(self.config.node_id))
                .with_max_bytes(FETCH_MAX_BYTES)
                .with_topics(vec![TopicSnapshot::default()
                    .with_name(TopicName(StrBytes::from_static_str(
                        sluice_metadata::CLUSTER_METADATA_TOPIC,
                    )))
                    .with_partitions(vec![PartitionSnapshot::default()
                        .with_partition(0)
                        .with_current_leader_epoch(epoch)
                        .with_snapshot_id(
                            RequestSnapshotId::default()
                                .with_end_offset(id.end_offset)
                                .with_epoch(id.epoch),
                        )
                        .with_position(bytes.len() as i64)
                        .with_replica_directory_id(self.config.directory_id)])]);
            let channel = self.target()?;
            let response = channel
                .call(RequestKind::FetchSnapshot(request), None)
                .await
                .map_err(|e| e.to_string())?;
            let ResponseKind::FetchSnapshot(r) = response.body else {
                return Err("FetchSnapshot answered with another response".into());
            };
            if r.error_code != 0 {
                return Err(format!("FetchSnapshot error {}", r.error_code));
            }
            let Some(p) = r
                .topics
                .into_iter()
                .next()
                .and_then(|t| t.partitions.into_iter().next())
            else {
                return Err("a FetchSnapshot response without the metadata partition".into());
            };
            if p.error_code != 0 {
                return Err(format!("FetchSnapshot partition error {}", p.error_code));
            }
            let size = usize::try_from(p.size).map_err(|_| "negative snapshot size".to_string())?;
            if p.position != bytes.len() as i64 || size > 1 << 30 {
                return Err(format!(
                    "FetchSnapshot chunk at {} of {size} bytes, expected position {}",
                    p.position,
                    bytes.len()
                ));
            }
            bytes.extend_from_slice(&p.unaligned_records);
            if bytes.len() >= size {
                break;
            }
            if p.unaligned_records.is_empty() {
                return Err("FetchSnapshot sent an empty chunk".into());
            }
        }
        tracing::info!(snapshot = %id.file_name(), bytes = bytes.len(), "installing the quorum's metadata snapshot");
        let follower = &mut self.follower;
        crate::blocking::run(|| follower.install_snapshot(id, &bytes)).map_err(|e| e.to_string())
    }

    fn publish(&self) {
        self.images.send_replace(ObservedMetadata {
            image: Arc::new(self.follower.image().clone()),
            applied_offset: self.follower.applied_offset(),
            high_watermark: self.follower.high_watermark(),
        });
    }
}
