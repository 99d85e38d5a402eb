//! Tests of the client codec: requests against our own request path, responses against the
//! crate's encoder, and real responses of Apache Kafka 4.3.1 (`golden/`).

use super::*;
use crate::request::decode_body;
use crate::schema::response_tests::{encode_response_body, response_frame};
use crate::schema::tests::{crate_supports, default_request, populated, versions};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse, BrokerId, FetchRequest};

fn header(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
) -> RequestHeader {
    RequestHeader {
        api_key: api as i16,
        api_version: version,
        correlation_id,
        client_id: client_id.map(str::to_string),
    }
}

/// Our broker's request path, from a size-prefixed frame: split, header, body.
fn read_request(frame: &Bytes) -> (RequestHeader, RequestKind) {
    let mut buf = BytesMut::from(&frame[..]);
    let f = match crate::frame::split_frame(&mut buf, crate::frame::DEFAULT_MAX_REQUEST_SIZE) {
        Ok(Some(f)) => f.freeze(),
        other => panic!("not one frame: {other:?}"),
    };
    assert!(buf.is_empty(), "bytes after the frame");
    let Some((key, version, _)) = crate::header::peek_prefix(&f) else {
        panic!("no header prefix")
    };
    let Ok(api) = ApiKey::try_from(key) else {
        panic!("api key {key}")
    };
    let hv = crate::header::request_header_version(api, version);
    let (h, start) = match crate::header::decode(&f, hv) {
        Ok(x) => x,
        Err(e) => panic!("{api:?} v{version}: {e}"),
    };
    match decode_body(api, version, f.slice(start..)) {
        Ok(body) => (h, body),
        Err(e) => panic!("{api:?} v{version}: {e:#}"),
    }
}

#[test]
fn every_request_encoded_reads_back_through_the_broker_request_path() {
    let mut checked = 0;
    for api in ApiKey::iter() {
        assert_eq!(request_api_key(&default_request(api)), Some(api));
        for v in versions(api) {
            let mut bodies = vec![default_request(api)];
            bodies.extend(populated(api, v));
            for (i, body) in bodies.into_iter().enumerate() {
                let h = header(api, v, 1000 + i as i32, Some("sluice-broker-1"));
                let r = encode_request(&h, &body);
                if !crate_supports(api, v) {
                    assert!(
                        matches!(r, Err(EncodeRequestError::Body { .. })),
                        "{api:?} v{v}: {r:?}"
                    );
                    continue;
                }
                let frame = match r {
                    Ok(f) => f,
                    Err(e) => panic!("{api:?} v{v}: {e}"),
                };
                let (got_h, got_body) = read_request(&frame);
                assert_eq!(got_h, h, "{api:?} v{v}");
                assert_eq!(got_body, body, "{api:?} v{v}");
                checked += 1;
            }
        }
    }
    assert!(checked > 350, "only {checked} requests");
}

#[test]
fn request_header_version_follows_flexible_versions() {
    // Fetch v11 is not flexible (header v1), v12 is (header v2: one more byte, the empty
    // tagged-field section after the client id).
    let fetch = RequestKind::Fetch(FetchRequest::default());
    let v11 = encode_request(&header(ApiKey::Fetch, 11, 1, None), &fetch);
    let v12 = encode_request(&header(ApiKey::Fetch, 12, 1, None), &fetch);
    let (Ok(v11), Ok(v12)) = (v11, v12) else {
        panic!("Fetch v11/v12 not encoded")
    };
    assert_eq!(&v11[4..14], &[0, 1, 0, 11, 0, 0, 0, 1, 0xff, 0xff]);
    assert_eq!(&v12[4..15], &[0, 1, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0]);
    // ApiVersions v3+ requests use header v2 too (only its responses stay at v0).
    let av = RequestKind::ApiVersions(ApiVersionsRequest::default());
    let Ok(f) = encode_request(&header(ApiKey::ApiVersions, 3, 7, Some("c")), &av) else {
        panic!("ApiVersions v3 not encoded")
    };
    assert_eq!(&f[4..16], &[0, 18, 0, 3, 0, 0, 0, 7, 0, 1, b'c', 0]);
    let size = i32::from_be_bytes([f[0], f[1], f[2], f[3]]);
    assert_eq!(size as usize, f.len() - 4);
}

