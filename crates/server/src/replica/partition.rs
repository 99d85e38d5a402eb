//! Partition: this broker's replica of one topic partition and, while it leads, what it knows
//! of the other replicas (Kafka's `kafka.cluster.Partition` and `Replica`).
//!
//! Invariants (as Kafka's):
//! - The leader's high watermark is the smallest log end offset of the "maximal" ISR (the
//!   committed ISR plus replicas an in-flight AlterPartition adds) and of the caught-up
//!   replicas eligible to join it; it does not move while the ISR is smaller than
//!   min.insync.replicas (capped at the replication factor), and it never goes down.
//! - One ISR change at a time: while an AlterPartition is in flight, no other is proposed.
//! - A follower replica is in sync when its fetch offset reached the leader's high watermark
//!   and the start of the leader's current epoch; it falls out of sync when it has not been
//!   caught up to the leader's log end for `replica.lag.time.max.ms`.
//! - The partition state lock is never held across I/O: log appends and reads happen outside
//!   it (the log has its own locks).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use sluice_metadata::PartitionRegistration;
use sluice_protocol::error::KafkaError;
use sluice_storage::{LogAppendInfo, PartitionLog, StorageError, TopicPartition};
use uuid::Uuid;

/// The leader of a partition as this broker last learned it (for KIP-951 answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderInfo {
    /// -1: no leader.
    pub leader_id: i32,
    pub leader_epoch: i32,
}

/// Why a partition request cannot be served here.
#[derive(Debug)]
pub enum PartitionError {
    /// Not a replica here, or not the leader (with the leader this broker knows of).
    NotLeaderOrFollower(Option<LeaderInfo>),
    /// The request's leader epoch is older than the partition's.
    FencedLeaderEpoch(LeaderInfo),
    /// The request's leader epoch is newer than the partition's (this broker lags).
    UnknownLeaderEpoch,
    /// acks=all while the ISR is smaller than min.insync.replicas.
    NotEnoughReplicas {
        isr: usize,
        min_isr: usize,
    },
    Storage(StorageError),
}

impl PartitionError {
    pub fn code(&self) -> KafkaError {
        match self {
            Self::NotLeaderOrFollower(_) => KafkaError::NotLeaderOrFollower,
            Self::FencedLeaderEpoch(_) => KafkaError::FencedLeaderEpoch,
            Self::UnknownLeaderEpoch => KafkaError::UnknownLeaderEpoch,
            Self::NotEnoughReplicas { .. } => KafkaError::NotEnoughReplicas,
            Self::Storage(e) => {
                sluice_protocol::kafka_protocol::error::ParseResponseErrorCode::err(
                    e.kafka_error_code(),
                )
                .unwrap_or(KafkaError::UnknownServerError)
            }
        }
    }

    /// The leader to name in a KIP-951 answer.
    pub fn leader(&self) -> Option<LeaderInfo> {
        match self {
            Self::NotLeaderOrFollower(l) => *l,
            Self::FencedLeaderEpoch(l) => Some(*l),
            _ => None,
        }
    }
}

impl std::fmt::Display for PartitionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotLeaderOrFollower(_) => write!(f, "This server is not the leader for that topic-partition."),
            Self::FencedLeaderEpoch(l) => write!(f, "The leader epoch in the request is older than the epoch on the broker ({}).", l.leader_epoch),
            Self::UnknownLeaderEpoch => write!(f, "The leader epoch in the request is newer than the epoch on the broker."),
            Self::NotEnoughReplicas { isr, min_isr } => write!(f, "The size of the current ISR : {isr} is insufficient to satisfy the min.isr requirement of {min_isr}"),
            Self::Storage(e) => write!(f, "{e}"),
        }
    }
}

impl From<StorageError> for PartitionError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}

