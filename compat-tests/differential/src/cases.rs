//! The cases: fixed request sequences, mostly error paths, each printed step by step.
//!
//! Every step prints `### N title (Api vV)` and the normalized response. Setup waits (a new
//! topic's leader becoming available) poll with a bound and print nothing, so that timing never
//! shows in a transcript.

use crate::client::Client;
use crate::normalize::Normalizer;
use anyhow::{bail, Result};
use bytes::Bytes;
use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions as HbTopicPartitions;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::describe_producers_request::TopicRequest as ProducersTopic;
use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, DescribeProducersRequest,
    DescribeTransactionsRequest, EndTxnRequest, ListTransactionsRequest, TxnOffsetCommitRequest,
};
use kafka_protocol::messages::{
    AlterConfigsRequest, ApiKey, BrokerId, ConsumerGroupDescribeRequest,
    ConsumerGroupHeartbeatRequest, CreatePartitionsRequest, CreateTopicsRequest,
    DeleteGroupsRequest, DeleteRecordsRequest, DeleteTopicsRequest, DescribeClusterRequest,
    DescribeConfigsRequest, DescribeGroupsRequest, DescribeLogDirsRequest,
    DescribeTopicPartitionsRequest, FetchRequest, FindCoordinatorRequest, GroupId,
    HeartbeatRequest, IncrementalAlterConfigsRequest, InitProducerIdRequest, JoinGroupRequest,
    LeaveGroupRequest, ListGroupsRequest, ListOffsetsRequest, MetadataRequest, OffsetCommitRequest,
    OffsetDeleteRequest, OffsetFetchRequest, ProduceRequest, ProducerId, ResponseKind,
    SyncGroupRequest, TopicName, TransactionalId,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, ElectLeadersRequest, ListPartitionReassignmentsRequest,
    OffsetForLeaderEpochRequest,
};
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use kafka_protocol::protocol::{Encodable, StrBytes};
use sluice_protocol::batch::{encode_batch_with, KeyValue, RecordBatch};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

type Case = fn(&mut Ctx) -> Result<()>;

pub const CASES: &[(&str, Case)] = &[
    ("topics", topics),
    ("produce", produce),
    ("idempotence", idempotence),
    ("transactional-ids", transactional_ids),
    ("transactions", transactions),
    ("transactions-v2", transactions_v2),
    ("acls", acls),
    ("fetch", fetch),
    ("offsets", offsets),
    ("offsets-edge", offsets_edge),
    ("groups", groups),
    ("configs", configs),
    ("cluster", cluster),
    ("leadership", leadership),
    ("consumer-groups", consumer_groups),
    ("consumer-groups-migration", consumer_groups_migration),
    ("consumer-group-to-classic", consumer_group_to_classic),
];

/// Record timestamps: fixed, so that ListOffsets by time is deterministic (2023-11-14).
const TS: i64 = 1_700_000_000_000;

