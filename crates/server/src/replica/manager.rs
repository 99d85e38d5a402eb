//! ReplicaManager: the partitions this broker holds a replica of, and what it does as their
//! leader or follower (Kafka's `kafka.server.ReplicaManager`).
//!
//! - Every local replica is a [`Partition`], made leader or follower by the metadata (the
//!   broker's MetadataPublisher calls [`ReplicaManager::apply`]); a single-node broker leads
//!   all of its partitions, each with one replica.
//! - Followers fetch from their leaders ([`super::fetcher::ReplicaFetcherManager`]); leaders
//!   track the followers' fetch offsets, advance the high watermark and propose ISR changes,
//!   which [`super::alter_partition::AlterPartitionManager`] sends to the controller.
//! - acks=all produces and waiting fetches wait in the purgatory, woken by the high watermark
//!   and by leader appends (a follower's long-polling fetch waits for the leader's log end).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sluice_metadata::{MetadataImage, PartitionRegistration};
use sluice_storage::{PartitionLog, Time, TopicPartition};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::partition::{
    BrokerLiveness, IsrProposal, LeaderInfo, Partition, PartitionError, Transition,
};
use crate::purgatory::FetchPurgatory;

/// Settings of replication (Kafka's replica.* broker configs).
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// replica.lag.time.max.ms
    pub max_lag_ms: i64,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        Self { max_lag_ms: 30_000 }
    }
}

/// Broker registrations from the latest metadata image (ISR eligibility).
#[derive(Default)]
pub struct ImageLiveness {
    image: RwLock<Option<Arc<MetadataImage>>>,
}

impl ImageLiveness {
    pub fn update(&self, image: Arc<MetadataImage>) {
        *self.image.write().unwrap_or_else(|p| p.into_inner()) = Some(image);
    }
}

impl BrokerLiveness for ImageLiveness {
    fn eligible_broker_epoch(&self, broker: i32) -> Option<i64> {
        let image = self.image.read().unwrap_or_else(|p| p.into_inner());
        let b = image.as_ref()?.cluster.brokers.get(&broker)?;
        (!b.record.fenced && !b.record.in_controlled_shutdown).then_some(b.record.broker_epoch)
    }
}

/// See the module docs.
pub struct ReplicaManager {
    node_id: i32,
    config: ReplicaConfig,
    time: Arc<dyn Time>,
    partitions: RwLock<HashMap<TopicPartition, Arc<Partition>>>,
    liveness: Arc<ImageLiveness>,
    purgatory: Arc<FetchPurgatory>,
    /// ISR changes for the AlterPartition sender (None: single node, nothing to send).
    isr_changes: Option<mpsc::UnboundedSender<IsrProposal>>,
}

