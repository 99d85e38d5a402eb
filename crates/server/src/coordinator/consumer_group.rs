//! Consumer groups of the KIP-848 protocol (`group.protocol=consumer`): Kafka's
//! GroupMetadataManager for groups of type `consumer`, with server-side assignment.
//!
//! A member heartbeats (ConsumerGroupHeartbeat) with its subscription and the partitions it
//! owns; the coordinator answers with the member's epoch and the partitions it should own.
//! - The **group epoch** is bumped whenever the group's members, their subscriptions or the
//!   subscribed topics' partitions change. When it is ahead of the **assignment epoch**, the
//!   assignor (uniform or range) computes a new **target assignment** for every member.
//! - Each member converges to its target through **reconciliation** (Kafka's
//!   CurrentAssignmentBuilder): partitions leaving it are revoked first (the member keeps its
//!   epoch and state UNREVOKED_PARTITIONS until a heartbeat shows it no longer owns them); only
//!   then does it get the target epoch and its new partitions — except the ones another member
//!   still owns (UNRELEASED_PARTITIONS), which it gets once they are released. So a partition
//!   never has two owners.
//! - Session timeout (group.consumer.session.timeout.ms): a member that stops heartbeating is
//!   removed. A member that does not revoke within its rebalance timeout is fenced.
//! - Static members (instance id): leaving with epoch -2 keeps their assignment for the session
//!   timeout; a new member with the same instance id takes it over.
//!
//! - Classic members (Kafka's online migration, group.consumer.migration.policy, bidirectional
//!   by default): a consumer using the classic protocol may join a group with members through
//!   JoinGroup; its subscription (the first protocol's ConsumerProtocolSubscription) feeds the
//!   same assignor, its JoinGroup is answered at once with its member epoch as the generation,
//!   SyncGroup hands it its current assignment, and Heartbeat answers REBALANCE_IN_PROGRESS
//!   when it must rejoin to move on (the partitions it reports owning in the rejoin complete
//!   its revocations). A ConsumerGroupHeartbeat join to a classic group with members converts
//!   that group into a consumer group (upgrade); when the last consumer-protocol member leaves
//!   or is fenced and only classic members remain, the group becomes a classic group again and
//!   rebalances (downgrade). Each conversion is one batch in `__consumer_offsets`: the old
//!   group's tombstones and the new group's records.
//!
//! Committed offsets live in the [`GroupCoordinator`](super::group::GroupCoordinator) under the
//! same group id (OffsetCommit checks the member epoch here first).
//!
//! Durability: every change is written to the group's `__consumer_offsets` partition as Kafka's
//! KIP-848 records (consumer_records) before the heartbeat is answered — the group epoch,
//! member subscriptions, the target assignment and each member's current assignment, as the
//! difference between the group before and after the change — and replayed at start-up.
//! Changes are serialized by `append_lock`, so records reach the log in the order of the
//! changes; the state lock itself is not held across the write.
//!
//! Timers are tokio timers (tests use a paused clock).

use regex::Regex;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use uuid::Uuid;

use super::consumer_protocol::{self as cp, TopicPartitions};
use super::consumer_records::{
    self as rec, ClassicMemberMetadata, ConsumerKey, CurrentAssignmentValue, MemberMetadataValue,
};
use super::group::{GroupCoordinator, JoinRequest, JoinResult, SyncResult};
use sluice_protocol::error::KafkaError;

/// topic id -> partitions.
pub type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// A topic as the assignor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub id: Uuid,
    pub partitions: i32,
}

/// Settings (Kafka's group.consumer.* broker configs).
#[derive(Debug, Clone)]
pub struct ConsumerGroupConfig {
    pub session_timeout_ms: i32,
    pub heartbeat_interval_ms: i32,
    pub max_size: usize,
    /// group.consumer.assignors: the first is the default.
    pub assignors: Vec<String>,
    /// group.consumer.migration.policy: which online conversions between the classic and the
    /// consumer protocol a non-empty group may make.
    pub migration_policy: MigrationPolicy,
    /// group.max.size: a downgraded group must fit a classic group.
    pub classic_max_size: usize,
}

/// Kafka's ConsumerGroupMigrationPolicy (group.consumer.migration.policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationPolicy {
    Disabled,
    Upgrade,
    Downgrade,
    Bidirectional,
}

impl MigrationPolicy {
    /// Parses Kafka's (case-insensitive) value.
    pub fn parse(v: &str) -> Option<Self> {
        match v.trim().to_ascii_lowercase().as_str() {
            "disabled" => Some(Self::Disabled),
            "upgrade" => Some(Self::Upgrade),
            "downgrade" => Some(Self::Downgrade),
            "bidirectional" => Some(Self::Bidirectional),
            _ => None,
        }
    }
    /// A classic group with members may become a consumer group.
    pub fn upgrade(self) -> bool {
        matches!(self, Self::Upgrade | Self::Bidirectional)
    }
    /// A consumer group left with only classic members may become a classic group.
    pub fn downgrade(self) -> bool {
        matches!(self, Self::Downgrade | Self::Bidirectional)
    }
}

