//! Fetch response encoding: how the server turns record data read from the log into response
//! bytes. The fetch handler (server `handlers/fetch.rs`) calls `fetch_response::encode`, which
//! writes the non-record fields into small buffers and returns the frame as chunks in which the
//! record data is the very `Bytes` the log read (sent with a vectored write), so its cost should
//! not grow with the record bytes. That is what `chunks/*` measures: the throughput figure is
//! record bytes "encoded" per second, and is expected to be very high.
//!
//! `kafka_protocol_reencode/*` is *not* a server path: the same response built as the codec
//! crate's `FetchResponse` and encoded with `response::encode_response` (which copies the
//! records into the output buffer), for scale — it is what the chunked encoder avoids.
//!
//! Input: one partition carrying ~1 MiB (67 batches of 15 x 1 KiB records, in one chunk as a
//! read within one segment returns it), Fetch v16 (topic ids, flexible); and 8 partitions of
//! ~128 KiB each (a consumer of 8 partitions under a 1 MiB fetch.max.bytes budget).
//!
//! Run: `cargo bench -p sluice-protocol --bench fetch_response_encode`.

mod common;

use bytes::{Bytes, BytesMut};
use common::producer_batch;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{ApiKey, FetchResponse, ResponseKind};
use sluice_protocol::batch;
use sluice_protocol::fetch_response::{self, FetchResponseParts, PartitionPart, TopicPart};
use std::hint::black_box;
use uuid::Uuid;

const VERSION: i16 = 16;

/// `n` consecutive batches with offsets assigned, as they sit in a segment.
fn stored_batches(n: usize) -> Bytes {
    let one = producer_batch(None);
    let mut out = Vec::with_capacity(one.len() * n);
    for i in 0..n {
        let start = out.len();
        out.extend_from_slice(&one);
        batch::set_base_offset(&mut out[start..], (i * common::RECORDS_PER_BATCH) as i64);
    }
    Bytes::from(out)
}

/// The parts the fetch handler builds: one topic, these partitions, read_uncommitted.
fn parts(partitions: &[Bytes]) -> FetchResponseParts {
    FetchResponseParts {
        session_id: 0,
        responses: vec![TopicPart {
            topic: "bench".into(),
            topic_id: Uuid::from_u128(0x5eed),
            partitions: partitions
                .iter()
                .enumerate()
                .map(|(i, records)| PartitionPart {
                    partition_index: i as i32,
                    high_watermark: 1_000_000,
                    last_stable_offset: 1_000_000,
                    log_start_offset: 0,
                    preferred_read_replica: -1,
                    records: vec![records.clone()],
                    ..Default::default()
                })
                .collect(),
        }],
        ..Default::default()
    }
}

/// The same response as the codec crate's message (records as one `Bytes` per partition).
fn crate_response(p: &FetchResponseParts) -> ResponseKind {
    let mut resp = FetchResponse::default();
    for t in &p.responses {
        let mut tr = FetchableTopicResponse::default().with_topic_id(t.topic_id);
        for part in &t.partitions {
            tr.partitions.push(
                PartitionData::default()
                    .with_partition_index(part.partition_index)
                    .with_high_watermark(part.high_watermark)
                    .with_last_stable_offset(part.last_stable_offset)
                    .with_log_start_offset(part.log_start_offset)
                    .with_records(part.records.first().cloned()),
            );
        }
        resp.responses.push(tr);
    }
    ResponseKind::Fetch(resp)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("fetch_response_encode");
    let cases = [
        ("1p_1MiB", vec![stored_batches(67)]),
        ("8p_128KiB", vec![stored_batches(8); 8]),
    ];
    for (name, partitions) in cases {
        let p = parts(&partitions);
        let record_bytes: usize = partitions.iter().map(Bytes::len).sum();
        g.throughput(Throughput::Bytes(record_bytes as u64));
        g.bench_function(format!("chunks/{name}"), |b| {
            b.iter(|| fetch_response::encode(VERSION, 7, black_box(&p)))
        });
        let kind = crate_response(&p);
        let mut out = BytesMut::new();
        g.bench_function(format!("kafka_protocol_reencode/{name}"), |b| {
            b.iter(|| {
                out.clear();
                sluice_protocol::response::encode_response(
                    &mut out,
                    ApiKey::Fetch,
                    VERSION,
                    7,
                    black_box(&kind),
                )
                .expect("encodes");
                out.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
