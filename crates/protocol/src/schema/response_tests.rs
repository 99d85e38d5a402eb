//! Tests of the response tables and of the walker on responses, against `kafka-protocol`'s own
//! encoder (the broker side) and decoder (the client side), through
//! [`crate::client::decode_response`].

use super::table::Message;
use super::tests::{
    alloc_bound, api_keys, check_struct, measure, s, splice, topic, unknown_tags, uuid,
};
use super::walk::{self, Site};
use super::*;
use crate::client::{decode_response, for_every_kind, ResponseError, PEER_RESPONSE_APIS};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use proptest::prelude::*;
use std::cell::RefCell;

// ---------------------------------------------------------------------------------------------
// Building responses with the crate's encoder.

pub(crate) fn default_response(api: ApiKey) -> ResponseKind {
    macro_rules! default_of {
        ($($name:ident),*) => {
            match api {
                $(ApiKey::$name => ResponseKind::$name(Default::default()),)*
            }
        };
    }
    for_every_kind!(default_of)
}

pub(crate) fn response_versions(api: ApiKey) -> std::ops::RangeInclusive<i16> {
    let r = api.valid_versions();
    r.min..=r.max
}

fn response_flexible(api: ApiKey, version: i16) -> bool {
    response_schema(api).is_some_and(|m| m.flexible.contains(version))
}

pub(crate) fn encode_response_body(resp: &ResponseKind, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    if let Err(e) = resp.encode(&mut buf, version) {
        panic!("crate failed to encode {resp:?} at v{version}: {e:#}");
    }
    buf.freeze()
}

/// A response frame (no size prefix) as a broker sends it: correlation id, the header's tagged
/// fields in header v1, the body.
pub(crate) fn response_frame(api: ApiKey, version: i16, correlation_id: i32, body: &[u8]) -> Bytes {
    let mut f = BytesMut::new();
    f.put_i32(correlation_id);
    if crate::response::response_header_version(api, version) >= 1 {
        f.put_u8(0);
    }
    f.put_slice(body);
    f.freeze()
}