pub struct Ctx {
    client: Client,
    prefix: String,
    norm: Normalizer,
    step: usize,
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn topic_name(v: &str) -> TopicName {
    TopicName(s(v))
}

fn batch(records: &[(&str, &str)], ts: i64, pid: i64, epoch: i16, seq: i32, attrs: i16) -> Bytes {
    let kv: Vec<KeyValue<'_>> = records
        .iter()
        .map(|(k, v)| (Some(k.as_bytes()), Some(v.as_bytes())))
        .collect();
    Bytes::from(encode_batch_with(&kv, ts, attrs, pid, epoch, seq))
}

fn plain(records: &[(&str, &str)]) -> Bytes {
    batch(records, TS, -1, -1, -1, 0)
}

/// ConsumerProtocolSubscription v0 for `topic` (the classic consumer's JoinGroup metadata;
/// Kafka parses it).
fn subscription(topic: &str) -> Bytes {
    let mut b = Vec::new();
    b.extend_from_slice(&0i16.to_be_bytes());
    b.extend_from_slice(&1i32.to_be_bytes());
    b.extend_from_slice(&(topic.len() as i16).to_be_bytes());
    b.extend_from_slice(topic.as_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes());
    Bytes::from(b)
}

/// ConsumerProtocolAssignment v0 giving `partitions` of `topic`.
fn assignment(topic: &str, partitions: &[i32]) -> Bytes {
    let mut b = Vec::new();
    b.extend_from_slice(&0i16.to_be_bytes());
    b.extend_from_slice(&1i32.to_be_bytes());
    b.extend_from_slice(&(topic.len() as i16).to_be_bytes());
    b.extend_from_slice(topic.as_bytes());
    b.extend_from_slice(&(partitions.len() as i32).to_be_bytes());
    for p in partitions {
        b.extend_from_slice(&p.to_be_bytes());
    }
    b.extend_from_slice(&(-1i32).to_be_bytes());
    Bytes::from(b)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Ctx {
    pub fn connect(addr: &str, prefix: &str) -> Result<Self> {
        Ok(Self {
            client: Client::connect(addr)?,
            prefix: prefix.to_string(),
            norm: Normalizer::default(),
            step: 0,
        })
    }

    fn name(&self, what: &str) -> String {
        format!("{}-{what}", self.prefix)
    }

    /// Sends a request and prints the normalized response.
    fn show<B: Encodable>(
        &mut self,
        title: &str,
        api: ApiKey,
        version: i16,
        body: &B,
    ) -> Result<ResponseKind> {
        let mut response = self.client.send(api, version, body)?;
        self.step += 1;
        println!("### {} {title} ({api:?} v{version})", self.step);
        let records = take_records(&mut response);
        print!("{}", self.norm.dump(&response));
        for line in records {
            println!("{line}");
        }
        Ok(response)
    }

    /// Like [`show`](Self::show) for a version newer than the codec whose layout equals
    /// `codec_version`'s.
    fn show_as<B: Encodable>(
        &mut self,
        title: &str,
        api: ApiKey,
        version: i16,
        codec_version: i16,
        body: &B,
    ) -> Result<ResponseKind> {
        let mut response = self.client.send_as(api, version, codec_version, body)?;
        self.step += 1;
        println!("### {} {title} ({api:?} v{version})", self.step);
        let records = take_records(&mut response);
        print!("{}", self.norm.dump(&response));
        for line in records {
            println!("{line}");
        }
        Ok(response)
    }

    /// ListGroups v5 showing only the groups whose ids start with `prefix` (the brokers hold
    /// other cases' and suites' groups), sorted (Kafka lists them in hash order).
    fn show_run_groups(
        &mut self,
        title: &str,
        prefix: &str,
        req: &ListGroupsRequest,
    ) -> Result<()> {
        let mut r = self.client.send(ApiKey::ListGroups, 5, req)?;
        if let ResponseKind::ListGroups(l) = &mut r {
            l.groups.retain(|g| g.group_id.0.starts_with(prefix));
            l.groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        }
        self.step += 1;
        println!(
            "### {} {title} (ListGroups v5, this run's groups only)",
            self.step
        );
        print!("{}", self.norm.dump(&r));
        Ok(())
    }

    fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> Result<()> {
        let topic = CreatableTopic::default()
            .with_name(topic_name(name))
            .with_num_partitions(partitions)
            .with_replication_factor(1)
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name(s(k))
                            .with_value(Some(s(v)))
                    })
                    .collect(),
            );
        let req = CreateTopicsRequest::default()
            .with_topics(vec![topic])
            .with_timeout_ms(30_000);
        self.show(
            &format!("create topic {name}"),
            ApiKey::CreateTopics,
            7,
            &req,
        )?;
        self.wait_ready(name, partitions)
    }

    /// Waits (bounded, silently) until every partition of `name` answers ListOffsets.
    fn wait_ready(&mut self, name: &str, partitions: i32) -> Result<()> {
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(topic_name(name))
                .with_partitions(
                    (0..partitions)
                        .map(|p| {
                            ListOffsetsPartition::default()
                                .with_partition_index(p)
                                .with_timestamp(-1)
                        })
                        .collect(),
                )]);
        for _ in 0..300 {
            if let ResponseKind::ListOffsets(r) = self.client.send(ApiKey::ListOffsets, 7, &req)? {
                if r.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .all(|p| p.error_code == 0)
                    && !r.topics.is_empty()
                {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("topic {name} did not become ready within 15 s")
    }

    fn produce(
        &mut self,
        title: &str,
        topic: &str,
        partition: i32,
        acks: i16,
        records: Bytes,
    ) -> Result<ResponseKind> {
        let req = ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name(topic))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(records))])]);
        self.show(title, ApiKey::Produce, 11, &req)
    }

    fn list_offset(
        &mut self,
        title: &str,
        topic: &str,
        partition: i32,
        timestamp: i64,
    ) -> Result<ResponseKind> {
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(partition)
                    .with_timestamp(timestamp)])]);
        self.show(title, ApiKey::ListOffsets, 8, &req)
    }

    fn fetch(
        &mut self,
        title: &str,
        topic: &str,
        topic_id: Option<Uuid>,
        partition: i32,
        offset: i64,
    ) -> Result<ResponseKind> {
        let (version, t) = match topic_id {
            Some(id) => (13, FetchTopic::default().with_topic_id(id)),
            None => (12, FetchTopic::default().with_topic(topic_name(topic))),
        };
        let req = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(vec![t.with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])]);
        self.show(title, ApiKey::Fetch, version, &req)
    }

    /// Waits (bounded, silently) until the coordinator of `group` is found and loaded: Kafka
    /// creates __consumer_offsets on the first FindCoordinator and answers
    /// COORDINATOR_NOT_AVAILABLE / NOT_COORDINATOR until its partitions are loaded.
    fn wait_coordinator(&mut self, group: &str) -> Result<()> {
        let find = FindCoordinatorRequest::default()
            .with_key_type(0)
            .with_coordinator_keys(vec![s(group)]);
        let describe = DescribeGroupsRequest::default().with_groups(vec![GroupId(s(group))]);
        for _ in 0..600 {
            let found = matches!(
                self.client.send(ApiKey::FindCoordinator, 4, &find)?,
                ResponseKind::FindCoordinator(r) if r.coordinators.iter().all(|c| c.error_code == 0)
            );
            let loaded = found
                && matches!(
                    self.client.send(ApiKey::DescribeGroups, 5, &describe)?,
                    ResponseKind::DescribeGroups(r) if r.groups.iter().all(|g| g.error_code == 0)
                );
            if loaded {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("the coordinator of group {group} was not available within 30 s")
    }

    /// Waits (bounded, silently) while InitProducerId answers a retriable coordinator error
    /// (Kafka's first call can get COORDINATOR_LOAD_IN_PROGRESS while it fetches an id block).
    fn wait_producer_ids(&mut self, req: &InitProducerIdRequest) -> Result<()> {
        for _ in 0..600 {
            match self.client.send(ApiKey::InitProducerId, 4, req)? {
                ResponseKind::InitProducerId(r) if r.error_code == 14 || r.error_code == 15 => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => return Ok(()),
            }
        }
        bail!("InitProducerId kept answering a coordinator error for 30 s")
    }

    /// Produce v11 with a transactional id.
    fn produce_txn(
        &mut self,
        title: &str,
        txn: &str,
        topic: &str,
        partition: i32,
        records: Bytes,
    ) -> Result<ResponseKind> {
        self.produce_txn_v(title, 11, txn, topic, partition, records)
    }

    fn produce_txn_v(
        &mut self,
        title: &str,
        version: i16,
        txn: &str,
        topic: &str,
        partition: i32,
        records: Bytes,
    ) -> Result<ResponseKind> {
        let req = ProduceRequest::default()
            .with_transactional_id(Some(TransactionalId(s(txn))))
            .with_acks(-1)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name(topic))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(records))])]);
        self.show(title, ApiKey::Produce, version, &req)
    }

    fn list_offset_isolated(
        &mut self,
        title: &str,
        topic: &str,
        partition: i32,
        isolation: i8,
    ) -> Result<ResponseKind> {
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_isolation_level(isolation)
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(partition)
                    .with_timestamp(-1)])]);
        self.show(title, ApiKey::ListOffsets, 8, &req)
    }

    fn fetch_isolated(
        &mut self,
        title: &str,
        topic: &str,
        partition: i32,
        isolation: i8,
    ) -> Result<ResponseKind> {
        self.fetch_isolated_from(title, topic, partition, 0, isolation)
    }

    fn fetch_isolated_from(
        &mut self,
        title: &str,
        topic: &str,
        partition: i32,
        offset: i64,
        isolation: i8,
    ) -> Result<ResponseKind> {
        let req = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_isolation_level(isolation)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(topic_name(topic))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(partition)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(1 << 20)])]);
        self.show(title, ApiKey::Fetch, 12, &req)
    }

    /// Waits (bounded, silently) until the transaction coordinator of `txn` is found and
    /// InitProducerId stops answering coordinator errors (Kafka creates __transaction_state on
    /// the first FindCoordinator and loads its partitions).
    fn wait_txn_coordinator(&mut self, txn: &str, init: &InitProducerIdRequest) -> Result<()> {
        let find = FindCoordinatorRequest::default()
            .with_key_type(1)
            .with_coordinator_keys(vec![s(txn)]);
        for _ in 0..600 {
            let found = matches!(
                self.client.send(ApiKey::FindCoordinator, 4, &find)?,
                ResponseKind::FindCoordinator(r) if r.coordinators.iter().all(|c| c.error_code == 0)
            );
            if found {
                // A throwaway id in the same coordinator: its first InitProducerId may get
                // COORDINATOR_LOAD_IN_PROGRESS / NOT_COORDINATOR while partitions load.
                let probe = init
                    .clone()
                    .with_transactional_id(Some(TransactionalId(s(&format!("{txn}-probe")))));
                match self.client.send(ApiKey::InitProducerId, 4, &probe)? {
                    ResponseKind::InitProducerId(r) if [14, 15, 16].contains(&r.error_code) => {}
                    _ => return Ok(()),
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("the transaction coordinator of {txn} was not available within 30 s")
    }

    /// Waits (bounded, silently) until `txn` has finished writing its markers (Kafka completes
    /// a transaction asynchronously after answering EndTxn).
    fn wait_txn_complete(&mut self, txn: &str) -> Result<()> {
        let req = DescribeTransactionsRequest::default()
            .with_transactional_ids(vec![TransactionalId(s(txn))]);
        for _ in 0..600 {
            if let ResponseKind::DescribeTransactions(r) =
                self.client.send(ApiKey::DescribeTransactions, 0, &req)?
            {
                if r.transaction_states
                    .iter()
                    .all(|t| t.transaction_state.starts_with("Complete"))
                {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("transaction {txn} did not complete within 30 s")
    }

    /// Retries (bounded, silently) an InitProducerId answered CONCURRENT_TRANSACTIONS (a fenced
    /// transaction is being aborted) and returns the epoch it finally gets.
    fn wait_txn_init(&mut self, init: &InitProducerIdRequest) -> Result<i16> {
        for _ in 0..600 {
            match self.client.send(ApiKey::InitProducerId, 4, init)? {
                ResponseKind::InitProducerId(r) if r.error_code == 51 => {}
                ResponseKind::InitProducerId(r) if r.error_code == 0 => return Ok(r.producer_epoch),
                ResponseKind::InitProducerId(r) => {
                    bail!("InitProducerId answered error {}", r.error_code)
                }
                _ => bail!("unexpected response to InitProducerId"),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("InitProducerId kept answering CONCURRENT_TRANSACTIONS for 30 s")
    }

    fn topic_id(&mut self, name: &str) -> Result<Uuid> {
        let req = MetadataRequest::default()
            .with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(topic_name(name)))
            ]))
            .with_allow_auto_topic_creation(false);
        match self.client.send(ApiKey::Metadata, 12, &req)? {
            ResponseKind::Metadata(r) => match r.topics.first() {
                Some(t) => Ok(t.topic_id),
                None => bail!("no metadata for {name}"),
            },
            _ => bail!("unexpected response to Metadata"),
        }
    }
}

/// Replaces the record bytes of a Fetch response by a readable summary (batch headers, then
/// offset/key/value per record) and returns it; other responses are left alone.
fn take_records(response: &mut ResponseKind) -> Vec<String> {
    let mut out = Vec::new();
    if let ResponseKind::DescribeConfigs(r) = response {
        // Kafka lists a resource's configs in the iteration order of a Java HashMap; the order
        // carries no meaning (clients key them by name), so both sides are sorted by name.
        for result in &mut r.results {
            result.configs.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }
    // Kafka answers the entries of these from futures completing in any order (observed both
    // ways on one broker); the order carries no meaning, so both sides are sorted.
    if let ResponseKind::DeleteTopics(r) = response {
        r.responses
            .sort_by(|a, b| (&a.name, a.topic_id).cmp(&(&b.name, b.topic_id)));
    }
    if let ResponseKind::DescribeLogDirs(r) = response {
        for dir in &mut r.results {
            for t in &mut dir.topics {
                t.partitions.sort_by_key(|p| p.partition_index);
            }
            dir.topics.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }
    if let ResponseKind::ConsumerGroupDescribe(r) = response {
        r.groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        // Members come from a hash map keyed by (random) member ids: sorted by what the
        // cases make differ between members.
        for g in &mut r.groups {
            g.members.sort_by(|a, b| {
                (a.member_type, &a.instance_id, &a.client_id).cmp(&(
                    b.member_type,
                    &b.instance_id,
                    &b.client_id,
                ))
            });
        }
    }
    if let ResponseKind::ListGroups(r) = response {
        r.groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    }
    if let ResponseKind::DescribeTransactions(r) = response {
        for t in &mut r.transaction_states {
            t.topics.sort_by(|a, b| a.topic.cmp(&b.topic));
            for d in &mut t.topics {
                d.partitions.sort();
                // The group's offsets partition hashes the (per-run) group id.
                if d.topic.as_str() == "__consumer_offsets" {
                    d.partitions = vec![-100];
                }
            }
        }
    }
    if let ResponseKind::AddPartitionsToTxn(r) = response {
        // Kafka builds these from hash maps; the order carries no meaning.
        let topics = r.results_by_topic_v3_and_below.iter_mut().chain(
            r.results_by_transaction
                .iter_mut()
                .flat_map(|t| t.topic_results.iter_mut()),
        );
        for t in topics {
            t.results_by_partition.sort_by_key(|p| p.partition_index);
        }
        r.results_by_topic_v3_and_below
            .sort_by(|a, b| a.name.cmp(&b.name));
        for t in &mut r.results_by_transaction {
            t.topic_results.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }
    if let ResponseKind::DeleteGroups(r) = response {
        r.results.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    }
    let ResponseKind::Fetch(fetch) = response else {
        return out;
    };
    for topic in &mut fetch.responses {
        for p in &mut topic.partitions {
            let Some(bytes) = p.records.take() else {
                out.push(format!("records of partition {}: null", p.partition_index));
                continue;
            };
            out.push(format!(
                "records of partition {}: {} bytes",
                p.partition_index,
                bytes.len()
            ));
            let mut rest: &[u8] = &bytes;
            while !rest.is_empty() {
                let b = match RecordBatch::parse(rest) {
                    Ok(b) => b,
                    Err(e) => {
                        out.push(format!("  unparsable batch: {e}"));
                        break;
                    }
                };
                // A control batch is stamped with the broker's clock.
                let control = b.attributes() & 0x20 != 0;
                let ts = |t: i64| {
                    if control {
                        "<broker-time>".to_string()
                    } else {
                        t.to_string()
                    }
                };
                out.push(format!(
                    "  batch offsets {}..={} leader_epoch {} attributes {} producer {}/{} seq {} records {} max_ts {}",
                    b.base_offset(),
                    b.last_offset(),
                    b.partition_leader_epoch(),
                    b.attributes(),
                    if b.producer_id() < 0 { "none".to_string() } else { "set".to_string() },
                    b.producer_epoch(),
                    b.base_sequence(),
                    b.records_count(),
                    ts(b.max_timestamp())
                ));
                if b.attributes() & 0x7 == 0 {
                    for r in sluice_protocol::records::records(b.records()) {
                        match r {
                            Ok(r) => out.push(format!(
                                "    offset {} ts {} key {:?} value {:?}",
                                b.base_offset() + i64::from(r.offset_delta),
                                ts(b.base_timestamp() + r.timestamp_delta),
                                r.key.map(String::from_utf8_lossy),
                                r.value.map(String::from_utf8_lossy)
                            )),
                            Err(e) => out.push(format!("    bad record: {e}")),
                        }
                    }
                }
                rest = &rest[b.size()..];
            }
        }
    }
    out
}

// ------------------------------------------------------------------------------------------
// Cases

/// CreateTopics / DeleteTopics / Metadata / CreatePartitions error paths.
fn topics(c: &mut Ctx) -> Result<()> {
    let bad = |name: String, partitions: i32, rf: i16, configs: &[(&str, &str)]| {
        CreatableTopic::default()
            .with_name(topic_name(&name))
            .with_num_partitions(partitions)
            .with_replication_factor(rf)
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name(s(k))
                            .with_value(Some(s(v)))
                    })
                    .collect(),
            )
    };
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![
            bad(c.name("zero-partitions"), 0, 1, &[]),
            bad(c.name("minus-two-partitions"), -2, 1, &[]),
            bad(c.name("rf-three"), 1, 3, &[]),
            bad(c.name("rf-zero"), 1, 0, &[]),
            bad(c.name("bad-retention"), 1, 1, &[("retention.ms", "abc")]),
            bad(c.name("unknown-config"), 1, 1, &[("no.such.config", "1")]),
            bad(c.name("bad-policy"), 1, 1, &[("cleanup.policy", "shred")]),
            bad(c.name("bad-min-isr"), 1, 1, &[("min.insync.replicas", "0")]),
            bad(format!("{}-bad/name", c.prefix), 1, 1, &[]),
            bad("x".repeat(250), 1, 1, &[]),
            bad(".".into(), 1, 1, &[]),
        ]);
    c.show(
        "create topics with invalid settings",
        ApiKey::CreateTopics,
        7,
        &req,
    )?;

    let req = CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_validate_only(true)
        .with_topics(vec![
            bad(
                c.name("validate-only"),
                3,
                1,
                &[("cleanup.policy", "compact")],
            ),
            bad(
                c.name("validate-only-bad"),
                1,
                1,
                &[("segment.bytes", "10")],
            ),
        ]);
    c.show(
        "create topics, validate_only",
        ApiKey::CreateTopics,
        7,
        &req,
    )?;

    // Manual assignments: any order (Kafka takes them as a map), each partition once, 0..n-1.
    let manual = |name: String, indexes: &[i32]| {
        CreatableTopic::default()
            .with_name(topic_name(&name))
            .with_num_partitions(-1)
            .with_replication_factor(-1)
            .with_assignments(
                indexes
                    .iter()
                    .map(|i| {
                        CreatableReplicaAssignment::default()
                            .with_partition_index(*i)
                            .with_broker_ids(vec![BrokerId(1)])
                    })
                    .collect(),
            )
    };
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_validate_only(true)
        .with_topics(vec![
            manual(c.name("manual-out-of-order"), &[2, 0, 1]),
            manual(c.name("manual-duplicate"), &[0, 1, 1]),
            manual(c.name("manual-gap"), &[0, 2]),
        ]);
    c.show(
        "manual assignments out of order, duplicated, with a gap (validate_only)",
        ApiKey::CreateTopics,
        7,
        &req,
    )?;

    let dup = c.name("dup");
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![bad(dup.clone(), 1, 1, &[]), bad(dup, 2, 1, &[])]);
    c.show(
        "the same name twice in one request",
        ApiKey::CreateTopics,
        7,
        &req,
    )?;

    let t = c.name("t");
    c.create_topic(
        &t,
        2,
        &[("cleanup.policy", "compact"), ("retention.ms", "12345")],
    )?;
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![bad(t.clone(), 2, 1, &[])]);
    c.show("create an existing topic", ApiKey::CreateTopics, 7, &req)?;

    let md = |names: Vec<String>| {
        MetadataRequest::default()
            .with_topics(Some(
                names
                    .into_iter()
                    .map(|n| MetadataRequestTopic::default().with_name(Some(topic_name(&n))))
                    .collect(),
            ))
            .with_allow_auto_topic_creation(false)
    };
    let req = md(vec![
        t.clone(),
        c.name("missing"),
        format!("{}-bad/name", c.prefix),
    ]);
    c.show(
        "metadata: existing, missing, invalid name",
        ApiKey::Metadata,
        12,
        &req,
    )?;
    let req = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_topic_id(Uuid::from_u128(0x1234))
        ]))
        .with_allow_auto_topic_creation(false);
    c.show("metadata: unknown topic id", ApiKey::Metadata, 12, &req)?;

    let cp = |name: &str, count: i32| {
        CreatePartitionsTopic::default()
            .with_name(topic_name(name))
            .with_count(count)
    };
    let req = CreatePartitionsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![cp(&t, 1), cp(&t, 2), cp(&c.name("missing"), 3)]);
    c.show(
        "create partitions: one topic twice, and an unknown topic",
        ApiKey::CreatePartitions,
        3,
        &req,
    )?;
    for (count, what) in [(1, "fewer"), (2, "the same number of")] {
        let req = CreatePartitionsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(vec![cp(&t, count)]);
        c.show(
            &format!("create partitions: {what} partitions"),
            ApiKey::CreatePartitions,
            3,
            &req,
        )?;
    }
    let req = CreatePartitionsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![cp(&t, 4).with_assignments(Some(vec![
            CreatePartitionsAssignment::default().with_broker_ids(vec![BrokerId(7)]),
            CreatePartitionsAssignment::default().with_broker_ids(vec![BrokerId(1)]),
        ]))]);
    c.show(
        "create partitions: assignment to an unknown broker",
        ApiKey::CreatePartitions,
        3,
        &req,
    )?;
    let req = CreatePartitionsRequest::default()
        .with_timeout_ms(30_000)
        .with_validate_only(true)
        .with_topics(vec![cp(&t, 5)]);
    c.show(
        "create partitions: validate_only",
        ApiKey::CreatePartitions,
        3,
        &req,
    )?;
    c.show(
        "metadata after validate_only (still 2 partitions)",
        ApiKey::Metadata,
        12,
        &md(vec![t.clone()]),
    )?;

    let req = DeleteTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![
            DeleteTopicState::default().with_name(Some(topic_name(&c.name("missing")))),
            DeleteTopicState::default().with_topic_id(Uuid::from_u128(0x5678)),
        ]);
    c.show(
        "delete unknown topic name and id",
        ApiKey::DeleteTopics,
        6,
        &req,
    )?;
    let req = DeleteTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![
            DeleteTopicState::default().with_name(Some(topic_name(&t)))
        ]);
    c.show("delete the topic", ApiKey::DeleteTopics, 6, &req)?;
    Ok(())
}