#[test]
fn requests_that_cannot_be_encoded_are_errors_naming_the_api_and_version() {
    let fetch = RequestKind::Fetch(FetchRequest::default());
    let r = encode_request(&header(ApiKey::Metadata, 12, 1, None), &fetch);
    let Err(e) = r else {
        panic!("mismatch encoded")
    };
    assert!(matches!(
        e,
        EncodeRequestError::ApiKeyMismatch {
            header_key: 3,
            body: Some(ApiKey::Fetch)
        }
    ));
    assert_eq!(
        e.to_string(),
        "request header names API key 3 but the body is a Fetch request"
    );

    let long = "x".repeat(32768);
    let r = encode_request(&header(ApiKey::Fetch, 12, 1, Some(&long)), &fetch);
    let Err(e) = r else {
        panic!("long client id encoded")
    };
    assert!(matches!(
        e,
        EncodeRequestError::ClientIdTooLong { len: 32768, .. }
    ));
    assert!(e
        .to_string()
        .starts_with("Fetch v12 request header: client id of 32768 bytes"));
    let ok = "x".repeat(32767);
    assert!(encode_request(&header(ApiKey::Fetch, 12, 1, Some(&ok)), &fetch).is_ok());

    // Fetch v3 is below the crate's (and Kafka 4's) range.
    let r = encode_request(&header(ApiKey::Fetch, 3, 1, None), &fetch);
    let Err(e) = r else {
        panic!("Fetch v3 encoded")
    };
    assert!(matches!(e, EncodeRequestError::Body { version: 3, .. }));
    assert!(
        e.to_string().starts_with("encoding Fetch v3 request: "),
        "{e}"
    );
}

fn api_versions_v0_unsupported() -> Bytes {
    let body = ApiVersionsResponse::default()
        .with_error_code(35)
        .with_api_keys(vec![ApiVersion::default()
            .with_api_key(18)
            .with_min_version(0)
            .with_max_version(2)]);
    encode_response_body(&ResponseKind::ApiVersions(body), 0)
}

#[test]
fn api_versions_responses_use_header_v0_and_fall_back_to_a_v0_body() {
    // A v3 body after a 4-byte header (no tagged-field byte, though v3 is flexible).
    let v3 = ApiVersionsResponse::default().with_api_keys(vec![ApiVersion::default()
        .with_api_key(1)
        .with_min_version(4)
        .with_max_version(17)]);
    let body = encode_response_body(&ResponseKind::ApiVersions(v3.clone()), 3);
    let mut frame = 9i32.to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    let r = decode_response(ApiKey::ApiVersions, 3, Bytes::from(frame));
    match r {
        Ok((9, ResponseKind::ApiVersions(got))) => assert_eq!(got, v3),
        other => panic!("{other:?}"),
    }

    // A broker that does not know v4 answers with a v0 body: UNSUPPORTED_VERSION.
    let mut frame = 10i32.to_be_bytes().to_vec();
    frame.extend_from_slice(&api_versions_v0_unsupported());
    for v in 1..=4 {
        match decode_response(ApiKey::ApiVersions, v, Bytes::from(frame.clone())) {
            Ok((10, ResponseKind::ApiVersions(got))) => {
                assert_eq!(got.error_code, 35);
                assert_eq!(got.api_keys.len(), 1);
                assert_eq!(got.api_keys[0].max_version, 2);
            }
            other => panic!("v{v}: {other:?}"),
        }
    }

    // Neither v3 nor v0: the error is the one of the requested version.
    let frame = Bytes::from_static(&[0, 0, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xf0]);
    let r = decode_response(ApiKey::ApiVersions, 3, frame);
    let Err(e) = r else { panic!("garbage decoded") };
    assert!(
        matches!(
            e,
            ResponseError::Schema(SchemaError::Field {
                message: "ApiVersionsResponse",
                version: 3,
                ..
            })
        ),
        "{e:?}"
    );
}