/// Responses with populated arrays, strings, nullable values, records and tagged fields, for
/// the APIs a broker of a KRaft cluster sends requests of (issue 19), built for `v`.
pub(crate) fn populated_response(api: ApiKey, v: i16) -> Option<ResponseKind> {
    let flex = response_flexible(api, v);
    let resp: ResponseKind = match api {
        ApiKey::Fetch => {
            use fetch_response::*;
            let mut p = PartitionData::default()
                .with_partition_index(0)
                .with_high_watermark(100)
                .with_last_stable_offset(90)
                .with_aborted_transactions(Some(vec![AbortedTransaction::default()
                    .with_producer_id(ProducerId(7))
                    .with_first_offset(12)]))
                .with_records(Some(Bytes::from(vec![0xab; 70])))
                .with_unknown_tagged_fields(unknown_tags(flex));
            if v >= 5 {
                p = p.with_log_start_offset(3);
            }
            if v >= 11 {
                p = p.with_preferred_read_replica(BrokerId(2));
            }
            if v >= 12 {
                p = p
                    .with_diverging_epoch(
                        EpochEndOffset::default().with_epoch(3).with_end_offset(50),
                    )
                    .with_current_leader(
                        LeaderIdAndEpoch::default()
                            .with_leader_id(BrokerId(1))
                            .with_leader_epoch(4),
                    )
                    .with_snapshot_id(SnapshotId::default().with_end_offset(40).with_epoch(2));
            }
            let q = PartitionData::default()
                .with_partition_index(1)
                .with_error_code(6)
                .with_aborted_transactions(None)
                .with_records(None);
            let mut t = FetchableTopicResponse::default().with_partitions(vec![p, q]);
            t = if v >= 13 {
                t.with_topic_id(uuid(1))
            } else {
                t.with_topic(topic("events"))
            };
            let mut r = FetchResponse::default()
                .with_throttle_time_ms(5)
                .with_responses(vec![t, FetchableTopicResponse::default()])
                .with_unknown_tagged_fields(unknown_tags(flex));
            if v >= 7 {
                r = r.with_session_id(9);
            }
            if v >= 16 {
                r = r.with_node_endpoints(vec![NodeEndpoint::default()
                    .with_node_id(BrokerId(1))
                    .with_host(s("broker-1"))
                    .with_port(9092)
                    .with_rack(Some(s("rack-a")))]);
            }
            r.into()
        }
        ApiKey::Metadata => {
            use metadata_response::*;
            let mut b = MetadataResponseBroker::default()
                .with_node_id(BrokerId(1))
                .with_host(s("broker-1"))
                .with_port(9092);
            if v >= 1 {
                b = b.with_rack(Some(s("rack-a")));
            }
            let mut p = MetadataResponsePartition::default()
                .with_partition_index(0)
                .with_leader_id(BrokerId(1))
                .with_replica_nodes(vec![BrokerId(1), BrokerId(2)])
                .with_isr_nodes(vec![BrokerId(1)])
                .with_unknown_tagged_fields(unknown_tags(flex));
            if v >= 7 {
                p = p.with_leader_epoch(3);
            }
            if v >= 5 {
                p = p.with_offline_replicas(vec![BrokerId(2)]);
            }
            let mut t = MetadataResponseTopic::default()
                .with_name(Some(topic("events")))
                .with_partitions(vec![p]);
            if v >= 10 {
                t = t.with_topic_id(uuid(1));
            }
            if v >= 1 {
                t = t.with_is_internal(true);
            }
            if v >= 8 {
                t = t.with_topic_authorized_operations(0x0ff8);
            }
            let mut r = MetadataResponse::default()
                .with_brokers(vec![b])
                .with_topics(vec![t, MetadataResponseTopic::default().with_error_code(3)])
                .with_unknown_tagged_fields(unknown_tags(flex));
            if v >= 1 {
                r = r.with_controller_id(BrokerId(1));
            }
            if v >= 2 {
                r = r.with_cluster_id(Some(s("cluster-xyz")));
            }
            if v >= 3 {
                r = r.with_throttle_time_ms(5);
            }
            if (8..=10).contains(&v) {
                r = r.with_cluster_authorized_operations(0x0ff8);
            }
            r.into()
        }
        ApiKey::ApiVersions => {
            use api_versions_response::*;
            let mut r = ApiVersionsResponse::default()
                .with_api_keys(vec![
                    ApiVersion::default()
                        .with_api_key(18)
                        .with_min_version(0)
                        .with_max_version(4),
                    ApiVersion::default()
                        .with_api_key(1)
                        .with_min_version(4)
                        .with_max_version(17)
                        .with_unknown_tagged_fields(unknown_tags(flex)),
                ])
                .with_unknown_tagged_fields(unknown_tags(flex));
            if v >= 1 {
                r = r.with_throttle_time_ms(5);
            }
            if v >= 3 {
                r = r
                    .with_supported_features(vec![SupportedFeatureKey::default()
                        .with_name(s("metadata.version"))
                        .with_min_version(7)
                        .with_max_version(27)])
                    .with_finalized_features_epoch(12)
                    .with_finalized_features(vec![FinalizedFeatureKey::default()
                        .with_name(s("metadata.version"))
                        .with_min_version_level(27)
                        .with_max_version_level(27)])
                    .with_zk_migration_ready(true);
            }
            r.into()
        }
        ApiKey::DescribeQuorum => {
            use describe_quorum_response::*;
            let voter = |id: i32| {
                let mut r = ReplicaState::default()
                    .with_replica_id(BrokerId(id))
                    .with_log_end_offset(100);
                if v >= 1 {
                    r = r
                        .with_last_fetch_timestamp(1_700_000_000_000)
                        .with_last_caught_up_timestamp(1_700_000_000_000);
                }
                if v >= 2 {
                    r = r.with_replica_directory_id(uuid(id as u8));
                }
                r
            };
            let mut p = PartitionData::default()
                .with_leader_id(BrokerId(1))
                .with_leader_epoch(3)
                .with_high_watermark(100)
                .with_current_voters(vec![voter(1), voter(2)])
                .with_observers(vec![voter(3)])
                .with_unknown_tagged_fields(unknown_tags(flex));
            if v >= 2 {
                p = p.with_error_message(Some(s("none")));
            }
            let mut r = DescribeQuorumResponse::default().with_topics(vec![TopicData::default()
                .with_topic_name(topic("__cluster_metadata"))
                .with_partitions(vec![p])]);
            if v >= 2 {
                r = r.with_error_message(None).with_nodes(vec![Node::default()
                    .with_node_id(BrokerId(1))
                    .with_listeners(vec![Listener::default()
                        .with_name(s("CONTROLLER"))
                        .with_host(s("localhost"))
                        .with_port(9093)])]);
            }
            r.into()
        }
        ApiKey::FetchSnapshot => {
            use fetch_snapshot_response::*;
            let p = PartitionSnapshot::default()
                .with_index(0)
                .with_snapshot_id(SnapshotId::default().with_end_offset(10).with_epoch(2))
                .with_current_leader(
                    LeaderIdAndEpoch::default()
                        .with_leader_id(BrokerId(1))
                        .with_leader_epoch(2),
                )
                .with_size(40)
                .with_position(0)
                .with_unaligned_records(Bytes::from(vec![0xcd; 40]))
                .with_unknown_tagged_fields(unknown_tags(flex));
            let mut r = FetchSnapshotResponse::default()
                .with_topics(vec![TopicSnapshot::default()
                    .with_name(topic("__cluster_metadata"))
                    .with_partitions(vec![p])])
                .with_unknown_tagged_fields(unknown_tags(flex));
            if v >= 1 {
                r = r.with_node_endpoints(vec![NodeEndpoint::default()
                    .with_node_id(BrokerId(1))
                    .with_host(s("localhost"))
                    .with_port(9093)]);
            }
            r.into()
        }
        ApiKey::BrokerRegistration => BrokerRegistrationResponse::default()
            .with_throttle_time_ms(5)
            .with_broker_epoch(42)
            .with_unknown_tagged_fields(unknown_tags(flex))
            .into(),
        ApiKey::BrokerHeartbeat => BrokerHeartbeatResponse::default()
            .with_is_caught_up(true)
            .with_is_fenced(false)
            .with_should_shut_down(true)
            .into(),
        ApiKey::AllocateProducerIds => AllocateProducerIdsResponse::default()
            .with_producer_id_start(ProducerId(1000))
            .with_producer_id_len(1000)
            .into(),
        ApiKey::AlterPartition => {
            use alter_partition_response::*;
            AlterPartitionResponse::default()
                .with_topics(vec![TopicData::default()
                    .with_topic_id(uuid(1))
                    .with_partitions(vec![PartitionData::default()
                        .with_partition_index(0)
                        .with_leader_id(BrokerId(1))
                        .with_leader_epoch(3)
                        .with_isr(vec![BrokerId(1), BrokerId(2)])
                        .with_leader_recovery_state(1)
                        .with_partition_epoch(4)])])
                .into()
        }
        ApiKey::OffsetForLeaderEpoch => {
            use offset_for_leader_epoch_response::*;
            OffsetForLeaderEpochResponse::default()
                .with_topics(vec![OffsetForLeaderTopicResult::default()
                    .with_topic(topic("events"))
                    .with_partitions(vec![
                        EpochEndOffset::default()
                            .with_partition(0)
                            .with_leader_epoch(3)
                            .with_end_offset(99),
                        EpochEndOffset::default()
                            .with_partition(1)
                            .with_error_code(75),
                    ])])
                .with_unknown_tagged_fields(unknown_tags(flex))
                .into()
        }
        ApiKey::WriteTxnMarkers => {
            use write_txn_markers_response::*;
            WriteTxnMarkersResponse::default()
                .with_markers(vec![WritableTxnMarkerResult::default()
                    .with_producer_id(ProducerId(7))
                    .with_topics(vec![WritableTxnMarkerTopicResult::default()
                        .with_name(topic("events"))
                        .with_partitions(vec![
                            WritableTxnMarkerPartitionResult::default().with_partition_index(0),
                            WritableTxnMarkerPartitionResult::default()
                                .with_partition_index(1)
                                .with_error_code(6),
                        ])])])
                .into()
        }
        ApiKey::Envelope => EnvelopeResponse::default()
            .with_response_data(Some(Bytes::from_static(b"\x00\x00\x00\x07inner")))
            .into(),
        _ => return None,
    };
    Some(resp)
}

