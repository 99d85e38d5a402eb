//! Tests of the schema tables and the walker against `kafka-protocol`'s own encoder and decoder.

use super::table::{Field, Ty};
use super::walk::{self, Site};
use super::*;
use crate::request::{decode_body, BodyError};
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::broker_heartbeat_request::BrokerHeartbeatRequest;
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
use kafka_protocol::messages::fetch_request::{
    FetchPartition, FetchTopic, ForgottenTopic, ReplicaState,
};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// Allocation tracking: per thread, so parallel tests do not disturb each other.

struct Tracking;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
    static MAX_ALLOC: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    let _ = MAX_ALLOC.try_with(|c| c.set(c.get().max(size)));
}

// SAFETY: forwards every call to the system allocator unchanged; the bookkeeping touches only
// const-initialised thread-locals without destructors and never allocates.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// Run `f`; return its result, the number of allocations it made on this thread and the
/// largest one in bytes.
pub(crate) fn measure<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
    ALLOCS.with(|c| c.set(0));
    MAX_ALLOC.with(|c| c.set(0));
    let r = f();
    (r, ALLOCS.with(Cell::get), MAX_ALLOC.with(Cell::get))
}

// ---------------------------------------------------------------------------------------------
// Building requests with the crate's encoder.

macro_rules! default_requests {
    ($api:expr; $($name:ident),* $(,)?) => {
        match $api {
            $(ApiKey::$name => RequestKind::$name(Default::default()),)*
        }
    };
}

pub(crate) fn default_request(api: ApiKey) -> RequestKind {
    default_requests!(api;
        Produce, Fetch, ListOffsets, Metadata, OffsetCommit, OffsetFetch, FindCoordinator,
        JoinGroup, Heartbeat, LeaveGroup, SyncGroup, DescribeGroups, ListGroups, SaslHandshake,
        ApiVersions, CreateTopics, DeleteTopics, DeleteRecords, InitProducerId,
        OffsetForLeaderEpoch, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, WriteTxnMarkers,
        TxnOffsetCommit, DescribeAcls, CreateAcls, DeleteAcls, DescribeConfigs, AlterConfigs,
        AlterReplicaLogDirs, DescribeLogDirs, SaslAuthenticate, CreatePartitions,
        CreateDelegationToken, RenewDelegationToken, ExpireDelegationToken,
        DescribeDelegationToken, DeleteGroups, ElectLeaders, IncrementalAlterConfigs,
        AlterPartitionReassignments, ListPartitionReassignments, OffsetDelete,
        DescribeClientQuotas, AlterClientQuotas, DescribeUserScramCredentials,
        AlterUserScramCredentials, Vote, BeginQuorumEpoch, EndQuorumEpoch, DescribeQuorum,
        AlterPartition, UpdateFeatures, Envelope, FetchSnapshot, DescribeCluster,
        DescribeProducers, BrokerRegistration, BrokerHeartbeat, UnregisterBroker,
        DescribeTransactions, ListTransactions, AllocateProducerIds, ConsumerGroupHeartbeat,
        ConsumerGroupDescribe, ControllerRegistration, GetTelemetrySubscriptions, PushTelemetry,
        AssignReplicasToDirs, ListConfigResources, DescribeTopicPartitions, ShareGroupHeartbeat,
        ShareGroupDescribe, ShareFetch, ShareAcknowledge, AddRaftVoter, RemoveRaftVoter,
        UpdateRaftVoter, InitializeShareGroupState, ReadShareGroupState, WriteShareGroupState,
        DeleteShareGroupState, ReadShareGroupStateSummary, DescribeShareGroupOffsets,
        AlterShareGroupOffsets, DeleteShareGroupOffsets,
    )
}

pub(crate) fn versions(api: ApiKey) -> std::ops::RangeInclusive<i16> {
    let r = api.valid_versions();
    r.min..=r.max
}

fn flexible(api: ApiKey, version: i16) -> bool {
    request_schema(api).is_some_and(|m| m.flexible.contains(version))
}

