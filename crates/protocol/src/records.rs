//! Records inside a v2 batch, and the per-batch checks Kafka's LogValidator makes on produce.
//!
//! Record layout (after decompression): length varint · attributes int8 · timestampDelta
//! varlong · offsetDelta varint · keyLength varint (-1 = null) · key · valueLength varint ·
//! value · headerCount varint · headers (keyLength varint ≥ 0, key, valueLength varint, value).
//! Varints are zig-zag encoded. Everything is borrowed from the buffer; nothing is copied.

use crate::batch::{Compression, RecordBatch};
use crate::compression::{self, DecompressError};
use thiserror::Error;

/// A record that does not parse or breaks a batch rule. Produce answers INVALID_RECORD
/// (CORRUPT_MESSAGE for undecodable compressed data) and names the record in record_errors.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("record {index}: {reason}")]
    Malformed { index: i32, reason: &'static str },
    #[error("record {index} has offset delta {found}, expected {index}")]
    OffsetDelta { index: i32, found: i32 },
    #[error("batch declares {declared} records but holds {found}")]
    Count { declared: i32, found: i32 },
    #[error("batch has {0} bytes after its last record")]
    TrailingBytes(usize),
    #[error(transparent)]
    Decompress(#[from] DecompressError),
}

/// One record, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub attributes: i8,
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub header_count: i32,
    /// The raw headers section.
    pub headers: &'a [u8],
}

/// Zig-zag varint (i32) at `pos`.
pub fn read_varint(buf: &[u8], pos: &mut usize) -> Option<i32> {
    let v = read_varlong_bounded(buf, pos, 5)?;
    i32::try_from(v).ok()
}

/// Zig-zag varlong (i64) at `pos`.
pub fn read_varlong(buf: &[u8], pos: &mut usize) -> Option<i64> {
    read_varlong_bounded(buf, pos, 10)
}

fn read_varlong_bounded(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Option<i64> {
    let mut raw: u64 = 0;
    for i in 0..max_bytes {
        let b = *buf.get(*pos)?;
        *pos += 1;
        raw |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(((raw >> 1) as i64) ^ -((raw & 1) as i64));
        }
    }
    None
}

fn take<'a>(buf: &'a [u8], pos: &mut usize, len: i32) -> Option<Option<&'a [u8]>> {
    if len == -1 {
        return Some(None);
    }
    let len = usize::try_from(len).ok()?;
    let end = pos.checked_add(len)?;
    let s = buf.get(*pos..end)?;
    *pos = end;
    Some(Some(s))
}

/// Iterate the records of an (uncompressed) records section.
pub fn records(buf: &[u8]) -> Records<'_> {
    Records {
        buf,
        pos: 0,
        index: 0,
    }
}

pub struct Records<'a> {
    buf: &'a [u8],
    pos: usize,
    index: i32,
}