/// Every response body the tests use: each API at each valid version, default and (where a
/// builder exists) populated, with the response it was encoded from.
pub(crate) fn response_corpus() -> Vec<(ApiKey, i16, Bytes, ResponseKind)> {
    let mut out = Vec::new();
    for api in ApiKey::iter() {
        for v in response_versions(api) {
            let d = default_response(api);
            out.push((api, v, encode_response_body(&d, v), d));
            if let Some(p) = populated_response(api, v) {
                out.push((api, v, encode_response_body(&p, v), p));
            }
        }
    }
    out
}

fn response_schema_of(api: ApiKey) -> &'static Message {
    match response_schema(api) {
        Some(m) => m,
        None => panic!("no response schema for {api:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The tables.

#[test]
fn response_valid_versions_match_the_crate_for_every_api_key() {
    let mut checked = 0;
    for api in ApiKey::iter() {
        let m = response_schema_of(api);
        let r = api.valid_versions();
        assert_eq!(m.api_key, api as i16, "{api:?}");
        assert!(m.name.ends_with("Response"), "{}", m.name);
        assert_eq!(
            (m.valid.0, m.valid.1),
            (r.min, r.max),
            "{api:?} ({})",
            m.name
        );
        // And a request of the same API has the same versions.
        let req = request_schema(api).map(|m| m.valid);
        assert_eq!(req, Some(m.valid), "{api:?}");
        checked += 1;
    }
    assert_eq!(checked, 87, "the crate's response count changed");
}

/// Unlike requests (OffsetCommit / OffsetFetch v10, InitProducerId v6), kafka-protocol 0.18
/// encodes and decodes every response version `ApiKey::valid_versions()` lists.
#[test]
fn the_crate_has_no_response_gaps() {
    let mut gaps = Vec::new();
    for api in ApiKey::iter() {
        for v in response_versions(api) {
            let mut buf = BytesMut::new();
            if default_response(api).encode(&mut buf, v).is_err() {
                gaps.push((api, v));
            }
        }
    }
    assert_eq!(gaps, []);
}

#[test]
fn response_header_table_matches_kafka() {
    let h = response_header_schema();
    assert_eq!(h.name, "ResponseHeader");
    assert_eq!((h.valid.0, h.valid.1), (0, 1));
    assert!(h.flexible.contains(1) && !h.flexible.contains(0));
    let names: Vec<_> = h.fields.iter().map(|f| f.name).collect();
    assert_eq!(names, ["CorrelationId"]);
}

#[test]
fn response_header_table_walks_headers_like_decode_response() {
    // Metadata v9+ uses header v1, v0-8 header v0; the body is an empty v12 / v8 Metadata.
    for (v, hv) in [(8i16, 0i16), (12, 1)] {
        let body = encode_response_body(&default_response(ApiKey::Metadata), v);
        for tags in [&[0u8][..], &[1, 3, 2, 0xaa, 0xbb]] {
            let mut frame = 77i32.to_be_bytes().to_vec();
            if hv == 1 {
                frame.extend_from_slice(tags);
            }
            let header_len = frame.len();
            let end = walk::walk_message(response_header_schema(), ApiKey::Metadata, hv, &frame);
            assert_eq!(end, Ok(header_len), "v{v}");
            frame.extend_from_slice(&body);
            let r = decode_response(ApiKey::Metadata, v, Bytes::from(frame));
            assert!(
                matches!(r, Ok((77, ResponseKind::Metadata(_)))),
                "v{v}: {r:?}"
            );
        }
    }
}

#[test]
fn response_tables_are_consistent_and_shallow() {
    let mut deepest = 0;
    let mut with_fields = 0;
    for m in generated::RESPONSES.iter().flatten() {
        if m.valid.is_empty() {
            assert!(m.fields.is_empty(), "{}", m.name);
            continue;
        }
        with_fields += 1;
        deepest = deepest.max(check_struct(m.name, m.fields, m.flexible, 0));
    }
    assert!(with_fields >= 87, "{with_fields} responses with fields");
    assert!(deepest >= 3, "nested structs were lost: depth {deepest}");
}

#[test]
fn response_versions_outside_valid_versions_have_no_schema() {
    for api in ApiKey::iter() {
        let r = api.valid_versions();
        for v in [r.min - 1, r.max + 1, -1, i16::MIN, i16::MAX] {
            if r.min <= v && v <= r.max {
                continue;
            }
            assert_eq!(
                validate_response_body(api, v, &[0; 64]),
                Err(SchemaError::NoResponseSchema { api, version: v })
            );
            let frame = response_frame(api, v, 1, &[0; 64]);
            assert!(matches!(
                decode_response(api, v, frame),
                Err(ResponseError::Schema(SchemaError::NoResponseSchema { .. }))
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Encoded responses pass and decode to what was encoded; truncated and inflated ones do not.

#[test]
fn every_response_the_crate_encodes_passes_and_decodes_to_itself() {
    let corpus = response_corpus();
    assert!(corpus.len() > 300, "only {} bodies", corpus.len());
    let populated = corpus
        .iter()
        .filter(|(api, _, _, r)| *r != default_response(*api))
        .count();
    assert!(populated > 50, "only {populated} populated bodies");
    for (i, (api, v, body, resp)) in corpus.into_iter().enumerate() {
        let end = walk::walk_message(response_schema_of(api), api, v, &body);
        assert_eq!(end, Ok(body.len()), "{api:?} v{v} {body:02x?}");
        let frame = response_frame(api, v, i as i32, &body);
        match decode_response(api, v, frame) {
            Ok((id, decoded)) => {
                assert_eq!(id, i as i32);
                assert_eq!(decoded, resp, "{api:?} v{v}");
            }
            Err(e) => panic!("{api:?} v{v}: {e:#}"),
        }
    }
}

#[test]
fn response_walker_does_not_allocate() {
    for (api, v, body, _) in response_corpus() {
        let (r, allocs, _) = measure(|| validate_response_body(api, v, &body));
        assert_eq!(r, Ok(()));
        assert_eq!(allocs, 0, "{api:?} v{v} allocated");
    }
}

#[test]
fn every_response_truncation_is_rejected() {
    for (api, v, body, _) in response_corpus() {
        let frame = response_frame(api, v, 3, &body);
        let header_len = frame.len() - body.len();
        for cut in 0..frame.len() {
            let r = decode_response(api, v, frame.slice(..cut));
            if cut < header_len {
                assert!(
                    matches!(r, Err(ResponseError::Header { .. })),
                    "{api:?} v{v} header cut at {cut}: {r:?}"
                );
            } else {
                let short = &body[..cut - header_len];
                assert!(
                    matches!(
                        validate_response_body(api, v, short),
                        Err(SchemaError::Field { .. })
                    ),
                    "{api:?} v{v} cut at {cut} of {}",
                    frame.len()
                );
                // The ApiVersions v0 fallback may read a short v3 body as v0; never the crate
                // on a body that fails the walk.
                if api != ApiKey::ApiVersions || v == 0 {
                    assert!(
                        matches!(r, Err(ResponseError::Schema(SchemaError::Field { .. }))),
                        "{api:?} v{v} cut at {cut}: {r:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_response_length_and_count_bumped_to_huge_is_rejected() {
    let mut sites_seen = 0;
    for (api, v, body, _) in response_corpus() {
        let trace = RefCell::new(Vec::new());
        let end = walk::walk_message_traced(response_schema_of(api), api, v, &body, &trace);
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
                    splice(&body, offset, width, &[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
                    splice(&body, offset, width, &[0xff, 0xff, 0xff, 0xff, 0x7f]),
                ],
            };
            for bad in variants {
                let r = validate_response_body(api, v, &bad);
                assert!(
                    matches!(r, Err(SchemaError::Field { .. })),
                    "{api:?} v{v} {site:?}: {r:?}"
                );
                let frame = response_frame(api, v, 1, &bad);
                let (d, _, max) = measure(|| decode_response(api, v, frame));
                if api != ApiKey::ApiVersions || v == 0 {
                    assert!(
                        matches!(d, Err(ResponseError::Schema(_))),
                        "{api:?} v{v} {site:?}: {d:?}"
                    );
                }
                assert!(max < 4096, "{api:?} v{v} {site:?}: allocated {max} bytes");
            }
        }
    }
    assert!(sites_seen > 1000, "only {sites_seen} length sites");
}

/// The response-side twin of the Metadata v12 request crash: a Fetch v16 response whose topic
/// count is huge. The crate alone would call `Vec::with_capacity` on billions of topics.
#[test]
fn fetch_response_with_a_huge_topic_count_is_rejected_without_allocating() {
    let mut frame = 5i32.to_be_bytes().to_vec(); // correlation id
    frame.push(0); // header tagged fields
    frame.extend_from_slice(&0i32.to_be_bytes()); // throttle
    frame.extend_from_slice(&0i16.to_be_bytes()); // error
    frame.extend_from_slice(&0i32.to_be_bytes()); // session id
    frame.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]); // responses: 4294967294
    frame.extend_from_slice(&[0; 8]);
    let (r, _, max) = measure(|| decode_response(ApiKey::Fetch, 16, Bytes::from(frame)));
    match r {
        Err(ResponseError::Schema(SchemaError::Field {
            message: "FetchResponse",
            field: "Responses",
            offset: 10,
            problem: Problem::CountTooLarge { count, .. },
            ..
        })) => assert_eq!(count, 0xffff_fffe),
        other => panic!("expected a rejected Responses count, got {other:?}"),
    }
    assert!(max < 1024, "allocated {max} bytes");
}

// ---------------------------------------------------------------------------------------------
// Property tests: nothing on the response path panics or allocates out of proportion.

fn response_frames() -> Vec<(ApiKey, i16, Vec<u8>)> {
    response_corpus()
        .into_iter()
        .map(|(api, v, body, _)| (api, v, response_frame(api, v, 1, &body).to_vec()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn random_response_frames_never_panic(
        key in prop::sample::select(api_keys()),
        vdelta in -1i16..=20,
        frame in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let v = key.valid_versions().min.saturating_add(vdelta);
        let len = frame.len();
        let (_, _, max) = measure(|| decode_response(key, v, Bytes::from(frame)));
        prop_assert!(max <= alloc_bound(len), "{:?} v{}: {} bytes", key, v, max);
    }

    #[test]
    fn mutated_responses_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        thread_local!(static FRAMES: Vec<(ApiKey, i16, Vec<u8>)> = response_frames());
        let (api, v, mut frame) = FRAMES.with(|c| c[pick.index(c.len())].clone());
        for (at, byte) in edits {
            let i = at.index(frame.len());
            frame[i] = byte;
        }
        let len = frame.len();
        let (_, _, max) = measure(|| decode_response(api, v, Bytes::from(frame)));
        prop_assert!(max <= alloc_bound(len), "{:?} v{}: {} bytes", api, v, max);
    }
}

/// Writes seeds for the `response_decode` fuzz target into `$SLUICE_FUZZ_SEEDS`: per response
/// of [`PEER_RESPONSE_APIS`] in the corpus and per golden response of Kafka 4.3.1, one input
/// `[index into PEER_RESPONSE_APIS, version, frame...]` (the target's input layout), each first
/// checked to decode.
#[test]
#[ignore = "writes fuzz seeds; run by crates/protocol/fuzz/run.sh"]
fn write_response_fuzz_seeds() {
    let Some(dir) = std::env::var_os("SLUICE_FUZZ_SEEDS") else {
        panic!("set SLUICE_FUZZ_SEEDS to the corpus directory");
    };
    let dir = std::path::PathBuf::from(dir);
    let mut inputs: Vec<(String, ApiKey, i16, Bytes)> = response_corpus()
        .into_iter()
        .enumerate()
        .map(|(i, (api, v, body, _))| {
            let name = format!("{:02}-{api:?}-v{v}-{i}", api as i16);
            (name, api, v, response_frame(api, v, i as i32, &body))
        })
        .collect();
    for &(file, api, v, bytes) in crate::client::tests::GOLDEN {
        inputs.push((format!("kafka-{file}"), api, v, Bytes::from_static(bytes)));
    }
    let mut written = 0;
    for (name, api, v, frame) in inputs {
        let Some(index) = PEER_RESPONSE_APIS.iter().position(|&a| a == api) else {
            continue;
        };
        if let Err(e) = decode_response(api, v, frame.clone()) {
            panic!("{name}: {e}");
        }
        let mut seed = vec![index as u8, v as u8];
        seed.extend_from_slice(&frame);
        let path = dir.join(name);
        if let Err(e) = std::fs::write(&path, seed) {
            panic!("{}: {e}", path.display());
        }
        written += 1;
    }
    assert!(written > 40, "only {written} seeds");
}