/// Produce error paths for plain producers.
fn produce(c: &mut Ctx) -> Result<()> {
    let t = c.name("p");
    c.create_topic(&t, 1, &[("max.message.bytes", "2000")])?;
    c.produce(
        "two records",
        &t,
        0,
        -1,
        plain(&[("k1", "v1"), ("k2", "v2")]),
    )?;
    c.produce("acks=1", &t, 0, 1, plain(&[("k3", "v3")]))?;
    c.produce("acks=2 (invalid)", &t, 0, 2, plain(&[("k", "v")]))?;
    c.produce("unknown partition", &t, 3, -1, plain(&[("k", "v")]))?;
    c.produce(
        "unknown topic",
        &c.name("missing"),
        0,
        -1,
        plain(&[("k", "v")]),
    )?;
    let mut corrupt = plain(&[("k", "v")]).to_vec();
    if let Some(last) = corrupt.last_mut() {
        *last ^= 0xff;
    }
    c.produce("corrupt CRC", &t, 0, -1, Bytes::from(corrupt))?;
    let big = "x".repeat(3000);
    c.produce(
        "record above max.message.bytes",
        &t,
        0,
        -1,
        plain(&[("k", big.as_str())]),
    )?;
    let future = now_ms() + 2 * 86_400_000;
    c.produce(
        "timestamp two days ahead",
        &t,
        0,
        -1,
        batch(&[("k", "v")], future, -1, -1, -1, 0),
    )?;
    c.produce(
        "transactional batch without a transaction",
        &t,
        0,
        -1,
        batch(&[("k", "v")], TS, 4242, 0, 0, 0x10),
    )?;
    c.produce(
        "control batch from a client",
        &t,
        0,
        -1,
        batch(&[("k", "v")], TS, -1, -1, -1, 0x20),
    )?;
    c.list_offset("end offset", &t, 0, -1)?;
    c.fetch("everything", &t, None, 0, 0)?;
    Ok(())
}

/// Idempotent producer sequence and epoch checks.
fn idempotence(c: &mut Ctx) -> Result<()> {
    let t = c.name("idem");
    c.create_topic(&t, 1, &[])?;
    let req = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    c.wait_producer_ids(&req)?;
    let (pid, epoch) = match c.show("init producer id", ApiKey::InitProducerId, 4, &req)? {
        ResponseKind::InitProducerId(r) => (r.producer_id.0, r.producer_epoch),
        _ => bail!("unexpected response to InitProducerId"),
    };
    let rec = |n: usize| -> Vec<(&'static str, &'static str)> {
        [("a", "1"), ("b", "2"), ("c", "3")][..n].to_vec()
    };
    c.produce(
        "seq 0, 2 records",
        &t,
        0,
        -1,
        batch(&rec(2), TS, pid, epoch, 0, 0),
    )?;
    c.produce(
        "the same batch again (duplicate)",
        &t,
        0,
        -1,
        batch(&rec(2), TS, pid, epoch, 0, 0),
    )?;
    c.produce(
        "seq 2, 1 record",
        &t,
        0,
        -1,
        batch(&rec(1), TS, pid, epoch, 2, 0),
    )?;
    c.produce(
        "seq 5 (gap)",
        &t,
        0,
        -1,
        batch(&rec(1), TS, pid, epoch, 5, 0),
    )?;
    c.produce(
        "seq 1 (older, not among the cached batches' starts)",
        &t,
        0,
        -1,
        batch(&rec(1), TS, pid, epoch, 1, 0),
    )?;
    c.produce(
        "epoch + 1, seq 0",
        &t,
        0,
        -1,
        batch(&rec(1), TS, pid, epoch + 1, 0, 0),
    )?;
    c.produce(
        "old epoch after the bump",
        &t,
        0,
        -1,
        batch(&rec(1), TS, pid, epoch, 3, 0),
    )?;
    c.produce(
        "epoch + 2, seq 4 (new epoch must start at 0)",
        &t,
        0,
        -1,
        batch(&rec(1), TS, pid, epoch + 2, 4, 0),
    )?;
    c.produce(
        "unknown producer id, seq 7",
        &t,
        0,
        -1,
        batch(&rec(1), TS, pid + 1_000_000, 0, 7, 0),
    )?;
    c.produce(
        "unknown producer id, seq 0",
        &t,
        0,
        -1,
        batch(&rec(1), TS, pid + 1_000_001, 0, 0, 0),
    )?;
    c.list_offset("end offset", &t, 0, -1)?;
    c.fetch("everything", &t, None, 0, 0)?;
    Ok(())
}

/// InitProducerId / transactional-id error paths.
fn transactional_ids(c: &mut Ctx) -> Result<()> {
    let empty = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s(""))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    c.show(
        "init producer id with an empty transactional id",
        ApiKey::InitProducerId,
        4,
        &empty,
    )?;
    Ok(())
}

