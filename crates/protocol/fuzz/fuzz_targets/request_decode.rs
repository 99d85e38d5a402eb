//! Arbitrary bytes down the broker's request path: frame split, header decode, schema walk,
//! body decode (and our own decoders for versions beyond the codec crate). Any panic, abort or oversized allocation (libFuzzer's -malloc_limit_mb) is a
//! finding.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sluice_protocol::{frame, header, request, write_txn_markers_v2, ApiKey};

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    // The input is a byte stream: take frames off it as the connection reader does.
    while let Ok(Some(frame)) = frame::split_frame(&mut buf, frame::DEFAULT_MAX_REQUEST_SIZE) {
        let frame = frame.freeze();
        let Some((key, version, _correlation_id)) = header::peek_prefix(&frame) else {
            continue;
        };
        let Ok(api) = ApiKey::try_from(key) else {
            continue;
        };
        let header_version = header::request_header_version(api, version);
        let Ok((_header, body_start)) = header::decode(&frame, header_version) else {
            continue;
        };
        let body = frame.slice(body_start..);
        if api == ApiKey::WriteTxnMarkers && version == 2 {
            // Decoded by our own decoder, as the broker does (the codec crate stops at v1).
            let _ = write_txn_markers_v2::decode_write_txn_markers_v2(&body);
            continue;
        }
        let _ = request::decode_body(api, version, body);
    }
});