impl Default for ConsumerGroupConfig {
    fn default() -> Self {
        Self {
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 5_000,
            max_size: i32::MAX as usize,
            assignors: vec!["uniform".into(), "range".into()],
            migration_policy: MigrationPolicy::Bidirectional,
            classic_max_size: i32::MAX as usize,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    Stable,
    UnrevokedPartitions,
    UnreleasedPartitions,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub state: MemberState,
    pub assigned: Assignment,
    pub pending_revocation: Assignment,
    /// Left with epoch -2 (static member): kept until its session expires or it is replaced.
    pub static_left: bool,
    /// Bumped on every heartbeat: session timers compare it.
    session_seq: u64,
    /// Bumped when a revocation starts: rebalance timers compare it.
    revocation_seq: u64,
    /// The assignment last sent to the member (to send it again only when it changed).
    last_sent: Option<Assignment>,
    /// Set for a member using the classic protocol (JoinGroup / SyncGroup / Heartbeat).
    pub classic: Option<ClassicMemberMetadata>,
    /// Bumped when a classic member's join or sync deadline is armed or met.
    classic_seq: u64,
    /// A rejoin deadline is armed (the member was told REBALANCE_IN_PROGRESS).
    classic_deadline: bool,
}

impl Member {
    fn new(member_id: &str) -> Self {
        Member {
            member_id: member_id.to_string(),
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            rebalance_timeout_ms: -1,
            subscribed_topic_names: Vec::new(),
            subscribed_topic_regex: None,
            server_assignor: None,
            member_epoch: 0,
            previous_member_epoch: 0,
            state: MemberState::Stable,
            assigned: Assignment::new(),
            pending_revocation: Assignment::new(),
            static_left: false,
            session_seq: 0,
            revocation_seq: 0,
            last_sent: None,
            classic: None,
            classic_seq: 0,
            classic_deadline: false,
        }
    }

    /// The session timeout: a classic member's own, else the group's.
    fn session_timeout_ms(&self, config: &ConsumerGroupConfig) -> i32 {
        self.classic
            .as_ref()
            .map_or(config.session_timeout_ms, |c| c.session_timeout_ms)
    }
}

#[derive(Debug, Default)]
pub struct ConsumerGroup {
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub members: indexmap::IndexMap<String, Member>,
    /// Target assignment per member id.
    pub target: HashMap<String, Assignment>,
    /// The subscribed topics' ids and partition counts when the target was computed.
    subscription_metadata: BTreeMap<String, (Uuid, i32)>,
    /// The assignor that computed the target.
    pub assignor: String,
    /// Regular expressions Kafka resolved for this group (ConsumerGroupRegularExpression
    /// records read back from a log Kafka wrote), by regex. Sluice resolves regexes itself at
    /// each heartbeat; these are kept only to write their tombstones as Kafka would.
    pub resolved_regex: BTreeMap<String, rec::RegexValue>,
}

impl ConsumerGroup {
    /// Kafka's consumer group states.
    pub fn state(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.assignment_epoch < self.group_epoch {
            "Assigning"
        } else if self
            .members
            .values()
            .any(|m| m.member_epoch != self.assignment_epoch || m.state != MemberState::Stable)
        {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    fn owned_by_other(&self, member_id: &str, topic: &Uuid, partition: i32) -> bool {
        self.members.iter().any(|(id, m)| {
            id != member_id
                && (m
                    .assigned
                    .get(topic)
                    .is_some_and(|p| p.contains(&partition))
                    || m.pending_revocation
                        .get(topic)
                        .is_some_and(|p| p.contains(&partition)))
        })
    }
}

/// What a heartbeat asks.
#[derive(Debug, Clone, Default)]
pub struct HeartbeatRequest {
    pub group_id: String,
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Option<Vec<String>>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    pub owned: Option<Assignment>,
    pub client_id: String,
    pub client_host: String,
    /// v1+: the client chose its member id.
    pub client_member_id: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatResponse {
    pub error: Option<(KafkaError, Option<String>)>,
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    pub assignment: Option<Assignment>,
}

impl HeartbeatResponse {
    fn error(e: KafkaError, message: impl Into<String>) -> Self {
        Self {
            error: Some((e, Some(message.into()))),
            member_id: String::new(),
            member_epoch: 0,
            heartbeat_interval_ms: 0,
            assignment: None,
        }
    }
}

pub struct ConsumerGroupCoordinator {
    groups: Mutex<HashMap<String, ConsumerGroup>>,
    config: ConsumerGroupConfig,
    /// Writes records (and keeps the committed offsets).
    classic: Arc<GroupCoordinator>,
    /// Serializes state changes with their writes (never taken while `groups` is held).
    append_lock: Mutex<()>,
}

/// What of a group is written to `__consumer_offsets`.
#[derive(Debug, Clone, PartialEq, Default)]
struct Persisted {
    epoch: i32,
    assignment_epoch: i32,
    meta: BTreeMap<String, MemberMetadataValue>,
    target: BTreeMap<String, Assignment>,
    current: BTreeMap<String, CurrentAssignmentValue>,
    /// Kafka's resolved regular expressions that a member still subscribes to.
    regex: BTreeSet<String>,
}

fn state_code(s: MemberState) -> i8 {
    match s {
        MemberState::Stable => 0,
        MemberState::UnrevokedPartitions => 1,
        MemberState::UnreleasedPartitions => 2,
    }
}

fn persisted(g: &ConsumerGroup) -> Persisted {
    Persisted {
        epoch: g.group_epoch,
        assignment_epoch: g.assignment_epoch,
        meta: g
            .members
            .iter()
            .map(|(id, m)| {
                (
                    id.clone(),
                    MemberMetadataValue {
                        instance_id: m.instance_id.clone(),
                        rack_id: m.rack_id.clone(),
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        subscribed_topic_names: m.subscribed_topic_names.clone(),
                        subscribed_topic_regex: m.subscribed_topic_regex.clone(),
                        rebalance_timeout_ms: m.rebalance_timeout_ms,
                        server_assignor: m.server_assignor.clone(),
                        classic: m.classic.clone(),
                    },
                )
            })
            .collect(),
        target: g
            .target
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        current: g
            .members
            .iter()
            .map(|(id, m)| {
                (
                    id.clone(),
                    CurrentAssignmentValue {
                        member_epoch: m.member_epoch,
                        previous_member_epoch: m.previous_member_epoch,
                        state: state_code(m.state),
                        assigned: m.assigned.clone(),
                        pending_revocation: m.pending_revocation.clone(),
                    },
                )
            })
            .collect(),
        regex: g
            .resolved_regex
            .keys()
            .filter(|r| {
                g.members
                    .values()
                    .any(|m| m.subscribed_topic_regex.as_deref() == Some(r.as_str()))
            })
            .cloned()
            .collect(),
    }
}

type Record = (Vec<u8>, Option<Vec<u8>>);

/// The records that take `before` to `after` (None: no group), in Kafka's order.
fn diff_records(group: &str, before: Option<&Persisted>, after: Option<&Persisted>) -> Vec<Record> {
    let empty = Persisted::default();
    let b = before.unwrap_or(&empty);
    let a = after.unwrap_or(&empty);
    let g = || group.to_string();
    let mut out: Vec<Record> = Vec::new();
    for (m, v) in &a.meta {
        if b.meta.get(m) != Some(v) {
            let k = ConsumerKey::MemberMetadata {
                group: g(),
                member: m.clone(),
            };
            out.push((k.encode(), Some(v.encode())));
        }
    }
    if after.is_some() && (before.is_none() || a.epoch != b.epoch) {
        out.push((
            ConsumerKey::Metadata { group: g() }.encode(),
            Some(rec::encode_epoch(a.epoch)),
        ));
    }
    for (m, v) in &a.target {
        if b.target.get(m) != Some(v) {
            let k = ConsumerKey::TargetMember {
                group: g(),
                member: m.clone(),
            };
            out.push((k.encode(), Some(rec::encode_target(v))));
        }
    }
    if after.is_some() && (before.is_none() || a.assignment_epoch != b.assignment_epoch) {
        let k = ConsumerKey::TargetMetadata { group: g() };
        out.push((k.encode(), Some(rec::encode_epoch(a.assignment_epoch))));
    }
    for (m, v) in &a.current {
        if b.current.get(m) != Some(v) {
            let k = ConsumerKey::CurrentAssignment {
                group: g(),
                member: m.clone(),
            };
            out.push((k.encode(), Some(v.encode())));
        }
    }
    // Members gone: their current assignment, target and metadata, then (group gone) the rest.
    for m in b.meta.keys().filter(|m| !a.meta.contains_key(*m)) {
        for k in [
            ConsumerKey::CurrentAssignment {
                group: g(),
                member: m.clone(),
            },
            ConsumerKey::TargetMember {
                group: g(),
                member: m.clone(),
            },
            ConsumerKey::MemberMetadata {
                group: g(),
                member: m.clone(),
            },
        ] {
            out.push((k.encode(), None));
        }
    }
    for m in b
        .target
        .keys()
        .filter(|m| !a.target.contains_key(*m) && !b.meta.contains_key(*m))
    {
        out.push((
            ConsumerKey::TargetMember {
                group: g(),
                member: m.clone(),
            }
            .encode(),
            None,
        ));
    }
    // Kafka's resolved regexes no member subscribes to any more (Kafka tombstones them so).
    for r in b.regex.difference(&a.regex) {
        let k = ConsumerKey::RegularExpression {
            group: g(),
            regex: r.clone(),
        };
        out.push((k.encode(), None));
    }
    if before.is_some() && after.is_none() {
        out.push((ConsumerKey::TargetMetadata { group: g() }.encode(), None));
        // Kafka writes this tombstone for every deleted group (the record type is gone since
        // 4.1, but older logs may hold one).
        out.push((ConsumerKey::PartitionMetadata { group: g() }.encode(), None));
        out.push((ConsumerKey::Metadata { group: g() }.encode(), None));
    }
    out
}

/// KIP-848 member ids: a random UUID in Kafka's base64 form (22 characters).
fn new_member_id() -> String {
    let u = Uuid::new_v4();
    base64_url(u.as_bytes())
}

fn base64_url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The topics a member's subscription selects.
fn subscribed(member: &Member, topics: &[TopicInfo], regexes: &mut RegexCache) -> Vec<String> {
    let mut out: BTreeSet<String> = member
        .subscribed_topic_names
        .iter()
        .filter(|n| topics.iter().any(|t| &t.name == *n))
        .cloned()
        .collect();
    if let Some(re) = member.subscribed_topic_regex.as_deref() {
        if let Some(re) = regexes.get(re) {
            for t in topics {
                if re.is_match(&t.name) {
                    out.insert(t.name.clone());
                }
            }
        }
    }
    out.into_iter().collect()
}

#[derive(Default)]
struct RegexCache(HashMap<String, Option<Regex>>);

impl RegexCache {
    /// Full-match semantics, as Java's Pattern.matches (RE2/J).
    fn get(&mut self, re: &str) -> Option<&Regex> {
        self.0
            .entry(re.to_string())
            .or_insert_with(|| Regex::new(&format!("^(?:{re})$")).ok())
            .as_ref()
    }
}

impl ConsumerGroupCoordinator {
    pub fn new(config: ConsumerGroupConfig, classic: Arc<GroupCoordinator>) -> Arc<Self> {
        Arc::new(Self {
            groups: Mutex::new(HashMap::new()),
            config,
            classic,
            append_lock: Mutex::new(()),
        })
    }

    fn append_guard(&self) -> MutexGuard<'_, ()> {
        self.append_lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn snapshot(&self, group_id: &str) -> Option<Persisted> {
        self.lock().get(group_id).map(persisted)
    }

    /// Writes what changed in `group_id` since `before` (call with the append guard held).
    fn persist(&self, group_id: &str, before: Option<&Persisted>) -> Result<(), KafkaError> {
        self.persist_with(group_id, before, Vec::new())
    }

    /// As [`persist`](Self::persist), after `first` in the same batch.
    fn persist_with(
        &self,
        group_id: &str,
        before: Option<&Persisted>,
        mut first: Vec<Record>,
    ) -> Result<(), KafkaError> {
        let after = self.snapshot(group_id);
        first.extend(diff_records(group_id, before, after.as_ref()));
        self.classic.append(group_id, &first)?;
        // Kafka's resolved regexes that no member uses any more got their tombstones.
        if let Some(a) = &after {
            if let Some(g) = self.lock().get_mut(group_id) {
                g.resolved_regex.retain(|r, _| a.regex.contains(r));
            }
        }
        Ok(())
    }

    /// Rebuilds the consumer groups from `__consumer_offsets` (start-up); members get fresh
    /// session timers.
    pub fn load(self: &Arc<Self>) {
        let mut n = 0usize;
        self.classic.for_each_record(|k, v| {
            if let Ok(key) = ConsumerKey::decode(k) {
                self.replay(key, v);
                n += 1;
            }
        });
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
                            m.session_seq,
                            m.session_timeout_ms(&self.config),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        for (g, m, seq, timeout) in arm {
            self.arm_session(&g, &m, seq, timeout);
        }
        if n > 0 {
            tracing::info!(
                records = n,
                groups = self.lock().len(),
                "loaded KIP-848 consumer groups"
            );
        }
    }

    fn replay(&self, key: ConsumerKey, value: Option<&[u8]>) {
        let mut groups = self.lock();
        let group_id = key.group().to_string();
        match (key, value) {
            (ConsumerKey::Metadata { .. }, None) => {
                groups.remove(&group_id);
            }
            (ConsumerKey::Metadata { .. }, Some(v)) => {
                if let Ok(e) = rec::decode_epoch(v) {
                    groups.entry(group_id).or_default().group_epoch = e;
                }
            }
            (ConsumerKey::TargetMetadata { .. }, Some(v)) => {
                if let Ok(e) = rec::decode_epoch(v) {
                    groups.entry(group_id).or_default().assignment_epoch = e;
                }
            }
            (ConsumerKey::TargetMetadata { .. }, None) => {}
            (ConsumerKey::TargetMember { member, .. }, v) => {
                let g = groups.entry(group_id).or_default();
                match v.map(rec::decode_target) {
                    Some(Ok(a)) => {
                        g.target.insert(member, a);
                    }
                    Some(Err(_)) => {}
                    None => {
                        g.target.remove(&member);
                    }
                }
            }
            (ConsumerKey::MemberMetadata { member, .. }, v) => {
                let g = groups.entry(group_id).or_default();
                match v.map(MemberMetadataValue::decode) {
                    Some(Ok(mv)) => {
                        let m = g
                            .members
                            .entry(member.clone())
                            .or_insert_with(|| Member::new(&member));
                        m.instance_id = mv.instance_id;
                        m.rack_id = mv.rack_id;
                        m.client_id = mv.client_id;
                        m.client_host = mv.client_host;
                        m.subscribed_topic_names = mv.subscribed_topic_names;
                        m.subscribed_topic_regex = mv.subscribed_topic_regex;
                        m.rebalance_timeout_ms = mv.rebalance_timeout_ms;
                        m.server_assignor = mv.server_assignor;
                        m.classic = mv.classic;
                    }
                    Some(Err(_)) => {}
                    None => {
                        g.members.shift_remove(&member);
                    }
                }
            }
            (ConsumerKey::CurrentAssignment { member, .. }, Some(v)) => {
                if let Ok(cv) = CurrentAssignmentValue::decode(v) {
                    let g = groups.entry(group_id).or_default();
                    let m = g
                        .members
                        .entry(member.clone())
                        .or_insert_with(|| Member::new(&member));
                    m.member_epoch = cv.member_epoch;
                    m.previous_member_epoch = cv.previous_member_epoch;
                    m.state = match cv.state {
                        1 => MemberState::UnrevokedPartitions,
                        2 => MemberState::UnreleasedPartitions,
                        _ => MemberState::Stable,
                    };
                    m.assigned = cv.assigned;
                    m.pending_revocation = cv.pending_revocation;
                }
            }
            (ConsumerKey::CurrentAssignment { .. }, None) => {}
            (ConsumerKey::RegularExpression { regex, .. }, Some(v)) => {
                if let Ok(rv) = rec::RegexValue::decode(v) {
                    groups
                        .entry(group_id)
                        .or_default()
                        .resolved_regex
                        .insert(regex, rv);
                }
            }
            (ConsumerKey::RegularExpression { regex, .. }, None) => {
                if let Some(g) = groups.get_mut(&group_id) {
                    g.resolved_regex.remove(&regex);
                }
            }
            // Replaced by the metadata hash (Kafka 4.1); nothing to rebuild from it.
            (ConsumerKey::PartitionMetadata { .. }, _) => {}
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, ConsumerGroup>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn config(&self) -> &ConsumerGroupConfig {
        &self.config
    }

    pub fn contains(&self, group_id: &str) -> bool {
        self.lock().contains_key(group_id)
    }

    /// ConsumerGroupHeartbeat. `topics`: every (non-internal) topic of the broker now;
    /// `classic_group_active`: a classic group of that id has members.
    pub fn heartbeat(
        self: &Arc<Self>,
        req: HeartbeatRequest,
        topics: &[TopicInfo],
        classic_group_active: bool,
    ) -> HeartbeatResponse {
        if let Err(r) = self.validate(&req) {
            return r;
        }
        let _writes = self.append_guard();
        let group_id = req.group_id.clone();
        let mut before = self.snapshot(&group_id);
        let mut first = Vec::new();
        let mut classic_group_active = classic_group_active;
        if before.is_none() && classic_group_active && req.member_epoch == 0 {
            // A consumer-protocol member joins a classic group with members: Kafka's online
            // upgrade (group.consumer.migration.policy upgrade or bidirectional).
            match self.upgrade(&group_id, topics) {
                Ok(()) => {
                    first.push(super::group::group_tombstone(&group_id));
                    classic_group_active = false;
                    before = None;
                }
                Err(why) => {
                    tracing::info!(group = %group_id, reason = why, "classic group not upgraded");
                    return HeartbeatResponse::error(
                        KafkaError::GroupIdNotFound,
                        format!("Group {group_id} is not a consumer group."),
                    );
                }
            }
        }
        let leaving = (req.member_epoch == -1).then(|| req.member_id.clone());
        if let Some(leaving) = &leaving {
            if self.downgrade_due(&group_id, leaving) {
                return match self.convert_to_classic(&group_id, leaving, topics) {
                    Ok(()) => HeartbeatResponse {
                        error: None,
                        member_id: leaving.clone(),
                        member_epoch: -1,
                        heartbeat_interval_ms: 0,
                        assignment: None,
                    },
                    Err(e) => HeartbeatResponse::error(
                        e,
                        "The coordinator could not write the group's state.",
                    ),
                };
            }
        }
        let resp = self.apply_heartbeat(req, topics, classic_group_active);
        if let Err(e) = self.persist_with(&group_id, before.as_ref(), first) {
            tracing::error!(group = %group_id, error = ?e, "writing consumer group records failed");
            return HeartbeatResponse::error(
                KafkaError::CoordinatorNotAvailable,
                "The coordinator could not write the group's state.",
            );
        }
        resp
    }

    fn apply_heartbeat(
        self: &Arc<Self>,
        req: HeartbeatRequest,
        topics: &[TopicInfo],
        classic_group_active: bool,
    ) -> HeartbeatResponse {
        let mut groups = self.lock();
        if !groups.contains_key(&req.group_id) {
            if req.member_epoch != 0 {
                return HeartbeatResponse::error(
                    KafkaError::GroupIdNotFound,
                    format!("Group {} not found.", req.group_id),
                );
            }
            if classic_group_active {
                return HeartbeatResponse::error(
                    KafkaError::GroupIdNotFound,
                    format!("Group {} is not a consumer group.", req.group_id),
                );
            }
            groups.insert(req.group_id.clone(), ConsumerGroup::default());
        }
        let Some(group) = groups.get_mut(&req.group_id) else {
            return HeartbeatResponse::error(KafkaError::CoordinatorNotAvailable, "no group");
        };
        let mut regexes = RegexCache::default();
        // The group epoch moves once per heartbeat, whatever changed.
        let mut bump = false;

        // Leaving.
        if req.member_epoch == -1 || req.member_epoch == -2 {
            let member_id = req.member_id.clone();
            let Some(m) = group.members.get_mut(&member_id) else {
                return HeartbeatResponse::error(
                    KafkaError::UnknownMemberId,
                    format!(
                        "Member {member_id} is not a member of group {}.",
                        req.group_id
                    ),
                );
            };
            if req.member_epoch == -2 && m.instance_id.is_some() {
                m.static_left = true;
                m.session_seq += 1;
                let (seq, timeout) = (m.session_seq, self.config.session_timeout_ms);
                self.arm_session(&req.group_id, &member_id, seq, timeout);
            } else {
                group.members.shift_remove(&member_id);
                group.target.remove(&member_id);
                bump = true;
            }
            let epoch = req.member_epoch;
            self.refresh(group, topics, &mut regexes, bump, false);
            return HeartbeatResponse {
                error: None,
                member_id,
                member_epoch: epoch,
                heartbeat_interval_ms: 0,
                assignment: None,
            };
        }

        // Joining or heartbeating.
        let member_id = if req.member_epoch == 0 {
            match self.join(group, &req) {
                Ok((id, changed)) => {
                    bump |= changed;
                    id
                }
                Err(r) => return r,
            }
        } else {
            let Some(m) = group.members.get(&req.member_id) else {
                return HeartbeatResponse::error(
                    KafkaError::UnknownMemberId,
                    format!(
                        "Member {} is not a member of group {}.",
                        req.member_id, req.group_id
                    ),
                );
            };
            if m.static_left {
                return HeartbeatResponse::error(
                    KafkaError::UnknownMemberId,
                    format!("Member {} left the group.", req.member_id),
                );
            }
            // Kafka's throwIfMemberEpochIsInvalid: the previous epoch is accepted when the
            // member owns no more than it was given (the last response was lost).
            if req.member_epoch != m.member_epoch {
                let lost_response = req.member_epoch == m.previous_member_epoch
                    && req
                        .owned
                        .as_ref()
                        .is_some_and(|owned| is_subset(owned, &m.assigned));
                if req.member_epoch > m.member_epoch || !lost_response {
                    return HeartbeatResponse::error(
                        KafkaError::FencedMemberEpoch,
                        format!(
                            "The consumer group member has a smaller member epoch ({}) than the one known by the group coordinator ({}). The member must abandon all its partitions and rejoin.",
                            req.member_epoch, m.member_epoch
                        ),
                    );
                }
            }
            req.member_id.clone()
        };

        // Subscription updates (fields the client left null keep their value).
        let mut changed = false;
        if let Some(m) = group.members.get_mut(&member_id) {
            if let Some(names) = &req.subscribed_topic_names {
                let mut names = names.clone();
                names.sort();
                names.dedup();
                if names != m.subscribed_topic_names {
                    m.subscribed_topic_names = names;
                    changed = true;
                }
            }
            if let Some(re) = &req.subscribed_topic_regex {
                let re = (!re.is_empty()).then(|| re.clone());
                if re != m.subscribed_topic_regex {
                    m.subscribed_topic_regex = re;
                    changed = true;
                }
            }
            if req.server_assignor.is_some() && req.server_assignor != m.server_assignor {
                m.server_assignor = req.server_assignor.clone();
                changed = true;
            }
            if req.rack_id.is_some() {
                m.rack_id = req.rack_id.clone();
            }
            if req.rebalance_timeout_ms > 0 {
                m.rebalance_timeout_ms = req.rebalance_timeout_ms;
            }
            m.session_seq += 1;
            let (seq, timeout) = (m.session_seq, self.config.session_timeout_ms);
            self.arm_session(&req.group_id, &member_id, seq, timeout);
        }
        bump |= changed;
        self.refresh(group, topics, &mut regexes, bump, true);

        // Reconcile this member only: another member's epoch moves when it heartbeats (it must
        // learn its new epoch from its own response, or its next heartbeat would be fenced);
        // partitions released by others are picked up then.
        // Kafka's "full request" (it then always sends the assignment): a join, or a heartbeat
        // carrying the rebalance timeout, the subscription and the owned partitions.
        let full = req.member_epoch == 0
            || (req.rebalance_timeout_ms != -1
                && (req.subscribed_topic_names.is_some() || req.subscribed_topic_regex.is_some())
                && req.owned.is_some());
        self.reconcile(&req.group_id, group, &member_id, req.owned.as_ref());
        let interval = self.config.heartbeat_interval_ms;
        let Some(m) = group.members.get_mut(&member_id) else {
            return HeartbeatResponse::error(KafkaError::UnknownMemberId, "member removed");
        };
        let assignment = if full || m.last_sent.as_ref() != Some(&m.assigned) {
            m.last_sent = Some(m.assigned.clone());
            Some(m.assigned.clone())
        } else {
            None
        };
        HeartbeatResponse {
            error: None,
            member_id,
            member_epoch: m.member_epoch,
            heartbeat_interval_ms: interval,
            assignment,
        }
    }

    fn validate(&self, req: &HeartbeatRequest) -> Result<(), HeartbeatResponse> {
        let invalid = |m: &str| Err(HeartbeatResponse::error(KafkaError::InvalidRequest, m));
        if req.group_id.is_empty() {
            return invalid("GroupId can't be empty.");
        }
        if req.instance_id.as_deref() == Some("") {
            return invalid("InstanceId can't be empty.");
        }
        if req.rack_id.as_deref() == Some("") {
            return invalid("RackId can't be empty.");
        }
        match req.member_epoch {
            0 => {
                if req.client_member_id && req.member_id.is_empty() {
                    return invalid("MemberId can't be empty.");
                }
                if req.rebalance_timeout_ms == -1 {
                    return invalid("RebalanceTimeoutMs must be provided in first request.");
                }
                if req.owned.as_ref().is_none_or(|o| !o.is_empty()) {
                    return invalid("TopicPartitions must be empty when (re-)joining.");
                }
                if req.subscribed_topic_names.is_none() && req.subscribed_topic_regex.is_none() {
                    return invalid(
                        "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.",
                    );
                }
            }
            e if e > 0 || e == -1 || e == -2 => {
                if req.member_id.is_empty() {
                    return invalid("MemberId can't be empty.");
                }
                if e == -2 && req.instance_id.is_none() {
                    return invalid("InstanceId can't be null.");
                }
            }
            e => return invalid(&format!("MemberEpoch {e} is invalid.")),
        }
        if let Some(a) = &req.server_assignor {
            if !self.config.assignors.iter().any(|x| x == a) {
                return Err(HeartbeatResponse::error(
                    KafkaError::UnsupportedAssignor,
                    format!(
                        "ServerAssignor {a} is not supported. Supported assignors: {}.",
                        self.config.assignors.join(", ")
                    ),
                ));
            }
        }
        if let Some(re) = &req.subscribed_topic_regex {
            if !re.is_empty() && Regex::new(re).is_err() {
                return Err(HeartbeatResponse::error(
                    KafkaError::InvalidRegularExpression,
                    format!("SubscribedTopicRegex `{re}` is not a valid regular expression."),
                ));
            }
        }
        Ok(())
    }

    /// A member joining with epoch 0: new, rejoining, or a static member taking over.
    fn join(
        self: &Arc<Self>,
        group: &mut ConsumerGroup,
        req: &HeartbeatRequest,
    ) -> Result<(String, bool), HeartbeatResponse> {
        let member_id = if req.member_id.is_empty() {
            new_member_id()
        } else {
            req.member_id.clone()
        };
        // A static member replacing its previous incarnation keeps its assignment and epoch.
        let previous = req.instance_id.as_ref().and_then(|i| {
            group
                .members
                .iter()
                .find(|(_, m)| m.instance_id.as_ref() == Some(i))
                .map(|(id, m)| (id.clone(), m.static_left))
        });
        if let Some((old_id, left)) = previous {
            if old_id != member_id && !left {
                return Err(HeartbeatResponse::error(
                    KafkaError::UnreleasedInstanceId,
                    format!(
                        "Static member {old_id} with instance id {} is not released yet.",
                        req.instance_id.as_deref().unwrap_or("")
                    ),
                ));
            }
            if let Some(mut old) = group.members.shift_remove(&old_id) {
                old.member_id = member_id.clone();
                old.static_left = false;
                old.client_id = req.client_id.clone();
                old.client_host = req.client_host.clone();
                old.last_sent = None;
                if let Some(t) = group.target.remove(&old_id) {
                    group.target.insert(member_id.clone(), t);
                }
                group.members.insert(member_id.clone(), old);
                return Ok((member_id, false));
            }
        }
        if let Some(m) = group.members.get_mut(&member_id) {
            // Rejoining with epoch 0 (the member lost its state): it starts over.
            m.member_epoch = 0;
            m.previous_member_epoch = 0;
            m.assigned.clear();
            m.pending_revocation.clear();
            m.state = MemberState::Stable;
            m.last_sent = None;
            return Ok((member_id, true));
        }
        if group.members.len() >= self.config.max_size {
            return Err(HeartbeatResponse::error(
                KafkaError::GroupMaxSizeReached,
                format!(
                    "The consumer group has reached its maximum capacity of {} members.",
                    self.config.max_size
                ),
            ));
        }
        let mut m = Member::new(&member_id);
        m.instance_id = req.instance_id.clone();
        m.rack_id = req.rack_id.clone();
        m.client_id = req.client_id.clone();
        m.client_host = req.client_host.clone();
        m.rebalance_timeout_ms = req.rebalance_timeout_ms;
        group.members.insert(member_id.clone(), m);
        Ok((member_id, true))
    }

    /// Bumps the group epoch when the subscribed topics' metadata changed, and recomputes the
    /// target assignment when the group epoch is ahead of it.
    fn refresh(
        &self,
        group: &mut ConsumerGroup,
        topics: &[TopicInfo],
        regexes: &mut RegexCache,
        bump: bool,
        member_joined_or_changed: bool,
    ) {
        let subs: HashMap<String, Vec<String>> = group
            .members
            .iter()
            .map(|(id, m)| (id.clone(), subscribed(m, topics, regexes)))
            .collect();
        let metadata = subscription_metadata(group, topics, regexes);
        // As Kafka 4.3 counts (compat-tests/differential, consumer-groups): a heartbeat that
        // changes a member and the subscribed topics' metadata bumps the epoch twice (a first
        // join gives epoch 2); a leave bumps it once.
        let mut inc = i32::from(bump);
        if metadata != group.subscription_metadata {
            group.subscription_metadata = metadata;
            if member_joined_or_changed || !bump {
                inc += 1;
            }
        }
        group.group_epoch += inc;
        // An empty group keeps its last target (Kafka does not recompute it).
        if group.group_epoch <= group.assignment_epoch || group.members.is_empty() {
            return;
        }
        let assignor = group
            .members
            .values()
            .filter_map(|m| m.server_assignor.clone())
            .next()
            .unwrap_or_else(|| {
                self.config
                    .assignors
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "uniform".into())
            });
        let members: Vec<(String, Vec<(Uuid, i32)>)> = group
            .members
            .keys()
            .map(|id| {
                let topics = subs
                    .get(id)
                    .map(|names| {
                        names
                            .iter()
                            .filter_map(|n| group.subscription_metadata.get(n).copied())
                            .collect()
                    })
                    .unwrap_or_default();
                (id.clone(), topics)
            })
            .collect();
        group.target = if assignor == "range" {
            assign_range(&members)
        } else {
            assign_uniform(&members, &group.target)
        };
        group.assignor = assignor;
        group.assignment_epoch = group.group_epoch;
    }

    /// Moves `member_id` towards its target (Kafka's CurrentAssignmentBuilder).
    fn reconcile(
        self: &Arc<Self>,
        group_id: &str,
        group: &mut ConsumerGroup,
        member_id: &str,
        owned: Option<&Assignment>,
    ) {
        let target_epoch = group.assignment_epoch;
        let target = group.target.get(member_id).cloned().unwrap_or_default();
        let Some(m) = group.members.get(member_id) else {
            return;
        };
        if m.static_left {
            return;
        }
        let mut m = m.clone();
        // A revocation completes when the member reports owning none of the revoked partitions.
        if m.state == MemberState::UnrevokedPartitions {
            let still = owned.is_none_or(|o| intersects(o, &m.pending_revocation));
            if still {
                if let Some(slot) = group.members.get_mut(member_id) {
                    *slot = m;
                }
                return;
            }
            m.pending_revocation.clear();
            m.state = MemberState::Stable;
        }
        if m.member_epoch != target_epoch || m.state == MemberState::UnreleasedPartitions {
            let revoke = difference(&m.assigned, &target);
            // A member that already reports not owning what it loses (a classic eager member
            // rejoins owning nothing) skips the revocation step, as Kafka's
            // CurrentAssignmentBuilder does; an unknown `owned` means it still owns them.
            if !revoke.is_empty() && owned.is_none_or(|o| intersects(o, &revoke)) {
                m.assigned = intersection(&m.assigned, &target);
                m.pending_revocation = revoke;
                m.state = MemberState::UnrevokedPartitions;
                m.revocation_seq += 1;
                let (seq, timeout) = (m.revocation_seq, m.rebalance_timeout_ms);
                self.arm_revocation(group_id, member_id, seq, timeout);
            } else {
                m.assigned = intersection(&m.assigned, &target);
                let mut assigned = Assignment::new();
                let mut unreleased = false;
                for (topic, parts) in &target {
                    for p in parts {
                        if m.assigned.get(topic).is_some_and(|x| x.contains(p))
                            || !group.owned_by_other(member_id, topic, *p)
                        {
                            assigned.entry(*topic).or_default().insert(*p);
                        } else {
                            unreleased = true;
                        }
                    }
                }
                m.assigned = assigned;
                if m.member_epoch != target_epoch {
                    m.previous_member_epoch = m.member_epoch;
                    m.member_epoch = target_epoch;
                }
                m.state = if unreleased {
                    MemberState::UnreleasedPartitions
                } else {
                    MemberState::Stable
                };
            }
        }
        if let Some(slot) = group.members.get_mut(member_id) {
            *slot = m;
        }
    }

    fn arm_session(self: &Arc<Self>, group: &str, member: &str, seq: u64, timeout_ms: i32) {
        let this = self.clone();
        let (group, member) = (group.to_string(), member.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(timeout_ms.max(0) as u64)).await;
            this.expire(&group, &member, |m| m.session_seq == seq, "session timeout");
        });
    }

    fn arm_revocation(self: &Arc<Self>, group: &str, member: &str, seq: u64, timeout_ms: i32) {
        let this = self.clone();
        let (group, member) = (group.to_string(), member.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(timeout_ms.max(0) as u64)).await;
            this.expire(
                &group,
                &member,
                |m| m.revocation_seq == seq && m.state == MemberState::UnrevokedPartitions,
                "did not revoke its partitions within the rebalance timeout",
            );
        });
    }

    /// Removes a member if `still` holds for it (its timer was not superseded).
    fn expire(
        self: &Arc<Self>,
        group_id: &str,
        member_id: &str,
        still: impl Fn(&Member) -> bool,
        why: &str,
    ) {
        let _writes = self.append_guard();
        let fenced = self
            .lock()
            .get(group_id)
            .and_then(|g| g.members.get(member_id))
            .is_some_and(&still);
        if fenced && self.downgrade_due(group_id, member_id) {
            tracing::info!(
                group = group_id,
                member = member_id,
                reason = why,
                "consumer-protocol member fenced; the rest use the classic protocol"
            );
            if let Err(e) = self.convert_to_classic(group_id, member_id, &[]) {
                tracing::error!(group = group_id, error = ?e, "downgrading the group failed");
            }
            return;
        }
        let before = self.snapshot(group_id);
        self.remove_if(group_id, member_id, still, why);
        if let Err(e) = self.persist(group_id, before.as_ref()) {
            tracing::error!(group = group_id, error = ?e, "writing consumer group records failed");
        }
    }

    fn remove_if(
        &self,
        group_id: &str,
        member_id: &str,
        still: impl Fn(&Member) -> bool,
        why: &str,
    ) {
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(group_id) else {
            return;
        };
        if !group.members.get(member_id).is_some_and(&still) {
            return;
        }
        tracing::info!(
            group = group_id,
            member = member_id,
            reason = why,
            "removing consumer group member"
        );
        group.members.shift_remove(member_id);
        group.target.remove(member_id);
        group.group_epoch += 1;
        // The target is recomputed at the next heartbeat (the coordinator has no topic list
        // here); members keep what they own until then.
    }

    // ------------------------------------------------ classic members and protocol migration

    /// Whether `leaving` (a consumer-protocol member) leaving or being fenced converts the group
    /// to a classic group: everybody else uses the classic protocol, somebody is left, the
    /// policy allows downgrades and the rest fit group.max.size (Kafka's
    /// validateOnlineDowngradeWithFencedMember).
    fn downgrade_due(&self, group_id: &str, leaving: &str) -> bool {
        let groups = self.lock();
        let Some(g) = groups.get(group_id) else {
            return false;
        };
        g.members.get(leaving).is_some_and(|m| m.classic.is_none())
            && g.members.len() > 1
            && g.members
                .values()
                .all(|m| m.member_id == leaving || m.classic.is_some())
            && self.config.migration_policy.downgrade()
            && g.members.len() - 1 <= self.config.classic_max_size
    }

    /// Kafka's convertToClassicGroup: the group's remaining (classic) members become a classic
    /// group at the group epoch, each with its target assignment in its protocol's version;
    /// the consumer group's tombstones and the classic group's metadata are written in one
    /// batch, and the classic group starts a rebalance. Call with the append guard held.
    fn convert_to_classic(
        &self,
        group_id: &str,
        leaving: &str,
        topics: &[TopicInfo],
    ) -> Result<(), KafkaError> {
        let (before, converted) = {
            let groups = self.lock();
            let Some(g) = groups.get(group_id) else {
                return Ok(());
            };
            let names = topic_names(g, topics);
            let members = g
                .members
                .values()
                .filter(|m| m.member_id != leaving)
                .filter_map(|m| {
                    let c = m.classic.as_ref()?;
                    let target = g.target.get(&m.member_id).unwrap_or(&m.assigned);
                    Some(super::group::ConvertedMember {
                        member_id: m.member_id.clone(),
                        instance_id: m.instance_id.clone(),
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        session_timeout_ms: c.session_timeout_ms,
                        rebalance_timeout_ms: m.rebalance_timeout_ms,
                        protocols: c.supported_protocols.clone(),
                        assignment: bytes::Bytes::new(),
                        partitions: to_names(target, &names),
                    })
                })
                .collect();
            (
                persisted(g),
                super::group::ConvertedGroup {
                    generation: g.group_epoch,
                    protocol_name: None,
                    members,
                },
            )
        };
        let tombstones = diff_records(group_id, Some(&before), None);
        self.classic
            .install_converted(group_id, converted, tombstones)?;
        self.lock().remove(group_id);
        tracing::info!(
            group = group_id,
            "converted consumer group to a classic group (group.consumer.migration.policy)"
        );
        Ok(())
    }

    /// Kafka's convertToConsumerGroup: takes a classic group's members (policy, protocol type
    /// and size permitting) into a new consumer group at the classic generation, each member
    /// Stable with its last classic assignment as both current and target assignment. Call
    /// with the append guard held; the caller persists.
    fn upgrade(self: &Arc<Self>, group_id: &str, topics: &[TopicInfo]) -> Result<(), &'static str> {
        if !self.config.migration_policy.upgrade() {
            return Err("group.consumer.migration.policy does not allow upgrades");
        }
        let converted = self
            .classic
            .take_for_upgrade(group_id, self.config.max_size)
            .ok_or(
                "not a non-empty classic group of the consumer protocol within the size limit",
            )?;
        let ids: HashMap<&str, Uuid> = topics.iter().map(|t| (t.name.as_str(), t.id)).collect();
        let protocol = converted.protocol_name.clone().unwrap_or_default();
        let mut g = ConsumerGroup {
            group_epoch: converted.generation,
            assignment_epoch: converted.generation,
            ..Default::default()
        };
        for cm in converted.members {
            let metadata = cm
                .protocols
                .iter()
                .find(|(n, _)| *n == protocol)
                .or(cm.protocols.first())
                .map(|(_, m)| m.clone())
                .unwrap_or_default();
            let sub = cp::parse_subscription(&metadata).unwrap_or_default();
            let assigned = to_ids(
                &cp::parse_assignment(&cm.assignment).unwrap_or_default(),
                &ids,
            );
            let mut m = Member::new(&cm.member_id);
            m.instance_id = cm.instance_id;
            m.rack_id = sub.rack_id;
            m.client_id = cm.client_id;
            m.client_host = cm.client_host;
            m.rebalance_timeout_ms = cm.rebalance_timeout_ms;
            m.subscribed_topic_names = sorted(sub.topics);
            m.member_epoch = converted.generation;
            m.previous_member_epoch = converted.generation;
            m.assigned = assigned.clone();
            m.classic = Some(ClassicMemberMetadata {
                session_timeout_ms: cm.session_timeout_ms,
                supported_protocols: cm.protocols,
            });
            m.session_seq += 1;
            self.arm_session(group_id, &m.member_id, m.session_seq, cm.session_timeout_ms);
            g.target.insert(m.member_id.clone(), assigned);
            g.members.insert(m.member_id.clone(), m);
        }
        g.subscription_metadata = subscription_metadata(&g, topics, &mut RegexCache::default());
        self.lock().insert(group_id.to_string(), g);
        tracing::info!(
            group = group_id,
            "converted classic group to a consumer group (group.consumer.migration.policy)"
        );
        Ok(())
    }

    /// JoinGroup to a consumer group with members (Kafka's classicGroupJoinToConsumerGroup):
    /// the member joins or rejoins as a classic member; its subscription (the first protocol's
    /// metadata) drives the server-side assignor and the partitions it reports owning complete
    /// revocations. Answered at once with its member epoch as the generation, no leader, and
    /// its first protocol. None: not a consumer group with members (the classic path serves it).
    pub fn classic_join(
        self: &Arc<Self>,
        req: &JoinRequest,
        topics: &[TopicInfo],
    ) -> Option<JoinResult> {
        // Classic groups (the common case) do not wait for the append lock.
        if self
            .lock()
            .get(&req.group_id)
            .is_none_or(|g| g.members.is_empty())
        {
            return None;
        }
        let _writes = self.append_guard();
        let before = {
            let groups = self.lock();
            persisted(
                groups
                    .get(&req.group_id)
                    .filter(|g| !g.members.is_empty())?,
            )
        };
        let result = self.apply_classic_join(req, topics);
        if result.error.is_none() {
            if let Err(e) = self.persist(&req.group_id, Some(&before)) {
                tracing::error!(group = %req.group_id, error = ?e, "writing consumer group records failed");
                return Some(JoinResult::error(
                    KafkaError::CoordinatorNotAvailable,
                    &req.member_id,
                ));
            }
        }
        Some(result)
    }

    fn apply_classic_join(self: &Arc<Self>, req: &JoinRequest, topics: &[TopicInfo]) -> JoinResult {
        let mut groups = self.lock();
        let Some(group) = groups.get_mut(&req.group_id) else {
            return JoinResult::error(KafkaError::CoordinatorNotAvailable, &req.member_id);
        };
        let unknown = req.member_id.is_empty();
        let member_id = if unknown {
            new_member_id()
        } else {
            req.member_id.clone()
        };
        let fail = |e: KafkaError| JoinResult::error(e, &member_id);
        if !group.members.contains_key(&member_id) && group.members.len() >= self.config.max_size {
            return fail(KafkaError::GroupMaxSizeReached);
        }
        let classic_members: Vec<&ClassicMemberMetadata> = group
            .members
            .values()
            .filter_map(|m| m.classic.as_ref())
            .collect();
        let supported = req.protocol_type == "consumer"
            && req.protocols.iter().any(|(name, _)| {
                classic_members
                    .iter()
                    .all(|c| c.supported_protocols.iter().any(|(n, _)| n == name))
            });
        if !supported {
            return fail(KafkaError::InconsistentGroupProtocol);
        }
        if req.require_known_member_id && unknown && req.group_instance_id.is_none() {
            return JoinResult::error(KafkaError::MemberIdRequired, &member_id);
        }
        let Some(sub) = req
            .protocols
            .first()
            .and_then(|(_, metadata)| cp::parse_subscription(metadata).ok())
        else {
            return fail(KafkaError::InconsistentGroupProtocol);
        };
        // The member: a static member (re)joining or replacing its previous incarnation, a
        // known dynamic member, or a new one.
        let mut bump = false;
        let existing_static = req.group_instance_id.as_ref().and_then(|i| {
            group
                .members
                .values()
                .find(|m| m.instance_id.as_ref() == Some(i))
                .map(|m| m.member_id.clone())
        });
        match (&req.group_instance_id, existing_static) {
            (Some(_), Some(old)) if old != member_id => {
                if !unknown {
                    return fail(KafkaError::FencedInstanceId);
                }
                // A new incarnation of the static member takes over its assignment and epoch.
                if let Some(mut m) = group.members.shift_remove(&old) {
                    m.member_id = member_id.clone();
                    m.static_left = false;
                    m.last_sent = None;
                    if let Some(t) = group.target.remove(&old) {
                        group.target.insert(member_id.clone(), t);
                    }
                    group.members.insert(member_id.clone(), m);
                }
            }
            (Some(_), Some(_)) => {}
            (Some(_), None) if !unknown => return fail(KafkaError::UnknownMemberId),
            _ => {
                if let Some(m) = group.members.get(&member_id) {
                    if m.classic.is_none() {
                        return fail(KafkaError::UnknownMemberId);
                    }
                } else {
                    let mut m = Member::new(&member_id);
                    m.instance_id = req.group_instance_id.clone();
                    group.members.insert(member_id.clone(), m);
                    bump = true;
                }
            }
        }
        let Some(m) = group.members.get_mut(&member_id) else {
            return fail(KafkaError::UnknownMemberId);
        };
        let names = sorted(sub.topics.clone());
        if names != m.subscribed_topic_names {
            m.subscribed_topic_names = names;
            bump = true;
        }
        if sub.rack_id.is_some() {
            m.rack_id = sub.rack_id.clone();
        }
        if req.rebalance_timeout_ms > 0 {
            m.rebalance_timeout_ms = req.rebalance_timeout_ms;
        }
        m.client_id = req.client_id.clone();
        m.client_host = req.client_host.clone();
        m.classic = Some(ClassicMemberMetadata {
            session_timeout_ms: req.session_timeout_ms,
            supported_protocols: req.protocols.clone(),
        });
        m.session_seq += 1;
        let (seq, timeout) = (m.session_seq, req.session_timeout_ms);
        self.arm_session(&req.group_id, &member_id, seq, timeout);
        let mut regexes = RegexCache::default();
        self.refresh(group, topics, &mut regexes, bump, true);
        let ids: HashMap<&str, Uuid> = topics.iter().map(|t| (t.name.as_str(), t.id)).collect();
        let owned = to_ids(&sub.owned, &ids);
        self.reconcile(&req.group_id, group, &member_id, Some(&owned));
        let Some(m) = group.members.get_mut(&member_id) else {
            return fail(KafkaError::UnknownMemberId);
        };
        // The member must sync within its rebalance timeout.
        m.classic_seq += 1;
        m.classic_deadline = false;
        let (deadline_seq, rebalance_timeout) = (m.classic_seq, m.rebalance_timeout_ms);
        let (generation, protocol) = (
            m.member_epoch,
            req.protocols.first().map(|(n, _)| n.clone()),
        );
        self.arm_classic_deadline(
            &req.group_id,
            &member_id,
            deadline_seq,
            rebalance_timeout,
            "sync",
        );
        JoinResult {
            error: None,
            generation,
            protocol_type: Some("consumer".into()),
            protocol_name: protocol,
            leader: String::new(),
            member_id,
            members: Vec::new(),
        }
    }

    /// Checks a classic request's member against a consumer group: the instance id's member
    /// (static) or the member id, which must use the classic protocol, at `generation`.
    fn classic_member<'g>(
        group: &'g mut ConsumerGroup,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Result<&'g mut Member, KafkaError> {
        let m = match instance_id {
            Some(i) => {
                let m = group
                    .members
                    .values_mut()
                    .find(|m| m.instance_id.as_deref() == Some(i))
                    .ok_or(KafkaError::UnknownMemberId)?;
                if m.member_id != member_id {
                    return Err(KafkaError::FencedInstanceId);
                }
                m
            }
            None => group
                .members
                .get_mut(member_id)
                .ok_or(KafkaError::UnknownMemberId)?,
        };
        if m.classic.is_none() {
            return Err(KafkaError::UnknownMemberId);
        }
        if m.member_epoch != generation {
            return Err(KafkaError::IllegalGeneration);
        }
        Ok(m)
    }

    /// SyncGroup of a classic member of a consumer group (Kafka's
    /// classicGroupSyncToConsumerGroup): answers the member's current assignment in its
    /// protocol's version. None: not a consumer group.
    #[allow(clippy::too_many_arguments)]
    pub fn classic_sync(
        self: &Arc<Self>,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        topics: &[TopicInfo],
    ) -> Option<SyncResult> {
        let mut groups = self.lock();
        let group = groups.get_mut(group_id)?;
        let group_epoch = group.group_epoch;
        let names = topic_names(group, topics);
        let fail = |e| {
            Some(SyncResult {
                error: Some(e),
                ..Default::default()
            })
        };
        let m = match Self::classic_member(group, member_id, instance_id, generation) {
            Ok(m) => m,
            Err(e) => return fail(e),
        };
        let first = m
            .classic
            .as_ref()
            .and_then(|c| c.supported_protocols.first().cloned())
            .unwrap_or_default();
        if protocol_type.is_some_and(|t| t != "consumer")
            || protocol_name.is_some_and(|n| n != first.0)
        {
            return fail(KafkaError::InconsistentGroupProtocol);
        }
        if group_epoch > m.member_epoch && m.state != MemberState::UnrevokedPartitions {
            Self::arm_join_deadline(self, group_id, m);
            return fail(KafkaError::RebalanceInProgress);
        }
        m.classic_seq += 1;
        m.classic_deadline = false;
        m.session_seq += 1;
        let (seq, timeout) = (m.session_seq, m.session_timeout_ms(&self.config));
        let assignment =
            cp::encode_assignment(cp::version_of(&first.1), &to_names(&m.assigned, &names));
        m.last_sent = Some(m.assigned.clone());
        let member = m.member_id.clone();
        drop(groups);
        self.arm_session(group_id, &member, seq, timeout);
        Some(SyncResult {
            error: None,
            protocol_type: protocol_type.map(str::to_string),
            protocol_name: protocol_name.map(str::to_string),
            assignment,
        })
    }

    /// Heartbeat of a classic member of a consumer group (Kafka's
    /// classicGroupHeartbeatToConsumerGroup): REBALANCE_IN_PROGRESS when the member must rejoin
    /// — the group epoch moved, it has partitions to revoke, or partitions it waits for were
    /// released. None: not a consumer group.
    pub fn classic_heartbeat(
        self: &Arc<Self>,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> Option<Option<KafkaError>> {
        let mut groups = self.lock();
        let group = groups.get_mut(group_id)?;
        let group_epoch = group.group_epoch;
        let waiting = group
            .members
            .get(member_id)
            .is_some_and(|m| waiting_on_unreleased(group, m));
        let m = match Self::classic_member(group, member_id, instance_id, generation) {
            Ok(m) => m,
            Err(e) => return Some(Some(e)),
        };
        m.session_seq += 1;
        let (seq, timeout) = (m.session_seq, m.session_timeout_ms(&self.config));
        let member = m.member_id.clone();
        let rejoin = m.member_epoch < group_epoch
            || m.state == MemberState::UnrevokedPartitions
            || (m.state == MemberState::UnreleasedPartitions && !waiting);
        if rejoin {
            Self::arm_join_deadline(self, group_id, m);
        }
        drop(groups);
        self.arm_session(group_id, &member, seq, timeout);
        Some(rejoin.then_some(KafkaError::RebalanceInProgress))
    }

    /// LeaveGroup to a consumer group (Kafka's classicGroupLeaveToConsumerGroup): each named
    /// member leaves (Kafka 4.3 removes consumer-protocol members this way too, which is how
    /// an admin removes members); the group epoch moves once. When a consumer-protocol member
    /// leaving leaves only classic members, the group becomes a classic group and the rest of
    /// the request goes to it. None: not a consumer group.
    pub fn classic_leave(
        &self,
        group_id: &str,
        members: &[(String, Option<String>)],
        topics: &[TopicInfo],
    ) -> Option<Vec<Option<KafkaError>>> {
        // Classic groups (the common case) do not wait for the append lock.
        if !self.contains(group_id) {
            return None;
        }
        let _writes = self.append_guard();
        let before = self.snapshot(group_id)?;
        let mut results: Vec<Option<KafkaError>> = Vec::with_capacity(members.len());
        let mut removed = false;
        for (i, (member_id, instance)) in members.iter().enumerate() {
            let found = {
                let groups = self.lock();
                let Some(group) = groups.get(group_id) else {
                    break;
                };
                match instance {
                    Some(inst) => group
                        .members
                        .values()
                        .find(|m| m.instance_id.as_ref() == Some(inst))
                        .ok_or(KafkaError::UnknownMemberId)
                        .and_then(|m| {
                            if !member_id.is_empty() && *member_id != m.member_id {
                                Err(KafkaError::FencedInstanceId)
                            } else {
                                Ok(m.member_id.clone())
                            }
                        }),
                    None => group
                        .members
                        .get(member_id)
                        .map(|m| m.member_id.clone())
                        .ok_or(KafkaError::UnknownMemberId),
                }
            };
            let id = match found {
                Ok(id) => id,
                Err(e) => {
                    results.push(Some(e));
                    continue;
                }
            };
            if !removed && self.downgrade_due(group_id, &id) {
                // Nothing written for this group yet: it converts, and the classic group
                // answers for the members after this one.
                return Some(match self.convert_to_classic(group_id, &id, topics) {
                    Err(e) => vec![Some(e); members.len()],
                    Ok(()) => {
                        results.push(None);
                        let rest = &members[i + 1..];
                        if !rest.is_empty() {
                            match self.classic.leave(group_id, rest) {
                                Ok(r) => results.extend(r),
                                Err(e) => results.extend(rest.iter().map(|_| Some(e))),
                            }
                        }
                        results
                    }
                });
            }
            tracing::info!(group = group_id, member = %id, "member left the consumer group (LeaveGroup)");
            let mut groups = self.lock();
            if let Some(group) = groups.get_mut(group_id) {
                group.members.shift_remove(&id);
                group.target.remove(&id);
                removed = true;
            }
            results.push(None);
        }
        if removed {
            if let Some(group) = self.lock().get_mut(group_id) {
                group.group_epoch += 1;
            }
        }
        if let Err(e) = self.persist(group_id, Some(&before)) {
            tracing::error!(group = group_id, error = ?e, "writing consumer group records failed");
            return Some(vec![
                Some(KafkaError::CoordinatorNotAvailable);
                members.len()
            ]);
        }
        Some(results)
    }

    /// Arms the rejoin deadline of a classic member told to rejoin, unless one is armed.
    fn arm_join_deadline(this: &Arc<Self>, group_id: &str, m: &mut Member) {
        if m.classic_deadline {
            return;
        }
        m.classic_seq += 1;
        m.classic_deadline = true;
        this.arm_classic_deadline(
            group_id,
            &m.member_id,
            m.classic_seq,
            m.rebalance_timeout_ms,
            "join",
        );
    }

    /// Removes a classic member that has not joined or synced within `timeout_ms`.
    fn arm_classic_deadline(
        self: &Arc<Self>,
        group: &str,
        member: &str,
        seq: u64,
        timeout_ms: i32,
        what: &'static str,
    ) {
        let this = self.clone();
        let (group, member) = (group.to_string(), member.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(timeout_ms.max(0) as u64)).await;
            let why = if what == "sync" {
                "did not sync within the rebalance timeout"
            } else {
                "did not rejoin within the rebalance timeout"
            };
            this.expire(&group, &member, |m| m.classic_seq == seq, why);
        });
    }