/// Transactions (client protocol version 1: AddPartitionsToTxn v3, EndTxn v3, Produce v11):
/// the coordinator's state machine and error paths, partition verification, markers,
/// read_committed reads, transactional offsets and the admin views.
fn transactions(c: &mut Ctx) -> Result<()> {
    let t = c.name("txn");
    let txn = c.name("txn-id");
    let group = c.name("txn-group");
    c.create_topic(&t, 2, &[])?;
    c.wait_coordinator(&group)?;
    let init = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s(&txn))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    c.wait_txn_coordinator(&txn, &init)?;
    let too_long = init.clone().with_transaction_timeout_ms(900_001);
    c.show(
        "init producer id, timeout over transaction.max.timeout.ms",
        ApiKey::InitProducerId,
        4,
        &too_long,
    )?;
    let (pid, epoch) = match c.show("init producer id", ApiKey::InitProducerId, 4, &init)? {
        ResponseKind::InitProducerId(r) => (r.producer_id.0, r.producer_epoch),
        _ => bail!("unexpected response to InitProducerId"),
    };
    let add = |txn: &str, pid: i64, epoch: i16, parts: &[(&str, i32)]| {
        let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
        for (name, p) in parts {
            match topics.iter_mut().find(|x| x.name.as_str() == *name) {
                Some(x) => x.partitions.push(*p),
                None => topics.push(
                    AddPartitionsToTxnTopic::default()
                        .with_name(topic_name(name))
                        .with_partitions(vec![*p]),
                ),
            }
        }
        AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(s(txn)))
            .with_v3_and_below_producer_id(ProducerId(pid))
            .with_v3_and_below_producer_epoch(epoch)
            .with_v3_and_below_topics(topics)
    };
    let txn_batch = |seq: i32, e: i16, v: &str| batch(&[("k", v)], TS, pid, e, seq, 0x10);
    c.produce_txn(
        "transactional produce before AddPartitionsToTxn",
        &txn,
        &t,
        0,
        txn_batch(0, epoch, "early"),
    )?;
    let missing = c.name("missing");
    c.show(
        "add partitions, one of an unknown topic",
        ApiKey::AddPartitionsToTxn,
        3,
        &add(&txn, pid, epoch, &[(&t, 0), (&missing, 0)]),
    )?;
    c.show(
        "add partitions, wrong epoch",
        ApiKey::AddPartitionsToTxn,
        3,
        &add(&txn, pid, epoch + 1, &[(&t, 0)]),
    )?;
    c.show(
        "add partitions, wrong epoch (v1: old error code)",
        ApiKey::AddPartitionsToTxn,
        1,
        &add(&txn, pid, epoch + 1, &[(&t, 0)]),
    )?;
    c.show(
        "add partitions, wrong producer id",
        ApiKey::AddPartitionsToTxn,
        3,
        &add(&txn, pid + 1, epoch, &[(&t, 0)]),
    )?;
    c.show(
        "add partitions, unknown transactional id",
        ApiKey::AddPartitionsToTxn,
        3,
        &add(&c.name("nobody"), pid, epoch, &[(&t, 0)]),
    )?;
    let end = |pid: i64, epoch: i16, commit: bool| {
        EndTxnRequest::default()
            .with_transactional_id(TransactionalId(s(&txn)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_committed(commit)
    };
    c.show(
        "end txn with no transaction (Empty)",
        ApiKey::EndTxn,
        3,
        &end(pid, epoch, true),
    )?;
    c.show(
        "add partitions 0 and 1",
        ApiKey::AddPartitionsToTxn,
        3,
        &add(&txn, pid, epoch, &[(&t, 0), (&t, 1)]),
    )?;
    c.produce_txn("produce to 0", &txn, &t, 0, txn_batch(0, epoch, "c1"))?;
    c.produce_txn(
        "produce to 0, old epoch",
        &txn,
        &t,
        0,
        txn_batch(1, epoch - 1, "old"),
    )?;
    c.list_offset_isolated("latest, read_committed (LSO)", &t, 0, 1)?;
    c.list_offset_isolated("latest, read_uncommitted", &t, 0, 0)?;
    c.fetch_isolated("read_committed during the transaction", &t, 0, 1)?;
    let add_offsets = AddOffsetsToTxnRequest::default()
        .with_transactional_id(TransactionalId(s(&txn)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_group_id(GroupId(s(&group)));
    c.show(
        "add offsets to txn",
        ApiKey::AddOffsetsToTxn,
        3,
        &add_offsets,
    )?;
    let commit = |generation: i32, member: &str| {
        TxnOffsetCommitRequest::default()
            .with_transactional_id(TransactionalId(s(&txn)))
            .with_group_id(GroupId(s(&group)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_generation_id(generation)
            .with_member_id(s(member))
            .with_topics(vec![TxnOffsetCommitRequestTopic::default()
                .with_name(topic_name(&t))
                .with_partitions(vec![
                    TxnOffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(1)
                        .with_committed_leader_epoch(-1),
                    TxnOffsetCommitRequestPartition::default()
                        .with_partition_index(7)
                        .with_committed_offset(1)
                        .with_committed_leader_epoch(-1),
                ])])
    };
    c.show(
        "txn offset commit with a generation to an unknown group",
        ApiKey::TxnOffsetCommit,
        3,
        &commit(3, "m"),
    )?;
    c.show(
        "txn offset commit (simple)",
        ApiKey::TxnOffsetCommit,
        3,
        &commit(-1, ""),
    )?;
    let fetch_offsets = |stable: bool| {
        OffsetFetchRequest::default()
            .with_group_id(GroupId(s(&group)))
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(topic_name(&t))
                .with_partition_indexes(vec![0])]))
            .with_require_stable(stable)
    };
    c.show(
        "offset fetch, require_stable, pending",
        ApiKey::OffsetFetch,
        7,
        &fetch_offsets(true),
    )?;
    c.show(
        "offset fetch, not stable, pending",
        ApiKey::OffsetFetch,
        7,
        &fetch_offsets(false),
    )?;
    let describe = DescribeTransactionsRequest::default().with_transactional_ids(vec![
        TransactionalId(s(&txn)),
        TransactionalId(s(&c.name("nobody"))),
    ]);
    c.show(
        "describe transactions (ongoing)",
        ApiKey::DescribeTransactions,
        0,
        &describe,
    )?;
    let producers = DescribeProducersRequest::default()
        .with_topics(vec![ProducersTopic::default()
            .with_name(topic_name(&t))
            .with_partition_indexes(vec![0, 1, 9])]);
    c.show(
        "describe producers",
        ApiKey::DescribeProducers,
        0,
        &producers,
    )?;
    c.show("commit", ApiKey::EndTxn, 3, &end(pid, epoch, true))?;
    c.wait_txn_complete(&txn)?;
    c.show(
        "commit again (retry)",
        ApiKey::EndTxn,
        3,
        &end(pid, epoch, true),
    )?;
    c.show(
        "abort after commit",
        ApiKey::EndTxn,
        3,
        &end(pid, epoch, false),
    )?;
    c.show(
        "offset fetch, require_stable, committed",
        ApiKey::OffsetFetch,
        7,
        &fetch_offsets(true),
    )?;
    c.list_offset_isolated("latest, read_committed after commit", &t, 0, 1)?;
    // From the marker on: a fetch from 0 here gets only the first batch from Kafka 4.3 (both
    // isolation levels, high watermark 2), while Sluice returns both batches; either is a
    // valid answer (clients fetch again from the next offset).
    c.fetch_isolated_from("read_committed after commit, from the marker", &t, 0, 1, 1)?;

    // An aborted transaction.
    c.show(
        "add partition 1",
        ApiKey::AddPartitionsToTxn,
        3,
        &add(&txn, pid, epoch, &[(&t, 1)]),
    )?;
    c.produce_txn("produce to 1", &txn, &t, 1, txn_batch(0, epoch, "a1"))?;
    c.show("abort", ApiKey::EndTxn, 3, &end(pid, epoch, false))?;
    c.wait_txn_complete(&txn)?;
    c.fetch_isolated("read_committed after abort", &t, 1, 1)?;
    c.fetch_isolated("read_uncommitted after abort", &t, 1, 0)?;
    c.show(
        "list transactions (CompleteAbort)",
        ApiKey::ListTransactions,
        1,
        &ListTransactionsRequest::default()
            .with_state_filters(vec![s("CompleteAbort"), s("Bogus")])
            .with_producer_id_filters(vec![ProducerId(pid)])
            .with_duration_filter(-1),
    )?;

    // Fencing: a new producer for the same id while a transaction is open.
    c.show(
        "add partition 0 again",
        ApiKey::AddPartitionsToTxn,
        3,
        &add(&txn, pid, epoch, &[(&t, 0)]),
    )?;
    c.produce_txn("produce to 0", &txn, &t, 0, txn_batch(1, epoch, "z1"))?;
    c.show(
        "init producer id while a transaction is open (fences it)",
        ApiKey::InitProducerId,
        4,
        &init,
    )?;
    let fenced_epoch = c.wait_txn_init(&init)?;
    c.show("init producer id again", ApiKey::InitProducerId, 4, &init)?;
    let _ = fenced_epoch;
    c.show(
        "end txn with the fenced epoch",
        ApiKey::EndTxn,
        3,
        &end(pid, epoch, true),
    )?;
    c.show(
        "end txn with the fenced epoch (v1: old error code)",
        ApiKey::EndTxn,
        1,
        &end(pid, epoch, true),
    )?;
    c.produce_txn(
        "produce with the fenced epoch",
        &txn,
        &t,
        0,
        txn_batch(2, epoch, "zombie"),
    )?;
    c.fetch_isolated_from("read_committed after fencing", &t, 0, 2, 1)?;
    c.show(
        "describe transactions (after fencing)",
        ApiKey::DescribeTransactions,
        0,
        &describe,
    )?;
    Ok(())
}

/// Transactions v2 (KIP-890 part 2: Produce v12, TxnOffsetCommit v5, EndTxn v5): implicit
/// partition adds, an epoch bump per EndTxn, retries with the previous epoch, aborts with
/// nothing written, and the batched verify-only AddPartitionsToTxn v5 brokers use.
fn transactions_v2(c: &mut Ctx) -> Result<()> {
    let t = c.name("txn2");
    let txn = c.name("txn2-id");
    let group = c.name("txn2-group");
    c.create_topic(&t, 2, &[])?;
    c.wait_coordinator(&group)?;
    let init = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s(&txn))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    c.wait_txn_coordinator(&txn, &init)?;
    let (pid, e0) = match c.show("init producer id", ApiKey::InitProducerId, 5, &init)? {
        ResponseKind::InitProducerId(r) => (r.producer_id.0, r.producer_epoch),
        _ => bail!("unexpected response to InitProducerId"),
    };
    let txn_batch = |seq: i32, e: i16, v: &str| batch(&[("k", v)], TS, pid, e, seq, 0x10);
    c.produce_txn_v(
        "produce v12 to 0 (implicit add)",
        12,
        &txn,
        &t,
        0,
        txn_batch(0, e0, "x1"),
    )?;
    c.produce_txn_v(
        "produce v11 to 1 (not added: verification)",
        11,
        &txn,
        &t,
        1,
        txn_batch(0, e0, "x2"),
    )?;
    let commit = TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(s(&txn)))
        .with_group_id(GroupId(s(&group)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(e0)
        .with_generation_id(-1)
        .with_member_id(s(""))
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(topic_name(&t))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(3)
                .with_committed_leader_epoch(-1)])]);
    c.show(
        "txn offset commit v5 (implicit add of the offsets partition)",
        ApiKey::TxnOffsetCommit,
        5,
        &commit,
    )?;
    let verify = |e: i16| {
        AddPartitionsToTxnRequest::default().with_transactions(vec![
            AddPartitionsToTxnTransaction::default()
                .with_transactional_id(TransactionalId(s(&txn)))
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(e)
                .with_verify_only(true)
                .with_topics(vec![AddPartitionsToTxnTopic::default()
                    .with_name(topic_name(&t))
                    .with_partitions(vec![0, 1])]),
        ])
    };
    c.show(
        "add partitions v5, verify only",
        ApiKey::AddPartitionsToTxn,
        5,
        &verify(e0),
    )?;
    let describe = DescribeTransactionsRequest::default()
        .with_transactional_ids(vec![TransactionalId(s(&txn))]);
    c.show(
        "describe transactions (ongoing)",
        ApiKey::DescribeTransactions,
        0,
        &describe,
    )?;
    let end = |e: i16, commit: bool| {
        EndTxnRequest::default()
            .with_transactional_id(TransactionalId(s(&txn)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(e)
            .with_committed(commit)
    };
    c.show("commit (v5)", ApiKey::EndTxn, 5, &end(e0, true))?;
    c.wait_txn_complete(&txn)?;
    c.show(
        "commit retry with the old epoch",
        ApiKey::EndTxn,
        5,
        &end(e0, true),
    )?;
    c.show(
        "abort with the old epoch",
        ApiKey::EndTxn,
        5,
        &end(e0, false),
    )?;
    c.show(
        "commit with the new epoch, nothing written",
        ApiKey::EndTxn,
        5,
        &end(e0 + 1, true),
    )?;
    c.show(
        "offset fetch, require_stable",
        ApiKey::OffsetFetch,
        7,
        &OffsetFetchRequest::default()
            .with_group_id(GroupId(s(&group)))
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(topic_name(&t))
                .with_partition_indexes(vec![0])]))
            .with_require_stable(true),
    )?;
    c.fetch_isolated_from("read_committed from the marker", &t, 0, 1, 1)?;
    c.produce_txn_v(
        "produce v12 with the old epoch",
        12,
        &txn,
        &t,
        0,
        txn_batch(1, e0, "x3"),
    )?;
    c.produce_txn_v(
        "produce v12 with the new epoch",
        12,
        &txn,
        &t,
        0,
        txn_batch(0, e0 + 1, "x4"),
    )?;
    c.show("abort (v5)", ApiKey::EndTxn, 5, &end(e0 + 1, false))?;
    c.wait_txn_complete(&txn)?;
    c.fetch_isolated_from("read_committed after the abort", &t, 0, 2, 1)?;
    c.show(
        "abort with nothing written (bumps the epoch)",
        ApiKey::EndTxn,
        5,
        &end(e0 + 2, false),
    )?;
    c.wait_txn_complete(&txn)?;
    c.show(
        "describe transactions (complete)",
        ApiKey::DescribeTransactions,
        0,
        &describe,
    )?;
    c.show(
        "end txn v4 with the current epoch (transactions v1 request)",
        ApiKey::EndTxn,
        4,
        &end(e0 + 3, true),
    )?;
    Ok(())
}

/// The ACL APIs on a broker without an authorizer (Kafka's default configuration).
fn acls(c: &mut Ctx) -> Result<()> {
    let describe = DescribeAclsRequest::default()
        .with_resource_type_filter(1)
        .with_pattern_type_filter(1)
        .with_operation(1)
        .with_permission_type(1);
    c.show("describe acls (any)", ApiKey::DescribeAcls, 3, &describe)?;
    let creation = AclCreation::default()
        .with_resource_type(2)
        .with_resource_name(s("t"))
        .with_resource_pattern_type(3)
        .with_principal(s("User:alice"))
        .with_host(s("*"))
        .with_operation(3)
        .with_permission_type(3);
    c.show(
        "create two acls",
        ApiKey::CreateAcls,
        3,
        &CreateAclsRequest::default().with_creations(vec![creation.clone(), creation]),
    )?;
    let filter = DeleteAclsFilter::default()
        .with_resource_type_filter(1)
        .with_pattern_type_filter(1)
        .with_operation(1)
        .with_permission_type(1);
    c.show(
        "delete acls (one filter)",
        ApiKey::DeleteAcls,
        3,
        &DeleteAclsRequest::default().with_filters(vec![filter]),
    )?;
    c.show("describe acls (v1)", ApiKey::DescribeAcls, 1, &describe)?;
    Ok(())
}