pub(crate) fn encode(req: &RequestKind, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    if let Err(e) = req.encode(&mut buf, version) {
        panic!("crate failed to encode {req:?} at v{version}: {e:#}");
    }
    buf.freeze()
}

/// Versions that `ApiKey::valid_versions()` (and the 4.1.0 schema) list but whose message type
/// in kafka-protocol 0.18 refuses to encode or decode ("specified version not supported").
/// Such requests end in a decode error, never a crash; the walker still checks them.
const CRATE_GAPS: &[(ApiKey, i16)] = &[
    (ApiKey::OffsetCommit, 10),
    (ApiKey::OffsetFetch, 10),
    (ApiKey::InitProducerId, 6),
];

pub(crate) fn crate_supports(api: ApiKey, version: i16) -> bool {
    !CRATE_GAPS.contains(&(api, version))
}

pub(crate) fn s(v: &'static str) -> StrBytes {
    StrBytes::from_static_str(v)
}

pub(crate) fn topic(v: &'static str) -> TopicName {
    TopicName(s(v))
}

pub(crate) fn uuid(n: u8) -> uuid::Uuid {
    uuid::Uuid::from_bytes([n; 16])
}

/// Unknown tagged fields as a newer client would send them (only encodable in flexible versions).
pub(crate) fn unknown_tags(flex: bool) -> BTreeMap<i32, Bytes> {
    let mut m = BTreeMap::new();
    if flex {
        m.insert(90, Bytes::from_static(b"future"));
        m.insert(91, Bytes::new());
    }
    m
}