    /// Validates an OffsetCommit / OffsetFetch member against a consumer group.
    /// Returns None when the group is not a consumer group.
    pub fn check_member(
        &self,
        group_id: &str,
        member_id: &str,
        epoch: i32,
    ) -> Option<Result<(), KafkaError>> {
        let groups = self.lock();
        let group = groups.get(group_id)?;
        if member_id.is_empty() && epoch < 0 {
            // A simple (non-member) commit: only to an empty group.
            return Some(if group.members.is_empty() {
                Ok(())
            } else {
                Err(KafkaError::UnknownMemberId)
            });
        }
        let Some(m) = group.members.get(member_id) else {
            return Some(Err(KafkaError::UnknownMemberId));
        };
        if epoch != m.member_epoch {
            return Some(Err(if m.classic.is_some() {
                KafkaError::IllegalGeneration
            } else {
                KafkaError::StaleMemberEpoch
            }));
        }
        Some(Ok(()))
    }

    /// (group id, state) of every consumer group.
    pub fn list(&self) -> Vec<(String, &'static str)> {
        self.lock()
            .iter()
            .map(|(id, g)| (id.clone(), g.state()))
            .collect()
    }

    /// A snapshot of a group for ConsumerGroupDescribe.
    pub fn describe(&self, group_id: &str) -> Option<GroupSnapshot> {
        let groups = self.lock();
        let g = groups.get(group_id)?;
        Some(GroupSnapshot {
            state: g.state(),
            group_epoch: g.group_epoch,
            assignment_epoch: g.assignment_epoch,
            assignor: if g.assignor.is_empty() {
                self.config.assignors.first().cloned().unwrap_or_default()
            } else {
                g.assignor.clone()
            },
            members: g
                .members
                .values()
                .map(|m| {
                    (
                        m.clone(),
                        g.target.get(&m.member_id).cloned().unwrap_or_default(),
                    )
                })
                .collect(),
        })
    }

