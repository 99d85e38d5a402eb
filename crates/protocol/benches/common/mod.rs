//! Test data shared by the criterion benches of protocol, storage and server (the latter two
//! include this file with `#[path]`): record batches shaped like the Java producer's defaults.
#![allow(dead_code)]

use sluice_protocol::batch::{self, Compression, RecordBatch};
use sluice_protocol::compression;

/// Records per batch: the Java producer's default `batch.size` (16384) holds 15 records of
/// 1 KiB (a 16th would not fit with the per-record and batch overhead).
pub const RECORDS_PER_BATCH: usize = 15;
/// Record value size (ProducerPerformance `--record-size 1024`).
pub const VALUE_SIZE: usize = 1024;
/// The broker's default cap on decompressed batch data (server::broker).
pub const DECOMPRESS_LIMIT: usize = 128 * 1024 * 1024;
/// A fixed create time, so every run builds identical bytes.
pub const TIMESTAMP: i64 = 1_700_000_000_000;

/// A 1 KiB JSON-ish value: varied enough not to be trivially compressible, but with the
/// repetition real event payloads have (LZ4 gets it to roughly a third).
pub fn value(i: usize) -> Vec<u8> {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(VALUE_SIZE + 128);
    while out.len() < VALUE_SIZE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let line = format!(
            "{{\"user\":\"u-{:05}\",\"event\":\"{}\",\"path\":\"/p/{:04}\",\"ms\":{}}}\n",
            x % 100_000,
            ["view", "click", "cart", "buy"][(x >> 20) as usize % 4],
            (x >> 24) % 10_000,
            (x >> 32) % 1_000_000,
        );
        out.extend_from_slice(line.as_bytes());
    }
    out.truncate(VALUE_SIZE);
    out
}

/// One uncompressed producer batch of [`RECORDS_PER_BATCH`] records of [`VALUE_SIZE`] bytes
/// (null keys, as ProducerPerformance sends), ~15.2 KiB on the wire. `producer` is
/// (producer id, epoch, base sequence) for an idempotent producer, None for a plain one.
pub fn producer_batch(producer: Option<(i64, i16, i32)>) -> Vec<u8> {
    let values: Vec<Vec<u8>> = (0..RECORDS_PER_BATCH).map(value).collect();
    let entries: Vec<batch::KeyValue<'_>> =
        values.iter().map(|v| (None, Some(v.as_slice()))).collect();
    let (pid, epoch, seq) = producer.unwrap_or((-1, -1, -1));
    batch::encode_batch_with(&entries, TIMESTAMP, 0, pid, epoch, seq)
}

/// The same batch with its records compressed by `codec` (the broker's own recompression).
pub fn compressed_batch(codec: Compression) -> Vec<u8> {
    let plain = producer_batch(None);
    let parsed = RecordBatch::parse(&plain).expect("fixture batch parses");
    compression::recompress_batch(&parsed, codec, None, DECOMPRESS_LIMIT)
        .expect("fixture batch compresses")
}