impl<'a> Records<'a> {
    /// Bytes not consumed yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn parse_one(&mut self) -> Result<Record<'a>, RecordError> {
        let index = self.index;
        let bad = |reason| RecordError::Malformed { index, reason };
        let buf = self.buf;
        let mut pos = self.pos;
        let length = read_varint(buf, &mut pos).ok_or(bad("bad length"))?;
        let length = usize::try_from(length).map_err(|_| bad("negative length"))?;
        let end = pos.checked_add(length).ok_or(bad("bad length"))?;
        let body = buf
            .get(..end)
            .ok_or(bad("length past the end of the batch"))?;
        let attributes = *body.get(pos).ok_or(bad("truncated"))? as i8;
        pos += 1;
        let timestamp_delta = read_varlong(body, &mut pos).ok_or(bad("bad timestamp delta"))?;
        let offset_delta = read_varint(body, &mut pos).ok_or(bad("bad offset delta"))?;
        let key_len = read_varint(body, &mut pos).ok_or(bad("bad key length"))?;
        let key = take(body, &mut pos, key_len).ok_or(bad("bad key"))?;
        let value_len = read_varint(body, &mut pos).ok_or(bad("bad value length"))?;
        let value = take(body, &mut pos, value_len).ok_or(bad("bad value"))?;
        let header_count = read_varint(body, &mut pos).ok_or(bad("bad header count"))?;
        if header_count < 0 {
            return Err(bad("negative header count"));
        }
        let headers_start = pos;
        for _ in 0..header_count {
            let klen = read_varint(body, &mut pos).ok_or(bad("bad header key length"))?;
            if klen < 0 {
                return Err(bad("null header key"));
            }
            take(body, &mut pos, klen).ok_or(bad("bad header key"))?;
            let vlen = read_varint(body, &mut pos).ok_or(bad("bad header value length"))?;
            take(body, &mut pos, vlen).ok_or(bad("bad header value"))?;
        }
        if pos != end {
            return Err(bad("record length does not match its fields"));
        }
        self.pos = end;
        self.index += 1;
        Ok(Record {
            attributes,
            timestamp_delta,
            offset_delta,
            key,
            value,
            header_count,
            headers: &buf[headers_start..end],
        })
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let r = self.parse_one();
        if r.is_err() {
            self.pos = self.buf.len();
        }
        Some(r)
    }
}

/// What validation learned about a batch's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordsSummary {
    pub count: i32,
    /// Smallest and largest record timestamps (base timestamp + deltas).
    pub min_timestamp: i64,
    pub max_timestamp: i64,
    /// Whether some record has a null key (refused by compacted topics).
    pub has_null_key: bool,
}

/// Check every record of `batch`: structure, offset deltas 0..n-1, the declared count.
/// Compressed batches are decompressed into `scratch` (cleared first), at most `limit` bytes.
pub fn validate_records(
    batch: &RecordBatch<'_>,
    scratch: &mut Vec<u8>,
    limit: usize,
) -> Result<RecordsSummary, RecordError> {
    let codec = batch.compression().map_err(|_| RecordError::Malformed {
        index: 0,
        reason: "unknown compression codec",
    })?;
    let data: &[u8] = if codec == Compression::None {
        batch.records()
    } else {
        scratch.clear();
        compression::decompress_into(codec, batch.records(), limit, scratch)?;
        scratch
    };
    let base = batch.base_timestamp();
    let mut summary = RecordsSummary {
        count: 0,
        min_timestamp: i64::MAX,
        max_timestamp: i64::MIN,
        has_null_key: false,
    };
    let declared = batch.records_count();
    let mut it = records(data);
    for r in it.by_ref() {
        let r = r?;
        if r.offset_delta != summary.count {
            return Err(RecordError::OffsetDelta {
                index: summary.count,
                found: r.offset_delta,
            });
        }
        if summary.count >= declared {
            return Err(RecordError::Count {
                declared,
                found: summary.count + 1,
            });
        }
        let ts = base.saturating_add(r.timestamp_delta);
        summary.min_timestamp = summary.min_timestamp.min(ts);
        summary.max_timestamp = summary.max_timestamp.max(ts);
        summary.has_null_key |= r.key.is_none();
        summary.count += 1;
    }
    if summary.count != declared {
        return Err(RecordError::Count {
            declared,
            found: summary.count,
        });
    }
    Ok(summary)
}

/// Control record type of a transaction marker (key: version i16 · type i16).
pub const CONTROL_TYPE_ABORT: i16 = 0;
pub const CONTROL_TYPE_COMMIT: i16 = 1;
/// Version of the control record key and of the EndTxnMarker value we write.
pub const END_TXN_MARKER_VERSION: i16 = 0;

/// The content of a COMMIT or ABORT control record (Kafka's EndTransactionMarker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndTxnMarker {
    pub commit: bool,
    pub coordinator_epoch: i32,
}