    /// Removes the group if it has no members (a classic JoinGroup converts an empty KIP-848
    /// group to the classic protocol). None = no such group; Some(Ok) = removed.
    pub fn delete_if_empty(&self, group_id: &str) -> Option<Result<(), KafkaError>> {
        self.delete(group_id)
    }

    /// DeleteGroups: only an empty group. None = not a consumer group.
    pub fn delete(&self, group_id: &str) -> Option<Result<(), KafkaError>> {
        let _writes = self.append_guard();
        let before = {
            let groups = self.lock();
            let g = groups.get(group_id)?;
            if !g.members.is_empty() {
                return Some(Err(KafkaError::NonEmptyGroup));
            }
            // Every resolved regex goes with the group, used or not (as Kafka's
            // createGroupTombstoneRecords).
            Persisted {
                regex: g.resolved_regex.keys().cloned().collect(),
                ..persisted(g)
            }
        };
        if let Err(e) = self
            .classic
            .append(group_id, &diff_records(group_id, Some(&before), None))
        {
            return Some(Err(e));
        }
        self.lock().remove(group_id);
        Some(Ok(()))
    }

    /// The topics a KIP-848 group with members subscribes to (None: no such group, or empty).
    pub fn live_subscriptions(&self, group_id: &str) -> Option<HashSet<String>> {
        let groups = self.lock();
        let g = groups.get(group_id).filter(|g| !g.members.is_empty())?;
        Some(g.subscription_metadata.keys().cloned().collect())
    }