#[test]
fn bad_response_headers_are_errors_naming_the_api_and_version() {
    for len in 0..4 {
        let r = decode_response(ApiKey::Fetch, 12, Bytes::from(vec![0u8; len]));
        let Err(e) = r else {
            panic!("{len} bytes decoded")
        };
        assert!(matches!(
            e,
            ResponseError::Header {
                api: ApiKey::Fetch,
                version: 12,
                header_version: 1,
                problem: HeaderProblem::Truncated { .. }
            }
        ));
    }
    // Header v1: one tagged field of 9 bytes, 1 present.
    let r = decode_response(
        ApiKey::Fetch,
        12,
        Bytes::from_static(&[0, 0, 0, 1, 1, 0, 9, 0]),
    );
    let Err(e) = r else {
        panic!("bad tagged fields decoded")
    };
    assert_eq!(
        e.to_string(),
        "Fetch v12 response header (v1): malformed tagged-field section"
    );
    // Header v0 has no tagged fields: the same bytes are a (short) Fetch v11 body.
    let r = decode_response(
        ApiKey::Fetch,
        11,
        Bytes::from_static(&[0, 0, 0, 1, 1, 0, 9, 0]),
    );
    let Err(e) = r else {
        panic!("short body decoded")
    };
    assert!(
        e.to_string().starts_with("FetchResponse v11: field "),
        "{e}"
    );
    assert_eq!(
        decode_response(ApiKey::Fetch, 19, Bytes::new())
            .err()
            .map(|e| e.to_string()),
        Some("Fetch v19: no response schema for this version".to_string())
    );
}

#[test]
fn peek_correlation_id_reads_the_first_four_bytes() {
    assert_eq!(peek_correlation_id(&[0, 0, 1, 2, 9]), Some(258));
    assert_eq!(peek_correlation_id(&[0, 0, 1]), None);
    let frame = response_frame(ApiKey::Metadata, 12, -5, &[]);
    assert_eq!(peek_correlation_id(&frame), Some(-5));
}

