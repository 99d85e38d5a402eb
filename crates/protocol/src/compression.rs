//! Record-batch codecs with a hard cap on decompressed output.
//!
//! Kafka compresses the records section of a batch with gzip, snappy (the xerial/Java framing,
//! or a raw block as some non-Java producers send), LZ4 (frame format) or zstd. A small
//! compressed batch can expand enormously, so every decoder here stops, with
//! [`DecompressError::TooLarge`], as soon as its output would pass the caller's limit, and
//! never allocates ahead of the bytes it has produced.

use crate::batch::Compression;
use std::io::{Read, Write};
use thiserror::Error;

/// Largest zstd window accepted (2^25 = 32 MiB): a frame header cannot make the decoder
/// allocate more than this.
const ZSTD_MAX_WINDOW_LOG: u32 = 25;
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const CHUNK: usize = 64 * 1024;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecompressError {
    #[error("decompressed {codec:?} records exceed the limit of {limit} bytes")]
    TooLarge { codec: Compression, limit: usize },
    #[error("{codec:?} records are corrupt: {message}")]
    Corrupt { codec: Compression, message: String },
}

fn corrupt(codec: Compression, e: impl std::fmt::Display) -> DecompressError {
    DecompressError::Corrupt {
        codec,
        message: e.to_string(),
    }
}