/// A one-record control batch (baseOffset 0, transactional + control attributes, base sequence
/// -1) carrying `marker` for a producer, as Kafka's `MemoryRecords.withEndTransactionMarker`
/// builds it. Key: version 0 · type (0 ABORT, 1 COMMIT); value: version 0 · coordinatorEpoch.
pub fn encode_end_txn_marker(
    producer_id: i64,
    producer_epoch: i16,
    marker: EndTxnMarker,
    timestamp: i64,
) -> Vec<u8> {
    let kind = if marker.commit {
        CONTROL_TYPE_COMMIT
    } else {
        CONTROL_TYPE_ABORT
    };
    let mut key = Vec::with_capacity(4);
    key.extend_from_slice(&END_TXN_MARKER_VERSION.to_be_bytes());
    key.extend_from_slice(&kind.to_be_bytes());
    let mut value = Vec::with_capacity(6);
    value.extend_from_slice(&END_TXN_MARKER_VERSION.to_be_bytes());
    value.extend_from_slice(&marker.coordinator_epoch.to_be_bytes());
    crate::batch::encode_batch_with(
        &[(Some(&key), Some(&value))],
        timestamp,
        crate::batch::TRANSACTIONAL_BIT | crate::batch::CONTROL_BIT,
        producer_id,
        producer_epoch,
        crate::batch::NO_SEQUENCE,
    )
}