/// What the leader knows of a follower replica (Kafka's ReplicaState).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaState {
    /// -1 until the follower fetched.
    pub log_start_offset: i64,
    /// -1 until the follower fetched.
    pub log_end_offset: i64,
    /// The leader's log end offset when the follower last fetched.
    pub last_fetch_leader_log_end_offset: i64,
    pub last_fetch_time_ms: i64,
    /// The last time the follower's fetch reached the leader's log end offset of then.
    pub last_caught_up_time_ms: i64,
    /// The broker epoch its fetches carry (None: never fetched).
    pub broker_epoch: Option<i64>,
}

impl ReplicaState {
    fn empty(last_caught_up_time_ms: i64) -> Self {
        Self {
            log_start_offset: -1,
            log_end_offset: -1,
            last_fetch_leader_log_end_offset: -1,
            last_fetch_time_ms: 0,
            last_caught_up_time_ms,
            broker_epoch: None,
        }
    }

    /// Kafka's ReplicaState.isCaughtUp.
    fn is_caught_up(&self, leader_end_offset: i64, now_ms: i64, max_lag_ms: i64) -> bool {
        leader_end_offset == self.log_end_offset
            || now_ms.saturating_sub(self.last_caught_up_time_ms) <= max_lag_ms
    }
}

/// A broker's standing in the metadata, as ISR eligibility needs it.
pub trait BrokerLiveness: Send + Sync {
    /// The broker epoch of `broker` if it is registered, unfenced and not shutting down.
    fn eligible_broker_epoch(&self, broker: i32) -> Option<i64>;
}

/// An ISR change the leader proposed and the controller has not answered yet (Kafka's
/// PendingExpandIsr / PendingShrinkIsr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingIsrChange {
    pub new_isr: Vec<i32>,
    /// The partition epoch the proposal was made against.
    pub partition_epoch: i32,
}

/// The ISR the controller committed for an AlterPartition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedIsr {
    pub isr: Vec<i32>,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
}

/// An AlterPartition to send: this partition's proposed ISR (with each member's broker epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrProposal {
    pub tp: TopicPartition,
    pub topic_id: Uuid,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub new_isr: Vec<(i32, i64)>,
}

#[derive(Debug)]
struct PartitionState {
    replicas: Vec<i32>,
    /// -1: no leader.
    leader: i32,
    leader_epoch: i32,
    partition_epoch: i32,
    isr: Vec<i32>,
    pending: Option<PendingIsrChange>,
    /// The log end offset when this broker became leader in `leader_epoch`.
    leader_epoch_start_offset: Option<i64>,
    followers: HashMap<i32, ReplicaState>,
    /// min.insync.replicas of the topic.
    min_isr: usize,
}

impl PartitionState {
    fn maximal_isr(&self) -> impl Iterator<Item = i32> + '_ {
        self.isr.iter().copied().chain(
            self.pending
                .iter()
                .flat_map(|p| p.new_isr.iter().copied())
                .filter(|r| !self.isr.contains(r)),
        )
    }
    fn maximal_isr_len(&self) -> usize {
        self.maximal_isr().count()
    }
    fn effective_min_isr(&self) -> usize {
        self.min_isr.min(self.replicas.len().max(1))
    }
}

/// See the module docs.
pub struct Partition {
    tp: TopicPartition,
    topic_id: Uuid,
    local: i32,
    log: Arc<PartitionLog>,
    liveness: Arc<dyn BrokerLiveness>,
    /// replica.lag.time.max.ms
    max_lag_ms: i64,
    state: Mutex<PartitionState>,
}

impl std::fmt::Debug for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partition")
            .field("tp", &self.tp)
            .finish_non_exhaustive()
    }
}

/// What [`Partition::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// This broker leads now, in a new leader epoch.
    BecameLeader,
    /// Still leader in the same epoch: replicas or ISR changed.
    LeaderUpdated,
    /// This broker follows `leader` now (new epoch, or -1: no leader).
    BecameFollower { leader: i32 },
    /// Still follower in the same epoch.
    FollowerUpdated,
}