/// Read all of `r` into `out`, failing once more than `limit` bytes have come out.
fn read_capped<R: Read>(
    codec: Compression,
    mut r: R,
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), DecompressError> {
    let start = out.len();
    loop {
        let produced = out.len() - start;
        if produced > limit {
            return Err(DecompressError::TooLarge { codec, limit });
        }
        let want = CHUNK.min(limit + 1 - produced);
        let len = out.len();
        out.resize(len + want, 0);
        match r.read(&mut out[len..]) {
            Ok(0) => {
                out.truncate(len);
                return Ok(());
            }
            Ok(n) => out.truncate(len + n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => out.truncate(len),
            Err(e) => {
                out.truncate(len);
                return Err(corrupt(codec, e));
            }
        }
    }
}

/// Decompress `input` (a batch's records section) into `out` (appended), at most `limit` bytes.
pub fn decompress_into(
    codec: Compression,
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), DecompressError> {
    match codec {
        Compression::None => {
            if input.len() > limit {
                return Err(DecompressError::TooLarge { codec, limit });
            }
            out.extend_from_slice(input);
            Ok(())
        }
        Compression::Gzip => {
            read_capped(codec, flate2::read::MultiGzDecoder::new(input), limit, out)
        }
        Compression::Lz4 => {
            read_capped(codec, lz4_flex::frame::FrameDecoder::new(input), limit, out)
        }
        Compression::Zstd => {
            let mut d =
                zstd::stream::read::Decoder::with_buffer(input).map_err(|e| corrupt(codec, e))?;
            d.window_log_max(ZSTD_MAX_WINDOW_LOG)
                .map_err(|e| corrupt(codec, e))?;
            read_capped(codec, d, limit, out)
        }
        Compression::Snappy => snappy_decompress(input, limit, out),
    }
}

/// Snappy as Kafka's Java client writes it (xerial framing: magic, two version ints, then
/// length-prefixed raw blocks), or a single raw block.
fn snappy_decompress(input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), DecompressError> {
    let codec = Compression::Snappy;
    let start = out.len();
    let block = |raw: &[u8], out: &mut Vec<u8>| -> Result<(), DecompressError> {
        let n = snap::raw::decompress_len(raw).map_err(|e| corrupt(codec, e))?;
        if out.len() - start + n > limit {
            return Err(DecompressError::TooLarge { codec, limit });
        }
        let len = out.len();
        out.resize(len + n, 0);
        snap::raw::Decoder::new()
            .decompress(raw, &mut out[len..])
            .map_err(|e| corrupt(codec, e))?;
        Ok(())
    };
    if input.len() >= 16 && &input[..8] == XERIAL_MAGIC {
        let mut pos = 16;
        while pos < input.len() {
            let len_bytes = input
                .get(pos..pos + 4)
                .ok_or_else(|| corrupt(codec, "truncated block length"))?;
            let len = i32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
            if len < 0 {
                return Err(corrupt(codec, "negative block length"));
            }
            pos += 4;
            let end = pos + len as usize;
            let raw = input
                .get(pos..end)
                .ok_or_else(|| corrupt(codec, "truncated block"))?;
            block(raw, out)?;
            pos = end;
        }
        Ok(())
    } else {
        block(input, out)
    }
}

/// Compress `input` into `out` (appended) as Kafka producers do; `level` None = codec default.
pub fn compress_into(
    codec: Compression,
    level: Option<i32>,
    input: &[u8],
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    match codec {
        Compression::None => out.extend_from_slice(input),
        Compression::Gzip => {
            let lvl = level
                .filter(|l| (1..=9).contains(l))
                .map(|l| flate2::Compression::new(l as u32))
                .unwrap_or_default();
            let mut e = flate2::write::GzEncoder::new(out, lvl);
            e.write_all(input)?;
            e.finish()?;
        }
        Compression::Lz4 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(out);
            e.write_all(input)?;
            e.finish().map_err(std::io::Error::other)?;
        }
        Compression::Zstd => {
            let mut e = zstd::stream::write::Encoder::new(out, level.unwrap_or(3))?;
            e.write_all(input)?;
            e.finish()?;
        }
        Compression::Snappy => {
            // xerial framing, as the Java client writes it.
            out.extend_from_slice(XERIAL_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            for chunk in input.chunks(32 * 1024) {
                let c = snap::raw::Encoder::new()
                    .compress_vec(chunk)
                    .map_err(std::io::Error::other)?;
                out.extend_from_slice(&(c.len() as i32).to_be_bytes());
                out.extend_from_slice(&c);
            }
        }
    }
    Ok(())
}

/// Why a batch could not be rewritten with another codec.
#[derive(Debug, Error)]
pub enum RecompressError {
    #[error(transparent)]
    Decompress(#[from] DecompressError),
    #[error("{codec:?} compression failed: {source}")]
    Compress {
        codec: Compression,
        source: std::io::Error,
    },
    #[error("batch: {0}")]
    Batch(#[from] crate::batch::BatchError),
}

/// The batch rewritten with `target` as its codec (a topic's compression.type other than
/// `producer`, as Kafka's LogValidator does): the same header fields and records, the records
/// section decompressed (at most `limit` bytes) and compressed again with `target` at `level`
/// (None: the codec's default), the attributes' codec bits and the CRC updated.
pub fn recompress_batch(
    batch: &crate::batch::RecordBatch<'_>,
    target: Compression,
    level: Option<i32>,
    limit: usize,
) -> Result<Vec<u8>, RecompressError> {
    use crate::batch::{ATTRIBUTES_OFFSET, CRC_OFFSET, HEADER_SIZE, LENGTH_OFFSET, LOG_OVERHEAD};
    let source = batch.compression()?;
    let mut plain = Vec::new();
    let records: &[u8] = if source == Compression::None {
        batch.records()
    } else {
        decompress_into(source, batch.records(), limit, &mut plain)?;
        &plain
    };
    let bytes = batch.as_bytes();
    let mut out = Vec::with_capacity(HEADER_SIZE + records.len());
    out.extend_from_slice(&bytes[..HEADER_SIZE]);
    compress_into(target, level, records, &mut out).map_err(|source| {
        RecompressError::Compress {
            codec: target,
            source,
        }
    })?;
    let length = (out.len() - LOG_OVERHEAD) as i32;
    out[LENGTH_OFFSET..LENGTH_OFFSET + 4].copy_from_slice(&length.to_be_bytes());
    let attributes = (batch.attributes() & !0x07) | target.id();
    out[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    let crc = crc32c::crc32c(&out[ATTRIBUTES_OFFSET..]);
    out[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    #[test]
    fn round_trip_every_codec() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for codec in ALL {
            let mut c = Vec::new();
            compress_into(codec, None, &data, &mut c).unwrap();
            let mut d = Vec::new();
            decompress_into(codec, &c, data.len(), &mut d).unwrap();
            assert_eq!(d, data, "{codec:?}");
        }
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        let zeros = vec![0u8; 8 * 1024 * 1024];
        for codec in ALL {
            let mut c = Vec::new();
            compress_into(codec, None, &zeros, &mut c).unwrap();
            let mut d = Vec::new();
            assert_eq!(
                decompress_into(codec, &c, 1024 * 1024, &mut d),
                Err(DecompressError::TooLarge {
                    codec,
                    limit: 1024 * 1024
                }),
                "{codec:?}"
            );
            assert!(d.len() <= 1024 * 1024 + CHUNK);
        }
    }

    #[test]
    fn raw_snappy_block_and_garbage() {
        let raw = snap::raw::Encoder::new()
            .compress_vec(b"hello hello hello")
            .unwrap();
        let mut d = Vec::new();
        decompress_into(Compression::Snappy, &raw, 100, &mut d).unwrap();
        assert_eq!(d, b"hello hello hello");
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let mut d = Vec::new();
            assert!(
                decompress_into(codec, b"\x82SNAPPY\x00garbage-garbage!", 1000, &mut d).is_err(),
                "{codec:?}"
            );
        }
    }

    #[test]
    fn batches_are_rewritten_with_another_codec() {
        use crate::batch::{encode_batch_with, RecordBatch};
        let kv: Vec<crate::batch::KeyValue<'_>> = (0..20)
            .map(|i| {
                (
                    Some(&b"key"[..]),
                    Some(if i % 2 == 0 {
                        &b"even value"[..]
                    } else {
                        &b"odd"[..]
                    }),
                )
            })
            .collect();
        let plain = encode_batch_with(&kv, 1_700_000_000_000, 0, 7, 1, 0);
        let original = RecordBatch::parse(&plain).unwrap();
        let mut previous = plain.clone();
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
            Compression::None,
        ] {
            let from = RecordBatch::parse(&previous).unwrap();
            let out = recompress_batch(&from, codec, None, 1 << 20).unwrap();
            let b = RecordBatch::parse(&out).unwrap();
            b.verify_crc().unwrap();
            assert_eq!(b.compression().unwrap(), codec);
            assert_eq!(b.size(), out.len());
            assert_eq!(
                (
                    b.records_count(),
                    b.last_offset_delta(),
                    b.producer_id(),
                    b.base_sequence()
                ),
                (original.records_count(), original.last_offset_delta(), 7, 0)
            );
            assert_eq!(b.max_timestamp(), original.max_timestamp());
            let mut records = Vec::new();
            if codec == Compression::None {
                records.extend_from_slice(b.records());
            } else {
                decompress_into(codec, b.records(), 1 << 20, &mut records).unwrap();
            }
            assert_eq!(records, original.records(), "{codec:?}");
            previous = out;
        }
        // The decompression cap holds.
        let gz = recompress_batch(&original, Compression::Gzip, None, 1 << 20).unwrap();
        let gz = RecordBatch::parse(&gz).unwrap();
        assert!(recompress_batch(&gz, Compression::Lz4, None, 10).is_err());
    }
}
