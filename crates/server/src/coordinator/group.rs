//! The group coordinator for the classic consumer-group protocol (Kafka's GroupCoordinator and
//! GroupMetadata), and committed offsets.
//!
//! States: Empty -> PreparingRebalance -> CompletingRebalance -> Stable, and Dead for a deleted
//! group. A rebalance starts when a member joins, leaves, changes its protocols, or misses its
//! session timeout; it completes once every known member has rejoined (JoinGroup waits for that)
//! or the rebalance timeout passes (members that did not rejoin are removed). An empty group
//! waits group.initial.rebalance.delay.ms first so that members starting together land in one
//! generation. The leader's SyncGroup hands every member the assignment bytes the leader chose,
//! unchanged.
//!
//! Durability: group metadata (after each completed sync and when a group empties) and offset
//! commits are appended to the group's `__consumer_offsets` partition before they are
//! acknowledged; at start-up the topic is replayed to rebuild every group. Appends happen outside
//! the coordinator's lock; the state is re-checked before the result is applied.
//!
//! Waiting (JoinGroup until the rebalance completes, SyncGroup until the leader's assignment) is
//! a oneshot channel per member; deadlines (session and rebalance timeouts, the initial delay)
//! are tokio timers, so tests drive them with a paused clock.

use super::records::{self, GroupValue, Key, MemberValue, OffsetValue};
use super::{scan_log, LogEntry, Placement};
use bytes::Bytes;
use sluice_protocol::error::KafkaError;
use sluice_storage::{LogManager, TopicPartition};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

pub const OFFSETS_TOPIC: &str = crate::topics::CONSUMER_OFFSETS;

/// Coordinator settings (Kafka's group.* broker configs).
#[derive(Debug, Clone)]
pub struct GroupConfig {
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    pub initial_rebalance_delay_ms: i32,
    pub max_size: usize,
    pub offsets_partitions: i32,
    pub max_metadata_bytes: usize,
    /// offsets.retention.minutes, in ms: how long committed offsets of a group that is not
    /// using them are kept (KIP-211).
    pub offsets_retention_ms: i64,
    /// offsets.retention.check.interval.ms: how often expired offsets are removed.
    pub offsets_retention_check_interval_ms: i64,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 3_000,
            max_size: i32::MAX as usize,
            offsets_partitions: 50,
            max_metadata_bytes: 4096,
            offsets_retention_ms: 10_080 * 60_000,
            offsets_retention_check_interval_ms: 600_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// The names Kafka uses in DescribeGroups / ListGroups.
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::PreparingRebalance => "PreparingRebalance",
            Self::CompletingRebalance => "CompletingRebalance",
            Self::Stable => "Stable",
            Self::Dead => "Dead",
        }
    }
}

/// What JoinGroup answers.
#[derive(Debug, Clone, Default)]
pub struct JoinResult {
    pub error: Option<KafkaError>,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Only for the leader: (member id, instance id, metadata of the chosen protocol).
    pub members: Vec<(String, Option<String>, Bytes)>,
}

impl JoinResult {
    pub fn error(e: KafkaError, member_id: &str) -> Self {
        Self {
            error: Some(e),
            generation: -1,
            member_id: member_id.to_string(),
            ..Default::default()
        }
    }
}

/// What SyncGroup answers.
#[derive(Debug, Clone, Default)]
pub struct SyncResult {
    pub error: Option<KafkaError>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

pub enum Pending<T> {
    Ready(T),
    Wait(oneshot::Receiver<T>),
}

/// A JoinGroup request, as the coordinator needs it.
pub struct JoinRequest {
    pub group_id: String,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// v4+: a new dynamic member must first be given an id (KIP-394).
    pub require_known_member_id: bool,
}

struct Member {
    member_id: String,
    group_instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout_ms: i32,
    rebalance_timeout_ms: i32,
    protocols: Vec<(String, Bytes)>,
    assignment: Bytes,
    join_waiter: Option<oneshot::Sender<JoinResult>>,
    sync_waiter: Option<oneshot::Sender<SyncResult>>,
    /// Bumped on every heartbeat; a session timer only fires for the value it was armed with.
    heartbeat_seq: u64,
}

impl Member {
    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

/// A producer's transactional offsets of a group, and the `__consumer_offsets` partition they
/// were written to (the group's; for a log written by an older Sluice, possibly another).
#[derive(Debug, Default)]
struct PendingTxn {
    partition: i32,
    offsets: HashMap<(String, i32), CommittedOffset>,
}

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
    /// Set by an OffsetCommitValue v1 record (a commit with its own retention time, read back
    /// from the log): the offset expires then, not after offsets.retention.minutes.
    pub expire_timestamp: Option<i64>,
}

impl From<OffsetValue> for CommittedOffset {
    fn from(v: OffsetValue) -> Self {
        Self {
            offset: v.offset,
            leader_epoch: v.leader_epoch,
            metadata: v.metadata,
            commit_timestamp: v.commit_timestamp,
            expire_timestamp: v.expire_timestamp,
        }
    }
}

struct Group {
    state: GroupState,
    generation: i32,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    leader: Option<String>,
    members: indexmap::IndexMap<String, Member>,
    /// KIP-394: ids handed out with MEMBER_ID_REQUIRED, not joined yet (id -> timer seq).
    pending: HashMap<String, u64>,
    static_members: HashMap<String, String>,
    offsets: HashMap<(String, i32), CommittedOffset>,
    /// Transactional offsets (TxnOffsetCommit) by producer id, written but not yet committed:
    /// they become `offsets` when the transaction's COMMIT marker reaches the
    /// `__consumer_offsets` partition they were written to and are dropped on ABORT.
    pending_txn: HashMap<i64, PendingTxn>,
    /// Bumped whenever a rebalance starts or completes; rebalance timers check it.
    rebalance_seq: u64,
    /// The current rebalance started from an empty group (initial delay).
    initial_join: bool,
    state_timestamp: i64,
}

impl Group {
    fn new(now: i64) -> Self {
        Self {
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: indexmap::IndexMap::new(),
            pending: HashMap::new(),
            static_members: HashMap::new(),
            offsets: HashMap::new(),
            pending_txn: HashMap::new(),
            rebalance_seq: 0,
            initial_join: false,
            state_timestamp: now,
        }
    }

    fn all_joined(&self) -> bool {
        self.pending.is_empty() && self.members.values().all(|m| m.join_waiter.is_some())
    }

    /// Protocols every member supports, the most voted first preference winning.
    fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(p, _)| p == n))
            })
            .collect();
        let mut votes: Vec<(usize, &str)> = candidates.iter().map(|c| (0, *c)).collect();
        for m in self.members.values() {
            if let Some((_, choice)) = m
                .protocols
                .iter()
                .find(|(p, _)| candidates.contains(&p.as_str()))
            {
                if let Some(v) = votes.iter_mut().find(|(_, c)| c == choice) {
                    v.0 += 1;
                }
            }
        }
        // Highest votes; ties go to the earlier candidate (first member's preference).
        let mut best: Option<(usize, &str)> = None;
        for v in votes {
            if best.is_none_or(|b| v.0 > b.0) {
                best = Some(v);
            }
        }
        best.map(|(_, c)| c.to_string())
    }

    fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols.iter().any(|(p, _)| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(q, _)| q == p))
            })
    }

    fn to_value(&self, now: i64) -> GroupValue {
        let protocol = self.protocol_name.clone();
        GroupValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: protocol.clone(),
            leader: self.leader.clone(),
            current_state_timestamp: now,
            members: self
                .members
                .values()
                .map(|m| MemberValue {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout: m.rebalance_timeout_ms,
                    session_timeout: m.session_timeout_ms,
                    subscription: protocol
                        .as_deref()
                        .map(|p| m.metadata_for(p).to_vec())
                        .unwrap_or_default(),
                    assignment: m.assignment.to_vec(),
                })
                .collect(),
        }
    }
}

/// A group's members as they move between the classic and the consumer protocol.
#[derive(Debug, Clone, Default)]
pub struct ConvertedGroup {
    pub generation: i32,
    /// The protocol the classic group had chosen (upgrade) or should keep (downgrade).
    pub protocol_name: Option<String>,
    pub members: Vec<ConvertedMember>,
}

#[derive(Debug, Clone, Default)]
pub struct ConvertedMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    /// (name, metadata) in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    /// Upgrade: the member's last ConsumerProtocolAssignment.
    pub assignment: Bytes,
    /// Downgrade: the partitions to hand the member (encoded in the version of the group's
    /// protocol's metadata).
    pub partitions: super::consumer_protocol::TopicPartitions,
}

/// The GroupMetadata tombstone of `group_id` (its offsets are separate records and stay).
pub fn group_tombstone(group_id: &str) -> (Vec<u8>, Option<Vec<u8>>) {
    (
        Key::Group {
            group: group_id.to_string(),
        }
        .encode(),
        None,
    )
}

/// A group as DescribeGroups shows it.
#[derive(Debug, Clone)]
pub struct GroupDescription {
    pub state: GroupState,
    pub protocol_type: String,
    pub protocol_name: String,
    /// (member id, instance id, client id, client host, metadata, assignment)
    pub members: Vec<(String, Option<String>, String, String, Bytes, Bytes)>,
}

pub struct GroupCoordinator {
    groups: Mutex<HashMap<String, Group>>,
    config: GroupConfig,
    logs: Arc<LogManager>,
    clock: Arc<dyn sluice_storage::Time>,
}

/// Kafka's member ids: the group.instance.id (static members) or the client id, a dash, a UUID.
fn new_member_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