/// ListOffsets corner cases: unknown special timestamps, max timestamp once every record is
/// below the log start offset.
fn offsets_edge(c: &mut Ctx) -> Result<()> {
    let t = c.name("oe");
    c.create_topic(&t, 1, &[])?;
    for (i, ts) in [TS, TS + 1000, TS + 2000].iter().enumerate() {
        let v = format!("v{i}");
        c.produce(
            "one record",
            &t,
            0,
            -1,
            batch(&[("k", v.as_str())], *ts, -1, -1, -1, 0),
        )?;
    }
    c.list_offset("invalid timestamp -7", &t, 0, -7)?;
    for (version, ts) in [(9, -5), (10, -6), (11, -6), (11, -5)] {
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(topic_name(&t))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(ts)])]);
        let version_for_codec = version.min(10);
        // v11 has v10's layout (the codec crate stops at v10).
        c.show_as(
            &format!("timestamp {ts} at v{version}"),
            ApiKey::ListOffsets,
            version,
            version_for_codec,
            &req,
        )?;
    }
    let dr = DeleteRecordsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![DeleteRecordsTopic::default()
            .with_name(topic_name(&t))
            .with_partitions(vec![DeleteRecordsPartition::default()
                .with_partition_index(0)
                .with_offset(-1)])]);
    c.show(
        "delete records to the end (-1)",
        ApiKey::DeleteRecords,
        2,
        &dr,
    )?;
    c.list_offset("max timestamp after deleting everything", &t, 0, -3)?;
    Ok(())
}

/// Fetch error paths, by name and by topic id.
fn fetch(c: &mut Ctx) -> Result<()> {
    let t = c.name("f");
    c.create_topic(&t, 1, &[])?;
    c.produce(
        "three records",
        &t,
        0,
        -1,
        plain(&[("a", "1"), ("b", "2"), ("c", "3")]),
    )?;
    c.fetch("from 0", &t, None, 0, 0)?;
    c.fetch("from 2", &t, None, 0, 2)?;
    c.fetch("from 3 (the end)", &t, None, 0, 3)?;
    c.fetch("from 10 (past the end)", &t, None, 0, 10)?;
    c.fetch("from -5", &t, None, 0, -5)?;
    c.fetch("unknown partition", &t, None, 4, 0)?;
    c.fetch("unknown topic", &c.name("missing"), None, 0, 0)?;
    let id = c.topic_id(&t)?;
    c.fetch("by topic id", &t, Some(id), 0, 1)?;
    c.fetch("unknown topic id", &t, Some(Uuid::from_u128(0x9abc)), 0, 0)?;
    Ok(())
}

/// ListOffsets and DeleteRecords, incl. after the log start moved.
fn offsets(c: &mut Ctx) -> Result<()> {
    let t = c.name("o");
    c.create_topic(&t, 1, &[])?;
    for (i, ts) in [TS, TS + 1000, TS + 2000].iter().enumerate() {
        let v = format!("v{i}");
        c.produce(
            "one record",
            &t,
            0,
            -1,
            batch(&[("k", v.as_str())], *ts, -1, -1, -1, 0),
        )?;
    }
    c.list_offset("earliest", &t, 0, -2)?;
    c.list_offset("latest", &t, 0, -1)?;
    c.list_offset("max timestamp", &t, 0, -3)?;
    c.list_offset("by time, before the first", &t, 0, TS - 5)?;
    c.list_offset("by time, between", &t, 0, TS + 500)?;
    c.list_offset("by time, exact", &t, 0, TS + 2000)?;
    c.list_offset("by time, after the last", &t, 0, TS + 5000)?;
    c.list_offset("unknown partition", &t, 3, -1)?;
    c.list_offset("unknown topic", &c.name("missing"), 0, -1)?;

    let dr = |topic: &str, partition: i32, offset: i64| {
        DeleteRecordsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(vec![DeleteRecordsTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(vec![DeleteRecordsPartition::default()
                    .with_partition_index(partition)
                    .with_offset(offset)])])
    };
    c.show(
        "delete records before 1",
        ApiKey::DeleteRecords,
        2,
        &dr(&t, 0, 1),
    )?;
    c.show(
        "delete records before 10 (past the end)",
        ApiKey::DeleteRecords,
        2,
        &dr(&t, 0, 10),
    )?;
    c.show(
        "delete records before 0 (behind the start)",
        ApiKey::DeleteRecords,
        2,
        &dr(&t, 0, 0),
    )?;
    c.show(
        "delete records, unknown partition",
        ApiKey::DeleteRecords,
        2,
        &dr(&t, 5, 0),
    )?;
    c.list_offset("earliest after delete", &t, 0, -2)?;
    c.list_offset("by time before the new start", &t, 0, TS - 5)?;
    c.fetch("from 0 after delete", &t, None, 0, 0)?;
    c.show(
        "delete records to the end (-1)",
        ApiKey::DeleteRecords,
        2,
        &dr(&t, 0, -1),
    )?;
    c.list_offset("earliest after deleting everything", &t, 0, -2)?;
    c.fetch("from 3 after deleting everything", &t, None, 0, 3)?;
    Ok(())
}

/// Classic group protocol error paths and offsets.
fn groups(c: &mut Ctx) -> Result<()> {
    let t = c.name("g-topic");
    c.create_topic(&t, 2, &[])?;
    let g = c.name("group");
    let gid = || GroupId(s(&g));
    c.wait_coordinator(&g)?;
    c.show(
        "find coordinator",
        ApiKey::FindCoordinator,
        4,
        &FindCoordinatorRequest::default()
            .with_key_type(0)
            .with_coordinator_keys(vec![s(&g)]),
    )?;
    let describe = DescribeGroupsRequest::default().with_groups(vec![gid()]);
    c.show(
        "describe a group that does not exist",
        ApiKey::DescribeGroups,
        5,
        &describe,
    )?;
    let hb = |generation: i32, member: &str| {
        HeartbeatRequest::default()
            .with_group_id(gid())
            .with_generation_id(generation)
            .with_member_id(s(member))
    };
    c.show(
        "heartbeat to a group that does not exist",
        ApiKey::Heartbeat,
        4,
        &hb(1, "nobody"),
    )?;

    let join = |member: &str, protocol_type: &str, session: i32| {
        JoinGroupRequest::default()
            .with_group_id(gid())
            .with_session_timeout_ms(session)
            .with_rebalance_timeout_ms(10_000)
            .with_member_id(s(member))
            .with_protocol_type(s(protocol_type))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(subscription(&t))])
    };
    c.show(
        "join with a session timeout below the minimum",
        ApiKey::JoinGroup,
        9,
        &join("", "consumer", 10),
    )?;
    let member = match c.show(
        "join without a member id",
        ApiKey::JoinGroup,
        9,
        &join("", "consumer", 30_000),
    )? {
        ResponseKind::JoinGroup(r) => r.member_id.to_string(),
        _ => bail!("unexpected response to JoinGroup"),
    };
    c.show(
        "join with the given member id",
        ApiKey::JoinGroup,
        9,
        &join(&member, "consumer", 30_000),
    )?;
    c.show(
        "join with another protocol type",
        ApiKey::JoinGroup,
        9,
        &join("", "connect", 30_000),
    )?;
    c.show(
        "join with an unknown member id",
        ApiKey::JoinGroup,
        9,
        &join("stranger-1", "consumer", 30_000),
    )?;

    let sync = |generation: i32, m: &str, assignment: Bytes| {
        SyncGroupRequest::default()
            .with_group_id(gid())
            .with_generation_id(generation)
            .with_member_id(s(m))
            .with_protocol_type(Some(s("consumer")))
            .with_protocol_name(Some(s("range")))
            .with_assignments(vec![SyncGroupRequestAssignment::default()
                .with_member_id(s(m))
                .with_assignment(assignment)])
    };
    c.show(
        "sync with a wrong generation",
        ApiKey::SyncGroup,
        5,
        &sync(2, &member, assignment(&t, &[])),
    )?;
    c.show(
        "sync from an unknown member",
        ApiKey::SyncGroup,
        5,
        &sync(1, "stranger-2", assignment(&t, &[])),
    )?;
    c.show(
        "sync, the leader's assignment",
        ApiKey::SyncGroup,
        5,
        &sync(1, &member, assignment(&t, &[0, 1])),
    )?;
    c.show("heartbeat", ApiKey::Heartbeat, 4, &hb(1, &member))?;
    c.show(
        "heartbeat with a wrong generation",
        ApiKey::Heartbeat,
        4,
        &hb(5, &member),
    )?;
    c.show(
        "heartbeat from an unknown member",
        ApiKey::Heartbeat,
        4,
        &hb(1, "stranger-3"),
    )?;

    let commit = |generation: i32, m: &str, topic: &str, partition: i32, offset: i64| {
        OffsetCommitRequest::default()
            .with_group_id(gid())
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(s(m))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(partition)
                    .with_committed_offset(offset)
                    .with_committed_metadata(Some(s("meta")))])])
    };
    c.show(
        "commit",
        ApiKey::OffsetCommit,
        9,
        &commit(1, &member, &t, 0, 5),
    )?;
    c.show(
        "commit with a stale generation",
        ApiKey::OffsetCommit,
        9,
        &commit(7, &member, &t, 1, 5),
    )?;
    c.show(
        "commit from an unknown member",
        ApiKey::OffsetCommit,
        9,
        &commit(1, "stranger-4", &t, 1, 5),
    )?;
    c.show(
        "commit to an unknown partition",
        ApiKey::OffsetCommit,
        9,
        &commit(1, &member, &t, 9, 5),
    )?;
    c.show(
        "commit to an unknown topic",
        ApiKey::OffsetCommit,
        9,
        &commit(1, &member, &c.name("missing"), 0, 5),
    )?;
    c.show(
        "commit as a simple consumer to an active group",
        ApiKey::OffsetCommit,
        9,
        &commit(-1, "", &t, 1, 8),
    )?;
    let fetch_all =
        OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
            .with_group_id(gid())
            .with_topics(None)]);
    c.show(
        "fetch all committed offsets",
        ApiKey::OffsetFetch,
        8,
        &fetch_all,
    )?;
    c.show(
        "describe the stable group",
        ApiKey::DescribeGroups,
        5,
        &describe,
    )?;
    c.show(
        "delete the active group",
        ApiKey::DeleteGroups,
        2,
        &DeleteGroupsRequest::default().with_groups_names(vec![gid()]),
    )?;
    let od = OffsetDeleteRequest::default()
        .with_group_id(gid())
        .with_topics(vec![OffsetDeleteRequestTopic::default()
            .with_name(topic_name(&t))
            .with_partitions(vec![
                OffsetDeleteRequestPartition::default().with_partition_index(0)
            ])]);
    c.show(
        "offset delete while the group is subscribed? (consumer protocol metadata is opaque here)",
        ApiKey::OffsetDelete,
        0,
        &od,
    )?;
    let leave = |m: &str| {
        LeaveGroupRequest::default()
            .with_group_id(gid())
            .with_members(vec![MemberIdentity::default().with_member_id(s(m))])
    };
    c.show(
        "leave as an unknown member",
        ApiKey::LeaveGroup,
        5,
        &leave("stranger-5"),
    )?;
    c.show("leave", ApiKey::LeaveGroup, 5, &leave(&member))?;
    c.show(
        "describe the empty group",
        ApiKey::DescribeGroups,
        5,
        &describe,
    )?;
    c.show(
        "fetch all committed offsets of the empty group",
        ApiKey::OffsetFetch,
        8,
        &fetch_all,
    )?;
    c.show(
        "offset delete on the empty group",
        ApiKey::OffsetDelete,
        0,
        &od,
    )?;
    let del = DeleteGroupsRequest::default()
        .with_groups_names(vec![gid(), GroupId(s(&c.name("no-group")))]);
    c.show(
        "delete the empty group and one that does not exist",
        ApiKey::DeleteGroups,
        2,
        &del,
    )?;
    c.show(
        "describe the deleted group",
        ApiKey::DescribeGroups,
        5,
        &describe,
    )?;
    c.show(
        "commit as a simple consumer to a new group",
        ApiKey::OffsetCommit,
        9,
        &commit(-1, "", &t, 0, 3),
    )?;
    c.show("fetch it back", ApiKey::OffsetFetch, 8, &fetch_all)?;
    c.show(
        "describe the simple consumer's group",
        ApiKey::DescribeGroups,
        5,
        &describe,
    )?;
    Ok(())
}