/// A requests with populated arrays, strings, nullable values and tagged fields, built for
/// `version` (the crate refuses to encode a non-default value in a field the version lacks).
pub(crate) fn populated(api: ApiKey, v: i16) -> Option<RequestKind> {
    let flex = flexible(api, v);
    let req: RequestKind = match api {
        ApiKey::Metadata => {
            let mut t1 = MetadataRequestTopic::default()
                .with_name(Some(topic("orders")))
                .with_unknown_tagged_fields(unknown_tags(flex));
            if v >= 10 {
                t1 = t1.with_topic_id(uuid(7));
            }
            let mut t2 = MetadataRequestTopic::default().with_name(Some(topic("b")));
            if v >= 12 {
                t2 = t2.with_name(None).with_topic_id(uuid(9));
            }
            let mut r = MetadataRequest::default()
                .with_topics(Some(vec![t1, t2]))
                .with_unknown_tagged_fields(unknown_tags(flex));
            if v >= 4 {
                r = r.with_allow_auto_topic_creation(false);
            }
            if (8..=10).contains(&v) {
                r = r.with_include_cluster_authorized_operations(true);
            }
            if v >= 8 {
                r = r.with_include_topic_authorized_operations(true);
            }
            r.into()
        }
        ApiKey::Produce => {
            let parts = vec![
                PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(Bytes::from(vec![0xab; 70])))
                    .with_unknown_tagged_fields(unknown_tags(flex)),
                PartitionProduceData::default()
                    .with_index(1)
                    .with_records(None),
            ];
            let mut t = TopicProduceData::default().with_partition_data(parts);
            t = if v >= 13 {
                t.with_topic_id(uuid(3))
            } else {
                t.with_name(topic("events"))
            };
            ProduceRequest::default()
                .with_transactional_id(Some(TransactionalId(s("tx-1"))))
                .with_acks(-1)
                .with_timeout_ms(30_000)
                .with_topic_data(vec![t, TopicProduceData::default()])
                .with_unknown_tagged_fields(unknown_tags(flex))
                .into()
        }
        ApiKey::Fetch => {
            let mut p = FetchPartition::default()
                .with_partition(2)
                .with_fetch_offset(1234)
                .with_partition_max_bytes(1 << 20);
            if v >= 9 {
                p = p.with_current_leader_epoch(5);
            }
            if v >= 12 {
                p = p.with_last_fetched_epoch(4);
            }
            if v >= 5 {
                p = p.with_log_start_offset(10);
            }
            if v >= 17 {
                p = p.with_replica_directory_id(uuid(4));
            }
            if v >= 18 {
                p = p.with_high_watermark(99);
            }
            let mut t = FetchTopic::default().with_partitions(vec![p.clone(), p]);
            t = if v >= 13 {
                t.with_topic_id(uuid(1))
            } else {
                t.with_topic(topic("events"))
            };
            let mut r = FetchRequest::default()
                .with_max_wait_ms(500)
                .with_min_bytes(1)
                .with_max_bytes(50 << 20)
                .with_isolation_level(1)
                .with_topics(vec![t])
                .with_unknown_tagged_fields(unknown_tags(flex));
            if v >= 7 {
                let mut f = ForgottenTopic::default().with_partitions(vec![1, 2, 3]);
                f = if v >= 13 {
                    f.with_topic_id(uuid(2))
                } else {
                    f.with_topic(topic("old"))
                };
                r = r
                    .with_session_id(77)
                    .with_session_epoch(3)
                    .with_forgotten_topics_data(vec![f]);
            }
            if v >= 11 {
                r = r.with_rack_id(s("rack-a"));
            }
            if v >= 12 {
                r = r.with_cluster_id(Some(s("cluster-xyz")));
            }
            if v >= 15 {
                r = r.with_replica_state(
                    ReplicaState::default()
                        .with_replica_id(BrokerId(3))
                        .with_replica_epoch(8),
                );
            }
            r.into()
        }
        ApiKey::CreateTopics => {
            let t = CreatableTopic::default()
                .with_name(topic("new-topic"))
                .with_num_partitions(-1)
                .with_replication_factor(-1)
                .with_assignments(vec![CreatableReplicaAssignment::default()
                    .with_partition_index(0)
                    .with_broker_ids(vec![BrokerId(1), BrokerId(2)])])
                .with_configs(vec![
                    CreatableTopicConfig::default()
                        .with_name(s("retention.ms"))
                        .with_value(Some(s("1000"))),
                    CreatableTopicConfig::default()
                        .with_name(s("cleanup.policy"))
                        .with_value(None),
                ])
                .with_unknown_tagged_fields(unknown_tags(flex));
            CreateTopicsRequest::default()
                .with_topics(vec![t])
                .with_timeout_ms(1000)
                .with_validate_only(true)
                .with_unknown_tagged_fields(unknown_tags(flex))
                .into()
        }
        ApiKey::DeleteTopics => {
            let r = DeleteTopicsRequest::default().with_timeout_ms(100);
            if v >= 6 {
                r.with_topics(vec![
                    DeleteTopicState::default().with_name(Some(topic("a"))),
                    DeleteTopicState::default().with_topic_id(uuid(5)),
                ])
            } else {
                r.with_topic_names(vec![topic("a"), topic("bb")])
            }
            .with_unknown_tagged_fields(unknown_tags(flex))
            .into()
        }
        ApiKey::ApiVersions => {
            let r = ApiVersionsRequest::default().with_unknown_tagged_fields(unknown_tags(flex));
            if v >= 3 {
                r.with_client_software_name(s("sluice-test"))
                    .with_client_software_version(s("0.1.0"))
            } else {
                r
            }
            .into()
        }
        ApiKey::JoinGroup => {
            let mut r = JoinGroupRequest::default()
                .with_group_id(GroupId(s("group")))
                .with_session_timeout_ms(45_000)
                .with_member_id(s("member-1"))
                .with_protocol_type(s("consumer"))
                .with_protocols(vec![
                    JoinGroupRequestProtocol::default()
                        .with_name(s("range"))
                        .with_metadata(Bytes::from_static(&[0, 3, 0, 0, 0, 0])),
                    JoinGroupRequestProtocol::default().with_name(s("cooperative-sticky")),
                ])
                .with_unknown_tagged_fields(unknown_tags(flex));
            if v >= 1 {
                r = r.with_rebalance_timeout_ms(300_000);
            }
            if v >= 5 {
                r = r.with_group_instance_id(Some(s("instance-1")));
            }
            if v >= 8 {
                r = r.with_reason(Some(s("rebalance")));
            }
            r.into()
        }
        ApiKey::OffsetCommit => {
            let mut p = OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(42)
                .with_committed_metadata(Some(s("meta")));
            if v >= 6 {
                p = p.with_committed_leader_epoch(3);
            }
            let q = OffsetCommitRequestPartition::default()
                .with_partition_index(1)
                .with_committed_metadata(None);
            let mut t = OffsetCommitRequestTopic::default().with_partitions(vec![p, q]);
            t = if v >= 10 {
                t.with_topic_id(uuid(6))
            } else {
                t.with_name(topic("events"))
            };
            let mut r = OffsetCommitRequest::default()
                .with_group_id(GroupId(s("group")))
                .with_generation_id_or_member_epoch(7)
                .with_member_id(s("member-1"))
                .with_topics(vec![t])
                .with_unknown_tagged_fields(unknown_tags(flex));
            if v >= 7 {
                r = r.with_group_instance_id(Some(s("instance-1")));
            }
            if (2..=4).contains(&v) {
                r = r.with_retention_time_ms(60_000);
            }
            r.into()
        }
        ApiKey::DescribeTopicPartitions => DescribeTopicPartitionsRequest::default()
            .with_topics(vec![TopicRequest::default().with_name(topic("a"))])
            .with_response_partition_limit(100)
            .with_cursor(Some(
                Cursor::default()
                    .with_topic_name(topic("a"))
                    .with_partition_index(3)
                    .with_unknown_tagged_fields(unknown_tags(flex)),
            ))
            .into(),
        ApiKey::BrokerHeartbeat => {
            let r = BrokerHeartbeatRequest::default()
                .with_broker_id(BrokerId(1))
                .with_broker_epoch(5)
                .with_want_fence(true);
            if v >= 1 {
                r.with_offline_log_dirs(vec![uuid(1), uuid(2)])
            } else {
                r
            }
            .into()
        }
        _ => return None,
    };
    Some(req)
}