impl GroupCoordinator {
    pub fn new(
        config: GroupConfig,
        logs: Arc<LogManager>,
        clock: Arc<dyn sluice_storage::Time>,
    ) -> Arc<Self> {
        Arc::new(Self {
            groups: Mutex::new(HashMap::new()),
            config,
            logs,
            clock,
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Group>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> i64 {
        self.clock.milliseconds()
    }

    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// The `__consumer_offsets` partition of `group`.
    pub fn partition_for(&self, group: &str) -> i32 {
        records::partition_for(group, self.config.offsets_partitions)
    }

    // ---------------------------------------------------------------- persistence

    /// Append records for `group` to its partition; Err is COORDINATOR_NOT_AVAILABLE-ish.
    pub(crate) fn append(
        &self,
        group: &str,
        entries: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<(), KafkaError> {
        self.append_as(group, entries, None)
    }

    /// Append records for `group`; with `producer` (id, epoch) as one transactional batch of
    /// that producer (TxnOffsetCommit), which the transaction's marker later ends.
    fn append_as(
        &self,
        group: &str,
        entries: &[(Vec<u8>, Option<Vec<u8>>)],
        producer: Option<(i64, i16)>,
    ) -> Result<(), KafkaError> {
        if entries.is_empty() {
            return Ok(());
        }
        let tp = TopicPartition::new(OFFSETS_TOPIC, self.partition_for(group));
        let log = self
            .logs
            .get_log(&tp)
            .ok_or(KafkaError::CoordinatorNotAvailable)?;
        let refs: Vec<sluice_protocol::batch::KeyValue<'_>> = entries
            .iter()
            .map(|(k, v)| (Some(k.as_slice()), v.as_deref()))
            .collect();
        let appended = match producer {
            None => {
                let mut batch = sluice_protocol::batch::encode_batch(&refs, self.now());
                log.append_as_leader(&mut batch, log.leader_epoch())
            }
            Some((producer_id, producer_epoch)) => {
                let mut batch = sluice_protocol::batch::encode_batch_with(
                    &refs,
                    self.now(),
                    sluice_protocol::batch::TRANSACTIONAL_BIT,
                    producer_id,
                    producer_epoch,
                    0,
                );
                log.append_as_coordinator(&mut batch, log.leader_epoch())
            }
        };
        let info = appended.map_err(|e| {
            tracing::error!(group, error = %e, "writing to __consumer_offsets failed");
            KafkaError::CoordinatorNotAvailable
        })?;
        if log.config().fsync_before_ack {
            log.sync_to(info.last_offset).map_err(|e| {
                tracing::error!(group, error = %e, "syncing __consumer_offsets failed");
                KafkaError::CoordinatorNotAvailable
            })?;
        }
        Ok(())
    }

    /// Calls `f(key, value)` for every non-transactional record of `__consumer_offsets`, in log
    /// order per partition (the KIP-848 coordinator replays its records through this).
    pub fn for_each_record(&self, mut f: impl FnMut(&[u8], Option<&[u8]>)) {
        self.for_each_entry(|_, e| {
            if let LogEntry::Record {
                key,
                value,
                producer_id: None,
                ..
            } = e
            {
                f(key, value)
            }
        })
    }

    /// Calls `f` for every record and transaction marker of `__consumer_offsets`, in log order
    /// per partition (start-up replay). A non-transactional record an older Sluice wrote to
    /// another partition than Kafka's for its group is passed only if no newer record of its
    /// key came first ([`Placement`]).
    pub fn for_each_entry(&self, mut f: impl FnMut(i32, LogEntry<'_>)) {
        let mut placement = Placement::new(self.config.offsets_partitions);
        for log in self.logs.all_logs() {
            if log.topic_partition().topic == OFFSETS_TOPIC {
                let partition = log.topic_partition().partition;
                scan_log(&log, |e| {
                    if let LogEntry::Record {
                        key,
                        producer_id: None,
                        ..
                    } = &e
                    {
                        if !placement.admit(key, partition) {
                            return;
                        }
                    }
                    f(partition, e)
                });
            }
        }
    }

    /// Rebuild every group from `__consumer_offsets` (start-up). Members come back with fresh
    /// session timers.
    pub fn load(self: &Arc<Self>) {
        let mut loaded = 0usize;
        // Records of types neither coordinator replays (share and streams groups, types newer
        // than Sluice): kept in the log as they are (compaction keeps the latest per key), named
        // once here.
        let mut other: std::collections::BTreeMap<(i16, &'static str), usize> = Default::default();
        self.for_each_entry(|partition, e| {
            if let LogEntry::Record { key, .. } = &e {
                match records::record_type(key) {
                    Some((0..=8 | 16, _)) => {}
                    Some(t) => *other.entry(t).or_default() += 1,
                    None => *other.entry((-1, "key without a type")).or_default() += 1,
                }
            }
            match e {
                LogEntry::Record {
                    key,
                    value,
                    producer_id: None,
                } => self.replay(key, value),
                LogEntry::Record {
                    key,
                    value,
                    producer_id: Some(pid),
                } => self.replay_txn_offset(partition, pid, key, value),
                LogEntry::Marker {
                    producer_id,
                    commit,
                } => self.complete_txn(partition, producer_id, commit),
            }
            loaded += 1;
        });
        // Members restored from metadata get session timers.
        let arm: Vec<(String, String, u64, i32)> = self
            .lock()
            .iter()
            .flat_map(|(g, group)| {
                group
                    .members
                    .values()
                    .map(|m| {
                        (
                            g.clone(),
                            m.member_id.clone(),
                            m.heartbeat_seq,
                            m.session_timeout_ms,
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        for (g, m, seq, timeout) in arm {
            self.arm_session(&g, &m, seq, timeout);
        }
        if loaded > 0 {
            tracing::info!(
                records = loaded,
                groups = self.lock().len(),
                "loaded consumer groups"
            );
        }
        if !other.is_empty() {
            let types: Vec<String> = other
                .iter()
                .map(|((t, name), n)| format!("{n} of type {t} ({name})"))
                .collect();
            tracing::warn!(
                records = %types.join(", "),
                "__consumer_offsets holds records of group types Sluice does not run; they are kept as they are"
            );
        }
    }

    /// A transactional offset commit read back from `__consumer_offsets` partition `partition`:
    /// pending until its marker.
    fn replay_txn_offset(
        &self,
        log_partition: i32,
        producer_id: i64,
        key: &[u8],
        value: Option<&[u8]>,
    ) {
        let Ok(Key::Offset {
            group,
            topic,
            partition,
        }) = Key::decode(key)
        else {
            return;
        };
        let Some(Ok(v)) = value.map(OffsetValue::decode) else {
            return;
        };
        let now = self.now();
        let mut groups = self.lock();
        let pending = groups
            .entry(group)
            .or_insert_with(|| Group::new(now))
            .pending_txn
            .entry(producer_id)
            .or_default();
        pending.partition = log_partition;
        pending
            .offsets
            .insert((topic, partition), CommittedOffset::from(v));
    }

    /// A transaction marker of `producer_id` was written to (or read back from)
    /// `__consumer_offsets` partition `partition`: the producer's pending offsets written to
    /// that partition, of every group, become committed offsets (COMMIT) or are dropped (ABORT).
    pub fn complete_txn(&self, partition: i32, producer_id: i64, commit: bool) {
        let mut groups = self.lock();
        for g in groups.values_mut() {
            if g.pending_txn
                .get(&producer_id)
                .is_none_or(|p| p.partition != partition)
            {
                continue;
            }
            if let Some(pending) = g.pending_txn.remove(&producer_id) {
                if commit {
                    g.offsets.extend(pending.offsets);
                }
            }
        }
    }

    /// TxnOffsetCommit: offsets of a transaction, written to `__consumer_offsets` as a
    /// transactional batch of the producer and visible only once the transaction commits.
    /// Checks as Kafka 4.3's (OffsetMetadataManager.validateTransactionalOffsetCommit for a
    /// classic group): an unknown group is created unless a generation is given
    /// (ILLEGAL_GENERATION); a member id, instance id or generation given must match
    /// (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, ILLEGAL_GENERATION); unlike OffsetCommit, any
    /// group state is fine and a commit without a member is accepted by a non-empty group.
    #[allow(clippy::too_many_arguments)]
    pub fn txn_commit_offsets(
        &self,
        group_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        member_id: &str,
        generation: i32,
        instance: Option<&str>,
        offsets: Vec<(String, i32, i64, i32, String)>,
    ) -> Vec<Option<KafkaError>> {
        let now = self.now();
        let all = |e: KafkaError| vec![Some(e); offsets.len()];
        {
            let mut groups = self.lock();
            if !groups.contains_key(group_id) {
                if generation >= 0 {
                    return all(KafkaError::IllegalGeneration);
                }
                groups.insert(group_id.to_string(), Group::new(now));
            }
            let Some(group) = groups.get(group_id) else {
                return all(KafkaError::CoordinatorNotAvailable);
            };
            if group.state == GroupState::Dead {
                return all(KafkaError::CoordinatorNotAvailable);
            }
            if generation >= 0 || !member_id.is_empty() || instance.is_some() {
                if let Some(i) = instance {
                    if group.static_members.get(i).is_some_and(|m| m != member_id) {
                        return all(KafkaError::FencedInstanceId);
                    }
                }
                if !group.members.contains_key(member_id) {
                    return all(KafkaError::UnknownMemberId);
                }
                if generation != group.generation {
                    return all(KafkaError::IllegalGeneration);
                }
            }
        }
        self.write_txn_offsets(group_id, producer_id, producer_epoch, offsets)
    }

    /// Write TxnOffsetCommit offsets already checked against the group (the KIP-848 coordinator
    /// checks its members itself).
    pub fn write_txn_offsets(
        &self,
        group_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        offsets: Vec<(String, i32, i64, i32, String)>,
    ) -> Vec<Option<KafkaError>> {
        let now = self.now();
        let (results, accepted) =
            self.write_offsets(group_id, offsets, Some((producer_id, producer_epoch)), now);
        let mut groups = self.lock();
        let group = groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::new(now));
        let pending = group.pending_txn.entry(producer_id).or_default();
        pending.partition = records::partition_for(group_id, self.config.offsets_partitions);
        for (topic, partition, c) in accepted {
            pending.offsets.insert((topic, partition), c);
        }
        results
    }

    /// Check offset metadata sizes, then write the accepted offsets of `group_id` as one batch
    /// (transactional for `producer`). Returns the per-offset results and the offsets written
    /// (none if the write failed: its error is in every accepted offset's result).
    #[allow(clippy::type_complexity)]
    fn write_offsets(
        &self,
        group_id: &str,
        offsets: Vec<(String, i32, i64, i32, String)>,
        producer: Option<(i64, i16)>,
        now: i64,
    ) -> (Vec<Option<KafkaError>>, Vec<(String, i32, CommittedOffset)>) {
        let mut results = Vec::with_capacity(offsets.len());
        let mut entries = Vec::new();
        let mut accepted = Vec::new();
        for (topic, partition, offset, leader_epoch, metadata) in offsets {
            if metadata.len() > self.config.max_metadata_bytes {
                results.push(Some(KafkaError::OffsetMetadataTooLarge));
                continue;
            }
            let value = OffsetValue {
                offset,
                leader_epoch,
                metadata,
                commit_timestamp: now,
                expire_timestamp: None,
                topic_id: None,
            };
            entries.push((
                Key::Offset {
                    group: group_id.to_string(),
                    topic: topic.clone(),
                    partition,
                }
                .encode(),
                Some(value.encode()),
            ));
            accepted.push((
                results.len(),
                topic,
                partition,
                CommittedOffset {
                    offset,
                    leader_epoch,
                    metadata: value.metadata,
                    commit_timestamp: now,
                    expire_timestamp: None,
                },
            ));
            results.push(None);
        }
        if let Err(e) = self.append_as(group_id, &entries, producer) {
            for (i, ..) in &accepted {
                results[*i] = Some(e);
            }
            return (results, Vec::new());
        }
        let written = accepted.into_iter().map(|(_, t, p, c)| (t, p, c)).collect();
        (results, written)
    }

    /// A transaction has written offsets for this partition of the group that are not
    /// committed or aborted yet (OffsetFetch require_stable: UNSTABLE_OFFSET_COMMIT).
    pub fn has_pending_txn_offset(&self, group_id: &str, topic: &str, partition: i32) -> bool {
        let key = (topic.to_string(), partition);
        self.lock()
            .get(group_id)
            .is_some_and(|g| g.pending_txn.values().any(|p| p.offsets.contains_key(&key)))
    }

    /// Apply one `__consumer_offsets` record to the in-memory state.
    fn replay(&self, key: &[u8], value: Option<&[u8]>) {
        let Ok(key) = Key::decode(key) else { return };
        let now = self.now();
        let mut groups = self.lock();
        match key {
            Key::Offset {
                group,
                topic,
                partition,
            } => match value.map(OffsetValue::decode) {
                Some(Ok(v)) => {
                    groups
                        .entry(group)
                        .or_insert_with(|| Group::new(now))
                        .offsets
                        .insert((topic, partition), CommittedOffset::from(v));
                }
                Some(Err(_)) => {}
                None => {
                    if let Some(g) = groups.get_mut(&group) {
                        g.offsets.remove(&(topic, partition));
                    }
                }
            },
            Key::Group { group } => match value.map(GroupValue::decode) {
                Some(Ok(v)) => {
                    let g = groups.entry(group).or_insert_with(|| Group::new(now));
                    g.generation = v.generation;
                    g.protocol_type = (!v.protocol_type.is_empty()).then_some(v.protocol_type);
                    g.protocol_name = v.protocol.clone();
                    g.leader = v.leader;
                    g.members.clear();
                    g.static_members.clear();
                    for m in v.members {
                        if let Some(i) = &m.group_instance_id {
                            g.static_members.insert(i.clone(), m.member_id.clone());
                        }
                        let protocols = v
                            .protocol
                            .clone()
                            .map(|p| vec![(p, Bytes::from(m.subscription))])
                            .unwrap_or_default();
                        g.members.insert(
                            m.member_id.clone(),
                            Member {
                                member_id: m.member_id,
                                group_instance_id: m.group_instance_id,
                                client_id: m.client_id,
                                client_host: m.client_host,
                                session_timeout_ms: m.session_timeout,
                                rebalance_timeout_ms: m.rebalance_timeout,
                                protocols,
                                assignment: Bytes::from(m.assignment),
                                join_waiter: None,
                                sync_waiter: None,
                                heartbeat_seq: 0,
                            },
                        );
                    }
                    g.state = if g.members.is_empty() {
                        GroupState::Empty
                    } else {
                        GroupState::Stable
                    };
                    if v.current_state_timestamp >= 0 {
                        g.state_timestamp = v.current_state_timestamp;
                    }
                }
                Some(Err(_)) => {}
                None => {
                    // The group's metadata goes; its offsets are records of their own (a
                    // protocol upgrade tombstones the classic group and keeps them).
                    if let Some(g) = groups.get_mut(&group) {
                        if g.offsets.is_empty() && g.pending_txn.is_empty() {
                            groups.remove(&group);
                        } else {
                            let offsets = std::mem::take(&mut g.offsets);
                            let pending_txn = std::mem::take(&mut g.pending_txn);
                            *g = Group::new(now);
                            g.offsets = offsets;
                            g.pending_txn = pending_txn;
                        }
                    }
                }
            },
        }
    }

    // ---------------------------------------------------------------- timers

    fn arm_session(self: &Arc<Self>, group: &str, member: &str, seq: u64, timeout_ms: i32) {
        let this = self.clone();
        let (group, member) = (group.to_string(), member.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(timeout_ms.max(0) as u64)).await;
            this.session_expired(&group, &member, seq);
        });
    }

    fn session_expired(self: &Arc<Self>, group_id: &str, member_id: &str, seq: u64) {
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return;
        };
        if let Some(pseq) = group.pending.get(member_id) {
            if *pseq == seq {
                group.pending.remove(member_id);
                let ready = group.state == GroupState::PreparingRebalance
                    && group.all_joined()
                    && !group.initial_join;
                drop(groups);
                if ready {
                    self.complete_join(group_id);
                }
            }
            return;
        }
        let Some(m) = group.members.get(member_id) else {
            return;
        };
        if m.heartbeat_seq != seq || m.join_waiter.is_some() || m.sync_waiter.is_some() {
            return;
        }
        tracing::info!(
            group = group_id,
            member = member_id,
            "member session expired"
        );
        self.remove_member_locked(&mut groups, group_id, member_id);
    }

    fn heartbeat_member(self: &Arc<Self>, group_id: &str, m: &mut Member) {
        m.heartbeat_seq += 1;
        self.arm_session(
            group_id,
            &m.member_id,
            m.heartbeat_seq,
            m.session_timeout_ms,
        );
    }

    /// Remove a member and rebalance as Kafka's removeMemberAndUpdateGroup does.
    fn remove_member_locked(
        self: &Arc<Self>,
        groups: &mut MutexGuard<'_, HashMap<String, Group>>,
        group_id: &str,
        member_id: &str,
    ) {
        let Some(group) = groups.get_mut(group_id) else {
            return;
        };
        if let Some(m) = group.members.shift_remove(member_id) {
            if let Some(i) = &m.group_instance_id {
                if group.static_members.get(i) == Some(&m.member_id) {
                    group.static_members.remove(i);
                }
            }
            if let Some(w) = m.join_waiter {
                let _ = w.send(JoinResult::error(KafkaError::UnknownMemberId, member_id));
            }
            if let Some(w) = m.sync_waiter {
                let _ = w.send(SyncResult {
                    error: Some(KafkaError::UnknownMemberId),
                    ..Default::default()
                });
            }
        }
        if group.leader.as_deref() == Some(member_id) {
            group.leader = group.members.keys().next().cloned();
        }
        match group.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(group_id, group);
            }
            GroupState::PreparingRebalance
                if group.all_joined() && !group.initial_join && !group.members.is_empty() =>
            {
                let gid = group_id.to_string();
                let this = self.clone();
                // Complete outside the caller's lock.
                tokio::spawn(async move { this.complete_join(&gid) });
            }
            _ => {}
        }
        // With nobody left to wait for, Kafka's DelayedJoin completes at once: the group is
        // Empty (next generation) before the LeaveGroup or expiry that emptied it is answered.
        if group.members.is_empty()
            && group.state == GroupState::PreparingRebalance
            && !group.initial_join
        {
            let value = Self::become_empty(group, self.now());
            let key = Key::Group {
                group: group_id.to_string(),
            }
            .encode();
            let this = self.clone();
            let gid = group_id.to_string();
            tokio::spawn(async move {
                let _ = this.append(&gid, &[(key, Some(value.encode()))]);
            });
        }
    }

    /// The end of a join phase that no member is left in: the next generation, Empty.
    fn become_empty(group: &mut Group, now: i64) -> GroupValue {
        group.rebalance_seq += 1;
        group.initial_join = false;
        group.generation += 1;
        group.state_timestamp = now;
        group.state = GroupState::Empty;
        group.protocol_name = None;
        group.leader = None;
        group.to_value(now)
    }

    fn prepare_rebalance(self: &Arc<Self>, group_id: &str, group: &mut Group) {
        // Members waiting for a sync in the old generation are told to rejoin; a rebalance
        // interrupting CompletingRebalance drops the assignments not yet handed out (Kafka's
        // resetAndPropagateAssignmentWithError).
        let completing = group.state == GroupState::CompletingRebalance;
        for m in group.members.values_mut() {
            if completing {
                m.assignment = Bytes::new();
            }
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.send(SyncResult {
                    error: Some(KafkaError::RebalanceInProgress),
                    ..Default::default()
                });
            }
        }
        let from_empty = group.state == GroupState::Empty;
        group.state = GroupState::PreparingRebalance;
        group.state_timestamp = self.now();
        group.rebalance_seq += 1;
        group.initial_join = from_empty && self.config.initial_rebalance_delay_ms > 0;
        let rebalance_timeout = group
            .members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
            .max(0);
        let delay = if group.initial_join {
            self.config
                .initial_rebalance_delay_ms
                .min(rebalance_timeout.max(self.config.initial_rebalance_delay_ms))
        } else {
            rebalance_timeout
        };
        let seq = group.rebalance_seq;
        let this = self.clone();
        let gid = group_id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay as u64)).await;
            this.rebalance_deadline(&gid, seq);
        });
    }