impl Partition {
    /// A replica of `tp` on `log`, not yet leader or follower (apply a registration next).
    pub fn new(
        tp: TopicPartition,
        topic_id: Uuid,
        local: i32,
        log: Arc<PartitionLog>,
        liveness: Arc<dyn BrokerLiveness>,
        max_lag_ms: i64,
    ) -> Self {
        Self {
            tp,
            topic_id,
            local,
            log,
            liveness,
            max_lag_ms,
            state: Mutex::new(PartitionState {
                replicas: Vec::new(),
                leader: -1,
                leader_epoch: -1,
                partition_epoch: -1,
                isr: Vec::new(),
                pending: None,
                leader_epoch_start_offset: None,
                followers: HashMap::new(),
                min_isr: 1,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, PartitionState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn topic_partition(&self) -> &TopicPartition {
        &self.tp
    }
    pub fn topic_id(&self) -> Uuid {
        self.topic_id
    }
    pub fn log(&self) -> &Arc<PartitionLog> {
        &self.log
    }
    pub fn leader_epoch(&self) -> i32 {
        self.state().leader_epoch
    }
    pub fn leader_info(&self) -> LeaderInfo {
        let s = self.state();
        LeaderInfo {
            leader_id: s.leader,
            leader_epoch: s.leader_epoch,
        }
    }
    pub fn is_leader(&self) -> bool {
        self.state().leader == self.local
    }
    /// Replicated: more than one replica (the high watermark then waits for followers).
    pub fn is_replicated(&self) -> bool {
        self.state().replicas.len() > 1
    }
    pub fn isr(&self) -> Vec<i32> {
        self.state().isr.clone()
    }
    pub fn replicas(&self) -> Vec<i32> {
        self.state().replicas.clone()
    }
    pub fn follower_state(&self, replica: i32) -> Option<ReplicaState> {
        self.state().followers.get(&replica).copied()
    }
    /// The ISR is below min.insync.replicas (Kafka's isUnderMinIsr; leaders only).
    pub fn is_under_min_isr(&self) -> bool {
        let s = self.state();
        s.leader == self.local && s.isr.len() < s.effective_min_isr()
    }
    pub fn is_under_replicated(&self) -> bool {
        let s = self.state();
        s.leader == self.local && s.isr.len() < s.replicas.len()
    }

    pub fn set_min_isr(&self, min_isr: usize) {
        self.state().min_isr = min_isr.max(1);
    }

    /// Check a request's leader epoch (-1: not checked) against the partition's, as Kafka's
    /// `Partition.checkCurrentLeaderEpoch`.
    pub fn check_leader_epoch(&self, requested: i32) -> Result<(), PartitionError> {
        let s = self.state();
        if requested < 0 || requested == s.leader_epoch {
            Ok(())
        } else if requested < s.leader_epoch {
            Err(PartitionError::FencedLeaderEpoch(LeaderInfo {
                leader_id: s.leader,
                leader_epoch: s.leader_epoch,
            }))
        } else {
            Err(PartitionError::UnknownLeaderEpoch)
        }
    }

    /// The partition if this broker leads it (with the request's epoch, -1 for none, checked).
    pub fn check_leader(&self, requested_epoch: i32) -> Result<(), PartitionError> {
        self.check_leader_epoch(requested_epoch)?;
        let s = self.state();
        if s.leader == self.local {
            Ok(())
        } else {
            Err(PartitionError::NotLeaderOrFollower(Some(LeaderInfo {
                leader_id: s.leader,
                leader_epoch: s.leader_epoch,
            })))
        }
    }

    /// Apply the partition's registration in the metadata (Kafka's makeLeader / makeFollower).
    /// A registration of an older leader epoch than the one applied is ignored (None).
    pub fn apply(
        &self,
        reg: &PartitionRegistration,
        now_ms: i64,
    ) -> Result<Option<Transition>, PartitionError> {
        let mut s = self.state();
        if reg.leader_epoch < s.leader_epoch
            || (reg.leader_epoch == s.leader_epoch && reg.partition_epoch < s.partition_epoch)
        {
            return Ok(None);
        }
        let new_epoch = reg.leader_epoch != s.leader_epoch;
        let leads = reg.leader == self.local;
        let leader_end = self.log.log_end_offset();
        if leads {
            let was_leader = s.leader == self.local;
            if new_epoch || !was_leader {
                // The epoch starts at the log end (refused if the log has a newer epoch: the
                // registration is stale, and the partition stays as it was).
                drop(s);
                self.log.maybe_assign_epoch_start_offset(reg.leader_epoch)?;
                let mut s = self.state();
                s.replicas = reg.replicas.clone();
                s.isr = reg.isr.clone();
                s.partition_epoch = reg.partition_epoch;
                s.leader = reg.leader;
                s.leader_epoch = reg.leader_epoch;
                s.pending = None;
                s.leader_epoch_start_offset = Some(leader_end);
                // Kafka's resetReplicaState for a new leader: followers in the ISR count as
                // caught up now, the others not.
                let others: Vec<i32> = s
                    .replicas
                    .iter()
                    .copied()
                    .filter(|r| *r != self.local)
                    .collect();
                let isr = s.isr.clone();
                s.followers = others
                    .into_iter()
                    .map(|r| {
                        (
                            r,
                            ReplicaState::empty(if isr.contains(&r) { now_ms } else { 0 }),
                        )
                    })
                    .collect();
                let replicated = s.replicas.len() > 1;
                drop(s);
                if replicated {
                    // From now on the followers decide how far the high watermark goes.
                    self.log
                        .limit_high_watermark(Some(self.log.high_watermark()));
                    self.maybe_increment_leader_hw(now_ms);
                } else {
                    self.log.limit_high_watermark(None);
                }
                return Ok(Some(Transition::BecameLeader));
            }
            // Same epoch: replicas may have been added or removed, the ISR changed.
            s.replicas = reg.replicas.clone();
            s.isr = reg.isr.clone();
            s.partition_epoch = reg.partition_epoch;
            // The metadata answers any proposal made against an older partition epoch.
            if s.pending
                .as_ref()
                .is_some_and(|p| p.partition_epoch < reg.partition_epoch)
            {
                s.pending = None;
            }
            let replicas = s.replicas.clone();
            s.followers.retain(|r, _| replicas.contains(r));
            for r in replicas.iter().filter(|r| **r != self.local) {
                s.followers.entry(*r).or_insert(ReplicaState::empty(0));
            }
            let replicated = s.replicas.len() > 1;
            drop(s);
            if replicated {
                self.maybe_increment_leader_hw(now_ms);
            } else {
                self.log.limit_high_watermark(None);
            }
            return Ok(Some(Transition::LeaderUpdated));
        }
        let was_following = s.leader == reg.leader && !new_epoch;
        s.replicas = reg.replicas.clone();
        s.isr = reg.isr.clone();
        s.partition_epoch = reg.partition_epoch;
        s.leader = reg.leader;
        s.leader_epoch = reg.leader_epoch;
        s.followers.clear();
        s.pending = None;
        s.leader_epoch_start_offset = None;
        drop(s);
        // A follower's high watermark comes from its leader's fetch responses.
        let hw = self.log.high_watermark();
        if self.log.high_watermark_limit().is_none() {
            self.log.limit_high_watermark(Some(hw));
        }
        Ok(Some(if was_following {
            Transition::FollowerUpdated
        } else {
            Transition::BecameFollower { leader: reg.leader }
        }))
    }

    /// Append a producer's batch as leader (Kafka's appendRecordsToLeader): refused with
    /// NOT_ENOUGH_REPLICAS for acks=all while the ISR is below min.insync.replicas.
    pub fn append_records_to_leader(
        &self,
        records: &mut [u8],
        required_acks: i16,
        now_ms: i64,
    ) -> Result<LogAppendInfo, PartitionError> {
        let (epoch, replicated) = {
            let s = self.state();
            if s.leader != self.local {
                return Err(PartitionError::NotLeaderOrFollower(Some(LeaderInfo {
                    leader_id: s.leader,
                    leader_epoch: s.leader_epoch,
                })));
            }
            let min_isr = s.effective_min_isr();
            if required_acks == -1 && s.isr.len() < min_isr {
                return Err(PartitionError::NotEnoughReplicas {
                    isr: s.isr.len(),
                    min_isr,
                });
            }
            (s.leader_epoch, s.replicas.len() > 1)
        };
        let info = self.log.append_as_leader(records, epoch)?;
        if replicated {
            // The ISR may be the leader alone.
            self.maybe_increment_leader_hw(now_ms);
        }
        Ok(info)
    }

    /// acks=all: whether every ISR member has `required_offset` (Kafka's
    /// checkEnoughReplicasReachOffset): Some(None) done, Some(Some(error)) done with an error,
    /// None not yet.
    pub fn check_enough_replicas_reach_offset(
        &self,
        required_offset: i64,
    ) -> Option<Option<KafkaError>> {
        let s = self.state();
        if s.leader != self.local {
            return Some(Some(KafkaError::NotLeaderOrFollower));
        }
        if self.log.high_watermark() >= required_offset {
            if s.effective_min_isr() <= s.maximal_isr_len() {
                Some(None)
            } else {
                Some(Some(KafkaError::NotEnoughReplicasAfterAppend))
            }
        } else {
            None
        }
    }

    /// Kafka's maybeIncrementLeaderHW. Returns the new high watermark if it moved.
    pub fn maybe_increment_leader_hw(&self, now_ms: i64) -> Option<i64> {
        let limit = {
            let s = self.state();
            if s.leader != self.local {
                return None;
            }
            if s.isr.len() < s.effective_min_isr() {
                return None;
            }
            self.leader_hw_candidate(&s, now_ms)
        };
        self.log.limit_high_watermark(Some(limit))
    }

    /// The smallest log end offset of the maximal ISR and of the caught-up followers that
    /// may join it (they are waited for, so that they can catch up and join).
    fn leader_hw_candidate(&self, s: &PartitionState, now_ms: i64) -> i64 {
        let leader_end = self.log.log_end_offset();
        let mut hw = leader_end;
        for (id, r) in &s.followers {
            if r.log_end_offset >= hw {
                continue;
            }
            let waits = s.maximal_isr().any(|m| m == *id)
                || (r.is_caught_up(leader_end, now_ms, self.max_lag_ms)
                    && self.liveness.eligible_broker_epoch(*id).is_some());
            if waits {
                hw = r.log_end_offset.max(0);
            }
        }
        hw
    }

    /// A follower fetched at `fetch_offset` (Kafka's updateFollowerFetchState). Returns an ISR
    /// expansion to propose, if the follower is now in sync and eligible. The caller then
    /// advances the high watermark ([`maybe_increment_leader_hw`](Self::maybe_increment_leader_hw)).
    #[allow(clippy::too_many_arguments)]
    pub fn update_follower_fetch_state(
        &self,
        replica: i32,
        fetch_offset: i64,
        log_start_offset: i64,
        now_ms: i64,
        leader_end_offset: i64,
        broker_epoch: i64,
    ) -> Result<Option<IsrProposal>, PartitionError> {
        let liveness = self.liveness.clone();
        let mut s = self.state();
        if s.leader != self.local {
            return Err(PartitionError::NotLeaderOrFollower(Some(LeaderInfo {
                leader_id: s.leader,
                leader_epoch: s.leader_epoch,
            })));
        }
        let Some(current) = s.followers.get(&replica).copied() else {
            return Err(PartitionError::NotLeaderOrFollower(Some(LeaderInfo {
                leader_id: s.leader,
                leader_epoch: s.leader_epoch,
            })));
        };
        if broker_epoch != -1
            && liveness
                .eligible_broker_epoch(replica)
                .is_some_and(|e| e > broker_epoch)
        {
            return Err(PartitionError::NotLeaderOrFollower(None));
        }
        let last_caught_up = if fetch_offset >= leader_end_offset {
            current.last_caught_up_time_ms.max(now_ms)
        } else if fetch_offset >= current.last_fetch_leader_log_end_offset {
            current
                .last_caught_up_time_ms
                .max(current.last_fetch_time_ms)
        } else {
            current.last_caught_up_time_ms
        };
        s.followers.insert(
            replica,
            ReplicaState {
                log_start_offset,
                log_end_offset: fetch_offset,
                last_fetch_leader_log_end_offset: leader_end_offset
                    .max(current.last_fetch_leader_log_end_offset),
                last_fetch_time_ms: now_ms,
                last_caught_up_time_ms: last_caught_up,
                broker_epoch: Some(broker_epoch),
            },
        );
        // Kafka's maybeExpandIsr.
        if s.pending.is_some() || s.isr.contains(&replica) {
            return Ok(None);
        }
        let in_sync = fetch_offset >= self.log.high_watermark()
            && s.leader_epoch_start_offset
                .is_some_and(|start| fetch_offset >= start);
        let Some(cached_epoch) = liveness.eligible_broker_epoch(replica) else {
            return Ok(None);
        };
        if !in_sync || (broker_epoch != -1 && broker_epoch != cached_epoch) {
            return Ok(None);
        }
        let mut new_isr = s.isr.clone();
        new_isr.push(replica);
        Ok(Some(self.propose(&mut s, new_isr)))
    }

    fn propose(&self, s: &mut PartitionState, new_isr: Vec<i32>) -> IsrProposal {
        s.pending = Some(PendingIsrChange {
            new_isr: new_isr.clone(),
            partition_epoch: s.partition_epoch,
        });
        IsrProposal {
            tp: self.tp.clone(),
            topic_id: self.topic_id,
            leader_epoch: s.leader_epoch,
            partition_epoch: s.partition_epoch,
            new_isr: new_isr
                .into_iter()
                .map(|r| {
                    let epoch = if r == self.local {
                        -1
                    } else {
                        s.followers
                            .get(&r)
                            .and_then(|f| f.broker_epoch)
                            .or_else(|| self.liveness.eligible_broker_epoch(r))
                            .unwrap_or(-1)
                    };
                    (r, epoch)
                })
                .collect(),
        }
    }

    /// Kafka's maybeShrinkIsr: followers in the ISR that have not caught up for
    /// replica.lag.time.max.ms leave it. Returns the proposal, if any.
    pub fn maybe_shrink_isr(&self, now_ms: i64) -> Option<IsrProposal> {
        let max_lag_ms = self.max_lag_ms;
        let mut s = self.state();
        if s.leader != self.local || s.pending.is_some() {
            return None;
        }
        let leader_end = self.log.log_end_offset();
        let out: Vec<i32> = s
            .isr
            .iter()
            .copied()
            .filter(|r| *r != self.local)
            .filter(|r| {
                s.followers
                    .get(r)
                    .is_none_or(|f| !f.is_caught_up(leader_end, now_ms, max_lag_ms))
            })
            .collect();
        if out.is_empty() {
            return None;
        }
        let new_isr: Vec<i32> = s.isr.iter().copied().filter(|r| !out.contains(r)).collect();
        tracing::info!(
            "{}: shrinking ISR from {:?} to {:?} (leader end offset {leader_end}, high watermark {})",
            self.tp,
            s.isr,
            new_isr,
            self.log.high_watermark()
        );
        Some(self.propose(&mut s, new_isr))
    }

    /// The controller answered an AlterPartition: on success the committed ISR and partition
    /// epoch it returned; on error the proposal is dropped (the metadata brings the truth).
    pub fn complete_isr_change(&self, result: Result<CommittedIsr, KafkaError>, now_ms: i64) {
        {
            let mut s = self.state();
            match result {
                Ok(c) => {
                    if c.leader_epoch == s.leader_epoch && c.partition_epoch > s.partition_epoch {
                        s.isr = c.isr;
                        s.partition_epoch = c.partition_epoch;
                    }
                    s.pending = None;
                }
                Err(e) => {
                    tracing::info!("{}: the controller refused the ISR change: {e:?}", self.tp);
                    s.pending = None;
                }
            }
        }
        self.maybe_increment_leader_hw(now_ms);
    }

    /// The pending ISR change, if any.
    pub fn pending_isr_change(&self) -> Option<PendingIsrChange> {
        self.state().pending.clone()
    }
}