    /// Topics any member of `group_id` subscribes to by name (for OffsetDelete checks).
    pub fn subscribed_topic_names(&self, group_id: &str) -> Option<HashSet<String>> {
        let groups = self.lock();
        let g = groups.get(group_id)?;
        Some(g.subscription_metadata.keys().cloned().collect())
    }
}

/// The subscribed topics' ids and partition counts.
fn subscription_metadata(
    g: &ConsumerGroup,
    topics: &[TopicInfo],
    regexes: &mut RegexCache,
) -> BTreeMap<String, (Uuid, i32)> {
    let mut metadata = BTreeMap::new();
    for m in g.members.values() {
        for t in subscribed(m, topics, regexes) {
            if let Some(info) = topics.iter().find(|x| x.name == t) {
                metadata.insert(t, (info.id, info.partitions));
            }
        }
    }
    metadata
}

/// Sorted, without duplicates (how subscriptions are kept).
fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names.dedup();
    names
}

/// Topic id -> name for a group: its subscribed topics, then every topic given.
fn topic_names(g: &ConsumerGroup, topics: &[TopicInfo]) -> HashMap<Uuid, String> {
    let mut out: HashMap<Uuid, String> = topics.iter().map(|t| (t.id, t.name.clone())).collect();
    for (name, (id, _)) in &g.subscription_metadata {
        out.insert(*id, name.clone());
    }
    out
}