    fn rebalance_deadline(self: &Arc<Self>, group_id: &str, seq: u64) {
        {
            let mut groups = self.lock();
            let Some(group) = groups.get_mut(group_id) else {
                return;
            };
            if group.rebalance_seq != seq || group.state != GroupState::PreparingRebalance {
                return;
            }
            group.initial_join = false;
            // Members that did not rejoin in time are removed (and pending ids forgotten).
            let missing: Vec<String> = group
                .members
                .values()
                .filter(|m| m.join_waiter.is_none())
                .map(|m| m.member_id.clone())
                .collect();
            for id in missing {
                if let Some(m) = group.members.shift_remove(&id) {
                    if let Some(i) = &m.group_instance_id {
                        group.static_members.remove(i);
                    }
                }
            }
            group.pending.clear();
        }
        self.complete_join(group_id);
    }

    /// Start the next generation and answer every waiting JoinGroup.
    fn complete_join(self: &Arc<Self>, group_id: &str) {
        let now = self.now();
        let mut persist_empty = None;
        {
            let mut groups = self.lock();
            let Some(group) = groups.get_mut(group_id) else {
                return;
            };
            if group.state != GroupState::PreparingRebalance {
                return;
            }
            if group.members.is_empty() {
                persist_empty = Some(Self::become_empty(group, now));
            } else {
                group.rebalance_seq += 1;
                group.initial_join = false;
                group.generation += 1;
                group.state_timestamp = now;
                group.protocol_name = group.select_protocol();
                if group
                    .leader
                    .as_ref()
                    .is_none_or(|l| !group.members.contains_key(l))
                {
                    group.leader = group.members.keys().next().cloned();
                }
                group.state = GroupState::CompletingRebalance;
                let protocol = group.protocol_name.clone().unwrap_or_default();
                let leader = group.leader.clone().unwrap_or_default();
                let member_list: Vec<(String, Option<String>, Bytes)> = group
                    .members
                    .values()
                    .map(|m| {
                        (
                            m.member_id.clone(),
                            m.group_instance_id.clone(),
                            m.metadata_for(&protocol),
                        )
                    })
                    .collect();
                let (generation, ptype, pname) = (
                    group.generation,
                    group.protocol_type.clone(),
                    group.protocol_name.clone(),
                );
                let ids: Vec<String> = group.members.keys().cloned().collect();
                for id in ids {
                    let Some(m) = group.members.get_mut(&id) else {
                        continue;
                    };
                    if let Some(w) = m.join_waiter.take() {
                        let _ = w.send(JoinResult {
                            error: None,
                            generation,
                            protocol_type: ptype.clone(),
                            protocol_name: pname.clone(),
                            leader: leader.clone(),
                            member_id: id.clone(),
                            members: if id == leader {
                                member_list.clone()
                            } else {
                                Vec::new()
                            },
                        });
                    }
                    let Some(m) = group.members.get_mut(&id) else {
                        continue;
                    };
                    m.heartbeat_seq += 1;
                    let (seq, timeout) = (m.heartbeat_seq, m.session_timeout_ms);
                    let this = self.clone();
                    let (gid, mid) = (group_id.to_string(), id.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(timeout.max(0) as u64)).await;
                        this.session_expired(&gid, &mid, seq);
                    });
                }
            }
        }
        if let Some(value) = persist_empty {
            let key = Key::Group {
                group: group_id.to_string(),
            }
            .encode();
            let _ = self.append(group_id, &[(key, Some(value.encode()))]);
        }
    }

    // ---------------------------------------------------------------- APIs

    pub fn join(self: &Arc<Self>, req: JoinRequest) -> Pending<JoinResult> {
        let c = &self.config;
        if req.group_id.is_empty() {
            return Pending::Ready(JoinResult::error(
                KafkaError::InvalidGroupId,
                &req.member_id,
            ));
        }
        if req.session_timeout_ms < c.min_session_timeout_ms
            || req.session_timeout_ms > c.max_session_timeout_ms
        {
            return Pending::Ready(JoinResult::error(
                KafkaError::InvalidSessionTimeout,
                &req.member_id,
            ));
        }
        let now = self.now();
        let mut groups = self.lock();
        if req.member_id.is_empty() {
            groups
                .entry(req.group_id.clone())
                .or_insert_with(|| Group::new(now));
        }
        let Some(group) = groups.get_mut(&req.group_id) else {
            return Pending::Ready(JoinResult::error(
                KafkaError::UnknownMemberId,
                &req.member_id,
            ));
        };
        if group.state == GroupState::Dead {
            return Pending::Ready(JoinResult::error(
                KafkaError::CoordinatorNotAvailable,
                &req.member_id,
            ));
        }
        if !group.supports(&req.protocol_type, &req.protocols) {
            return Pending::Ready(JoinResult::error(
                KafkaError::InconsistentGroupProtocol,
                &req.member_id,
            ));
        }

        let member_id = if req.member_id.is_empty() {
            // Static member rejoining with a new id: replaces the old member.
            if let Some(instance) = &req.group_instance_id {
                let new_id = new_member_id(instance);
                if let Some(old_id) = group.static_members.get(instance).cloned() {
                    if let Some(mut old) = group.members.shift_remove(&old_id) {
                        if let Some(w) = old.join_waiter.take() {
                            let _ =
                                w.send(JoinResult::error(KafkaError::FencedInstanceId, &old_id));
                        }
                        if let Some(w) = old.sync_waiter.take() {
                            let _ = w.send(SyncResult {
                                error: Some(KafkaError::FencedInstanceId),
                                ..Default::default()
                            });
                        }
                        let same_protocols = old
                            .protocols
                            .iter()
                            .map(|(n, _)| n)
                            .eq(req.protocols.iter().map(|(n, _)| n));
                        old.member_id = new_id.clone();
                        old.protocols = req.protocols.clone();
                        old.session_timeout_ms = req.session_timeout_ms;
                        old.rebalance_timeout_ms = req.rebalance_timeout_ms;
                        if group.leader.as_deref() == Some(old_id.as_str()) {
                            group.leader = Some(new_id.clone());
                        }
                        group
                            .static_members
                            .insert(instance.clone(), new_id.clone());
                        group.members.insert(new_id.clone(), old);
                        if group.state == GroupState::Stable && same_protocols {
                            // KIP-345: no rebalance; the member gets the current generation.
                            let Some(m) = group.members.get_mut(&new_id) else {
                                return Pending::Ready(JoinResult::error(
                                    KafkaError::UnknownMemberId,
                                    &new_id,
                                ));
                            };
                            self.heartbeat_member(&req.group_id, m);
                            let protocol = group.protocol_name.clone().unwrap_or_default();
                            let is_leader = group.leader.as_deref() == Some(new_id.as_str());
                            let members = if is_leader {
                                group
                                    .members
                                    .values()
                                    .map(|m| {
                                        (
                                            m.member_id.clone(),
                                            m.group_instance_id.clone(),
                                            m.metadata_for(&protocol),
                                        )
                                    })
                                    .collect()
                            } else {
                                Vec::new()
                            };
                            return Pending::Ready(JoinResult {
                                error: None,
                                generation: group.generation,
                                protocol_type: group.protocol_type.clone(),
                                protocol_name: group.protocol_name.clone(),
                                leader: group.leader.clone().unwrap_or_default(),
                                member_id: new_id,
                                members,
                            });
                        }
                        let (tx, rx) = oneshot::channel();
                        let Some(m) = group.members.get_mut(&new_id) else {
                            return Pending::Ready(JoinResult::error(
                                KafkaError::UnknownMemberId,
                                &new_id,
                            ));
                        };
                        m.join_waiter = Some(tx);
                        if group.state != GroupState::PreparingRebalance {
                            self.prepare_rebalance(&req.group_id, group);
                        }
                        let ready = group.all_joined() && !group.initial_join;
                        drop(groups);
                        if ready {
                            self.complete_join(&req.group_id);
                        }
                        return Pending::Wait(rx);
                    }
                }
                new_id
            } else if req.require_known_member_id {
                let id = new_member_id(&req.client_id);
                let seq = group.pending.len() as u64 + now as u64;
                group.pending.insert(id.clone(), seq);
                self.arm_session(&req.group_id, &id, seq, req.session_timeout_ms);
                return Pending::Ready(JoinResult {
                    error: Some(KafkaError::MemberIdRequired),
                    generation: -1,
                    member_id: id,
                    ..Default::default()
                });
            } else {
                new_member_id(&req.client_id)
            }
        } else {
            req.member_id.clone()
        };

        // Kafka's validateExistingMember: a static member's instance is checked first — held
        // by another member id: FENCED_INSTANCE_ID (a replaced incarnation rejoining with its
        // old id must stop, not start over as a new member).
        if let Some(instance) = &req.group_instance_id {
            if let Some(existing) = group.static_members.get(instance) {
                if *existing != member_id {
                    return Pending::Ready(JoinResult::error(
                        KafkaError::FencedInstanceId,
                        &member_id,
                    ));
                }
            }
        }
        let known = group.members.contains_key(&member_id);
        let was_pending = group.pending.remove(&member_id).is_some();
        if !known && !was_pending && !req.member_id.is_empty() {
            return Pending::Ready(JoinResult::error(
                KafkaError::UnknownMemberId,
                &req.member_id,
            ));
        }
        if !known && group.members.len() >= self.config.max_size {
            return Pending::Ready(JoinResult::error(
                KafkaError::GroupMaxSizeReached,
                &member_id,
            ));
        }

        let (tx, rx) = oneshot::channel();
        if known {
            let Some(m) = group.members.get_mut(&member_id) else {
                return Pending::Ready(JoinResult::error(KafkaError::UnknownMemberId, &member_id));
            };
            let changed = m.protocols != req.protocols;
            m.protocols = req.protocols.clone();
            m.session_timeout_ms = req.session_timeout_ms;
            m.rebalance_timeout_ms = req.rebalance_timeout_ms;
            match group.state {
                GroupState::CompletingRebalance | GroupState::Stable
                    if !changed && group.leader.as_deref() != Some(member_id.as_str()) =>
                {
                    // A follower rejoining with the same metadata gets the current generation.
                    let Some(m) = group.members.get_mut(&member_id) else {
                        return Pending::Ready(JoinResult::error(
                            KafkaError::UnknownMemberId,
                            &member_id,
                        ));
                    };
                    self.heartbeat_member(&req.group_id, m);
                    return Pending::Ready(JoinResult {
                        error: None,
                        generation: group.generation,
                        protocol_type: group.protocol_type.clone(),
                        protocol_name: group.protocol_name.clone(),
                        leader: group.leader.clone().unwrap_or_default(),
                        member_id,
                        members: Vec::new(),
                    });
                }
                _ => {}
            }
            let Some(m) = group.members.get_mut(&member_id) else {
                return Pending::Ready(JoinResult::error(KafkaError::UnknownMemberId, &member_id));
            };
            if let Some(old) = m.join_waiter.replace(tx) {
                let _ = old.send(JoinResult::error(KafkaError::UnknownMemberId, &member_id));
            }
        } else {
            if group.members.is_empty() {
                group.protocol_type = Some(req.protocol_type.clone());
            }
            if let Some(i) = &req.group_instance_id {
                group.static_members.insert(i.clone(), member_id.clone());
            }
            group.members.insert(
                member_id.clone(),
                Member {
                    member_id: member_id.clone(),
                    group_instance_id: req.group_instance_id.clone(),
                    client_id: req.client_id.clone(),
                    client_host: req.client_host.clone(),
                    session_timeout_ms: req.session_timeout_ms,
                    rebalance_timeout_ms: req.rebalance_timeout_ms,
                    protocols: req.protocols.clone(),
                    assignment: Bytes::new(),
                    join_waiter: Some(tx),
                    sync_waiter: None,
                    heartbeat_seq: 0,
                },
            );
        }
        if group.state != GroupState::PreparingRebalance {
            self.prepare_rebalance(&req.group_id, group);
        }
        let ready = group.all_joined() && !group.initial_join;
        drop(groups);
        if ready {
            self.complete_join(&req.group_id);
        }
        Pending::Wait(rx)
    }

    pub fn sync(
        self: &Arc<Self>,
        group_id: &str,
        member_id: &str,
        generation: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
    ) -> Pending<SyncResult> {
        let err = |e| {
            Pending::Ready(SyncResult {
                error: Some(e),
                ..Default::default()
            })
        };
        let now = self.now();
        let persist;
        let (rx, value);
        {
            let mut groups = self.lock();
            let Some(group) = groups.get_mut(group_id) else {
                return err(KafkaError::UnknownMemberId);
            };
            if group.state == GroupState::Dead {
                return err(KafkaError::CoordinatorNotAvailable);
            }
            if !group.members.contains_key(member_id) {
                return err(KafkaError::UnknownMemberId);
            }
            if generation != group.generation {
                return err(KafkaError::IllegalGeneration);
            }
            if protocol_type.is_some_and(|p| Some(p) != group.protocol_type.as_deref())
                || protocol_name.is_some_and(|p| Some(p) != group.protocol_name.as_deref())
            {
                return err(KafkaError::InconsistentGroupProtocol);
            }
            match group.state {
                GroupState::Empty => return err(KafkaError::UnknownMemberId),
                GroupState::PreparingRebalance => return err(KafkaError::RebalanceInProgress),
                GroupState::Stable => {
                    let Some(m) = group.members.get_mut(member_id) else {
                        return err(KafkaError::UnknownMemberId);
                    };
                    let assignment = m.assignment.clone();
                    self.heartbeat_member(group_id, m);
                    return Pending::Ready(SyncResult {
                        error: None,
                        protocol_type: group.protocol_type.clone(),
                        protocol_name: group.protocol_name.clone(),
                        assignment,
                    });
                }
                _ => {}
            }
            let (tx, r) = oneshot::channel();
            let Some(m) = group.members.get_mut(member_id) else {
                return err(KafkaError::UnknownMemberId);
            };
            m.sync_waiter = Some(tx);
            rx = r;
            if group.leader.as_deref() != Some(member_id) {
                return Pending::Wait(rx);
            }
            // The leader's assignment: persist the group with it, then hand it out.
            let mut v = group.to_value(now);
            let map: HashMap<String, Bytes> = assignments.into_iter().collect();
            for mv in &mut v.members {
                mv.assignment = map
                    .get(&mv.member_id)
                    .map(|b| b.to_vec())
                    .unwrap_or_default();
            }
            value = v;
            persist = (group.generation, map);
        }
        let key = Key::Group {
            group: group_id.to_string(),
        }
        .encode();
        let stored = self.append(group_id, &[(key, Some(value.encode()))]);
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return Pending::Wait(rx);
        };
        if group.generation != persist.0 || group.state != GroupState::CompletingRebalance {
            return Pending::Wait(rx);
        }
        let (ptype, pname) = (group.protocol_type.clone(), group.protocol_name.clone());
        match stored {
            Ok(()) => {
                group.state = GroupState::Stable;
                group.state_timestamp = now;
                for m in group.members.values_mut() {
                    m.assignment = persist.1.get(&m.member_id).cloned().unwrap_or_default();
                    if let Some(w) = m.sync_waiter.take() {
                        let _ = w.send(SyncResult {
                            error: None,
                            protocol_type: ptype.clone(),
                            protocol_name: pname.clone(),
                            assignment: m.assignment.clone(),
                        });
                    }
                }
            }
            Err(e) => {
                for m in group.members.values_mut() {
                    if let Some(w) = m.sync_waiter.take() {
                        let _ = w.send(SyncResult {
                            error: Some(e),
                            ..Default::default()
                        });
                    }
                }
                self.prepare_rebalance(group_id, group);
            }
        }
        Pending::Wait(rx)
    }

    pub fn heartbeat(
        self: &Arc<Self>,
        group_id: &str,
        member_id: &str,
        generation: i32,
        instance: Option<&str>,
    ) -> Option<KafkaError> {
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return Some(KafkaError::UnknownMemberId);
        };
        if let Some(i) = instance {
            if group.static_members.get(i).is_some_and(|m| m != member_id) {
                return Some(KafkaError::FencedInstanceId);
            }
        }
        if group.state == GroupState::Dead {
            return Some(KafkaError::CoordinatorNotAvailable);
        }
        if !group.members.contains_key(member_id) {
            return Some(KafkaError::UnknownMemberId);
        }
        if generation != group.generation {
            return Some(KafkaError::IllegalGeneration);
        }
        let state = group.state;
        let Some(m) = group.members.get_mut(member_id) else {
            return Some(KafkaError::UnknownMemberId);
        };
        self.heartbeat_member(group_id, m);
        match state {
            GroupState::PreparingRebalance => Some(KafkaError::RebalanceInProgress),
            GroupState::Empty => Some(KafkaError::UnknownMemberId),
            _ => None,
        }
    }

    /// LeaveGroup for (member id, instance id) pairs; returns an error per member.
    pub fn leave(
        self: &Arc<Self>,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<Option<KafkaError>>, KafkaError> {
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return Err(KafkaError::UnknownMemberId);
        };
        if group.state == GroupState::Dead {
            return Err(KafkaError::CoordinatorNotAvailable);
        }
        let mut out = Vec::new();
        for (member_id, instance) in members {
            let Some(group) = groups.get_mut(group_id) else {
                return Err(KafkaError::CoordinatorNotAvailable);
            };
            let target = match instance {
                Some(i) => match group.static_members.get(i) {
                    Some(m) if member_id.is_empty() || m == member_id => Some(m.clone()),
                    Some(_) => {
                        out.push(Some(KafkaError::FencedInstanceId));
                        continue;
                    }
                    None => None,
                },
                None => Some(member_id.clone()),
            };
            match target {
                Some(m) if group.members.contains_key(&m) => {
                    self.remove_member_locked(&mut groups, group_id, &m);
                    out.push(None);
                }
                Some(m) if group.pending.remove(&m).is_some() => out.push(None),
                _ => out.push(Some(KafkaError::UnknownMemberId)),
            }
        }
        Ok(out)
    }

    /// OffsetCommit. `offsets`: (topic, partition, offset, leader epoch, metadata).
    pub fn commit_offsets(
        self: &Arc<Self>,
        group_id: &str,
        member_id: &str,
        generation: i32,
        instance: Option<&str>,
        offsets: Vec<(String, i32, i64, i32, String)>,
    ) -> Vec<Option<KafkaError>> {
        let now = self.now();
        let all = |e: KafkaError| vec![Some(e); offsets.len()];
        {
            let mut groups = self.lock();
            if !groups.contains_key(group_id) {
                if generation >= 0 {
                    return all(KafkaError::IllegalGeneration);
                }
                groups.insert(group_id.to_string(), Group::new(now));
            }
            let Some(group) = groups.get_mut(group_id) else {
                return all(KafkaError::CoordinatorNotAvailable);
            };
            if group.state == GroupState::Dead {
                return all(KafkaError::CoordinatorNotAvailable);
            }
            let simple = generation < 0 && member_id.is_empty() && instance.is_none();
            if simple {
                if group.state != GroupState::Empty {
                    return all(KafkaError::UnknownMemberId);
                }
            } else {
                if let Some(i) = instance {
                    if group.static_members.get(i).is_some_and(|m| m != member_id) {
                        return all(KafkaError::FencedInstanceId);
                    }
                }
                if !group.members.contains_key(member_id) {
                    return all(KafkaError::UnknownMemberId);
                }
                if generation != group.generation {
                    return all(KafkaError::IllegalGeneration);
                }
                if group.state == GroupState::CompletingRebalance {
                    return all(KafkaError::RebalanceInProgress);
                }
                let Some(m) = group.members.get_mut(member_id) else {
                    return all(KafkaError::UnknownMemberId);
                };
                self.heartbeat_member(group_id, m);
            }
        }
        let (results, accepted) = self.write_offsets(group_id, offsets, None, now);
        let mut groups = self.lock();
        if let Some(group) = groups.get_mut(group_id) {
            for (topic, partition, c) in accepted {
                group.offsets.insert((topic, partition), c);
            }
        }
        results
    }

    /// Committed offsets of `group` (all of them when `partitions` is None).
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[(String, i32)]>,
    ) -> Vec<(String, i32, Option<CommittedOffset>)> {
        let groups = self.lock();
        let group = groups.get(group_id).filter(|g| g.state != GroupState::Dead);
        match partitions {
            Some(ps) => ps
                .iter()
                .map(|(t, p)| {
                    (
                        t.clone(),
                        *p,
                        group.and_then(|g| g.offsets.get(&(t.clone(), *p)).cloned()),
                    )
                })
                .collect(),
            None => {
                let mut all: Vec<_> = group
                    .map(|g| {
                        g.offsets
                            .iter()
                            .map(|((t, p), c)| (t.clone(), *p, Some(c.clone())))
                            .collect()
                    })
                    .unwrap_or_default();
                all.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
                all
            }
        }
    }

    // ---------------------------------------------------------------- protocol migration

    /// Upgrade (Kafka's convertToConsumerGroup): takes the members of a classic group that has
    /// some, uses the consumer protocol and has at most `max_size` of them, and leaves the group
    /// empty here (its committed offsets stay). Members waiting in a join or sync are told to
    /// rejoin (REBALANCE_IN_PROGRESS). The caller writes the group's tombstone
    /// ([`group_tombstone`]) with the consumer group's records. None: not such a group.
    pub fn take_for_upgrade(&self, group_id: &str, max_size: usize) -> Option<ConvertedGroup> {
        let now = self.now();
        let mut groups = self.lock();
        let group = groups.get_mut(group_id)?;
        if group.members.is_empty()
            || group.protocol_type.as_deref() != Some("consumer")
            || group.members.len() > max_size
        {
            return None;
        }
        let protocol = group.protocol_name.clone();
        // Kafka refuses the upgrade when a member's embedded protocol is malformed.
        let parses = group.members.values().all(|m| {
            let metadata = match &protocol {
                Some(p) => m.metadata_for(p),
                None => m
                    .protocols
                    .first()
                    .map(|(_, b)| b.clone())
                    .unwrap_or_default(),
            };
            super::consumer_protocol::parse_subscription(&metadata).is_ok()
                && (m.assignment.is_empty()
                    || super::consumer_protocol::parse_assignment(&m.assignment).is_ok())
        });
        if !parses {
            return None;
        }
        let mut members = Vec::with_capacity(group.members.len());
        for (_, m) in group.members.drain(..) {
            if let Some(w) = m.join_waiter {
                let _ = w.send(JoinResult::error(
                    KafkaError::RebalanceInProgress,
                    &m.member_id,
                ));
            }
            if let Some(w) = m.sync_waiter {
                let _ = w.send(SyncResult {
                    error: Some(KafkaError::RebalanceInProgress),
                    ..Default::default()
                });
            }
            members.push(ConvertedMember {
                member_id: m.member_id,
                instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                session_timeout_ms: m.session_timeout_ms,
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                protocols: m.protocols,
                assignment: m.assignment,
                partitions: Vec::new(),
            });
        }
        let converted = ConvertedGroup {
            generation: group.generation,
            protocol_name: protocol,
            members,
        };
        // What stays is the offsets' holder: a fresh, empty group (as Kafka, which removes the
        // classic group and keeps the offsets).
        let offsets = std::mem::take(&mut group.offsets);
        let pending_txn = std::mem::take(&mut group.pending_txn);
        let seq = group.rebalance_seq + 1;
        *group = Group::new(now);
        group.offsets = offsets;
        group.pending_txn = pending_txn;
        group.rebalance_seq = seq;
        Some(converted)
    }

    /// Downgrade (Kafka's convertToClassicGroup): installs a classic group of `converted`'s
    /// members (Stable, at its generation), writes `first` (the consumer group's tombstones)
    /// and the group's metadata in one batch, then starts a rebalance so the members rejoin.
    pub fn install_converted(
        self: &Arc<Self>,
        group_id: &str,
        converted: ConvertedGroup,
        first: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    ) -> Result<(), KafkaError> {
        let now = self.now();
        let mut fresh = Group::new(now);
        fresh.generation = converted.generation;
        fresh.protocol_type = Some("consumer".into());
        let mut partitions = HashMap::new();
        for m in converted.members {
            partitions.insert(m.member_id.clone(), m.partitions);
            if let Some(i) = &m.instance_id {
                fresh.static_members.insert(i.clone(), m.member_id.clone());
            }
            fresh.members.insert(
                m.member_id.clone(),
                Member {
                    member_id: m.member_id,
                    group_instance_id: m.instance_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    session_timeout_ms: m.session_timeout_ms,
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    protocols: m.protocols,
                    assignment: m.assignment,
                    join_waiter: None,
                    sync_waiter: None,
                    heartbeat_seq: 0,
                },
            );
        }
        fresh.protocol_name = converted
            .protocol_name
            .filter(|p| {
                fresh
                    .members
                    .values()
                    .all(|m| m.protocols.iter().any(|(n, _)| n == p))
            })
            .or_else(|| fresh.select_protocol());
        fresh.leader = fresh.members.keys().next().cloned();
        fresh.state = GroupState::Stable;
        let protocol = fresh.protocol_name.clone().unwrap_or_default();
        for m in fresh.members.values_mut() {
            let version = super::consumer_protocol::version_of(&m.metadata_for(&protocol));
            let parts = partitions.remove(&m.member_id).unwrap_or_default();
            m.assignment = super::consumer_protocol::encode_assignment(version, &parts);
        }
        let mut records = first;
        records.push((
            Key::Group {
                group: group_id.to_string(),
            }
            .encode(),
            Some(fresh.to_value(now).encode()),
        ));
        self.append(group_id, &records)?;
        let mut groups = self.lock();
        let group = groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::new(now));
        fresh.offsets = std::mem::take(&mut group.offsets);
        fresh.pending_txn = std::mem::take(&mut group.pending_txn);
        fresh.rebalance_seq = group.rebalance_seq + 1;
        *group = fresh;
        let ids: Vec<String> = group.members.keys().cloned().collect();
        for id in ids {
            if let Some(m) = group.members.get_mut(&id) {
                self.heartbeat_member(group_id, m);
            }
        }
        self.prepare_rebalance(group_id, group);
        Ok(())
    }

    /// A classic group of that id has members (or members pending KIP-394 ids).
    pub fn has_members(&self, group_id: &str) -> bool {
        self.lock()
            .get(group_id)
            .is_some_and(|g| !g.members.is_empty() || !g.pending.is_empty())
    }

    /// (group id, protocol type, state) of every live group.
    pub fn list(&self) -> Vec<(String, String, GroupState)> {
        let mut v: Vec<_> = self
            .lock()
            .iter()
            .filter(|(_, g)| g.state != GroupState::Dead)
            .map(|(id, g)| {
                (
                    id.clone(),
                    g.protocol_type.clone().unwrap_or_default(),
                    g.state,
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        let groups = self.lock();
        let g = groups
            .get(group_id)
            .filter(|g| g.state != GroupState::Dead)?;
        let protocol = g.protocol_name.clone().unwrap_or_default();
        let stable = g.state == GroupState::Stable;
        Some(GroupDescription {
            state: g.state,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            // Kafka 4.3 names the protocol only once the group is Stable (not while it
            // completes its rebalance: compat-tests/differential, consumer-group-to-classic).
            protocol_name: if stable {
                protocol.clone()
            } else {
                String::new()
            },
            members: g
                .members
                .values()
                .map(|m| {
                    (
                        m.member_id.clone(),
                        m.group_instance_id.clone(),
                        m.client_id.clone(),
                        m.client_host.clone(),
                        if stable {
                            m.metadata_for(&protocol)
                        } else {
                            Bytes::new()
                        },
                        // Kafka's describeNoMetadata keeps the assignment.
                        m.assignment.clone(),
                    )
                })
                .collect(),
        })
    }

    /// DeleteGroups: only empty groups; offsets and metadata get tombstones.
    /// Removes committed offsets past offsets.retention.minutes, as Kafka's offset expiration
    /// (KIP-211) does, and deletes groups left empty with no offsets. Which offsets can expire,
    /// and from when:
    /// - a group without a protocol type (only simple-consumer commits): every offset, counted
    ///   from its commit;
    /// - an Empty group: every offset, counted from when the group became Empty;
    /// - a live `consumer` group: offsets of topics no member subscribes to, from their commit;
    /// - any other live group: none.
    ///
    /// An offset read back from an OffsetCommitValue v1 record carries its own expire timestamp
    /// and, where it may expire at all, expires at that time instead (Kafka's
    /// OffsetExpirationConditionImpl).
    ///
    /// Tombstones are written to `__consumer_offsets` before the offsets leave memory; the
    /// coordinator's lock is not held across that write. Returns the number of offsets removed.
    pub fn expire_offsets(&self) -> usize {
        self.expire_offsets_with(|_| None)
    }

    /// [`expire_offsets`](Self::expire_offsets), where `live(group)` gives the topics a live
    /// KIP-848 group of that id subscribes to: their offsets are kept, as for a live classic
    /// `consumer` group.
    pub fn expire_offsets_with(&self, live: impl Fn(&str) -> Option<HashSet<String>>) -> usize {
        let now = self.now();
        let retention = self.config.offsets_retention_ms;
        // (group, expired partitions, delete the group too)
        type Plan = (String, Vec<(String, i32)>, bool);
        let mut plan: Vec<Plan> = Vec::new();
        {
            let groups = self.lock();
            for (id, g) in groups.iter() {
                if g.state == GroupState::Dead {
                    continue;
                }
                let subscribed: Option<HashSet<String>> = match (&g.protocol_type, g.state) {
                    (None, _) if live(id).is_some() => live(id),
                    (None, _) | (Some(_), GroupState::Empty) => None,
                    (Some(t), _) if t == "consumer" => {
                        let protocol = g.protocol_name.clone().unwrap_or_default();
                        Some(
                            g.members
                                .values()
                                .flat_map(|m| subscribed_topics(&m.metadata_for(&protocol)))
                                .collect(),
                        )
                    }
                    (Some(_), _) => continue,
                };
                let expired: Vec<(String, i32)> = g
                    .offsets
                    .iter()
                    .filter(|((topic, _), c)| {
                        let base = match (&subscribed, &g.protocol_type) {
                            (Some(topics), _) if topics.contains(topic) => return false,
                            (Some(_), _) | (None, None) => c.commit_timestamp,
                            (None, Some(_)) => g.state_timestamp,
                        };
                        // An offset with its own expire timestamp (a v1 record) expires then.
                        match c.expire_timestamp {
                            Some(at) => now >= at,
                            None => now.saturating_sub(base) >= retention,
                        }
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                let empties = g.state == GroupState::Empty
                    && g.members.is_empty()
                    && expired.len() == g.offsets.len();
                if !expired.is_empty() || (empties && g.pending.is_empty()) {
                    plan.push((id.clone(), expired, empties));
                }
            }
        }
        let mut removed = 0;
        for (group_id, expired, delete_group) in plan {
            let mut entries: Vec<(Vec<u8>, Option<Vec<u8>>)> = expired
                .iter()
                .map(|(t, p)| {
                    let key = Key::Offset {
                        group: group_id.clone(),
                        topic: t.clone(),
                        partition: *p,
                    };
                    (key.encode(), None)
                })
                .collect();
            if delete_group {
                let key = Key::Group {
                    group: group_id.clone(),
                };
                entries.push((key.encode(), None));
            }
            if let Err(e) = self.append(&group_id, &entries) {
                tracing::warn!(group = %group_id, error = ?e, "writing offset expiry failed");
                continue;
            }
            let mut groups = self.lock();
            let Some(g) = groups.get_mut(&group_id) else {
                continue;
            };
            for k in &expired {
                if g.offsets.remove(k).is_some() {
                    removed += 1;
                }
            }
            // Re-checked: a member may have joined or committed since the plan was made.
            if delete_group
                && g.state == GroupState::Empty
                && g.members.is_empty()
                && g.offsets.is_empty()
            {
                groups.remove(&group_id);
            }
            tracing::info!(group = %group_id, expired = expired.len(), group_deleted = delete_group, "expired committed offsets");
        }
        removed
    }

    pub fn delete_group(&self, group_id: &str) -> Option<KafkaError> {
        let entries = {
            let groups = self.lock();
            let Some(g) = groups.get(group_id).filter(|g| g.state != GroupState::Dead) else {
                return Some(KafkaError::GroupIdNotFound);
            };
            if !g.members.is_empty() || g.state != GroupState::Empty {
                return Some(KafkaError::NonEmptyGroup);
            }
            let mut e: Vec<(Vec<u8>, Option<Vec<u8>>)> = g
                .offsets
                .keys()
                .map(|(t, p)| {
                    (
                        Key::Offset {
                            group: group_id.to_string(),
                            topic: t.clone(),
                            partition: *p,
                        }
                        .encode(),
                        None,
                    )
                })
                .collect();
            e.push((
                Key::Group {
                    group: group_id.to_string(),
                }
                .encode(),
                None,
            ));
            e
        };
        if let Err(e) = self.append(group_id, &entries) {
            return Some(e);
        }
        self.lock().remove(group_id);
        None
    }

    /// OffsetDelete: refused for topics the group is subscribed to (consumer protocol).
    pub fn delete_offsets(
        &self,
        group_id: &str,
        partitions: &[(String, i32)],
    ) -> Result<Vec<Option<KafkaError>>, KafkaError> {
        let (entries, subscribed) = {
            let groups = self.lock();
            let Some(g) = groups.get(group_id).filter(|g| g.state != GroupState::Dead) else {
                return Err(KafkaError::GroupIdNotFound);
            };
            let subscribed: HashSet<String> =
                if g.state == GroupState::Empty || g.protocol_type.as_deref() != Some("consumer") {
                    HashSet::new()
                } else {
                    let protocol = g.protocol_name.clone().unwrap_or_default();
                    g.members
                        .values()
                        .flat_map(|m| subscribed_topics(&m.metadata_for(&protocol)))
                        .collect()
                };
            let entries: Vec<(Vec<u8>, Option<Vec<u8>>)> = partitions
                .iter()
                .filter(|(t, _)| !subscribed.contains(t))
                .map(|(t, p)| {
                    (
                        Key::Offset {
                            group: group_id.to_string(),
                            topic: t.clone(),
                            partition: *p,
                        }
                        .encode(),
                        None,
                    )
                })
                .collect();
            (entries, subscribed)
        };
        self.append(group_id, &entries)?;
        let mut groups = self.lock();
        let g = groups.get_mut(group_id);
        let mut out = Vec::new();
        let mut g = g;
        for (t, p) in partitions {
            if subscribed.contains(t) {
                out.push(Some(KafkaError::GroupSubscribedToTopic));
            } else {
                if let Some(g) = g.as_mut() {
                    g.offsets.remove(&(t.clone(), *p));
                }
                out.push(None);
            }
        }
        Ok(out)
    }
}

/// Topics of a consumer-protocol subscription (ConsumerProtocolSubscription: version int16,
/// topics array of strings, ...). Unparseable metadata subscribes to nothing.
pub fn subscribed_topics(metadata: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let get = |pos: usize, n: usize| metadata.get(pos..pos + n);
    let Some(count) = get(2, 4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]])) else {
        return out;
    };
    let mut pos = 6;
    for _ in 0..count.max(0) {
        let Some(len) = get(pos, 2).map(|b| i16::from_be_bytes([b[0], b[1]])) else {
            break;
        };
        pos += 2;
        let Some(name) = get(pos, len.max(0) as usize) else {
            break;
        };
        out.push(String::from_utf8_lossy(name).into_owned());
        pos += len.max(0) as usize;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_storage::{LogConfig, MockTime, SystemTime};

    fn coordinator(dir: &std::path::Path, delay_ms: i32) -> Arc<GroupCoordinator> {
        let logs = Arc::new(
            LogManager::open(
                vec![dir.to_path_buf()],
                LogConfig::default(),
                Arc::new(SystemTime),
            )
            .unwrap(),
        );
        for p in 0..4 {
            logs.get_or_create_log(
                &TopicPartition::new(OFFSETS_TOPIC, p),
                crate::kafka_uuid::test_topic_id(OFFSETS_TOPIC),
                None,
            )
            .unwrap();
        }
        let config = GroupConfig {
            initial_rebalance_delay_ms: delay_ms,
            offsets_partitions: 4,
            ..GroupConfig::default()
        };
        GroupCoordinator::new(config, logs, Arc::new(SystemTime))
    }

    fn req(member: &str, instance: Option<&str>) -> JoinRequest {
        JoinRequest {
            group_id: "g".into(),
            member_id: member.into(),
            group_instance_id: instance.map(str::to_string),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 30_000,
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), Bytes::from_static(b"meta"))],
            require_known_member_id: true,
        }
    }

    async fn join(c: &Arc<GroupCoordinator>, r: JoinRequest) -> JoinResult {
        match c.join(r) {
            Pending::Ready(r) => r,
            Pending::Wait(rx) => rx.await.expect("answered"),
        }
    }

    /// KIP-394: first join gets an id, the second completes (delay 0: at once).
    async fn join_new(c: &Arc<GroupCoordinator>) -> JoinResult {
        let first = join(c, req("", None)).await;
        assert_eq!(first.error, Some(KafkaError::MemberIdRequired));
        join(c, req(&first.member_id, None)).await
    }

    async fn sync(
        c: &Arc<GroupCoordinator>,
        m: &str,
        gen: i32,
        assignments: Vec<(String, Bytes)>,
    ) -> SyncResult {
        match c.sync("g", m, gen, None, None, assignments) {
            Pending::Ready(r) => r,
            Pending::Wait(rx) => rx.await.expect("answered"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn two_members_rebalance_and_get_assignments_byte_exact() {
        let d = tempfile::tempdir().unwrap();
        let c = coordinator(d.path(), 0);
        let m1 = join_new(&c).await;
        assert_eq!(m1.error, None);
        assert_eq!(m1.generation, 1);
        assert_eq!(m1.leader, m1.member_id);
        let s = sync(
            &c,
            &m1.member_id,
            1,
            vec![(m1.member_id.clone(), Bytes::from_static(b"a1"))],
        )
        .await;
        assert_eq!(s.assignment, Bytes::from_static(b"a1"));

        // A second member: its join waits for m1 to rejoin.
        let first = join(&c, req("", None)).await;
        let m2_id = first.member_id.clone();
        let c2 = c.clone();
        let pending_m2 = tokio::spawn(async move { join(&c2, req(&m2_id, None)).await });
        tokio::task::yield_now().await;
        assert_eq!(
            c.heartbeat("g", &m1.member_id, 1, None),
            Some(KafkaError::RebalanceInProgress)
        );
        let m1b = join(&c, req(&m1.member_id, None)).await;
        let m2 = pending_m2.await.unwrap();
        assert_eq!((m1b.generation, m2.generation), (2, 2));
        assert_eq!(m1b.members.len(), 2, "the leader gets every member");
        assert!(m2.members.is_empty());
        let c3 = c.clone();
        let m2_id = m2.member_id.clone();
        let follower = tokio::spawn(async move { sync(&c3, &m2_id, 2, vec![]).await });
        tokio::task::yield_now().await;
        let assignment = Bytes::from(vec![0u8, 1, 2, 255]);
        let leader = sync(
            &c,
            &m1.member_id,
            2,
            vec![
                (m1.member_id.clone(), Bytes::from_static(b"x")),
                (m2.member_id.clone(), assignment.clone()),
            ],
        )
        .await;
        assert_eq!(leader.assignment, Bytes::from_static(b"x"));
        assert_eq!(follower.await.unwrap().assignment, assignment);
        assert_eq!(c.describe("g").unwrap().state, GroupState::Stable);
        // Wrong generation.
        assert_eq!(
            c.heartbeat("g", &m1.member_id, 1, None),
            Some(KafkaError::IllegalGeneration)
        );
        assert_eq!(
            c.heartbeat("g", "nobody", 2, None),
            Some(KafkaError::UnknownMemberId)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn session_expiry_removes_the_silent_member() {
        let d = tempfile::tempdir().unwrap();
        let c = coordinator(d.path(), 0);
        let m1 = join_new(&c).await;
        sync(&c, &m1.member_id, 1, vec![]).await;
        // m1 goes silent past its 10 s session: removed, the group empties.
        tokio::time::sleep(Duration::from_millis(10_001)).await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let d1 = c.describe("g").unwrap();
        assert!(d1.members.is_empty(), "expired member removed");
        assert_eq!(
            c.heartbeat("g", &m1.member_id, 1, None),
            Some(KafkaError::UnknownMemberId)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn last_member_leaving_empties_the_group_before_the_answer() {
        let d = tempfile::tempdir().unwrap();
        let c = coordinator(d.path(), 0);
        let m1 = join_new(&c).await;
        sync(&c, &m1.member_id, 1, vec![]).await;
        let left = c.leave("g", &[(m1.member_id.clone(), None)]).unwrap();
        assert_eq!(left, vec![None]);
        // No task has run since: the state changed inside LeaveGroup, as in Kafka.
        let after = c.describe("g").unwrap();
        assert_eq!(after.state, GroupState::Empty);
        assert!(after.members.is_empty());
        // A new member starts the next generation (1 -> empty 2 -> 3).
        let m2 = join_new(&c).await;
        assert_eq!(m2.generation, 3);
    }

    fn coordinator_at(dir: &std::path::Path, clock: Arc<MockTime>) -> Arc<GroupCoordinator> {
        let logs = Arc::new(
            LogManager::open(vec![dir.to_path_buf()], LogConfig::default(), clock.clone()).unwrap(),
        );
        for p in 0..4 {
            logs.get_or_create_log(
                &TopicPartition::new(OFFSETS_TOPIC, p),
                crate::kafka_uuid::test_topic_id(OFFSETS_TOPIC),
                None,
            )
            .unwrap();
        }
        let config = GroupConfig {
            initial_rebalance_delay_ms: 0,
            offsets_partitions: 4,
            offsets_retention_ms: 60_000,
            ..GroupConfig::default()
        };
        GroupCoordinator::new(config, logs, clock)
    }

    /// `__consumer_offsets` as a compacted topic (as it is created), and a coordinator on it.
    fn compacted_coordinator(
        dir: &std::path::Path,
        clock: Arc<MockTime>,
    ) -> (Arc<LogManager>, Arc<GroupCoordinator>) {
        let config = LogConfig {
            cleanup_policy_compact: true,
            cleanup_policy_delete: false,
            delete_retention_ms: 0,
            min_cleanable_dirty_ratio: 0.01,
            ..LogConfig::default()
        };
        let logs =
            Arc::new(LogManager::open(vec![dir.to_path_buf()], config, clock.clone()).unwrap());
        for p in 0..4 {
            logs.get_or_create_log(
                &TopicPartition::new(OFFSETS_TOPIC, p),
                crate::kafka_uuid::test_topic_id(OFFSETS_TOPIC),
                None,
            )
            .unwrap();
        }
        let config = GroupConfig {
            initial_rebalance_delay_ms: 0,
            offsets_partitions: 4,
            ..GroupConfig::default()
        };
        (logs.clone(), GroupCoordinator::new(config, logs, clock))
    }

    /// The replay at start-up rebuilds the same groups from a cleaned `__consumer_offsets`:
    /// superseded commits and deleted groups' tombstones gone, transactional offsets with
    /// their markers (committed kept, aborted dropped).
    #[tokio::test(start_paused = true)]
    async fn replay_of_a_cleaned_offsets_log_rebuilds_the_same_state() {
        let d = tempfile::tempdir().unwrap();
        let clock = Arc::new(MockTime::new(1_000_000));
        let (logs, c) = compacted_coordinator(d.path(), clock.clone());
        for o in 1..=5 {
            assert_eq!(
                c.commit_offsets("g", "", -1, None, vec![offset_entry("t", 0, o)]),
                vec![None]
            );
        }
        assert_eq!(
            c.commit_offsets("h", "", -1, None, vec![offset_entry("t", 0, 3)]),
            vec![None]
        );
        assert_eq!(c.delete_group("h"), None);
        let part = c.partition_for("g");
        let log = logs
            .get_log(&TopicPartition::new(OFFSETS_TOPIC, part))
            .unwrap();
        let txn = |pid: i64, offset: (i32, i64), commit: bool| {
            let r = c.txn_commit_offsets(
                "g",
                pid,
                0,
                "",
                -1,
                None,
                vec![offset_entry("t", offset.0, offset.1)],
            );
            assert_eq!(r, vec![None]);
            log.append_control_marker(
                &sluice_storage::TxnMarker {
                    producer_id: pid,
                    producer_epoch: 0,
                    coordinator_epoch: 0,
                    commit,
                    transaction_version: 0,
                },
                0,
            )
            .unwrap();
            c.complete_txn(part, pid, commit);
        };
        txn(42, (1, 10), true);
        txn(43, (2, 20), false);
        txn(44, (3, 30), true);
        // A plain commit supersedes the first transaction's offset.
        assert_eq!(
            c.commit_offsets("g", "", -1, None, vec![offset_entry("t", 1, 11)]),
            vec![None]
        );
        let cleaner = sluice_storage::LogCleaner::new(sluice_storage::CleanerConfig::default());
        let mut removed = 0;
        for round in 0..3 {
            assert_eq!(
                c.commit_offsets("g", "", -1, None, vec![offset_entry("t", 0, 6 + round)]),
                vec![None]
            );
            for l in logs.all_logs() {
                l.roll_now().unwrap();
            }
            removed += cleaner
                .clean_once(&logs)
                .cleaned
                .iter()
                .map(|(_, s)| s.records_removed)
                .sum::<u64>();
        }
        assert!(removed >= 8, "cleaning removed {removed} records");
        let before = c.fetch_offsets("g", None);
        let offsets: Vec<(i32, i64)> = before
            .iter()
            .map(|(_, p, o)| (*p, o.as_ref().unwrap().offset))
            .collect();
        assert_eq!(offsets, [(0, 8), (1, 11), (3, 30)]);
        let (_, c2) = compacted_coordinator(d.path(), clock.clone());
        c2.load();
        assert_eq!(c2.fetch_offsets("g", None), before);
        assert!(c2.describe("h").is_none());
        assert!(c2.fetch_offsets("h", None).is_empty());
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Records Apache Kafka 4.3.1 wrote (OffsetCommitValue v4 with a topic id, GroupMetadata
    /// v3 of a group whose static member stays) come back as the group's committed offset and
    /// member at start-up.
    #[tokio::test(start_paused = true)]
    async fn replays_offsets_and_groups_kafka_wrote() {
        let d = tempfile::tempdir().unwrap();
        let clock = Arc::new(MockTime::new(1_000_000));
        let c = coordinator_at(d.path(), clock.clone());
        let group_key = hex("0002000964642d737461746963");
        let entries = vec![
            (
                group_key.clone(),
                Some(hex("0003000000000000ffffffff000001a25310e76c00000000")),
            ),
            (
                group_key,
                Some(hex(
                    "00030008636f6e73756d657200000001000572616e6765003564642d7374617469632d6d656d\
                     6265722d30373630373333612d613038362d343931352d626132392d383363646662303139\
                     333335000001a25310e77200000001003564642d7374617469632d6d656d6265722d303736\
                     30373333612d613038362d343931352d626132392d383363646662303139333335001064642d\
                     7374617469632d6d656d6265720023636f6e73756d65722d64642d7374617469632d64642d73\
                     74617469632d6d656d626572000a2f3132372e302e302e31000493e0000927c00000001d0003\
                     00000001000764642d6964656dffffffff00000000ffffffffffff0000001b00030000000100\
                     0764642d6964656d0000000100000000ffffffff",
                )),
            ),
            (
                hex("0001000964642d737461746963000764642d6964656d00000000"),
                Some(hex(
                    "00040000000000000014000000001164642d7374617469632d6d6574612d30000001a25310\
                     e79101001096a80406fe3e4ce4b06f06d0728d4ec1",
                )),
            ),
        ];
        c.append("dd-static", &entries).unwrap();
        let c2 = coordinator_at(d.path(), clock);
        c2.load();
        let offsets = c2.fetch_offsets("dd-static", None);
        assert_eq!(offsets.len(), 1, "{offsets:?}");
        let (topic, p, o) = &offsets[0];
        let o = o.as_ref().unwrap();
        assert_eq!((topic.as_str(), *p), ("dd-idem", 0));
        assert_eq!(
            (o.offset, o.leader_epoch, o.metadata.as_str()),
            (20, 0, "dd-static-meta-0")
        );
        let g = c2.describe("dd-static").unwrap();
        assert_eq!(g.members.len(), 1);
        assert_eq!(g.members[0].1.as_deref(), Some("dd-static-member"));
    }

    /// A log an older Sluice wrote, which put ids with a negative hash code in another
    /// partition than Kafka's ("dd-classic": partition 1 of 4 then, Kafka's 3): at start-up its
    /// records there are replayed, older than the records written since in partition 3
    /// whatever order the partitions are read in, and its transactional offsets are committed
    /// by the marker in the partition they were written to.
    #[tokio::test(start_paused = true)]
    async fn records_an_older_sluice_placed_elsewhere_are_replayed_as_older() {
        let g = "dd-classic";
        assert_eq!(records::partition_for(g, 4), 3);
        assert_eq!(records::legacy_partition_for(g, 4), 1);
        let d = tempfile::tempdir().unwrap();
        let clock = Arc::new(MockTime::new(1_000_000));
        let c = coordinator_at(d.path(), clock.clone());
        let legacy = c
            .logs
            .get_log(&TopicPartition::new(OFFSETS_TOPIC, 1))
            .unwrap();
        let offset = |topic: &str, o: i64| {
            let k = Key::Offset {
                group: g.into(),
                topic: topic.into(),
                partition: 0,
            }
            .encode();
            let v = OffsetValue {
                offset: o,
                leader_epoch: -1,
                metadata: String::new(),
                commit_timestamp: 1_000_000,
                expire_timestamp: None,
                topic_id: None,
            }
            .encode();
            (k, v)
        };
        // Before: t-0 at 5 and u-0 at 7, then a transaction committing v-0 at 9.
        let (k1, v1) = offset("t", 5);
        let (k2, v2) = offset("u", 7);
        let mut b = sluice_protocol::batch::encode_batch(
            &[
                (Some(&k1[..]), Some(&v1[..])),
                (Some(&k2[..]), Some(&v2[..])),
            ],
            1_000_000,
        );
        legacy.append_as_leader(&mut b, 0).unwrap();
        let (k3, v3) = offset("v", 9);
        let mut b = sluice_protocol::batch::encode_batch_with(
            &[(Some(&k3[..]), Some(&v3[..]))],
            1_000_000,
            sluice_protocol::batch::TRANSACTIONAL_BIT,
            77,
            0,
            0,
        );
        legacy.append_as_coordinator(&mut b, 0).unwrap();
        let marker = sluice_storage::TxnMarker {
            producer_id: 77,
            producer_epoch: 0,
            coordinator_epoch: 0,
            commit: true,
            transaction_version: 0,
        };
        legacy.append_control_marker(&marker, 0).unwrap();
        // Since: t-0 at 6, in Kafka's partition.
        assert_eq!(
            c.commit_offsets(g, "", -1, None, vec![offset_entry("t", 0, 6)]),
            vec![None]
        );
        for _ in 0..2 {
            let c2 = coordinator_at(d.path(), clock.clone());
            c2.load();
            let mut got: Vec<(String, i64)> = c2
                .fetch_offsets(g, None)
                .into_iter()
                .map(|(t, _, o)| (t, o.unwrap().offset))
                .collect();
            got.sort();
            assert_eq!(got, vec![("t".into(), 6), ("u".into(), 7), ("v".into(), 9)]);
            assert!(!c2.has_pending_txn_offset(g, "v", 0));
        }
    }

    /// An OffsetCommitValue v1 record (Kafka writes one for an OffsetCommit v2-4 with a
    /// retention time) expires at its own expire timestamp, not after offsets.retention.minutes.
    #[tokio::test(start_paused = true)]
    async fn a_v1_offset_expires_at_its_expire_timestamp() {
        let d = tempfile::tempdir().unwrap();
        let clock = Arc::new(MockTime::new(1_000_000));
        let c = coordinator_at(d.path(), clock.clone());
        let key = Key::Offset {
            group: "g".into(),
            topic: "t".into(),
            partition: 0,
        };
        // Version 1: offset 42, metadata "m", commit 1 000 000, expire 1 010 000 (10 s, while
        // the retention is 60 s).
        let mut value = vec![0, 1];
        value.extend_from_slice(&42i64.to_be_bytes());
        value.extend_from_slice(&[0, 1, b'm']);
        value.extend_from_slice(&1_000_000i64.to_be_bytes());
        value.extend_from_slice(&1_010_000i64.to_be_bytes());
        c.append("g", &[(key.encode(), Some(value))]).unwrap();
        let c2 = coordinator_at(d.path(), clock.clone());
        c2.load();
        assert_eq!(c2.fetch_offsets("g", None).len(), 1);
        clock.sleep(9_999);
        assert_eq!(c2.expire_offsets(), 0);
        clock.sleep(1);
        assert_eq!(c2.expire_offsets(), 1);
        assert!(c2.fetch_offsets("g", None).is_empty());
    }

    fn offset_entry(topic: &str, p: i32, offset: i64) -> (String, i32, i64, i32, String) {
        (topic.to_string(), p, offset, -1, String::new())
    }

    #[tokio::test(start_paused = true)]
    async fn offsets_of_a_simple_consumer_expire_after_retention_and_the_group_goes() {
        let d = tempfile::tempdir().unwrap();
        let clock = Arc::new(MockTime::new(1_000_000));
        let c = coordinator_at(d.path(), clock.clone());
        assert_eq!(
            c.commit_offsets("g", "", -1, None, vec![offset_entry("t", 0, 5)]),
            vec![None]
        );
        clock.sleep(30_000);
        assert_eq!(
            c.commit_offsets("g", "", -1, None, vec![offset_entry("t", 1, 7)]),
            vec![None]
        );
        clock.sleep(30_000); // t-0 is 60 s old, t-1 30 s
        assert_eq!(c.expire_offsets(), 1);
        let left = c.fetch_offsets("g", None);
        assert_eq!(left.len(), 1, "{left:?}");
        clock.sleep(30_000);
        assert_eq!(c.expire_offsets(), 1);
        assert!(
            c.describe("g").is_none(),
            "an empty group without offsets is deleted"
        );
        // The tombstones are durable: a coordinator replaying the log finds nothing.
        let c2 = coordinator_at(d.path(), clock.clone());
        c2.load();
        assert!(c2.describe("g").is_none());
        assert!(c2.fetch_offsets("g", None).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_consumer_group_keeps_offsets_for_retention_after_becoming_empty() {
        let d = tempfile::tempdir().unwrap();
        let clock = Arc::new(MockTime::new(1_000_000));
        let c = coordinator_at(d.path(), clock.clone());
        let m = join_new(&c).await;
        sync(&c, &m.member_id, 1, vec![]).await;
        assert_eq!(
            c.commit_offsets("g", &m.member_id, 1, None, vec![offset_entry("t", 0, 5)]),
            vec![None]
        );
        clock.sleep(50_000);
        c.leave("g", &[(m.member_id.clone(), None)]).unwrap();
        assert_eq!(c.describe("g").unwrap().state, GroupState::Empty);
        clock.sleep(50_000); // 100 s after the commit, 50 s after the group emptied
        assert_eq!(
            c.expire_offsets(),
            0,
            "counted from when the group became empty"
        );
        clock.sleep(10_000);
        assert_eq!(c.expire_offsets(), 1);
        assert!(c.describe("g").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn offsets_of_a_live_kip848_group_expire_only_for_unsubscribed_topics() {
        let d = tempfile::tempdir().unwrap();
        let clock = Arc::new(MockTime::new(1_000_000));
        let c = coordinator_at(d.path(), clock.clone());
        // KIP-848 commits are stored like a simple consumer's under the group id.
        let commits = vec![offset_entry("t", 0, 5), offset_entry("old", 0, 9)];
        assert_eq!(
            c.commit_offsets("g", "", -1, None, commits),
            vec![None, None]
        );
        clock.sleep(120_000);
        let live = |g: &str| (g == "g").then(|| HashSet::from(["t".to_string()]));
        assert_eq!(c.expire_offsets_with(live), 1);
        let left = c.fetch_offsets("g", None);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].0, "t");
        // Once the group has no members any more, the rest expires too.
        assert_eq!(c.expire_offsets(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_live_consumer_group_loses_only_offsets_of_topics_nobody_subscribes_to() {
        let d = tempfile::tempdir().unwrap();
        let clock = Arc::new(MockTime::new(1_000_000));
        let c = coordinator_at(d.path(), clock.clone());
        // ConsumerProtocolSubscription v0: topics ["t"], no user data.
        let sub = Bytes::from_static(b"\x00\x00\x00\x00\x00\x01\x00\x01t\xff\xff\xff\xff");
        let with_sub = |member: &str| {
            let mut r = req(member, None);
            r.protocols = vec![("range".into(), sub.clone())];
            r
        };
        let first = join(&c, with_sub("")).await;
        let m = join(&c, with_sub(&first.member_id)).await;
        assert_eq!(m.error, None);
        sync(&c, &m.member_id, 1, vec![]).await;
        let commits = vec![offset_entry("t", 0, 5), offset_entry("old", 0, 9)];
        assert_eq!(
            c.commit_offsets("g", &m.member_id, 1, None, commits),
            vec![None, None]
        );
        clock.sleep(120_000);
        assert_eq!(
            c.expire_offsets(),
            1,
            "only the unsubscribed topic's offset"
        );
        let left = c.fetch_offsets("g", None);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].0, "t");
        assert_eq!(c.describe("g").unwrap().state, GroupState::Stable);
    }

    #[tokio::test(start_paused = true)]
    async fn heartbeats_keep_a_member_alive() {
        let d = tempfile::tempdir().unwrap();
        let c = coordinator(d.path(), 0);
        let m1 = join_new(&c).await;
        sync(&c, &m1.member_id, 1, vec![]).await;
        for _ in 0..10 {
            tokio::time::advance(Duration::from_millis(5_000)).await;
            assert_eq!(c.heartbeat("g", &m1.member_id, 1, None), None);
        }
        assert_eq!(c.describe("g").unwrap().members.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn static_member_restart_does_not_rebalance() {
        let d = tempfile::tempdir().unwrap();
        let c = coordinator(d.path(), 0);
        let m1 = join(&c, req("", Some("instance-1"))).await;
        assert_eq!(m1.error, None, "static members get an id at once");
        assert!(m1.member_id.starts_with("instance-1-"), "{}", m1.member_id);
        sync(
            &c,
            &m1.member_id,
            1,
            vec![(m1.member_id.clone(), Bytes::from_static(b"asg"))],
        )
        .await;
        // The same instance comes back with no member id: same generation, new id, old fenced.
        let again = join(&c, req("", Some("instance-1"))).await;
        assert_eq!(again.error, None);
        assert_eq!(again.generation, 1);
        assert_ne!(again.member_id, m1.member_id);
        assert_eq!(c.describe("g").unwrap().state, GroupState::Stable);
        assert_eq!(
            sync(&c, &again.member_id, 1, vec![]).await.assignment,
            Bytes::from_static(b"asg")
        );
        assert_eq!(
            c.heartbeat("g", &m1.member_id, 1, Some("instance-1")),
            Some(KafkaError::FencedInstanceId)
        );
        // The replaced incarnation rejoining with its old id is fenced too (not told it is
        // unknown, which would make it join afresh and take the instance back: Sarama's
        // TestFuncConsumerGroupStaticMembership_Fenced).
        assert_eq!(
            join(&c, req(&m1.member_id, Some("instance-1"))).await.error,
            Some(KafkaError::FencedInstanceId)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn leader_leaving_mid_sync_sends_followers_back() {
        let d = tempfile::tempdir().unwrap();
        let c = coordinator(d.path(), 0);
        let m1 = join_new(&c).await;
        sync(&c, &m1.member_id, 1, vec![]).await;
        let first = join(&c, req("", None)).await;
        let m2_id = first.member_id.clone();
        let c2 = c.clone();
        let pending_m2 = tokio::spawn(async move { join(&c2, req(&m2_id, None)).await });
        tokio::task::yield_now().await;
        let m1b = join(&c, req(&m1.member_id, None)).await;
        let m2 = pending_m2.await.unwrap();
        let c3 = c.clone();
        let m2_id = m2.member_id.clone();
        let follower = tokio::spawn(async move { sync(&c3, &m2_id, 2, vec![]).await });
        tokio::task::yield_now().await;
        // The leader leaves instead of syncing.
        assert_eq!(
            c.leave("g", &[(m1b.member_id.clone(), None)]).unwrap(),
            vec![None]
        );
        assert_eq!(
            follower.await.unwrap().error,
            Some(KafkaError::RebalanceInProgress)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn initial_delay_gathers_members_into_one_generation() {
        let d = tempfile::tempdir().unwrap();
        let c = coordinator(d.path(), 3_000);
        let a = join(&c, req("", None)).await.member_id;
        let b = join(&c, req("", None)).await.member_id;
        let (ca, cb) = (c.clone(), c.clone());
        let ja = tokio::spawn(async move { join(&ca, req(&a, None)).await });
        let jb = tokio::spawn(async move { join(&cb, req(&b, None)).await });
        tokio::time::advance(Duration::from_millis(3_001)).await;
        let (ra, rb) = (ja.await.unwrap(), jb.await.unwrap());
        assert_eq!((ra.generation, rb.generation), (1, 1));
        assert_eq!(ra.leader, rb.leader);
    }

    #[tokio::test(start_paused = true)]
    async fn offsets_and_groups_are_replayed_after_restart() {
        let d = tempfile::tempdir().unwrap();
        {
            let c = coordinator(d.path(), 0);
            let m1 = join_new(&c).await;
            sync(
                &c,
                &m1.member_id,
                1,
                vec![(m1.member_id.clone(), Bytes::from_static(b"asg"))],
            )
            .await;
            let r = c.commit_offsets(
                "g",
                &m1.member_id,
                1,
                None,
                vec![("t".into(), 0, 42, -1, "meta".into())],
            );
            assert_eq!(r, vec![None]);
            // A simple (non-member) commit to another group.
            assert_eq!(
                c.commit_offsets(
                    "simple",
                    "",
                    -1,
                    None,
                    vec![("t".into(), 1, 7, -1, String::new())]
                ),
                vec![None]
            );
            assert_eq!(
                c.commit_offsets(
                    "g",
                    &m1.member_id,
                    5,
                    None,
                    vec![("t".into(), 0, 1, -1, String::new())]
                ),
                vec![Some(KafkaError::IllegalGeneration)]
            );
            assert_eq!(
                c.commit_offsets(
                    "nope",
                    "m",
                    3,
                    None,
                    vec![("t".into(), 0, 1, -1, String::new())]
                ),
                vec![Some(KafkaError::IllegalGeneration)]
            );
            c.logs.shutdown().unwrap();
        }
        let c = coordinator(d.path(), 0);
        c.load();
        let got = c.fetch_offsets("g", Some(&[("t".into(), 0)]));
        assert_eq!(got[0].2.as_ref().unwrap().offset, 42);
        assert_eq!(got[0].2.as_ref().unwrap().metadata, "meta");
        assert_eq!(
            c.fetch_offsets("simple", None)[0]
                .2
                .as_ref()
                .unwrap()
                .offset,
            7
        );
        let desc = c.describe("g").unwrap();
        assert_eq!(desc.state, GroupState::Stable);
        assert_eq!(desc.members[0].5, Bytes::from_static(b"asg"));
        // Deleting a group with members is refused; the simple group can go.
        assert_eq!(c.delete_group("g"), Some(KafkaError::NonEmptyGroup));
        assert_eq!(c.delete_group("simple"), None);
        assert_eq!(c.delete_group("simple"), Some(KafkaError::GroupIdNotFound));
    }

    #[test]
    fn subscription_topics_parse() {
        // version 0, topics ["a", "bc"], user data null.
        let meta = [
            0u8, 0, 0, 0, 0, 2, 0, 1, b'a', 0, 2, b'b', b'c', 0xff, 0xff, 0xff, 0xff,
        ];
        assert_eq!(
            subscribed_topics(&meta),
            vec!["a".to_string(), "bc".to_string()]
        );
        assert!(subscribed_topics(&[0, 0, 0xff]).is_empty());
    }
}
