//! Arbitrary bytes as a response from a controller or another broker: `client::decode_response`
//! (our response-header decoder, the response-schema walk, then `kafka-protocol`'s decoder) for
//! the APIs a broker of a KRaft cluster decodes. Any panic, abort or oversized allocation
//! (libFuzzer's -malloc_limit_mb) is a finding. A decoded response is encoded again at the same
//! version (the crate's broker-side encoder must not panic on what its decoder accepted).
//!
//! Input: byte 0 picks the API from `client::PEER_RESPONSE_APIS` (modulo its length), byte 1 is
//! the version the request was sent at, the rest is the frame (correlation id, header tagged
//! fields in header v1, body), as `frame::split_frame` hands it over.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use sluice_protocol::client::{decode_response, PEER_RESPONSE_APIS};

fuzz_target!(|data: &[u8]| {
    let [pick, version, frame @ ..] = data else {
        return;
    };
    let api = PEER_RESPONSE_APIS[usize::from(*pick) % PEER_RESPONSE_APIS.len()];
    let version = i16::from(*version);
    if let Ok((_correlation_id, body)) = decode_response(api, version, Bytes::copy_from_slice(frame)) {
        let mut out = BytesMut::new();
        let _ = body.encode(&mut out, version);
    }
});