#[test]
fn a_value_the_crate_refuses_is_a_decode_error() {
    // Metadata v12: a broker host that is not UTF-8 fits the schema; the crate refuses it.
    use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
    use kafka_protocol::messages::MetadataResponse;
    use kafka_protocol::protocol::StrBytes;
    let resp = MetadataResponse::default().with_brokers(vec![
        MetadataResponseBroker::default().with_host(StrBytes::from_static_str("ab"))
    ]);
    let body = encode_response_body(&ResponseKind::Metadata(resp), 12);
    let mut bad = body.to_vec();
    // throttle (4), brokers count (1), node id (4), host length (1), "ab"
    assert_eq!(&bad[10..12], b"ab");
    bad[10] = 0xff;
    let r = decode_response(
        ApiKey::Metadata,
        12,
        response_frame(ApiKey::Metadata, 12, 1, &bad),
    );
    assert!(
        matches!(
            r,
            Err(ResponseError::Decode {
                api: ApiKey::Metadata,
                version: 12,
                ..
            })
        ),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Kafka 4.3.1's own responses (golden/README.md says how they were captured).

macro_rules! golden {
    ($file:literal, $api:ident, $v:literal) => {
        (
            $file,
            ApiKey::$api,
            $v,
            include_bytes!(concat!("golden/", $file, ".bin")),
        )
    };
}

/// `(file, api, version, frame)`: every golden response and the request it answers.
pub(crate) const GOLDEN: &[(&str, ApiKey, i16, &[u8])] = &[
    golden!("api_versions_v4_plaintext", ApiVersions, 4),
    golden!("api_versions_v0_plaintext", ApiVersions, 0),
    golden!("api_versions_v4_controller", ApiVersions, 4),
    golden!("api_versions_v127_plaintext", ApiVersions, 4),
    golden!("metadata_v12_create", Metadata, 12),
    golden!("metadata_v12_golden", Metadata, 12),
    golden!("metadata_v13_all", Metadata, 13),
    golden!("fetch_v17_invalid_request", Fetch, 17),
    golden!("fetch_v17_cluster_metadata", Fetch, 17),
    golden!("describe_quorum_v2", DescribeQuorum, 2),
];

fn decode_golden(file: &str) -> (i32, ResponseKind) {
    let Some(&(_, api, v, bytes)) = GOLDEN.iter().find(|g| g.0 == file) else {
        panic!("no golden {file}")
    };
    match decode_response(api, v, Bytes::from_static(bytes)) {
        Ok(x) => x,
        Err(e) => panic!("{file}: {e}"),
    }
}

fn versions_of(keys: &[ApiVersion], api: ApiKey) -> Option<(i16, i16)> {
    keys.iter()
        .find(|k| k.api_key == api as i16)
        .map(|k| (k.min_version, k.max_version))
}

#[test]
fn golden_api_versions_of_the_broker_and_controller_listeners() {
    let (id, ResponseKind::ApiVersions(b)) = decode_golden("api_versions_v4_plaintext") else {
        panic!("not ApiVersions")
    };
    assert_eq!(id, 0x5104);
    assert_eq!(b.error_code, 0);
    assert_eq!(versions_of(&b.api_keys, ApiKey::Fetch), Some((4, 18)));
    assert_eq!(versions_of(&b.api_keys, ApiKey::Metadata), Some((0, 13)));
    assert_eq!(versions_of(&b.api_keys, ApiKey::ApiVersions), Some((0, 4)));
    // Beyond kafka-protocol 0.18 (Kafka 4.1.0): WriteTxnMarkers v2 (KIP-1228).
    assert_eq!(
        versions_of(&b.api_keys, ApiKey::WriteTxnMarkers),
        Some((1, 2))
    );
    assert_eq!(versions_of(&b.api_keys, ApiKey::BrokerRegistration), None);
    let mv = b
        .supported_features
        .iter()
        .find(|f| f.name.as_str() == "metadata.version");
    assert_eq!(mv.map(|f| (f.min_version, f.max_version)), Some((7, 30)));
    let mv = b
        .finalized_features
        .iter()
        .find(|f| f.name.as_str() == "metadata.version");
    assert_eq!(
        mv.map(|f| (f.min_version_level, f.max_version_level)),
        Some((30, 30))
    );
    assert!(b.finalized_features_epoch > 0);

    // v0: the same API list, no features.
    let (id, ResponseKind::ApiVersions(b0)) = decode_golden("api_versions_v0_plaintext") else {
        panic!("not ApiVersions")
    };
    assert_eq!(id, 0x5100);
    assert_eq!(b0.api_keys, b.api_keys);
    assert!(b0.supported_features.is_empty());

    // The controller listener serves the APIs of a controller.
    let (_, ResponseKind::ApiVersions(c)) = decode_golden("api_versions_v4_controller") else {
        panic!("not ApiVersions")
    };
    for (api, range) in [
        (ApiKey::Fetch, (4, 18)),
        (ApiKey::FetchSnapshot, (0, 1)),
        (ApiKey::BrokerRegistration, (0, 4)),
        (ApiKey::BrokerHeartbeat, (0, 2)),
        (ApiKey::AllocateProducerIds, (0, 0)),
        (ApiKey::AlterPartition, (2, 3)),
        (ApiKey::Envelope, (0, 0)),
        (ApiKey::DescribeQuorum, (0, 2)),
    ] {
        assert_eq!(versions_of(&c.api_keys, api), Some(range), "{api:?}");
    }
    assert_eq!(versions_of(&c.api_keys, ApiKey::Produce), None);
    assert_eq!(versions_of(&c.api_keys, ApiKey::Metadata), None);
}

#[test]
fn golden_api_versions_of_an_unknown_version_falls_back_to_v0() {
    let (id, ResponseKind::ApiVersions(b)) = decode_golden("api_versions_v127_plaintext") else {
        panic!("not ApiVersions")
    };
    assert_eq!(id, 0x517f);
    assert_eq!(b.error_code, 35); // UNSUPPORTED_VERSION
    assert_eq!(versions_of(&b.api_keys, ApiKey::ApiVersions), Some((0, 4)));
    assert_eq!(b.api_keys.len(), 1);
}

#[test]
fn golden_metadata() {
    let (id, ResponseKind::Metadata(m)) = decode_golden("metadata_v12_golden") else {
        panic!("not Metadata")
    };
    assert_eq!(id, 0x5100 + 12);
    assert_eq!(m.brokers.len(), 1);
    let b = &m.brokers[0];
    assert_eq!(
        (b.node_id.0, b.host.as_str(), b.port),
        (1, "127.0.0.1", 49092)
    );
    assert_eq!(b.rack, None);
    assert_eq!(m.cluster_id.as_deref(), Some("DClctVn3TnGR3lfsPNcmYg"));
    assert_eq!(m.controller_id.0, 1);
    assert_eq!(m.topics.len(), 1);
    let t = &m.topics[0];
    assert_eq!(t.error_code, 0);
    assert_eq!(t.name.as_ref().map(|n| n.0.as_str()), Some("golden"));
    assert_eq!(
        t.topic_id.to_string(),
        "df215324-d641-4dae-9f50-42e7d6e8ad74"
    );
    assert!(!t.is_internal);
    assert_eq!(t.partitions.len(), 1);
    let p = &t.partitions[0];
    assert_eq!(
        (p.partition_index, p.leader_id.0, p.leader_epoch),
        (0, 1, 0)
    );
    assert_eq!(p.replica_nodes, [BrokerId(1)]);
    assert_eq!(p.isr_nodes, [BrokerId(1)]);

    // The first answer, while the topic was being created.
    let (_, ResponseKind::Metadata(c)) = decode_golden("metadata_v12_create") else {
        panic!("not Metadata")
    };
    assert_eq!(c.topics[0].error_code, 3); // UNKNOWN_TOPIC_OR_PARTITION
    assert!(c.topics[0].partitions.is_empty());
    assert!(c.topics[0].topic_id.is_nil());

    let (_, ResponseKind::Metadata(all)) = decode_golden("metadata_v13_all") else {
        panic!("not Metadata")
    };
    assert_eq!(all.error_code, 0);
    assert_eq!(all.topics.len(), 1);
    assert_eq!(all.topics[0].topic_id, t.topic_id);
}

#[test]
fn golden_kraft_fetch_of_the_cluster_metadata() {
    use crate::batch::{batch_size, RecordBatch};
    use crate::metadata::{decode_metadata_value, MetadataRecord};

    let (id, ResponseKind::Fetch(f)) = decode_golden("fetch_v17_cluster_metadata") else {
        panic!("not Fetch")
    };
    assert_eq!(id, 0x5100 + 17);
    assert_eq!((f.error_code, f.session_id), (0, 0));
    assert_eq!(f.responses.len(), 1);
    let t = &f.responses[0];
    assert_eq!(t.topic_id, uuid::Uuid::from_u128(1)); // AAAAAAAAAAAAAAAAAAAAAQ
    let p = &t.partitions[0];
    assert_eq!((p.partition_index, p.error_code), (0, 0));
    assert_eq!(p.high_watermark, 97);
    assert_eq!(p.log_start_offset, 0);
    assert_eq!(
        (p.current_leader.leader_id.0, p.current_leader.leader_epoch),
        (1, 1)
    );
    assert_eq!(p.diverging_epoch.epoch, -1);
    assert_eq!(p.snapshot_id.end_offset, -1);
    let ep = &f.node_endpoints;
    assert_eq!(ep.len(), 1);
    assert_eq!(
        (ep[0].node_id.0, ep[0].host.as_str(), ep[0].port),
        (1, "127.0.0.1", 49093)
    );

    // The records are the metadata log from offset 0 up to the high watermark, in batches
    // whose CRCs hold; the bootstrap records finalize metadata.version 30.
    let Some(records) = &p.records else {
        panic!("no records")
    };
    let mut rest = &records[..];
    let mut next = 0;
    let mut batches = 0;
    let mut metadata_version = None;
    while !rest.is_empty() {
        let size = match batch_size(rest) {
            Ok(n) => n,
            Err(e) => panic!("batch at offset {next}: {e}"),
        };
        let batch = match RecordBatch::parse_validated(&rest[..size]) {
            Ok(b) => b,
            Err(e) => panic!("batch at offset {next}: {e}"),
        };
        assert_eq!(batch.base_offset(), next);
        assert_eq!(batch.partition_leader_epoch(), 1);
        if batches == 0 {
            assert!(
                batch.is_control(),
                "the log starts with KRaft control records"
            );
        }
        if !batch.is_control() {
            for r in crate::records::records(batch.records()) {
                let r = match r {
                    Ok(r) => r,
                    Err(e) => panic!("record in batch {next}: {e}"),
                };
                let value = r.value.unwrap_or_default();
                let rec = match decode_metadata_value(value) {
                    Ok(rec) => rec,
                    Err(e) => panic!("metadata record in batch {next}: {e}"),
                };
                if let MetadataRecord::FeatureLevel(fl) = rec.record {
                    if fl.name == "metadata.version" {
                        metadata_version = Some(fl.feature_level);
                    }
                }
            }
        }
        next = batch.next_offset();
        batches += 1;
        rest = &rest[size..];
    }
    assert_eq!(next, 97);
    assert!(batches > 3, "{batches} batches");
    assert_eq!(metadata_version, Some(30));

    // The same fetch with a last fetched epoch above the current leader epoch.
    let (_, ResponseKind::Fetch(bad)) = decode_golden("fetch_v17_invalid_request") else {
        panic!("not Fetch")
    };
    let p = &bad.responses[0].partitions[0];
    assert_eq!((p.error_code, p.high_watermark), (42, -1)); // INVALID_REQUEST
    assert_eq!(p.records.as_deref(), Some(&[][..]));
    assert_eq!(
        (p.current_leader.leader_id.0, p.current_leader.leader_epoch),
        (1, 1)
    );
}

#[test]
fn golden_describe_quorum() {
    let (id, ResponseKind::DescribeQuorum(q)) = decode_golden("describe_quorum_v2") else {
        panic!("not DescribeQuorum")
    };
    assert_eq!(id, 0x5102);
    assert_eq!(q.error_code, 0);
    let t = &q.topics[0];
    assert_eq!(t.topic_name.0.as_str(), "__cluster_metadata");
    let p = &t.partitions[0];
    assert_eq!((p.partition_index, p.error_code), (0, 0));
    assert_eq!(
        (p.leader_id.0, p.leader_epoch, p.high_watermark),
        (1, 1, 97)
    );
    assert_eq!(p.current_voters.len(), 1);
    let voter = &p.current_voters[0];
    assert_eq!((voter.replica_id.0, voter.log_end_offset), (1, 97));
    // The log dir's directory.id (Oslx2AS9Scag1btCkDse3A).
    assert_eq!(
        voter.replica_directory_id.to_string(),
        "3ac971d8-04bd-49c6-a0d5-bb42903b1edc"
    );
    assert!(voter.last_caught_up_timestamp > 0);
    // The observer the fetches above registered.
    assert_eq!(p.observers.len(), 1);
    let o = &p.observers[0];
    assert_eq!((o.replica_id.0, o.log_end_offset), (2, 0));
    assert_eq!(o.replica_directory_id, uuid::Uuid::from_u128(0x1234));
    assert_eq!(o.last_caught_up_timestamp, -1);
    assert_eq!(q.nodes.len(), 1);
    let l = &q.nodes[0].listeners[0];
    assert_eq!(
        (
            q.nodes[0].node_id.0,
            l.name.as_str(),
            l.host.as_str(),
            l.port
        ),
        (1, "CONTROLLER", "127.0.0.1", 49093)
    );
}

/// What the crate's broker-side encoder writes for a decoded golden response is Kafka's own
/// bytes: nothing was lost or invented between the wire and `ResponseKind`.
#[test]
fn golden_responses_encode_back_to_kafkas_bytes() {
    for &(file, api, v, bytes) in GOLDEN {
        let (id, body) = decode_golden(file);
        // The v127 answer is a v0 body.
        let v = if file == "api_versions_v127_plaintext" {
            0
        } else {
            v
        };
        let again = response_frame(api, v, id, &encode_response_body(&body, v));
        assert_eq!(&again[..], bytes, "{file}");
    }
}

#[test]
fn golden_responses_cut_short_are_refused() {
    for &(file, api, v, bytes) in GOLDEN {
        for cut in 0..bytes.len() {
            let r = decode_response(api, v, Bytes::from_static(&bytes[..cut]));
            // An ApiVersions body cut short may still read as a (shorter) v0 body.
            if api != ApiKey::ApiVersions {
                assert!(r.is_err(), "{file} cut at {cut} decoded");
            }
        }
    }
}

/// Our broker's response encoder and this decoder agree on every response-header version: a
/// response Sluice sends is read back by a Sluice client, frame split included.
#[test]
fn responses_the_broker_encodes_decode_here() {
    let corpus = crate::schema::response_tests::response_corpus();
    for (i, (api, v, _, resp)) in corpus.into_iter().enumerate() {
        let mut out = BytesMut::new();
        if let Err(e) = crate::response::encode_response(&mut out, api, v, i as i32, &resp) {
            panic!("{api:?} v{v}: {e}");
        }
        let frame = match crate::frame::split_frame(&mut out, usize::MAX) {
            Ok(Some(f)) => f.freeze(),
            other => panic!("{api:?} v{v}: {other:?}"),
        };
        assert!(out.is_empty());
        match decode_response(api, v, frame) {
            Ok((id, got)) => {
                assert_eq!(id, i as i32);
                assert_eq!(got, resp, "{api:?} v{v}");
            }
            Err(e) => panic!("{api:?} v{v}: {e}"),
        }
    }
}