impl std::fmt::Debug for ReplicaManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaManager")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl ReplicaManager {
    pub fn new(
        node_id: i32,
        config: ReplicaConfig,
        time: Arc<dyn Time>,
        purgatory: Arc<FetchPurgatory>,
        isr_changes: Option<mpsc::UnboundedSender<IsrProposal>>,
    ) -> Self {
        Self {
            node_id,
            config,
            time,
            partitions: RwLock::new(HashMap::new()),
            liveness: Arc::new(ImageLiveness::default()),
            purgatory,
            isr_changes,
        }
    }

    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    pub fn config(&self) -> &ReplicaConfig {
        &self.config
    }

    pub fn liveness(&self) -> &Arc<ImageLiveness> {
        &self.liveness
    }

    pub fn purgatory(&self) -> &Arc<FetchPurgatory> {
        &self.purgatory
    }

    pub fn now_ms(&self) -> i64 {
        self.time.milliseconds()
    }

    /// The local replica of a partition, leader or follower.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        let map = self.partitions.read().unwrap_or_else(|p| p.into_inner());
        map.get(&TopicPartition::new(topic.to_string(), partition))
            .cloned()
    }

    /// Every local replica.
    pub fn all_partitions(&self) -> Vec<Arc<Partition>> {
        let map = self.partitions.read().unwrap_or_else(|p| p.into_inner());
        map.values().cloned().collect()
    }

    /// The partition if this broker leads it, with the request's leader epoch (-1: none)
    /// checked. `None` inside the error: the partition is not hosted here at all (the caller
    /// answers UNKNOWN_TOPIC_OR_PARTITION or NOT_LEADER_OR_FOLLOWER from the metadata).
    pub fn leader_partition(
        &self,
        topic: &str,
        partition: i32,
        requested_epoch: i32,
    ) -> Result<Arc<Partition>, Option<PartitionError>> {
        let p = self.partition(topic, partition).ok_or(None)?;
        p.check_leader(requested_epoch).map_err(Some)?;
        Ok(p)
    }

    /// The leader's log of a partition (see [`leader_partition`](Self::leader_partition)).
    pub fn leader_log(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Arc<PartitionLog>, Option<PartitionError>> {
        self.leader_partition(topic, partition, -1)
            .map(|p| p.log().clone())
    }

    /// Make the local replica of `tp` (on `log`) match its registration. Returns what changed,
    /// if anything.
    pub fn apply(
        &self,
        tp: &TopicPartition,
        topic_id: Uuid,
        log: &Arc<PartitionLog>,
        reg: &PartitionRegistration,
        min_isr: usize,
    ) -> Result<Option<Transition>, PartitionError> {
        let p = {
            let mut map = self.partitions.write().unwrap_or_else(|p| p.into_inner());
            map.entry(tp.clone())
                .or_insert_with(|| {
                    Arc::new(Partition::new(
                        tp.clone(),
                        topic_id,
                        self.node_id,
                        log.clone(),
                        self.liveness.clone(),
                        self.config.max_lag_ms,
                    ))
                })
                .clone()
        };
        p.set_min_isr(min_isr);
        let t = p.apply(reg, self.now_ms())?;
        if t.is_some() {
            // Waiting produces and fetches look again (leadership or ISR changed).
            self.purgatory.wake(&tp.topic, tp.partition);
        }
        Ok(t)
    }

    /// Forget the local replica of `tp` (deleted, or reassigned away).
    pub fn remove(&self, tp: &TopicPartition) -> Option<Arc<Partition>> {
        let removed = self
            .partitions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(tp);
        if removed.is_some() {
            self.purgatory.wake(&tp.topic, tp.partition);
        }
        removed
    }

    /// A leader's append happened: followers' long-polling fetches wait for the log end.
    pub fn on_leader_append(&self, p: &Partition) {
        if p.is_replicated() {
            let tp = p.topic_partition();
            self.purgatory.wake(&tp.topic, tp.partition);
        }
    }

    /// A follower fetched `fetch_offset` of a partition this broker leads (Kafka's
    /// updateFollowerFetchState): its state is recorded, an ISR expansion proposed if it is
    /// now in sync, the high watermark advanced.
    pub fn record_follower_fetch(
        &self,
        p: &Partition,
        replica: i32,
        fetch_offset: i64,
        log_start_offset: i64,
        broker_epoch: i64,
        leader_end_offset: i64,
    ) -> Result<(), PartitionError> {
        let now = self.now_ms();
        let proposal = p.update_follower_fetch_state(
            replica,
            fetch_offset,
            log_start_offset,
            now,
            leader_end_offset,
            broker_epoch,
        )?;
        if let Some(proposal) = proposal {
            self.submit(proposal);
        }
        p.maybe_increment_leader_hw(now);
        Ok(())
    }

    fn submit(&self, proposal: IsrProposal) {
        match &self.isr_changes {
            Some(tx) => {
                if tx.send(proposal).is_err() {
                    tracing::warn!("the AlterPartition sender has stopped");
                }
            }
            None => tracing::warn!(
                tp = %proposal.tp,
                "an ISR change was proposed on a node without a controller to send it to"
            ),
        }
    }

    /// Kafka's isr-expiration task: every leader drops followers that fell behind for
    /// replica.lag.time.max.ms from its ISR. Run every half of it.
    pub fn maybe_shrink_isrs(&self) {
        let now = self.now_ms();
        for p in self.all_partitions() {
            if let Some(proposal) = p.maybe_shrink_isr(now) {
                self.submit(proposal);
            }
        }
    }

    /// The leader of a partition this broker knows from its local replica.
    pub fn leader_info(&self, topic: &str, partition: i32) -> Option<LeaderInfo> {
        self.partition(topic, partition).map(|p| p.leader_info())
    }
}