/// DescribeConfigs / AlterConfigs / IncrementalAlterConfigs on a topic.
fn configs(c: &mut Ctx) -> Result<()> {
    const TOPIC: i8 = 2;
    let t = c.name("c");
    c.create_topic(
        &t,
        1,
        &[("retention.ms", "12345"), ("cleanup.policy", "compact")],
    )?;
    let keys = [
        "cleanup.policy",
        "retention.ms",
        "retention.bytes",
        "segment.bytes",
        "max.message.bytes",
        "min.insync.replicas",
        "compression.type",
        "message.timestamp.type",
        "delete.retention.ms",
        "min.cleanable.dirty.ratio",
    ];
    let describe = |name: &str, keys: Option<&[&str]>, synonyms: bool| {
        DescribeConfigsRequest::default()
            .with_include_synonyms(synonyms)
            .with_resources(vec![DescribeConfigsResource::default()
                .with_resource_type(TOPIC)
                .with_resource_name(s(name))
                .with_configuration_keys(
                    keys.map(|k| k.iter().map(|k| s(k)).collect()),
                )])
    };
    c.show(
        "describe some keys with synonyms",
        ApiKey::DescribeConfigs,
        4,
        &describe(&t, Some(&keys), true),
    )?;
    c.show(
        "describe every key",
        ApiKey::DescribeConfigs,
        4,
        &describe(&t, None, false),
    )?;
    c.show(
        "describe an unknown topic",
        ApiKey::DescribeConfigs,
        4,
        &describe(&c.name("missing"), None, false),
    )?;
    c.show(
        "describe an unknown key",
        ApiKey::DescribeConfigs,
        4,
        &describe(&t, Some(&["no.such.key"]), false),
    )?;

    let alter = |validate: bool, configs: &[(&str, Option<&str>)]| {
        AlterConfigsRequest::default().with_validate_only(validate).with_resources(vec![
            kafka_protocol::messages::alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(TOPIC)
                .with_resource_name(s(&t))
                .with_configs(
                    configs
                        .iter()
                        .map(|(k, v)| {
                            kafka_protocol::messages::alter_configs_request::AlterableConfig::default()
                                .with_name(s(k))
                                .with_value(v.map(s))
                        })
                        .collect(),
                ),
        ])
    };
    c.show(
        "alter: invalid value",
        ApiKey::AlterConfigs,
        2,
        &alter(false, &[("retention.ms", Some("abc"))]),
    )?;
    c.show(
        "alter: unknown key",
        ApiKey::AlterConfigs,
        2,
        &alter(false, &[("no.such.key", Some("1"))]),
    )?;
    c.show(
        "alter: validate_only",
        ApiKey::AlterConfigs,
        2,
        &alter(true, &[("retention.ms", Some("999"))]),
    )?;
    c.show(
        "alter: replace the set",
        ApiKey::AlterConfigs,
        2,
        &alter(false, &[("segment.ms", Some("600000"))]),
    )?;
    c.show(
        "describe after alter",
        ApiKey::DescribeConfigs,
        4,
        &describe(
            &t,
            Some(&["retention.ms", "cleanup.policy", "segment.ms"]),
            false,
        ),
    )?;

    let inc = |ops: &[(&str, i8, Option<&str>)]| {
        IncrementalAlterConfigsRequest::default().with_resources(vec![
            kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(TOPIC)
                .with_resource_name(s(&t))
                .with_configs(
                    ops.iter()
                        .map(|(k, op, v)| {
                            kafka_protocol::messages::incremental_alter_configs_request::AlterableConfig::default()
                                .with_name(s(k))
                                .with_config_operation(*op)
                                .with_value(v.map(s))
                        })
                        .collect(),
                ),
        ])
    };
    c.show(
        "incremental: set",
        ApiKey::IncrementalAlterConfigs,
        1,
        &inc(&[("retention.ms", 0, Some("1000"))]),
    )?;
    c.show(
        "incremental: append to a list",
        ApiKey::IncrementalAlterConfigs,
        1,
        &inc(&[("cleanup.policy", 2, Some("compact"))]),
    )?;
    c.show(
        "incremental: append to a list (new value)",
        ApiKey::IncrementalAlterConfigs,
        1,
        &inc(&[("cleanup.policy", 2, Some("delete"))]),
    )?;
    c.show(
        "incremental: subtract from a list",
        ApiKey::IncrementalAlterConfigs,
        1,
        &inc(&[("cleanup.policy", 3, Some("delete"))]),
    )?;
    c.show(
        "incremental: append to a non-list",
        ApiKey::IncrementalAlterConfigs,
        1,
        &inc(&[("retention.ms", 2, Some("5"))]),
    )?;
    c.show(
        "incremental: delete",
        ApiKey::IncrementalAlterConfigs,
        1,
        &inc(&[("segment.ms", 1, None)]),
    )?;
    c.show(
        "incremental: invalid value",
        ApiKey::IncrementalAlterConfigs,
        1,
        &inc(&[("min.insync.replicas", 0, Some("-3"))]),
    )?;
    c.show(
        "incremental: the same key twice",
        ApiKey::IncrementalAlterConfigs,
        1,
        &inc(&[
            ("retention.ms", 0, Some("1")),
            ("retention.ms", 0, Some("2")),
        ]),
    )?;
    c.show(
        "incremental: unknown operation",
        ApiKey::IncrementalAlterConfigs,
        1,
        &inc(&[("retention.ms", 9, Some("1"))]),
    )?;
    c.show(
        "describe after incremental",
        ApiKey::DescribeConfigs,
        4,
        &describe(
            &t,
            Some(&["retention.ms", "cleanup.policy", "segment.ms"]),
            false,
        ),
    )?;
    Ok(())
}

/// DescribeCluster, DescribeLogDirs, DescribeTopicPartitions paging, ListGroups filters.
fn cluster(c: &mut Ctx) -> Result<()> {
    c.show(
        "describe cluster",
        ApiKey::DescribeCluster,
        1,
        &DescribeClusterRequest::default(),
    )?;
    c.show(
        "describe cluster, controllers endpoint type",
        ApiKey::DescribeCluster,
        1,
        &DescribeClusterRequest::default().with_endpoint_type(2),
    )?;
    let a = c.name("dtp-a");
    let b = c.name("dtp-b");
    c.create_topic(&a, 3, &[])?;
    c.create_topic(&b, 2, &[])?;
    c.produce("one record into a-0", &a, 0, -1, plain(&[("k", "v")]))?;
    let dld = DescribeLogDirsRequest::default().with_topics(Some(vec![
        DescribableLogDirTopic::default()
            .with_topic(topic_name(&a))
            .with_partitions(vec![0, 1, 7]),
        DescribableLogDirTopic::default()
            .with_topic(topic_name(&c.name("missing")))
            .with_partitions(vec![0]),
    ]));
    c.show(
        "describe log dirs of some partitions",
        ApiKey::DescribeLogDirs,
        4,
        &dld,
    )?;
    let dtp = |limit: i32, cursor: Option<(&str, i32)>, names: &[&str]| {
        DescribeTopicPartitionsRequest::default()
            .with_topics(
                names
                    .iter()
                    .map(|n| TopicRequest::default().with_name(topic_name(n)))
                    .collect(),
            )
            .with_response_partition_limit(limit)
            .with_cursor(cursor.map(|(t, p)| {
                Cursor::default()
                    .with_topic_name(topic_name(t))
                    .with_partition_index(p)
            }))
    };
    let missing = c.name("missing");
    c.show(
        "describe topic partitions, limit 2",
        ApiKey::DescribeTopicPartitions,
        0,
        &dtp(2, None, &[&a, &b, &missing]),
    )?;
    c.show(
        "... from cursor a-2",
        ApiKey::DescribeTopicPartitions,
        0,
        &dtp(2, Some((&a, 2)), &[&a, &b]),
    )?;
    c.show(
        "... from cursor b-1",
        ApiKey::DescribeTopicPartitions,
        0,
        &dtp(2, Some((&b, 1)), &[&a, &b]),
    )?;
    c.show(
        "... cursor on a partition past the end",
        ApiKey::DescribeTopicPartitions,
        0,
        &dtp(5, Some((&a, 9)), &[&a, &b]),
    )?;
    c.show(
        "... cursor on a topic not requested",
        ApiKey::DescribeTopicPartitions,
        0,
        &dtp(5, Some((&missing, 0)), &[&a, &b]),
    )?;
    c.show(
        "... limit 0",
        ApiKey::DescribeTopicPartitions,
        0,
        &dtp(0, None, &[&a]),
    )?;
    let g = c.name("lg-group");
    c.wait_coordinator(&g)?;
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(&g)))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(s(""))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic_name(&a))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(1)])]);
    c.show(
        "a simple consumer's commit creates group lg-group",
        ApiKey::OffsetCommit,
        9,
        &commit,
    )?;
    // Other groups on the broker come and go: only this run's groups are printed.
    let prefix = format!("{}-lg-", c.prefix);
    for (title, states, types) in [
        ("list groups, no filter", vec![], vec![]),
        ("list groups in state Empty", vec!["Empty"], vec![]),
        ("list groups in state Stable", vec!["Stable"], vec![]),
        ("list groups of type classic", vec![], vec!["classic"]),
        ("list groups of type consumer", vec![], vec!["consumer"]),
        (
            "list groups, unknown state filter",
            vec!["Sleeping"],
            vec![],
        ),
    ] {
        let req = ListGroupsRequest::default()
            .with_states_filter(states.iter().map(|x| s(x)).collect())
            .with_types_filter(types.iter().map(|x| s(x)).collect());
        c.show_run_groups(title, &prefix, &req)?;
    }
    Ok(())
}