/// An assignment by topic name (topics unknown by now are left out), ordered by name.
fn to_names(a: &Assignment, names: &HashMap<Uuid, String>) -> TopicPartitions {
    let mut out: TopicPartitions = a
        .iter()
        .filter_map(|(id, ps)| Some((names.get(id)?.clone(), ps.iter().copied().collect())))
        .collect();
    out.sort();
    out
}

/// Partitions by topic name as an assignment by topic id (unknown topics left out).
fn to_ids(tps: &TopicPartitions, ids: &HashMap<&str, Uuid>) -> Assignment {
    let mut out = Assignment::new();
    for (name, ps) in tps {
        if let Some(id) = ids.get(name.as_str()) {
            out.entry(*id).or_default().extend(ps.iter().copied());
        }
    }
    out
}

/// A member in UNRELEASED_PARTITIONS still waits: some partition of its target is owned by
/// another member.
fn waiting_on_unreleased(g: &ConsumerGroup, m: &Member) -> bool {
    g.target.get(&m.member_id).is_some_and(|target| {
        target.iter().any(|(topic, parts)| {
            parts.iter().any(|p| {
                !m.assigned.get(topic).is_some_and(|x| x.contains(p))
                    && g.owned_by_other(&m.member_id, topic, *p)
            })
        })
    })
}

pub struct GroupSnapshot {
    pub state: &'static str,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor: String,
    /// (member, its target assignment)
    pub members: Vec<(Member, Assignment)>,
}

fn is_subset(a: &Assignment, b: &Assignment) -> bool {
    a.iter()
        .all(|(t, ps)| ps.iter().all(|p| b.get(t).is_some_and(|x| x.contains(p))))
}

fn intersects(a: &Assignment, b: &Assignment) -> bool {
    a.iter()
        .any(|(t, ps)| ps.iter().any(|p| b.get(t).is_some_and(|x| x.contains(p))))
}

fn difference(a: &Assignment, b: &Assignment) -> Assignment {
    let mut out = Assignment::new();
    for (t, ps) in a {
        for p in ps {
            if !b.get(t).is_some_and(|x| x.contains(p)) {
                out.entry(*t).or_default().insert(*p);
            }
        }
    }
    out
}

fn intersection(a: &Assignment, b: &Assignment) -> Assignment {
    let mut out = Assignment::new();
    for (t, ps) in a {
        for p in ps {
            if b.get(t).is_some_and(|x| x.contains(p)) {
                out.entry(*t).or_default().insert(*p);
            }
        }
    }
    out
}

/// The uniform assignor: every partition of the subscribed topics to one of the members
/// subscribed to its topic, as evenly as possible, keeping partitions where they are when that
/// stays balanced (sticky).
fn assign_uniform(
    members: &[(String, Vec<(Uuid, i32)>)],
    previous: &HashMap<String, Assignment>,
) -> HashMap<String, Assignment> {
    let mut out: HashMap<String, Assignment> = members
        .iter()
        .map(|(m, _)| (m.clone(), Assignment::new()))
        .collect();
    let mut counts: HashMap<&str, usize> = members.iter().map(|(m, _)| (m.as_str(), 0)).collect();
    // Every partition and the members that may own it.
    let mut partitions: BTreeMap<(Uuid, i32), Vec<&str>> = BTreeMap::new();
    for (m, topics) in members {
        for (id, n) in topics {
            for p in 0..*n {
                partitions.entry((*id, p)).or_default().push(m.as_str());
            }
        }
    }
    let total = partitions.len();
    let n_members = members.iter().filter(|(_, t)| !t.is_empty()).count().max(1);
    let quota = total.div_ceil(n_members);
    // Sticky pass: keep previous owners while under the quota.
    let mut unassigned = Vec::new();
    for ((topic, p), candidates) in &partitions {
        let owner = previous
            .iter()
            .find(|(_, a)| a.get(topic).is_some_and(|x| x.contains(p)))
            .map(|(m, _)| m.as_str())
            .filter(|m| candidates.contains(m));
        match owner {
            Some(m) if counts.get(m).copied().unwrap_or(usize::MAX) < quota => {
                *counts.entry(m).or_default() += 1;
                out.entry(m.to_string())
                    .or_default()
                    .entry(*topic)
                    .or_default()
                    .insert(*p);
            }
            _ => unassigned.push(((*topic, *p), candidates.clone())),
        }
    }
    for ((topic, p), candidates) in unassigned {
        let Some(m) = candidates
            .iter()
            .min_by_key(|m| (counts.get(**m).copied().unwrap_or(0), **m))
            .copied()
        else {
            continue;
        };
        *counts.entry(m).or_default() += 1;
        out.entry(m.to_string())
            .or_default()
            .entry(topic)
            .or_default()
            .insert(p);
    }
    // Balance: move partitions from the fullest to the emptiest eligible member.
    loop {
        let mut moved = false;
        let ids: Vec<String> = out.keys().cloned().collect();
        for from in &ids {
            let from_n = counts.get(from.as_str()).copied().unwrap_or(0);
            let Some(parts) = out.get(from).cloned() else {
                continue;
            };
            'parts: for (topic, ps) in &parts {
                for p in ps {
                    let Some(cands) = partitions.get(&(*topic, *p)) else {
                        continue;
                    };
                    if let Some(to) = cands
                        .iter()
                        .filter(|c| counts.get(**c).copied().unwrap_or(0) + 1 < from_n)
                        .min_by_key(|c| (counts.get(**c).copied().unwrap_or(0), **c))
                        .copied()
                    {
                        if let Some(a) = out.get_mut(from) {
                            if let Some(set) = a.get_mut(topic) {
                                set.remove(p);
                                if set.is_empty() {
                                    a.remove(topic);
                                }
                            }
                        }
                        out.entry(to.to_string())
                            .or_default()
                            .entry(*topic)
                            .or_default()
                            .insert(*p);
                        *counts.entry(to).or_default() += 1;
                        if let Some(c) = counts.get_mut(from.as_str()) {
                            *c -= 1;
                        }
                        moved = true;
                        break 'parts;
                    }
                }
            }
        }
        if !moved {
            break;
        }
    }
    out
}

