//! Tests of the client codec: requests against our own request path, responses against the
//! crate's encoder, and real responses of Apache Kafka 4.3.1 (`golden/`).

use super::*;
use crate::request::decode_body;
use crate::schema::response_tests::{encode_response_body, response_frame};
use crate::schema::tests::{crate_supports, default_request, populated, versions};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse, FetchRequest};

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
