//! Frame + request decode: what every incoming request goes through before its handler runs.
//! The connection reader splits the size-prefixed frame off its read buffer
//! (`frame::split_frame`, `network.rs`), then `handlers::handle_frame` peeks the api key and
//! version, checks the version against the served range, decodes the request header with our
//! own decoder, checks the body against Kafka's message schema (`schema::validate_request_body`,
//! the guard that keeps wire lengths from driving allocations) and decodes it with
//! `kafka-protocol` (`request::decode_body`). `decode_like_server` below is that sequence
//! verbatim, up to the dispatch to the handler; it is a copy, so keep it in step with
//! `handle_frame`.
//!
//! Inputs, built with the codec crate's encoder and our batch encoder:
//! - Produce v12 (flexible) and v7: one topic, 8 partitions, each one ~15 KiB uncompressed
//!   batch of 15 x 1 KiB records (~122 KiB per frame): record data should pass through as
//!   `Bytes` slices of the frame, so the cost should be per field, not per byte.
//! - Fetch v16 (topic ids): a consumer's fetch of 8 partitions.
//!
//! Throughput is frame bytes (size prefix included). The read buffer is cloned outside the
//! timed section (criterion `iter_batched`).
//!
//! Run: `cargo bench -p sluice-server --bench request_decode`.

#[path = "../../protocol/benches/common/mod.rs"]
mod common;

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, ProduceRequest, RequestHeader, RequestKind, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use sluice_protocol::frame::{self, DEFAULT_MAX_REQUEST_SIZE};
use sluice_protocol::header;
use sluice_protocol::request::decode_body;
use sluice_server::handlers;
use uuid::Uuid;

const PARTITIONS: i32 = 8;

/// A request frame as a client sends it: size prefix, header v1/v2, body.
fn encode_frame(api: ApiKey, version: i16, body: &RequestKind) -> BytesMut {
    let header = RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(42)
        .with_client_id(Some(StrBytes::from_static_str("producer-1")));
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    header
        .encode(&mut buf, api.request_header_version(version))
        .expect("header encodes");
    body.encode(&mut buf, version).expect("body encodes");
    let size = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&size.to_be_bytes());
    buf
}

fn produce_request() -> RequestKind {
    let batch = Bytes::from(common::producer_batch(Some((1000, 0, 0))));
    let partitions = (0..PARTITIONS)
        .map(|p| {
            PartitionProduceData::default()
                .with_index(p)
                .with_records(Some(batch.clone()))
        })
        .collect();
    RequestKind::Produce(
        ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("bench")))
                .with_partition_data(partitions)]),
    )
}

fn fetch_request() -> RequestKind {
    let partitions = (0..PARTITIONS)
        .map(|p| {
            FetchPartition::default()
                .with_partition(p)
                .with_fetch_offset(123_456)
                .with_partition_max_bytes(1024 * 1024)
        })
        .collect();
    RequestKind::Fetch(
        FetchRequest::default()
            .with_max_wait_ms(500)
            .with_min_bytes(1)
            .with_max_bytes(50 * 1024 * 1024)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic_id(Uuid::from_u128(0x5eed))
                .with_partitions(partitions)]),
    )
}

/// `network.rs` reader + `handlers::handle_frame` up to dispatch.
fn decode_like_server(mut read_buf: BytesMut) -> (header::RequestHeader, RequestKind) {
    let frame = frame::split_frame(&mut read_buf, DEFAULT_MAX_REQUEST_SIZE)
        .expect("frame size ok")
        .expect("whole frame");
    let frame: Bytes = frame.freeze();
    let (raw_key, version, _correlation_id) = header::peek_prefix(&frame).expect("prefix");
    let api = ApiKey::try_from(raw_key).expect("known api");
    let (min, max) = handlers::supported_range(api).expect("served api");
    assert!((min..=max).contains(&version));
    let (header, body_start) =
        header::decode(&frame, header::request_header_version(api, version)).expect("header");
    let body = frame.slice(body_start..);
    let request = decode_body(api, handlers::wire_version(api, version), body).expect("body");
    (header, request)
}

fn bench(c: &mut Criterion) {
    let produce = produce_request();
    let fetch = fetch_request();
    let cases = [
        ("produce_v12_8p_15KiB", ApiKey::Produce, 12, &produce),
        ("produce_v7_8p_15KiB", ApiKey::Produce, 7, &produce),
        ("fetch_v16_8p", ApiKey::Fetch, 16, &fetch),
    ];
    let mut g = c.benchmark_group("request_decode");
    for (name, api, version, body) in cases {
        let wire = encode_frame(api, version, body);
        // The request decodes back to what was encoded.
        assert!(
            decode_like_server(wire.clone()).1 == *body,
            "{name} round-trips"
        );
        g.throughput(Throughput::Bytes(wire.len() as u64));
        g.bench_function(name, |b| {
            b.iter_batched(|| wire.clone(), decode_like_server, BatchSize::LargeInput)
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