/// KIP-848: ConsumerGroupHeartbeat and ConsumerGroupDescribe, mostly error paths.
fn consumer_groups(c: &mut Ctx) -> Result<()> {
    let t = c.name("cg-topic");
    c.create_topic(&t, 2, &[])?;
    let g = c.name("cg-group");
    c.wait_coordinator(&g)?;
    let hb = |group: &str, member: &str, epoch: i32| {
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_member_id(s(member))
            .with_member_epoch(epoch)
            .with_instance_id(None)
            .with_rack_id(None)
            .with_rebalance_timeout_ms(-1)
            .with_subscribed_topic_names(None)
            .with_subscribed_topic_regex(None)
            .with_server_assignor(None)
            .with_topic_partitions(None)
    };
    let join = |group: &str, member: &str| {
        hb(group, member, 0)
            .with_rebalance_timeout_ms(30_000)
            .with_subscribed_topic_names(Some(vec![topic_name(&t)]))
            .with_topic_partitions(Some(vec![]))
    };
    let fresh = c.name("cg-fresh");
    c.wait_coordinator(&fresh)?;
    c.show(
        "a first join to a fresh group",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &join(&fresh, "m-ffffffffffffffffffff"),
    )?;
    c.show(
        "heartbeat with an empty group id",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &join("", "m-aaaaaaaaaaaaaaaaaaaa"),
    )?;
    c.show(
        "join without a member id (v1)",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &join(&g, ""),
    )?;
    c.show(
        "join without a rebalance timeout",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &join(&g, "m-aaaaaaaaaaaaaaaaaaaa").with_rebalance_timeout_ms(-1),
    )?;
    c.show(
        "join without a subscription",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &join(&g, "m-aaaaaaaaaaaaaaaaaaaa").with_subscribed_topic_names(None),
    )?;
    c.show(
        "join with owned partitions",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &join(&g, "m-aaaaaaaaaaaaaaaaaaaa").with_topic_partitions(Some(vec![
            HbTopicPartitions::default()
                .with_topic_id(Uuid::from_u128(5))
                .with_partitions(vec![0]),
        ])),
    )?;
    c.show(
        "join with an unknown assignor",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &join(&g, "m-aaaaaaaaaaaaaaaaaaaa").with_server_assignor(Some(s("nope"))),
    )?;
    c.show(
        "join with an invalid regex",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &join(&g, "m-aaaaaaaaaaaaaaaaaaaa")
            .with_subscribed_topic_names(None)
            .with_subscribed_topic_regex(Some(s("(unclosed"))),
    )?;
    c.show(
        "heartbeat of an unknown member",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &hb(&g, "m-bbbbbbbbbbbbbbbbbbbb", 3),
    )?;
    c.show(
        "heartbeat with epoch -3",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &hb(&g, "m-aaaaaaaaaaaaaaaaaaaa", -3),
    )?;
    let r = c.show(
        "join",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &join(&g, "m-aaaaaaaaaaaaaaaaaaaa"),
    )?;
    let epoch = match r {
        ResponseKind::ConsumerGroupHeartbeat(r) => r.member_epoch,
        _ => bail!("unexpected response to ConsumerGroupHeartbeat"),
    };
    c.show(
        "heartbeat with a newer epoch",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &hb(&g, "m-aaaaaaaaaaaaaaaaaaaa", epoch + 5),
    )?;
    let describe = |groups: Vec<String>| {
        ConsumerGroupDescribeRequest::default()
            .with_group_ids(groups.into_iter().map(|x| GroupId(s(&x))).collect())
    };
    c.show(
        "describe the group, a missing one and a classic one",
        ApiKey::ConsumerGroupDescribe,
        1,
        &describe(vec![g.clone(), c.name("cg-missing")]),
    )?;
    c.show(
        "DescribeGroups of the consumer group",
        ApiKey::DescribeGroups,
        5,
        &DescribeGroupsRequest::default().with_groups(vec![GroupId(s(&g))]),
    )?;
    let fetch_as = |member: Option<&str>, epoch: i32| {
        OffsetFetchRequest::default()
            .with_groups(vec![OffsetFetchRequestGroup::default()
                .with_group_id(GroupId(s(&g)))
                .with_member_id(member.map(s))
                .with_member_epoch(epoch)
                .with_topics(None)])
            .with_require_stable(true)
    };
    c.show(
        "offset fetch v9 as the member",
        ApiKey::OffsetFetch,
        9,
        &fetch_as(Some("m-aaaaaaaaaaaaaaaaaaaa"), epoch),
    )?;
    c.show(
        "offset fetch v9 with a stale member epoch",
        ApiKey::OffsetFetch,
        9,
        &fetch_as(Some("m-aaaaaaaaaaaaaaaaaaaa"), epoch + 5),
    )?;
    c.show(
        "offset fetch v9 as an unknown member",
        ApiKey::OffsetFetch,
        9,
        &fetch_as(Some("m-bbbbbbbbbbbbbbbbbbbb"), 1),
    )?;
    c.show(
        "offset fetch v9 without a member (admin)",
        ApiKey::OffsetFetch,
        9,
        &fetch_as(None, -1),
    )?;
    c.show(
        "leave",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &hb(&g, "m-aaaaaaaaaaaaaaaaaaaa", -1),
    )?;
    c.show(
        "leave again",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &hb(&g, "m-aaaaaaaaaaaaaaaaaaaa", -1),
    )?;
    c.show(
        "describe the empty group",
        ApiKey::ConsumerGroupDescribe,
        1,
        &describe(vec![g.clone()]),
    )?;
    c.show(
        "delete it",
        ApiKey::DeleteGroups,
        2,
        &DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s(&g))]),
    )?;
    c.show(
        "describe the deleted group",
        ApiKey::ConsumerGroupDescribe,
        1,
        &describe(vec![g.clone()]),
    )?;
    Ok(())
}

/// Online migration between the protocols (Kafka's group.consumer.migration.policy,
/// bidirectional by default): a classic member joins a KIP-848 group with a member, syncs and
/// heartbeats in it; the KIP-848 member leaves and the group becomes a classic group that
/// rebalances. Then the other way: a KIP-848 member joins a classic group with a member.
fn consumer_groups_migration(c: &mut Ctx) -> Result<()> {
    let t = c.name("mig-topic");
    c.create_topic(&t, 2, &[])?;
    let g = c.name("mig-group");
    c.wait_coordinator(&g)?;
    let kip848 = "m-mmmmmmmmmmmmmmmmmmmm";
    let hb = |member: &str, epoch: i32, owned: Option<Vec<HbTopicPartitions>>| {
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s(&g)))
            .with_member_id(s(member))
            .with_member_epoch(epoch)
            .with_rebalance_timeout_ms(if epoch == 0 { 30_000 } else { -1 })
            .with_subscribed_topic_names((epoch == 0).then(|| vec![topic_name(&t)]))
            .with_subscribed_topic_regex(None)
            .with_server_assignor(None)
            .with_topic_partitions(owned)
    };
    let joined = c.show(
        "a KIP-848 member joins",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &hb(kip848, 0, Some(vec![])),
    )?;
    let (mut epoch, mut owned) = heartbeat_state(&joined);
    let join = |group: &str, member: &str| {
        JoinGroupRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_session_timeout_ms(30_000)
            .with_rebalance_timeout_ms(30_000)
            .with_member_id(s(member))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(subscription(&t))])
    };
    let classic = match c.show(
        "classic JoinGroup to the consumer group",
        ApiKey::JoinGroup,
        9,
        &join(&g, ""),
    )? {
        ResponseKind::JoinGroup(r) => r.member_id.to_string(),
        _ => bail!("unexpected response to JoinGroup"),
    };
    let generation = match c.show(
        "and again with its member id",
        ApiKey::JoinGroup,
        9,
        &join(&g, &classic),
    )? {
        ResponseKind::JoinGroup(r) => r.generation_id,
        _ => bail!("unexpected response to JoinGroup"),
    };
    let sync = |group: &str, member: &str, generation: i32| {
        SyncGroupRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id(generation)
            .with_member_id(s(member))
            .with_protocol_type(Some(s("consumer")))
            .with_protocol_name(Some(s("range")))
    };
    c.show(
        "SyncGroup with a wrong generation",
        ApiKey::SyncGroup,
        5,
        &sync(&g, &classic, generation + 7),
    )?;
    c.show(
        "SyncGroup with another protocol name",
        ApiKey::SyncGroup,
        5,
        &sync(&g, &classic, generation).with_protocol_name(Some(s("roundrobin"))),
    )?;
    c.show(
        "SyncGroup",
        ApiKey::SyncGroup,
        5,
        &sync(&g, &classic, generation),
    )?;
    // The KIP-848 member gives up a partition, then takes the new epoch.
    for step in [
        "the KIP-848 member heartbeats",
        "and reports what it owns now",
    ] {
        let r = c.show(
            step,
            ApiKey::ConsumerGroupHeartbeat,
            1,
            &hb(kip848, epoch, Some(owned.clone())),
        )?;
        let (e, o) = heartbeat_state(&r);
        epoch = e;
        if let Some(o) = o_if_sent(&r, o) {
            owned = o;
        }
    }
    let beat = |group: &str, member: &str, generation: i32| {
        HeartbeatRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_generation_id(generation)
            .with_member_id(s(member))
    };
    c.show(
        "classic Heartbeat with a wrong generation",
        ApiKey::Heartbeat,
        4,
        &beat(&g, &classic, generation + 7),
    )?;
    c.show(
        "classic Heartbeat",
        ApiKey::Heartbeat,
        4,
        &beat(&g, &classic, generation),
    )?;
    c.show(
        "ConsumerGroupDescribe (member types)",
        ApiKey::ConsumerGroupDescribe,
        1,
        &ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s(&g))]),
    )?;
    c.show(
        "LeaveGroup naming the KIP-848 member",
        ApiKey::LeaveGroup,
        5,
        &LeaveGroupRequest::default()
            .with_group_id(GroupId(s(&g)))
            .with_members(vec![MemberIdentity::default().with_member_id(s(kip848))]),
    )?;
    c.show(
        "the KIP-848 member leaves: the group becomes classic",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &hb(kip848, -1, None),
    )?;
    c.show(
        "classic Heartbeat",
        ApiKey::Heartbeat,
        4,
        &beat(&g, &classic, generation),
    )?;
    c.show(
        "DescribeGroups",
        ApiKey::DescribeGroups,
        5,
        &DescribeGroupsRequest::default().with_groups(vec![GroupId(s(&g))]),
    )?;
    c.show(
        "the classic member rejoins",
        ApiKey::JoinGroup,
        9,
        &join(&g, &classic),
    )?;

    // Upgrade: a KIP-848 member joins a classic group with a member.
    let g2 = c.name("mig-up-group");
    c.wait_coordinator(&g2)?;
    let first = match c.show(
        "a classic member joins a new group",
        ApiKey::JoinGroup,
        9,
        &join(&g2, ""),
    )? {
        ResponseKind::JoinGroup(r) => r.member_id.to_string(),
        _ => bail!("unexpected response to JoinGroup"),
    };
    let generation = match c.show(
        "and again with its member id (it leads)",
        ApiKey::JoinGroup,
        9,
        &join(&g2, &first),
    )? {
        ResponseKind::JoinGroup(r) => r.generation_id,
        _ => bail!("unexpected response to JoinGroup"),
    };
    c.show(
        "the leader's SyncGroup gives it both partitions",
        ApiKey::SyncGroup,
        5,
        &sync(&g2, &first, generation)
            .with_assignments(vec![SyncGroupRequestAssignment::default()
                .with_member_id(s(&first))
                .with_assignment(assignment(&t, &[0, 1]))]),
    )?;
    let up = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s(&g2)))
        .with_member_id(s("m-uuuuuuuuuuuuuuuuuuuu"))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![topic_name(&t)]))
        .with_subscribed_topic_regex(None)
        .with_server_assignor(None)
        .with_topic_partitions(Some(vec![]));
    c.show(
        "a KIP-848 member joins the classic group: it becomes a consumer group",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &up,
    )?;
    c.show(
        "the classic member's Heartbeat",
        ApiKey::Heartbeat,
        4,
        &beat(&g2, &first, generation),
    )?;
    let regen = match c.show(
        "it rejoins (revoking everything, as an eager member)",
        ApiKey::JoinGroup,
        9,
        &join(&g2, &first),
    )? {
        ResponseKind::JoinGroup(r) => r.generation_id,
        _ => bail!("unexpected response to JoinGroup"),
    };
    c.show("and syncs", ApiKey::SyncGroup, 5, &sync(&g2, &first, regen))?;
    c.show(
        "ConsumerGroupDescribe",
        ApiKey::ConsumerGroupDescribe,
        1,
        &ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s(&g2))]),
    )?;
    let mine = c.name("mig-");
    c.show_run_groups("ListGroups", &mine, &ListGroupsRequest::default())?;
    Ok(())
}