/// The transaction marker in a control batch: `Ok(None)` for an empty control batch or a
/// control record of another type (Kafka's KRaft control types); an error for a compressed
/// batch or a record whose key or value is too short. The batch must be whole.
pub fn parse_end_txn_marker(batch: &RecordBatch<'_>) -> Result<Option<EndTxnMarker>, RecordError> {
    let bad = |reason| RecordError::Malformed { index: 0, reason };
    if !matches!(batch.compression(), Ok(Compression::None)) {
        return Err(bad("control batch is compressed"));
    }
    let Some(first) = records(batch.records()).next() else {
        return Ok(None);
    };
    let r = first?;
    let key = r.key.ok_or(bad("control record without key"))?;
    if key.len() < 4 {
        return Err(bad("control record key shorter than 4 bytes"));
    }
    let commit = match i16::from_be_bytes([key[2], key[3]]) {
        CONTROL_TYPE_ABORT => false,
        CONTROL_TYPE_COMMIT => true,
        _ => return Ok(None),
    };
    let value = r.value.ok_or(bad("transaction marker without value"))?;
    if value.len() < 6 {
        return Err(bad("transaction marker value shorter than 6 bytes"));
    }
    Ok(Some(EndTxnMarker {
        commit,
        coordinator_epoch: i32::from_be_bytes([value[2], value[3], value[4], value[5]]),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::testing::{build_batch, put_varint};

    #[test]
    fn iterates_built_records() {
        let b = build_batch(0, 1000, &[b"a", b"", b"ccc"]);
        let batch = RecordBatch::parse_validated(&b).unwrap();
        let rs: Vec<_> = records(batch.records()).collect::<Result<_, _>>().unwrap();
        assert_eq!(rs.len(), 3);
        assert_eq!(rs[2].value, Some(&b"ccc"[..]));
        assert_eq!(rs[1].value, Some(&b""[..]));
        assert_eq!(rs[0].key, None);
        let mut scratch = Vec::new();
        let s = validate_records(&batch, &mut scratch, 1 << 20).unwrap();
        assert_eq!(s.count, 3);
        assert_eq!((s.min_timestamp, s.max_timestamp), (1000, 1000));
        assert!(s.has_null_key);
    }

    #[test]
    fn varints() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut pos = 0;
            assert_eq!(read_varlong(&b, &mut pos), Some(v));
            assert_eq!(pos, b.len());
        }
        let mut pos = 0;
        assert_eq!(
            read_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01], &mut pos),
            None
        );
    }

    #[test]
    fn count_mismatch_and_truncation_are_caught() {
        let b = build_batch(0, 1, &[b"x", b"y"]);
        let batch = RecordBatch::parse(&b).unwrap();
        let data = batch.records();
        for cut in 0..data.len() {
            let errs = records(&data[..cut]).filter(|r| r.is_err()).count();
            let oks = records(&data[..cut]).filter(|r| r.is_ok()).count();
            assert!(errs > 0 || oks < 2, "cut {cut}");
        }
        // Declared count 3 but two records.
        let mut bad = b.clone();
        bad[crate::batch::RECORDS_COUNT_OFFSET + 3] = 3;
        let batch = RecordBatch::parse(&bad).unwrap();
        assert_eq!(
            validate_records(&batch, &mut Vec::new(), 1 << 20),
            Err(RecordError::Count {
                declared: 3,
                found: 2
            })
        );
    }

    #[test]
    fn compressed_batches_validate_and_respect_the_limit() {
        // Build an uncompressed batch, compress its records section, patch the header.
        let values: Vec<Vec<u8>> = (0..100).map(|i| vec![b'v'; 100 + i]).collect();
        let refs: Vec<&[u8]> = values.iter().map(|v| v.as_slice()).collect();
        let plain = build_batch(0, 5, &refs);
        let records_section = &plain[crate::batch::HEADER_SIZE..];
        let mut compressed = Vec::new();
        crate::compression::compress_into(
            Compression::Zstd,
            None,
            records_section,
            &mut compressed,
        )
        .unwrap();
        let mut b = plain[..crate::batch::HEADER_SIZE].to_vec();
        b.extend_from_slice(&compressed);
        let len = (b.len() - crate::batch::LOG_OVERHEAD) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        b[21..23].copy_from_slice(&(Compression::Zstd.id()).to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        let batch = RecordBatch::parse_validated(&b).unwrap();
        let mut scratch = Vec::new();
        assert_eq!(
            validate_records(&batch, &mut scratch, 1 << 20)
                .unwrap()
                .count,
            100
        );
        assert!(matches!(
            validate_records(&batch, &mut scratch, 1000),
            Err(RecordError::Decompress(DecompressError::TooLarge { .. }))
        ));
    }

    #[test]
    fn end_txn_markers_round_trip() {
        for (commit, epoch) in [(true, 5), (false, -1), (false, i32::MAX)] {
            let m = EndTxnMarker {
                commit,
                coordinator_epoch: epoch,
            };
            let b = encode_end_txn_marker(42, 3, m, 1_000);
            let batch = RecordBatch::parse_validated(&b).unwrap();
            assert!(batch.is_control() && batch.is_transactional());
            assert_eq!(
                (
                    batch.producer_id(),
                    batch.producer_epoch(),
                    batch.base_sequence()
                ),
                (42, 3, -1)
            );
            assert_eq!(batch.records_count(), 1);
            let r = records(batch.records()).next().unwrap().unwrap();
            assert_eq!(r.key.unwrap(), &[0, 0, 0, u8::from(commit)]);
            assert_eq!(r.value.unwrap().len(), 6);
            assert_eq!(parse_end_txn_marker(&batch).unwrap(), Some(m));
        }
        // Another control type (e.g. KRaft's LEADER_CHANGE = 2) is not a marker.
        let b = crate::batch::encode_batch_with(
            &[(Some(&[0, 0, 0, 2][..]), Some(&[0u8; 8][..]))],
            1,
            0x30,
            1,
            0,
            -1,
        );
        assert_eq!(
            parse_end_txn_marker(&RecordBatch::parse(&b).unwrap()).unwrap(),
            None
        );
        let short =
            crate::batch::encode_batch_with(&[(Some(&[0, 0][..]), None)], 1, 0x30, 1, 0, -1);
        assert!(parse_end_txn_marker(&RecordBatch::parse(&short).unwrap()).is_err());
    }
}