/// Every request body the tests use: each API at each valid version, default and (where a
/// builder exists) populated. `(api, version, body, populated)`.
fn corpus() -> Vec<(ApiKey, i16, Bytes, bool)> {
    let mut out = Vec::new();
    for api in ApiKey::iter() {
        for v in versions(api).filter(|&v| crate_supports(api, v)) {
            out.push((api, v, encode(&default_request(api), v), false));
            if let Some(req) = populated(api, v) {
                out.push((api, v, encode(&req, v), true));
            }
        }
    }
    out
}

fn schema_of(api: ApiKey) -> &'static Message {
    match request_schema(api) {
        Some(m) => m,
        None => panic!("no schema for {api:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The tables.

#[test]
fn valid_versions_match_the_crate_for_every_api_key() {
    let mut checked = 0;
    for api in ApiKey::iter() {
        let m = schema_of(api);
        let r = api.valid_versions();
        assert_eq!(m.api_key, api as i16, "{api:?}");
        assert_eq!(
            (m.valid.0, m.valid.1),
            (r.min, r.max),
            "{api:?} ({})",
            m.name
        );
        checked += 1;
    }
    assert_eq!(checked, 87, "the crate's request count changed");
}

#[test]
fn crate_gaps_are_exactly_the_known_ones() {
    let mut gaps = Vec::new();
    for api in ApiKey::iter() {
        for v in versions(api) {
            let mut buf = BytesMut::new();
            if default_request(api).encode(&mut buf, v).is_err() {
                gaps.push((api, v));
            }
        }
    }
    assert_eq!(gaps, CRATE_GAPS);
}

#[test]
fn header_table_matches_kafka() {
    let h = request_header_schema();
    assert_eq!((h.valid.0, h.valid.1), (1, 2));
    assert!(h.flexible.contains(2) && !h.flexible.contains(1));
    let client_id = h.fields.iter().find(|f| f.name == "ClientId");
    assert_eq!(client_id.and_then(|f| f.flexible), Some(table::NONE));
}

pub(crate) fn check_struct(
    name: &str,
    fields: &[Field],
    flexible: table::V,
    depth: usize,
) -> usize {
    assert!(depth < walk::MAX_DEPTH, "{name} nests too deep");
    let mut deepest = depth;
    let mut tags = Vec::new();
    for f in fields {
        assert!(!f.versions.is_empty(), "{name}.{} has no versions", f.name);
        if !f.tagged.is_empty() {
            // Tagged versions are inside the field's versions and the flexible versions.
            for v in f.tagged.0..=f.tagged.1.min(200) {
                assert!(
                    f.versions.contains(v) && flexible.contains(v),
                    "{name}.{}",
                    f.name
                );
            }
            assert!(!tags.contains(&f.tag), "{name}: tag {} twice", f.tag);
            tags.push(f.tag);
        }
        let mut ty = f.ty;
        while let Ty::Array(elem) = ty {
            ty = *elem;
        }
        if let Ty::Struct(sub) = ty {
            deepest = deepest.max(check_struct(name, sub, flexible, depth + 1));
        }
    }
    deepest
}

#[test]
fn header_table_walks_headers_like_the_header_decoder() {
    for client_id in [None, Some(&b"rdkafka"[..]), Some(&b""[..])] {
        for hv in [1i16, 2] {
            let mut h = vec![0, 3, 0, 12, 0, 0, 0, 9];
            match client_id {
                Some(c) => {
                    h.extend_from_slice(&(c.len() as i16).to_be_bytes());
                    h.extend_from_slice(c);
                }
                None => h.extend_from_slice(&(-1i16).to_be_bytes()),
            }
            if hv == 2 {
                h.extend_from_slice(&[1, 3, 2, 0xaa, 0xbb]); // one unknown tagged field
            }
            let header = request_header_schema();
            let end = walk::walk_message(header, ApiKey::Metadata, hv, &h);
            let decoded = crate::header::decode(&h, hv).map(|(_, end)| end);
            assert_eq!(end, Ok(h.len()), "v{hv} {client_id:?}");
            assert_eq!(decoded, Ok(h.len()), "v{hv} {client_id:?}");
        }
    }
}

#[test]
fn tables_are_consistent_and_shallow() {
    let mut deepest = 0;
    for m in generated::REQUESTS.iter().flatten() {
        if m.valid.is_empty() {
            assert!(m.fields.is_empty(), "{}", m.name);
            continue;
        }
        deepest = deepest.max(check_struct(m.name, m.fields, m.flexible, 0));
    }
    assert!(deepest >= 3, "nested structs were lost: depth {deepest}");
}

#[test]
fn versions_outside_valid_versions_have_no_schema() {
    for api in ApiKey::iter() {
        let r = api.valid_versions();
        for v in [r.min - 1, r.max + 1, -1, i16::MIN, i16::MAX] {
            if r.min <= v && v <= r.max {
                continue;
            }
            assert_eq!(
                validate_request_body(api, v, &[0; 64]),
                Err(SchemaError::NoSchema { api, version: v })
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Encoded requests pass; truncated and inflated ones do not.

#[test]
fn every_request_the_crate_encodes_passes_and_is_walked_to_the_end() {
    let corpus = corpus();
    let populated = corpus.iter().filter(|c| c.3).count();
    assert!(corpus.len() > 300, "only {} bodies", corpus.len());
    assert!(populated > 60, "only {populated} populated bodies");
    for (api, v, body, _) in corpus {
        let end = walk::walk_message(schema_of(api), api, v, &body);
        assert_eq!(end, Ok(body.len()), "{api:?} v{v} {body:02x?}");
        if let Err(e) = decode_body(api, v, body.clone()) {
            panic!("{api:?} v{v}: {e:#}");
        }
    }
}

#[test]
fn walker_does_not_allocate() {
    for (api, v, body, _) in corpus() {
        let (r, allocs, _) = measure(|| validate_request_body(api, v, &body));
        assert_eq!(r, Ok(()));
        assert_eq!(allocs, 0, "{api:?} v{v} allocated");
    }
}

#[test]
fn every_truncation_is_rejected() {
    for (api, v, body, _) in corpus() {
        for cut in 0..body.len() {
            let short = body.slice(..cut);
            let r = validate_request_body(api, v, &short);
            assert!(
                matches!(r, Err(SchemaError::Field { .. })),
                "{api:?} v{v} cut at {cut} of {}: {r:?}",
                body.len()
            );
            // And the decode path refuses it without reaching the crate.
            assert!(matches!(
                decode_body(api, v, short),
                Err(BodyError::Schema(_))
            ));
        }
    }
}

/// Replace the `width` bytes at `at` with `with`.
pub(crate) fn splice(body: &[u8], at: usize, width: usize, with: &[u8]) -> Vec<u8> {
    let mut out = body[..at].to_vec();
    out.extend_from_slice(with);
    out.extend_from_slice(&body[at + width..]);
    out
}

#[test]
fn every_length_and_count_bumped_to_huge_is_rejected() {
    let mut sites_seen = 0;
    for (api, v, body, _) in corpus() {
        let trace = RefCell::new(Vec::new());
        let end = walk::walk_message_traced(schema_of(api), api, v, &body, &trace);
        assert_eq!(end, Ok(body.len()));
        for site in trace.into_inner() {
            sites_seen += 1;
            let variants: Vec<Vec<u8>> = match site {
                Site::I16(at) => vec![
                    splice(&body, at, 2, &i16::MAX.to_be_bytes()),
                    splice(&body, at, 2, &(-2i16).to_be_bytes()),
                    splice(&body, at, 2, &i16::MIN.to_be_bytes()),
                ],
                Site::I32(at) => vec![
                    splice(&body, at, 4, &i32::MAX.to_be_bytes()),
                    splice(&body, at, 4, &0x0100_0000i32.to_be_bytes()),
                    splice(&body, at, 4, &(-2i32).to_be_bytes()),
                    splice(&body, at, 4, &i32::MIN.to_be_bytes()),
                ],
                Site::Varint { offset, width } => vec![
                    splice(&body, offset, width, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
                    splice(&body, offset, width, &[0x80, 0x80, 0x80, 0x08]),
                    // Overlong: a sixth byte, or bits beyond 32.
                    splice(&body, offset, width, &[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
                    splice(&body, offset, width, &[0xff, 0xff, 0xff, 0xff, 0x7f]),
                ],
            };
            for bad in variants {
                let r = validate_request_body(api, v, &bad);
                assert!(
                    matches!(r, Err(SchemaError::Field { .. })),
                    "{api:?} v{v} {site:?}: {r:?}"
                );
                let (d, _, max) = measure(|| decode_body(api, v, Bytes::from(bad)));
                assert!(matches!(d, Err(BodyError::Schema(_))));
                assert!(max < 4096, "{api:?} v{v} {site:?}: allocated {max} bytes");
            }
        }
    }
    assert!(sites_seen > 1000, "only {sites_seen} length sites");
}

/// The crash from the notes: a 32-byte Metadata v12 request whose topics count is huge. The
/// crate alone would call `Vec::with_capacity(0xffff_fffe)` on `MetadataRequestTopic`s.
#[test]
fn metadata_v12_with_a_huge_topic_count_is_rejected_without_allocating() {
    let mut frame = Vec::new();
    frame.extend_from_slice(&28i32.to_be_bytes()); // size
    frame.extend_from_slice(&3i16.to_be_bytes()); // Metadata
    frame.extend_from_slice(&12i16.to_be_bytes()); // v12
    frame.extend_from_slice(&1i32.to_be_bytes()); // correlation id
    frame.extend_from_slice(&4i16.to_be_bytes()); // client id "fuzz"
    frame.extend_from_slice(b"fuzz");
    frame.push(0); // header tagged fields
    frame.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]); // topics: 4294967294 entries
    frame.extend_from_slice(&[0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
    assert_eq!(frame.len(), 32);

    let mut buf = BytesMut::from(&frame[..]);
    let f = crate::frame::split_frame(&mut buf, crate::frame::DEFAULT_MAX_REQUEST_SIZE);
    let Ok(Some(f)) = f else {
        panic!("frame not split: {f:?}")
    };
    let f = f.freeze();
    let hv = crate::header::request_header_version(ApiKey::Metadata, 12);
    assert_eq!(hv, 2);
    let (h, body_start) = match crate::header::decode(&f, hv) {
        Ok(x) => x,
        Err(e) => panic!("{e}"),
    };
    assert_eq!((h.api_key, h.api_version), (3, 12));
    let body = f.slice(body_start..);
    assert_eq!(body.len(), 13);

    let (r, _, max) = measure(|| decode_body(ApiKey::Metadata, 12, body.clone()));
    match r {
        Err(BodyError::Schema(SchemaError::Field {
            field: "Topics",
            offset: 0,
            problem: Problem::CountTooLarge { count, .. },
            ..
        })) => assert_eq!(count, 0xffff_fffe),
        other => panic!("expected a rejected Topics count, got {other:?}"),
    }
    assert!(max < 1024, "allocated {max} bytes");
    let (_, allocs, _) = measure(|| validate_request_body(ApiKey::Metadata, 12, &body));
    assert_eq!(allocs, 0);
}

#[test]
fn nullable_struct_markers_and_nulls_follow_the_schema() {
    let api = ApiKey::DescribeTopicPartitions;
    let some = encode(
        &populated(api, 0).unwrap_or_else(|| default_request(api)),
        0,
    );
    // Layout: topics, limit (4), cursor marker (1), cursor..., tagged fields.
    let none = encode(&default_request(api), 0);
    assert_eq!(validate_request_body(api, 0, &none), Ok(()));
    assert_eq!(validate_request_body(api, 0, &some), Ok(()));
    // The default's cursor is null: marker -1 at len - 2, tagged count at len - 1.
    let marker_at = none.len() - 2;
    assert_eq!(none[marker_at], 0xff);
    for bad in [0u8, 2, 0x7f, 0x80] {
        let mut b = none.to_vec();
        b[marker_at] = bad;
        assert_eq!(
            validate_request_body(api, 0, &b),
            Err(SchemaError::Field {
                message: "DescribeTopicPartitionsRequest",
                api,
                version: 0,
                field: "Cursor",
                offset: marker_at,
                problem: Problem::BadPresenceMarker { marker: bad as i8 }
            })
        );
    }
    // A null where the schema does not allow one: Metadata v0 topics (nullable from v1).
    assert!(matches!(
        validate_request_body(ApiKey::Metadata, 0, &(-1i32).to_be_bytes()),
        Err(SchemaError::Field {
            problem: Problem::UnexpectedNull,
            ..
        })
    ));
    assert_eq!(
        validate_request_body(ApiKey::Metadata, 1, &(-1i32).to_be_bytes()),
        Ok(())
    );
}

#[test]
fn known_tagged_fields_must_fill_their_declared_size() {
    // BrokerHeartbeat v1: broker_id, epoch, offset, want_fence, want_shut_down, then tagged
    // field 0 = OfflineLogDirs (compact array of uuid).
    let api = ApiKey::BrokerHeartbeat;
    let mut b = vec![0u8; 4 + 8 + 8 + 1 + 1];
    b.extend_from_slice(&[1, 0, 18, 2]); // one tagged field, tag 0, size 18, one uuid...
    b.extend_from_slice(&[7; 16]);
    b.push(0xee); // ...plus a stray byte inside the declared size
    let r = validate_request_body(api, 1, &b);
    assert!(
        matches!(
            r,
            Err(SchemaError::Field {
                field: "OfflineLogDirs",
                problem: Problem::TaggedSizeMismatch {
                    tag: 0,
                    declared: 18,
                    used: 17
                },
                ..
            })
        ),
        "{r:?}"
    );
    // The same bytes under an unknown tag are skipped.
    b[23] = 5;
    assert_eq!(validate_request_body(api, 1, &b), Ok(()));
    // A tagged array whose count runs past the declared size is rejected.
    b[23] = 0;
    b[24] = 1;
    b[25] = 9; // eight uuids claimed in a 1-byte field
    b.truncate(26);
    assert!(matches!(
        validate_request_body(api, 1, &b),
        Err(SchemaError::Field {
            field: "OfflineLogDirs",
            problem: Problem::CountTooLarge { .. },
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// Property tests: nothing on the decode path panics or allocates out of proportion.

pub(crate) fn api_keys() -> Vec<ApiKey> {
    ApiKey::iter().collect()
}

/// An upper bound for what decoding a `len`-byte body may allocate at once: the crate's
/// largest element types are a few hundred bytes, and every count now has bytes behind it.
pub(crate) fn alloc_bound(len: usize) -> usize {
    64 * 1024 + 512 * len
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn random_bodies_never_panic(
        key in prop::sample::select(api_keys()),
        vdelta in -1i16..=20,
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let v = key.valid_versions().min.saturating_add(vdelta);
        let len = body.len();
        let (_, _, max) = measure(|| decode_body(key, v, Bytes::from(body)));
        prop_assert!(max <= alloc_bound(len), "{:?} v{}: {} bytes", key, v, max);
    }

    #[test]
    fn mutated_requests_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        thread_local!(static CORPUS: Vec<(ApiKey, i16, Bytes, bool)> = corpus());
        let (api, v, body) = CORPUS.with(|c| {
            let (api, v, body, _) = &c[pick.index(c.len())];
            (*api, *v, body.to_vec())
        });
        let mut body = body;
        if !body.is_empty() {
            for (at, byte) in edits {
                let i = at.index(body.len());
                body[i] = byte;
            }
        }
        let len = body.len();
        let (_, _, max) = measure(|| decode_body(api, v, Bytes::from(body)));
        prop_assert!(max <= alloc_bound(len), "{:?} v{}: {} bytes", api, v, max);
    }
}

/// Writes the corpus as whole frames (size, header, body) into `$SLUICE_FUZZ_SEEDS`, as seeds
/// for the `request_decode` fuzz target (crates/protocol/fuzz/run.sh). Every frame is first
/// checked to go through the whole decode path.
#[test]
#[ignore = "writes fuzz seeds; run by crates/protocol/fuzz/run.sh"]
fn write_fuzz_seeds() {
    let Some(dir) = std::env::var_os("SLUICE_FUZZ_SEEDS") else {
        panic!("set SLUICE_FUZZ_SEEDS to the corpus directory");
    };
    let dir = std::path::PathBuf::from(dir);
    let mut written = 0;
    for (i, (api, v, body, _)) in corpus().into_iter().enumerate() {
        let hv = crate::header::request_header_version(api, v);
        let mut frame = Vec::new();
        frame.extend_from_slice(&(api as i16).to_be_bytes());
        frame.extend_from_slice(&v.to_be_bytes());
        frame.extend_from_slice(&(i as i32).to_be_bytes());
        frame.extend_from_slice(&4i16.to_be_bytes());
        frame.extend_from_slice(b"seed");
        if hv >= 2 {
            frame.push(0);
        }
        frame.extend_from_slice(&body);
        let (h, start) = match crate::header::decode(&frame, hv) {
            Ok(x) => x,
            Err(e) => panic!("{api:?} v{v}: {e}"),
        };
        assert_eq!((h.api_key, h.api_version), (api as i16, v));
        if let Err(e) = decode_body(api, v, Bytes::copy_from_slice(&frame[start..])) {
            panic!("{api:?} v{v}: {e}");
        }
        let mut seed = (frame.len() as i32).to_be_bytes().to_vec();
        seed.extend_from_slice(&frame);
        let path = dir.join(format!("{:02}-{}-v{v}-{i}", api as i16, api_name(api)));
        if let Err(e) = std::fs::write(&path, seed) {
            panic!("{}: {e}", path.display());
        }
        written += 1;
    }
    assert!(written > 300);
}

fn api_name(api: ApiKey) -> String {
    format!("{api:?}")
}