/// The range assignor: per topic, its subscribers sorted by member id get consecutive ranges
/// of partitions (the first `n % members` get one more), as the client-side RangeAssignor.
fn assign_range(members: &[(String, Vec<(Uuid, i32)>)]) -> HashMap<String, Assignment> {
    let mut out: HashMap<String, Assignment> = members
        .iter()
        .map(|(m, _)| (m.clone(), Assignment::new()))
        .collect();
    let mut topics: BTreeMap<Uuid, (i32, Vec<&str>)> = BTreeMap::new();
    for (m, ts) in members {
        for (id, n) in ts {
            let e = topics.entry(*id).or_insert((*n, Vec::new()));
            e.1.push(m.as_str());
        }
    }
    for (topic, (n, mut subs)) in topics {
        subs.sort();
        let k = subs.len() as i32;
        if k == 0 {
            continue;
        }
        let (per, extra) = (n / k, n % k);
        let mut start = 0;
        for (i, m) in subs.iter().enumerate() {
            let len = per + i32::from((i as i32) < extra);
            let set: BTreeSet<i32> = (start..start + len).collect();
            start += len;
            if !set.is_empty() {
                out.entry(m.to_string()).or_default().insert(topic, set);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coordinator(dir: &std::path::Path) -> Arc<ConsumerGroupCoordinator> {
        use crate::coordinator::group::{GroupConfig, OFFSETS_TOPIC};
        use sluice_storage::{LogConfig, LogManager, SystemTime, TopicPartition};
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
            offsets_partitions: 4,
            ..GroupConfig::default()
        };
        let classic = GroupCoordinator::new(config, logs, Arc::new(SystemTime));
        ConsumerGroupCoordinator::new(ConsumerGroupConfig::default(), classic)
    }

    fn topic(name: &str, n: i32) -> TopicInfo {
        TopicInfo {
            name: name.into(),
            id: Uuid::from_u128(name.bytes().fold(7u128, |h, b| {
                h.wrapping_mul(131).wrapping_add(u128::from(b))
            })),
            partitions: n,
        }
    }

    fn join_req(member: &str, topics: &[&str]) -> HeartbeatRequest {
        HeartbeatRequest {
            group_id: "g".into(),
            member_id: member.into(),
            member_epoch: 0,
            rebalance_timeout_ms: 30_000,
            subscribed_topic_names: Some(topics.iter().map(|t| t.to_string()).collect()),
            owned: Some(Assignment::new()),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            client_member_id: true,
            ..Default::default()
        }
    }

    fn hb(member: &str, epoch: i32, owned: &Assignment) -> HeartbeatRequest {
        HeartbeatRequest {
            group_id: "g".into(),
            member_id: member.into(),
            member_epoch: epoch,
            rebalance_timeout_ms: -1,
            owned: Some(owned.clone()),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            client_member_id: true,
            ..Default::default()
        }
    }

    fn count(a: &Assignment) -> usize {
        a.values().map(|s| s.len()).sum()
    }

    #[tokio::test(start_paused = true)]
    async fn members_converge_without_a_partition_ever_having_two_owners() {
        let d = tempfile::tempdir().unwrap();
        let c = coordinator(d.path());
        let topics = vec![topic("t", 6)];
        let a = c.heartbeat(join_req("a", &["t"]), &topics, false);
        assert_eq!(a.error, None);
        // As Kafka 4.3: the member and the subscribed metadata both changed: epoch 2.
        assert_eq!(a.member_epoch, 2);
        let a_owned = a.assignment.clone().unwrap();
        assert_eq!(count(&a_owned), 6);

        // b joins: the group epoch moves to 3; b gets nothing until a revokes.
        let b = c.heartbeat(join_req("b", &["t"]), &topics, false);
        assert_eq!(b.member_epoch, 3);
        assert_eq!(
            count(b.assignment.as_ref().unwrap()),
            0,
            "a still owns everything"
        );
        // a heartbeats: told to keep 3 (its epoch stays 2 until it revokes).
        let a2 = c.heartbeat(hb("a", 2, &a_owned), &topics, false);
        assert_eq!(a2.member_epoch, 2);
        let a_kept = a2.assignment.clone().unwrap();
        assert_eq!(count(&a_kept), 3);
        // a revoked: now at epoch 3.
        let a3 = c.heartbeat(hb("a", 2, &a_kept), &topics, false);
        assert_eq!(a3.member_epoch, 3);
        // b gets the released three.
        let b2 = c.heartbeat(hb("b", 3, &Assignment::new()), &topics, false);
        let b_owned = b2.assignment.unwrap();
        assert_eq!(count(&b_owned), 3);
        assert!(!intersects(&b_owned, &a_kept));
        assert_eq!(c.describe("g").unwrap().state, "Stable");
    }

    #[tokio::test(start_paused = true)]
    async fn stale_and_unknown_members_are_fenced() {
        let d = tempfile::tempdir().unwrap();
        let c = coordinator(d.path());
        let topics = vec![topic("t", 2)];
        let a = c.heartbeat(join_req("a", &["t"]), &topics, false);
        let r = c.heartbeat(
            hb("a", a.member_epoch + 3, &Assignment::new()),
            &topics,
            false,
        );
        assert_eq!(r.error.map(|e| e.0), Some(KafkaError::FencedMemberEpoch));
        let r = c.heartbeat(hb("zz", 1, &Assignment::new()), &topics, false);
        assert_eq!(r.error.map(|e| e.0), Some(KafkaError::UnknownMemberId));
        let mut bad = join_req("x", &["t"]);
        bad.server_assignor = Some("nope".into());
        let r = c.heartbeat(bad, &topics, false);
        assert_eq!(r.error.map(|e| e.0), Some(KafkaError::UnsupportedAssignor));
        assert_eq!(c.check_member("g", "a", a.member_epoch), Some(Ok(())));
        assert_eq!(
            c.check_member("g", "a", 0),
            Some(Err(KafkaError::StaleMemberEpoch))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_member_is_removed_after_its_session() {
        let d = tempfile::tempdir().unwrap();
        let c = coordinator(d.path());
        let topics = vec![topic("t", 2)];
        c.heartbeat(join_req("a", &["t"]), &topics, false);
        tokio::time::sleep(Duration::from_millis(45_001)).await;
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        assert_eq!(c.describe("g").unwrap().state, "Empty");
    }

    #[tokio::test(start_paused = true)]
    async fn regex_subscriptions_pick_up_new_topics() {
        let d = tempfile::tempdir().unwrap();
        let c = coordinator(d.path());
        let mut req = join_req("a", &[]);
        req.subscribed_topic_names = None;
        req.subscribed_topic_regex = Some("orders-.*".into());
        let topics = vec![topic("orders-eu", 1), topic("other", 1)];
        let a = c.heartbeat(req, &topics, false);
        assert_eq!(count(a.assignment.as_ref().unwrap()), 1);
        let topics = vec![
            topic("orders-eu", 1),
            topic("other", 1),
            topic("orders-us", 2),
        ];
        let a2 = c.heartbeat(
            hb("a", a.member_epoch, a.assignment.as_ref().unwrap()),
            &topics,
            false,
        );
        assert_eq!(count(a2.assignment.as_ref().unwrap()), 3);
        assert!(a2.member_epoch > a.member_epoch);
    }

    #[tokio::test(start_paused = true)]
    async fn a_static_member_comes_back_to_its_partitions() {
        let d = tempfile::tempdir().unwrap();
        let c = coordinator(d.path());
        let topics = vec![topic("t", 4)];
        let mut j = join_req("a", &["t"]);
        j.instance_id = Some("i1".into());
        let a = c.heartbeat(j.clone(), &topics, false);
        let owned = a.assignment.clone().unwrap();
        let mut leave = hb("a", -2, &owned);
        leave.instance_id = Some("i1".into());
        assert_eq!(c.heartbeat(leave, &topics, false).member_epoch, -2);
        j.member_id = "a2".into();
        let back = c.heartbeat(j, &topics, false);
        assert_eq!(back.error, None);
        assert_eq!(
            back.member_epoch, a.member_epoch,
            "no new epoch: no rebalance"
        );
        assert_eq!(back.assignment.unwrap(), owned);
    }

    #[tokio::test(start_paused = true)]
    async fn groups_are_replayed_from_the_log_after_a_restart() {
        let d = tempfile::tempdir().unwrap();
        let topics = vec![topic("t", 4)];
        let (epoch, owned) = {
            let c = coordinator(d.path());
            let a = c.heartbeat(join_req("a", &["t"]), &topics, false);
            let b = c.heartbeat(join_req("b", &["t"]), &topics, false);
            assert_eq!(b.error, None);
            // a gives up half, b takes it: a settled state.
            let a_owned = a.assignment.unwrap();
            let a2 = c.heartbeat(hb("a", a.member_epoch, &a_owned), &topics, false);
            let kept = a2.assignment.unwrap();
            c.heartbeat(hb("a", a.member_epoch, &kept), &topics, false);
            let b2 = c.heartbeat(hb("b", b.member_epoch, &Assignment::new()), &topics, false);
            (b2.member_epoch, b2.assignment.unwrap())
        };
        let c = coordinator(d.path());
        c.load();
        let g = c.describe("g").expect("group replayed");
        assert_eq!(g.members.len(), 2);
        let b = g.members.iter().find(|(m, _)| m.member_id == "b").unwrap();
        assert_eq!(b.0.member_epoch, epoch);
        assert_eq!(b.0.assigned, owned);
        assert_eq!(b.0.subscribed_topic_names, vec!["t".to_string()]);
        // The member carries on with its epoch, no rejoin needed.
        let r = c.heartbeat(hb("b", epoch, &owned), &topics, false);
        assert_eq!(r.error, None);
        // A deleted group stays deleted.
        c.heartbeat(hb("a", -1, &Assignment::new()), &topics, false);
        c.heartbeat(hb("b", -1, &Assignment::new()), &topics, false);
        assert_eq!(c.delete("g"), Some(Ok(())));
        let c2 = coordinator(d.path());
        c2.load();
        assert!(c2.describe("g").is_none());
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The KIP-848 records Apache Kafka 4.3.1 wrote for a group whose member subscribes with a
    /// regular expression (member metadata, current assignment, the resolved regex, group epoch
    /// with its metadata hash, target assignment, assignment epoch with its timestamp, the
    /// assignment with assignment epochs): the group comes back, and when the member leaves and
    /// the group is deleted, the regex and partition-metadata tombstones are written as Kafka
    /// writes them, so a Kafka reading the log later does not bring the group back.
    #[tokio::test(start_paused = true)]
    async fn replays_a_regex_group_kafka_wrote_and_tombstones_it_as_kafka() {
        let d = tempfile::tempdir().unwrap();
        let c = coordinator(d.path());
        let member = "0005000864642d726567657800163047415a486f36475467323653554543345356497367";
        let current = "0008000864642d726567657800163047415a486f36475467323653554543345356497367";
        let target = "0007000864642d726567657800163047415a486f36475467323653554543345356497367";
        let regex = "0010000864642d7265676578001264642d28706c61696e7c636f6d7061637429";
        let kafka: Vec<(&str, &str)> = vec![
            (
                member,
                "0000000014636f6e73756d65722d64642d72656765782d350b2f3132372e302e302e31011364642d\
                 28706c61696e7c636f6d7061637429000493e00001000100",
            ),
            (current, "0000000000010000000000010100"),
            (
                regex,
                "0000030b64642d636f6d706163740964642d706c61696e00000000000000a8000001a25310e5c900",
            ),
            ("0003000864642d7265676578", "00000000000201000863a5d6335afd7bb5"),
            (
                target,
                "00000343682e426210435f8b5a8d48fd307bfb030000000000000001001f70a561cad24188bb9f35\
                 4211a7ffa9040000000000000001000000020000",
            ),
            ("0006000864642d7265676578", "000000000002010008000001a25310e608"),
            (
                current,
                "0000000000020000000100031f70a561cad24188bb9f354211a7ffa904000000000000000100000002\
                 01000d0400000002000000020000000243682e426210435f8b5a8d48fd307bfb030000000000000001\
                 0100090300000002000000020100",
            ),
        ];
        let entries: Vec<(Vec<u8>, Option<Vec<u8>>)> =
            kafka.iter().map(|(k, v)| (hex(k), Some(hex(v)))).collect();
        c.classic.append("dd-regex", &entries).unwrap();

        let c = coordinator(d.path());
        c.load();
        let plain = Uuid::from_u128(0x1f70a561_cad2_4188_bb9f_354211a7ffa9);
        let compact = Uuid::from_u128(0x43682e42_6210_435f_8b5a_8d48fd307bfb);
        let g = c.describe("dd-regex").expect("group replayed");
        assert_eq!(g.members.len(), 1);
        let (m, _) = &g.members[0];
        assert_eq!(m.member_id, "0GAZHo6GTg26SUEC4SVIsg");
        assert_eq!(
            m.subscribed_topic_regex.as_deref(),
            Some("dd-(plain|compact)")
        );
        assert_eq!((m.member_epoch, m.previous_member_epoch), (2, 1));
        assert_eq!(
            m.assigned,
            [
                (plain, BTreeSet::from([0, 1, 2])),
                (compact, BTreeSet::from([0, 1]))
            ]
            .into_iter()
            .collect::<Assignment>()
        );
        assert_eq!(
            c.lock()["dd-regex"].resolved_regex["dd-(plain|compact)"],
            rec::RegexValue {
                topics: vec!["dd-compact".into(), "dd-plain".into()],
                version: 168,
                timestamp: 0x1a2_5310_e5c9,
            }
        );

        // The member leaves: its regex is unused, its record gets a tombstone.
        let topics = vec![
            TopicInfo {
                name: "dd-plain".into(),
                id: plain,
                partitions: 3,
            },
            TopicInfo {
                name: "dd-compact".into(),
                id: compact,
                partitions: 2,
            },
        ];
        let leave = HeartbeatRequest {
            group_id: "dd-regex".into(),
            ..hb("0GAZHo6GTg26SUEC4SVIsg", -1, &Assignment::new())
        };
        assert_eq!(c.heartbeat(leave, &topics, false).error, None);
        assert_eq!(c.delete("dd-regex"), Some(Ok(())));
        let mut tombstones = Vec::new();
        c.classic.for_each_record(|k, v| {
            if v.is_none() {
                tombstones.push(crate::coordinator::records::record_type(k).unwrap().0);
            }
        });
        assert_eq!(
            tombstones.iter().filter(|t| **t == 16).count(),
            1,
            "{tombstones:?}"
        );
        assert!(tombstones.contains(&4), "{tombstones:?}");
        let c2 = coordinator(d.path());
        c2.load();
        assert!(c2.describe("dd-regex").is_none());
        assert!(!c2.lock().contains_key("dd-regex"));
    }

    /// A classic JoinGroup of a consumer-protocol consumer subscribed to `topics` (v0
    /// subscription, owning nothing).
    fn classic_req(member: &str, topics: &[&str]) -> JoinRequest {
        use bytes::BufMut;
        let mut meta = Vec::new();
        meta.put_i16(0);
        meta.put_i32(topics.len() as i32);
        for t in topics {
            meta.put_i16(t.len() as i16);
            meta.put_slice(t.as_bytes());
        }
        meta.put_i32(-1);
        JoinRequest {
            group_id: "g".into(),
            member_id: member.into(),
            group_instance_id: None,
            client_id: "classic".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 30_000,
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), bytes::Bytes::from(meta))],
            require_known_member_id: true,
        }
    }

    fn partitions_of(assignment: &[u8]) -> usize {
        cp::parse_assignment(assignment)
            .unwrap()
            .iter()
            .map(|(_, p)| p.len())
            .sum()
    }

    #[tokio::test(start_paused = true)]
    async fn a_classic_member_joins_syncs_and_heartbeats_inside_a_consumer_group() {
        let d = tempfile::tempdir().unwrap();
        let c = coordinator(d.path());
        let topics = vec![topic("t", 4)];
        let a = c.heartbeat(join_req("a", &["t"]), &topics, false);
        let a_owned = a.assignment.clone().unwrap();
        assert_eq!(count(&a_owned), 4);
        // KIP-394 first, then the join answers at once with the member epoch.
        let first = c.classic_join(&classic_req("", &["t"]), &topics).unwrap();
        assert_eq!(first.error, Some(KafkaError::MemberIdRequired));
        let j = c
            .classic_join(&classic_req(&first.member_id, &["t"]), &topics)
            .unwrap();
        assert_eq!(j.error, None);
        assert_eq!(j.protocol_name.as_deref(), Some("range"));
        assert_eq!(j.leader, "");
        let id = j.member_id.clone();
        // Another protocol type is refused.
        let mut other = classic_req(&id, &["t"]);
        other.protocol_type = "connect".into();
        assert_eq!(
            c.classic_join(&other, &topics).unwrap().error,
            Some(KafkaError::InconsistentGroupProtocol)
        );
        // a still owns everything: the classic member gets nothing yet.
        let sync = |generation| {
            c.classic_sync(
                "g",
                &id,
                None,
                generation,
                Some("consumer"),
                Some("range"),
                &topics,
            )
            .unwrap()
        };
        assert_eq!(
            sync(j.generation + 1).error,
            Some(KafkaError::IllegalGeneration)
        );
        let s0 = sync(j.generation);
        assert_eq!(s0.error, None);
        assert_eq!(partitions_of(&s0.assignment), 0);
        // a revokes half; the classic member is told to rejoin and then gets the rest.
        let a2 = c.heartbeat(hb("a", a.member_epoch, &a_owned), &topics, false);
        let kept = a2.assignment.unwrap();
        assert_eq!(count(&kept), 2);
        c.heartbeat(hb("a", a.member_epoch, &kept), &topics, false);
        assert_eq!(
            c.classic_heartbeat("g", &id, None, j.generation).unwrap(),
            Some(KafkaError::RebalanceInProgress)
        );
        let j2 = c.classic_join(&classic_req(&id, &["t"]), &topics).unwrap();
        let s1 = c
            .classic_sync("g", &id, None, j2.generation, None, None, &topics)
            .unwrap();
        assert_eq!(partitions_of(&s1.assignment), 2);
        assert_eq!(
            c.classic_heartbeat("g", &id, None, j2.generation).unwrap(),
            None
        );
        let g = c.describe("g").unwrap();
        assert_eq!(g.state, "Stable");
        let classic = g
            .members
            .iter()
            .filter(|(m, _)| m.classic.is_some())
            .count();
        assert_eq!(classic, 1);
        // OffsetCommit checks the generation of a classic member.
        assert_eq!(
            c.check_member("g", &id, j2.generation + 1),
            Some(Err(KafkaError::IllegalGeneration))
        );
        // The classic member and its protocols survive a restart.
        let c2 = coordinator(d.path());
        c2.load();
        let g2 = c2.describe("g").unwrap();
        let m = g2.members.iter().find(|(m, _)| m.member_id == id).unwrap();
        assert_eq!(m.0.classic.as_ref().unwrap().session_timeout_ms, 10_000);
        assert_eq!(
            m.0.classic.as_ref().unwrap().supported_protocols[0].0,
            "range"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_last_consumer_protocol_member_leaving_makes_the_group_classic() {
        let d = tempfile::tempdir().unwrap();
        let c = coordinator(d.path());
        let topics = vec![topic("t", 2)];
        c.heartbeat(join_req("a", &["t"]), &topics, false);
        let first = c.classic_join(&classic_req("", &["t"]), &topics).unwrap();
        let j = c
            .classic_join(&classic_req(&first.member_id, &["t"]), &topics)
            .unwrap();
        let left = c.heartbeat(hb("a", -1, &Assignment::new()), &topics, false);
        assert_eq!(left.error, None);
        assert_eq!(left.member_epoch, -1);
        assert!(c.describe("g").is_none(), "no longer a consumer group");
        let classic = c.classic.describe("g").unwrap();
        assert_eq!(
            classic.state,
            super::super::group::GroupState::PreparingRebalance
        );
        assert_eq!(classic.members.len(), 1);
        assert_eq!(classic.members[0].0, j.member_id);
        // The classic coordinator now answers the member (its heartbeat says: rejoin).
        assert_eq!(
            c.classic_heartbeat("g", &j.member_id, None, j.generation),
            None
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_consumer_protocol_member_joining_a_classic_group_upgrades_it() {
        let d = tempfile::tempdir().unwrap();
        let c = coordinator(d.path());
        let topics = vec![topic("t", 2)];
        let classic = c.classic.clone();
        let first = match classic.join(classic_req("", &["t"])) {
            super::super::group::Pending::Ready(r) => r,
            super::super::group::Pending::Wait(rx) => rx.await.unwrap(),
        };
        let joined = match classic.join(classic_req(&first.member_id, &["t"])) {
            super::super::group::Pending::Ready(r) => r,
            super::super::group::Pending::Wait(rx) => rx.await.unwrap(),
        };
        assert_eq!(joined.error, None);
        let id = joined.member_id.clone();
        let everything = cp::encode_assignment(0, &vec![("t".to_string(), vec![0, 1])]);
        let synced = match classic.sync(
            "g",
            &id,
            joined.generation,
            None,
            None,
            vec![(id.clone(), everything)],
        ) {
            super::super::group::Pending::Ready(r) => r,
            super::super::group::Pending::Wait(rx) => rx.await.unwrap(),
        };
        assert_eq!(synced.error, None);
        // The KIP-848 member joins: the group converts at the classic generation.
        let b = c.heartbeat(join_req("b", &["t"]), &topics, true);
        assert_eq!(b.error, None);
        assert_eq!(b.member_epoch, joined.generation + 1);
        assert_eq!(
            count(b.assignment.as_ref().unwrap()),
            0,
            "the classic member owns both"
        );
        assert!(!classic.has_members("g"));
        let g = c.describe("g").unwrap();
        let m = g.members.iter().find(|(m, _)| m.member_id == id).unwrap();
        assert_eq!(m.0.member_epoch, joined.generation);
        assert_eq!(count(&m.0.assigned), 2);
        // The classic member must rejoin; as an eager member it owns nothing when it does and
        // takes the new epoch at once.
        assert_eq!(
            c.classic_heartbeat("g", &id, None, joined.generation)
                .unwrap(),
            Some(KafkaError::RebalanceInProgress)
        );
        let j = c.classic_join(&classic_req(&id, &["t"]), &topics).unwrap();
        assert_eq!(j.generation, joined.generation + 1);
        let s = c
            .classic_sync("g", &id, None, j.generation, None, None, &topics)
            .unwrap();
        assert_eq!(partitions_of(&s.assignment), 1);
        // Disabled migration: a classic group with members is not a consumer group.
        let config = ConsumerGroupConfig {
            migration_policy: MigrationPolicy::Disabled,
            ..Default::default()
        };
        let strict = ConsumerGroupCoordinator::new(config, c.classic.clone());
        let mut other = join_req("x", &["t"]);
        other.group_id = "h".into();
        let h = match classic.join(JoinRequest {
            group_id: "h".into(),
            ..classic_req("", &["t"])
        }) {
            super::super::group::Pending::Ready(r) => r,
            super::super::group::Pending::Wait(rx) => rx.await.unwrap(),
        };
        let _ = classic.join(JoinRequest {
            group_id: "h".into(),
            ..classic_req(&h.member_id, &["t"])
        });
        assert_eq!(
            strict.heartbeat(other, &topics, true).error.map(|e| e.0),
            Some(KafkaError::GroupIdNotFound)
        );
    }

    #[test]
    fn range_and_uniform_balance() {
        let t = Uuid::new_v4();
        let members = vec![
            ("m1".to_string(), vec![(t, 5)]),
            ("m2".to_string(), vec![(t, 5)]),
        ];
        let r = assign_range(&members);
        assert_eq!(r["m1"][&t], BTreeSet::from([0, 1, 2]));
        assert_eq!(r["m2"][&t], BTreeSet::from([3, 4]));
        let u = assign_uniform(&members, &HashMap::new());
        let (a, b) = (count(&u["m1"]), count(&u["m2"]));
        assert_eq!(a + b, 5);
        assert!(a.abs_diff(b) <= 1);
    }

    #[test]
    fn member_ids_are_22_url_safe_characters() {
        let id = new_member_id();
        assert_eq!(id.len(), 22);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}