/// The member epoch and the assignment (as owned partitions) a ConsumerGroupHeartbeat answered.
fn heartbeat_state(r: &ResponseKind) -> (i32, Vec<HbTopicPartitions>) {
    match r {
        ResponseKind::ConsumerGroupHeartbeat(r) => (
            r.member_epoch,
            r.assignment
                .as_ref()
                .map(|a| {
                    a.topic_partitions
                        .iter()
                        .map(|tp| {
                            HbTopicPartitions::default()
                                .with_topic_id(tp.topic_id)
                                .with_partitions(tp.partitions.clone())
                        })
                        .collect()
                })
                .unwrap_or_default(),
        ),
        _ => (-1, Vec::new()),
    }
}

/// `owned` when the heartbeat response carried an assignment.
fn o_if_sent(r: &ResponseKind, owned: Vec<HbTopicPartitions>) -> Option<Vec<HbTopicPartitions>> {
    match r {
        ResponseKind::ConsumerGroupHeartbeat(r) if r.assignment.is_some() => Some(owned),
        _ => None,
    }
}

/// An emptied KIP-848 group taken over by classic members, then described and listed.
fn consumer_group_to_classic(c: &mut Ctx) -> Result<()> {
    let t = c.name("conv-topic");
    c.create_topic(&t, 2, &[])?;
    let g = c.name("conv-group");
    c.wait_coordinator(&g)?;
    let hb = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s(&g)))
        .with_member_id(s("m-cccccccccccccccccccc"))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![topic_name(&t)]))
        .with_subscribed_topic_regex(None)
        .with_server_assignor(None)
        .with_topic_partitions(Some(vec![]));
    c.show(
        "a KIP-848 member joins",
        ApiKey::ConsumerGroupHeartbeat,
        1,
        &hb,
    )?;
    let leave = hb
        .clone()
        .with_member_epoch(-1)
        .with_rebalance_timeout_ms(-1)
        .with_subscribed_topic_names(None)
        .with_topic_partitions(None);
    c.show("and leaves", ApiKey::ConsumerGroupHeartbeat, 1, &leave)?;
    let join = |member: &str| {
        JoinGroupRequest::default()
            .with_group_id(GroupId(s(&g)))
            .with_session_timeout_ms(30_000)
            .with_rebalance_timeout_ms(30_000)
            .with_member_id(s(member))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(subscription(&t))])
    };
    let member = match c.show(
        "a classic member joins the empty group",
        ApiKey::JoinGroup,
        9,
        &join(""),
    )? {
        ResponseKind::JoinGroup(r) => r.member_id.to_string(),
        _ => bail!("unexpected response to JoinGroup"),
    };
    c.show(
        "and joins with its id",
        ApiKey::JoinGroup,
        9,
        &join(&member),
    )?;
    c.show(
        "DescribeGroups",
        ApiKey::DescribeGroups,
        5,
        &DescribeGroupsRequest::default().with_groups(vec![GroupId(s(&g))]),
    )?;
    c.show(
        "ConsumerGroupDescribe",
        ApiKey::ConsumerGroupDescribe,
        1,
        &ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(s(&g))]),
    )?;
    Ok(())
}

/// OffsetForLeaderEpoch, ElectLeaders and the partition reassignment APIs on a single node
/// (issue 6): the leader epoch of a new topic, end offsets per epoch, current-epoch checks,
/// elections that are not needed, reassignments to the only broker and to a missing one.
fn leadership(c: &mut Ctx) -> Result<()> {
    use kafka_protocol::messages::alter_partition_reassignments_request::{
        ReassignablePartition, ReassignableTopic,
    };
    use kafka_protocol::messages::elect_leaders_request::TopicPartitions as ElectTopic;
    use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
    use kafka_protocol::messages::offset_for_leader_epoch_request::{
        OffsetForLeaderPartition, OffsetForLeaderTopic,
    };
    let t = c.name("lead");
    let missing = c.name("missing");
    c.create_topic(&t, 2, &[])?;
    c.produce("two records", &t, 0, -1, plain(&[("a", "1"), ("b", "2")]))?;
    c.produce("one record", &t, 0, -1, plain(&[("c", "3")]))?;
    let md = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(topic_name(&t)))
    ]));
    c.show("metadata (leader epoch)", ApiKey::Metadata, 12, &md)?;
    let ofle = |replica: i32, topic: &str, parts: &[(i32, i32, i32)]| {
        OffsetForLeaderEpochRequest::default()
            .with_replica_id(BrokerId(replica))
            .with_topics(vec![OffsetForLeaderTopic::default()
                .with_topic(topic_name(topic))
                .with_partitions(
                    parts
                        .iter()
                        .map(|(p, current, epoch)| {
                            OffsetForLeaderPartition::default()
                                .with_partition(*p)
                                .with_current_leader_epoch(*current)
                                .with_leader_epoch(*epoch)
                        })
                        .collect(),
                )])
    };
    // (title, replica_id, [(partition, current_leader_epoch, leader_epoch)])
    type Case<'a> = (&'a str, i32, &'a [(i32, i32, i32)]);
    let cases: &[Case] = &[
        (
            "epoch 0 of p0 and p1, no current epoch",
            -1,
            &[(0, -1, 0), (1, -1, 0)],
        ),
        ("current epoch 0", -1, &[(0, 0, 0)]),
        ("current epoch 1 (newer)", -1, &[(0, 1, 0)]),
        ("current epoch -5", -1, &[(0, -5, 0)]),
        ("epoch 3 (newer than any)", -1, &[(0, -1, 3)]),
        ("epoch -1", -1, &[(0, -1, -1)]),
        ("unknown partition", -1, &[(7, -1, 0)]),
        ("as follower replica 1", 1, &[(0, 0, 0)]),
        ("as debug replica -2", -2, &[(0, -1, 0)]),
    ];
    for (title, replica, parts) in cases {
        for v in [2, 4] {
            c.show(
                &format!("offset for leader epoch: {title}"),
                ApiKey::OffsetForLeaderEpoch,
                v,
                &ofle(*replica, &t, parts),
            )?;
        }
    }
    for current in [-5, 1] {
        let lo = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(topic_name(&t))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_current_leader_epoch(current)
                    .with_timestamp(-1)])]);
        c.show(
            &format!("list offsets with current leader epoch {current}"),
            ApiKey::ListOffsets,
            8,
            &lo,
        )?;
        let f = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(topic_name(&t))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_current_leader_epoch(current)
                    .with_fetch_offset(0)
                    .with_partition_max_bytes(1 << 20)])]);
        c.show(
            &format!("fetch with current leader epoch {current}"),
            ApiKey::Fetch,
            12,
            &f,
        )?;
    }
    c.show(
        "offset for leader epoch: unknown topic",
        ApiKey::OffsetForLeaderEpoch,
        3,
        &ofle(-1, &missing, &[(0, -1, 0)]),
    )?;
    let dr = DeleteRecordsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![DeleteRecordsTopic::default()
            .with_name(topic_name(&t))
            .with_partitions(vec![DeleteRecordsPartition::default()
                .with_partition_index(0)
                .with_offset(2)])]);
    c.show("delete records before 2", ApiKey::DeleteRecords, 2, &dr)?;
    c.show(
        "offset for leader epoch after delete records",
        ApiKey::OffsetForLeaderEpoch,
        4,
        &ofle(-1, &t, &[(0, -1, 0)]),
    )?;

    let elect = |kind: i8, parts: Option<Vec<(&str, Vec<i32>)>>| {
        ElectLeadersRequest::default()
            .with_election_type(kind)
            .with_timeout_ms(30_000)
            .with_topic_partitions(parts.map(|ps| {
                ps.into_iter()
                    .map(|(n, p)| {
                        ElectTopic::default()
                            .with_topic(topic_name(n))
                            .with_partitions(p)
                    })
                    .collect()
            }))
    };
    let some = || {
        Some(vec![
            (t.as_str(), vec![0, 1, 9]),
            (missing.as_str(), vec![0]),
        ])
    };
    c.show(
        "elect preferred leaders",
        ApiKey::ElectLeaders,
        0,
        &elect(0, some()),
    )?;
    c.show(
        "elect preferred leaders",
        ApiKey::ElectLeaders,
        2,
        &elect(0, some()),
    )?;
    c.show(
        "elect unclean leaders",
        ApiKey::ElectLeaders,
        1,
        &elect(1, some()),
    )?;
    c.show(
        "elect unclean leaders",
        ApiKey::ElectLeaders,
        2,
        &elect(1, some()),
    )?;
    c.show(
        "elect leaders of no partition",
        ApiKey::ElectLeaders,
        2,
        &elect(0, Some(vec![])),
    )?;
    c.show(
        "elect election type 7",
        ApiKey::ElectLeaders,
        2,
        &elect(7, Some(vec![(t.as_str(), vec![0])])),
    )?;

    let list = |topics: Option<Vec<(&str, Vec<i32>)>>| {
        ListPartitionReassignmentsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(topics.map(|ts| {
                ts.into_iter()
                    .map(|(n, p)| {
                        ListPartitionReassignmentsTopics::default()
                            .with_name(topic_name(n))
                            .with_partition_indexes(p)
                    })
                    .collect()
            }))
    };
    c.show(
        "list reassignments of some partitions",
        ApiKey::ListPartitionReassignments,
        0,
        &list(Some(vec![
            (t.as_str(), vec![0, 9]),
            (missing.as_str(), vec![0]),
        ])),
    )?;
    let alter = |allow: bool, parts: Vec<(&str, i32, Option<Vec<i32>>)>| {
        let mut topics: Vec<ReassignableTopic> = Vec::new();
        for (n, p, r) in parts {
            let part = ReassignablePartition::default()
                .with_partition_index(p)
                .with_replicas(r.map(|ids| ids.into_iter().map(BrokerId).collect()));
            match topics.iter_mut().find(|x| x.name.as_str() == n) {
                Some(x) => x.partitions.push(part),
                None => topics.push(
                    ReassignableTopic::default()
                        .with_name(topic_name(n))
                        .with_partitions(vec![part]),
                ),
            }
        }
        AlterPartitionReassignmentsRequest::default()
            .with_timeout_ms(30_000)
            .with_allow_replication_factor_change(allow)
            .with_topics(topics)
    };
    let t2 = t.as_str();
    let m2 = missing.as_str();
    for v in [0, 1] {
        c.show(
            "reassign to the only broker, to a missing broker, to nobody, cancel",
            ApiKey::AlterPartitionReassignments,
            v,
            &alter(
                true,
                vec![
                    (t2, 0, Some(vec![1])),
                    (t2, 1, Some(vec![2])),
                    (t2, 9, Some(vec![1])),
                    (m2, 0, Some(vec![1])),
                ],
            ),
        )?;
        c.show(
            "reassign: cancel (none in progress), empty, duplicate replicas",
            ApiKey::AlterPartitionReassignments,
            v,
            &alter(true, vec![(t2, 0, None), (t2, 1, Some(vec![]))]),
        )?;
        c.show(
            "reassign: duplicate replicas, negative id",
            ApiKey::AlterPartitionReassignments,
            v,
            &alter(
                true,
                vec![(t2, 0, Some(vec![1, 1])), (t2, 1, Some(vec![-1]))],
            ),
        )?;
    }
    c.show(
        "reassign to two replicas without allowing a replication factor change",
        ApiKey::AlterPartitionReassignments,
        1,
        &alter(false, vec![(t2, 0, Some(vec![1, 2]))]),
    )?;
    c.show(
        "reassign to the only broker without allowing a replication factor change",
        ApiKey::AlterPartitionReassignments,
        1,
        &alter(false, vec![(t2, 0, Some(vec![1]))]),
    )?;
    c.show(
        "list reassignments of some partitions",
        ApiKey::ListPartitionReassignments,
        0,
        &list(Some(vec![(t.as_str(), vec![0, 1])])),
    )?;
    c.show(
        "metadata after elections and reassignments",
        ApiKey::Metadata,
        12,
        &md,
    )?;
    Ok(())
}
