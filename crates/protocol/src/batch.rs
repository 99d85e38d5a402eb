//! A view of record batches (magic v2) as they travel in Produce requests and sit in segments.
//!
//! Header layout (61 bytes, big-endian):
//! baseOffset i64 @0 · batchLength i32 @8 (bytes after this field) · partitionLeaderEpoch i32 @12 ·
//! magic i8 @16 · crc u32 @17 (CRC-32C over bytes 21..end) · attributes i16 @21 ·
//! lastOffsetDelta i32 @23 · baseTimestamp i64 @27 · maxTimestamp i64 @35 · producerId i64 @43 ·
//! producerEpoch i16 @51 · baseSequence i32 @53 · recordCount i32 @57 · records @61.
//!
//! baseOffset and partitionLeaderEpoch lie outside the CRC, so the broker rewrites them in place.
//! Nothing here copies record bytes.

use thiserror::Error;

pub const BASE_OFFSET_OFFSET: usize = 0;
pub const LENGTH_OFFSET: usize = 8;
pub const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
pub const MAGIC_OFFSET: usize = 16;
pub const CRC_OFFSET: usize = 17;
pub const ATTRIBUTES_OFFSET: usize = 21;
pub const LAST_OFFSET_DELTA_OFFSET: usize = 23;
pub const BASE_TIMESTAMP_OFFSET: usize = 27;
pub const MAX_TIMESTAMP_OFFSET: usize = 35;
pub const PRODUCER_ID_OFFSET: usize = 43;
pub const PRODUCER_EPOCH_OFFSET: usize = 51;
pub const BASE_SEQUENCE_OFFSET: usize = 53;
pub const RECORDS_COUNT_OFFSET: usize = 57;
/// Size of the v2 batch header.
pub const HEADER_SIZE: usize = 61;
/// Bytes before the `batchLength` field ends (baseOffset + batchLength): the log overhead.
pub const LOG_OVERHEAD: usize = 12;
/// Smallest legal `batchLength`: the header after the length field.
pub const MIN_BATCH_LENGTH: i32 = (HEADER_SIZE - LOG_OVERHEAD) as i32;

/// `producerId` of a batch from a non-idempotent producer.
pub const NO_PRODUCER_ID: i64 = -1;
/// `producerEpoch` of a batch from a non-idempotent producer.
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// `baseSequence` of a batch from a non-idempotent producer.
pub const NO_SEQUENCE: i32 = -1;

/// `sequence + increment` in the sequence space of idempotent producers, which wraps from
/// `i32::MAX` to 0 (Kafka's `DefaultRecordBatch.incrementSequence`). `increment` must be >= 0.
/// Total for any input (computed in i64, so out-of-contract arguments cannot overflow).
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    let (s, i, max) = (
        i64::from(sequence),
        i64::from(increment),
        i64::from(i32::MAX),
    );
    let r = if s > max - i {
        i - (max - s) - 1
    } else {
        s + i
    };
    r as i32
}

/// `sequence - decrement` with the same wrap-around (Kafka's `decrementSequence`).
/// `decrement` must be >= 0.
/// Total for any input, like [`increment_sequence`].
pub fn decrement_sequence(sequence: i32, decrement: i32) -> i32 {
    let (s, d, max) = (
        i64::from(sequence),
        i64::from(decrement),
        i64::from(i32::MAX),
    );
    let r = if s < d { max - (d - s) + 1 } else { s - d };
    r as i32
}

/// The sequence of a batch's last record: `baseSequence + lastOffsetDelta`, wrapping, or
/// [`NO_SEQUENCE`] when the batch has none.
pub fn last_sequence(base_sequence: i32, last_offset_delta: i32) -> i32 {
    if base_sequence == NO_SEQUENCE {
        NO_SEQUENCE
    } else {
        increment_sequence(base_sequence, last_offset_delta.max(0))
    }
}

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
/// Attributes bit 4: the batch belongs to a transaction.
pub const TRANSACTIONAL_BIT: i16 = 0x10;
/// Attributes bit 5: a control batch (transaction markers).
pub const CONTROL_BIT: i16 = 0x20;
const DELETE_HORIZON_BIT: i16 = 0x40;

/// The compression codec of a batch (attributes bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    pub fn from_id(id: i16) -> Option<Self> {
        Some(match id {
            0 => Self::None,
            1 => Self::Gzip,
            2 => Self::Snappy,
            3 => Self::Lz4,
            4 => Self::Zstd,
            _ => return None,
        })
    }

    pub fn id(self) -> i16 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
        }
    }
}

/// Timestamp type (attributes bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// Why bytes are not a valid batch. Maps to CORRUPT_MESSAGE / INVALID_RECORD in responses.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("record batch truncated: {available} bytes available, {needed} needed")]
    Truncated { available: usize, needed: usize },
    #[error("record batch length {length} is invalid")]
    InvalidLength { length: i32 },
    #[error("record batch magic {magic} is not supported (only magic 2)")]
    UnsupportedMagic { magic: i8 },
    #[error("record batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    #[error("record batch compression codec {codec} is unknown")]
    UnknownCompression { codec: i16 },
    #[error(
        "record batch record count {count} is invalid for lastOffsetDelta {last_offset_delta}"
    )]
    InvalidRecordCount { count: i32, last_offset_delta: i32 },
}

/// A parsed v2 batch header, borrowed from the batch bytes (header plus records).
#[derive(Debug, Clone, Copy)]
pub struct RecordBatch<'a> {
    bytes: &'a [u8],
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

/// The total size (log overhead included) of the batch starting at `buf`, as its length field
/// says, after checking the field is sane. Does not require the whole batch to be present.
pub fn batch_size(buf: &[u8]) -> Result<usize, BatchError> {
    if buf.len() < LOG_OVERHEAD {
        return Err(BatchError::Truncated {
            available: buf.len(),
            needed: LOG_OVERHEAD,
        });
    }
    let length = be_i32(buf, LENGTH_OFFSET);
    if length < MIN_BATCH_LENGTH {
        return Err(BatchError::InvalidLength { length });
    }
    Ok(LOG_OVERHEAD + length as usize)
}

impl<'a> RecordBatch<'a> {
    /// Parse the batch at the start of `buf`: the whole batch must be present. Checks length and
    /// magic; not the CRC (see [`RecordBatch::verify_crc`]) so that recovery can tell a torn
    /// tail (truncated) from corruption.
    pub fn parse(buf: &'a [u8]) -> Result<Self, BatchError> {
        let size = batch_size(buf)?;
        if buf.len() < HEADER_SIZE.min(size) || buf.len() < MAGIC_OFFSET + 1 {
            return Err(BatchError::Truncated {
                available: buf.len(),
                needed: HEADER_SIZE,
            });
        }
        let magic = buf[MAGIC_OFFSET] as i8;
        if magic != 2 {
            return Err(BatchError::UnsupportedMagic { magic });
        }
        if buf.len() < size {
            return Err(BatchError::Truncated {
                available: buf.len(),
                needed: size,
            });
        }
        Ok(Self {
            bytes: &buf[..size],
        })
    }

    /// Parse and fully validate: length, magic, CRC, codec id, record count.
    pub fn parse_validated(buf: &'a [u8]) -> Result<Self, BatchError> {
        let batch = Self::parse(buf)?;
        batch.verify_crc()?;
        batch.compression()?;
        let (count, delta) = (batch.records_count(), batch.last_offset_delta());
        // Kafka allows an empty batch (count 0) only as the result of compaction; a producer's
        // batch must hold lastOffsetDelta + 1 records.
        if count < 0 || delta < 0 || i64::from(count) != i64::from(delta) + 1 {
            return Err(BatchError::InvalidRecordCount {
                count,
                last_offset_delta: delta,
            });
        }
        Ok(batch)
    }

    /// Parse and validate a batch read back from a log: length, magic, CRC, codec id, and a
    /// record count of at most lastOffsetDelta + 1 (Kafka's `ensureValid`). The log cleaner
    /// leaves batches with fewer records than offsets, or none, keeping their offsets.
    pub fn parse_stored(buf: &'a [u8]) -> Result<Self, BatchError> {
        let batch = Self::parse(buf)?;
        batch.verify_crc()?;
        batch.compression()?;
        let (count, delta) = (batch.records_count(), batch.last_offset_delta());
        if count < 0 || delta < 0 || i64::from(count) > i64::from(delta) + 1 {
            return Err(BatchError::InvalidRecordCount {
                count,
                last_offset_delta: delta,
            });
        }
        Ok(batch)
    }

    /// The whole batch (log overhead included).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
    pub fn size(&self) -> usize {
        self.bytes.len()
    }
    pub fn base_offset(&self) -> i64 {
        be_i64(self.bytes, BASE_OFFSET_OFFSET)
    }
    /// baseOffset + lastOffsetDelta. Saturates: a hostile or corrupt header must not overflow
    /// (offset sanity is checked by whoever assigns or recovers offsets).
    pub fn last_offset(&self) -> i64 {
        self.base_offset()
            .saturating_add(i64::from(self.last_offset_delta()))
    }
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }
    pub fn batch_length(&self) -> i32 {
        be_i32(self.bytes, LENGTH_OFFSET)
    }
    pub fn partition_leader_epoch(&self) -> i32 {
        be_i32(self.bytes, PARTITION_LEADER_EPOCH_OFFSET)
    }
    pub fn magic(&self) -> i8 {
        self.bytes[MAGIC_OFFSET] as i8
    }
    pub fn crc(&self) -> u32 {
        be_i32(self.bytes, CRC_OFFSET) as u32
    }
    pub fn attributes(&self) -> i16 {
        be_i16(self.bytes, ATTRIBUTES_OFFSET)
    }
    pub fn compression(&self) -> Result<Compression, BatchError> {
        let codec = self.attributes() & COMPRESSION_MASK;
        Compression::from_id(codec).ok_or(BatchError::UnknownCompression { codec })
    }
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes() & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }
    pub fn is_transactional(&self) -> bool {
        self.attributes() & TRANSACTIONAL_BIT != 0
    }
    pub fn is_control(&self) -> bool {
        self.attributes() & CONTROL_BIT != 0
    }
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes() & DELETE_HORIZON_BIT != 0
    }
    pub fn last_offset_delta(&self) -> i32 {
        be_i32(self.bytes, LAST_OFFSET_DELTA_OFFSET)
    }
    pub fn base_timestamp(&self) -> i64 {
        be_i64(self.bytes, BASE_TIMESTAMP_OFFSET)
    }
    pub fn max_timestamp(&self) -> i64 {
        be_i64(self.bytes, MAX_TIMESTAMP_OFFSET)
    }
    pub fn producer_id(&self) -> i64 {
        be_i64(self.bytes, PRODUCER_ID_OFFSET)
    }
    pub fn producer_epoch(&self) -> i16 {
        be_i16(self.bytes, PRODUCER_EPOCH_OFFSET)
    }
    pub fn base_sequence(&self) -> i32 {
        be_i32(self.bytes, BASE_SEQUENCE_OFFSET)
    }
    /// The sequence of the last record (see [`last_sequence`]).
    pub fn last_sequence(&self) -> i32 {
        last_sequence(self.base_sequence(), self.last_offset_delta())
    }
    /// Whether the batch comes from an idempotent or transactional producer.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id() > NO_PRODUCER_ID
    }
    pub fn records_count(&self) -> i32 {
        be_i32(self.bytes, RECORDS_COUNT_OFFSET)
    }
    /// The records section (possibly compressed).
    pub fn records(&self) -> &'a [u8] {
        &self.bytes[HEADER_SIZE..]
    }

    pub fn compute_crc(&self) -> u32 {
        crc32c::crc32c(&self.bytes[ATTRIBUTES_OFFSET..])
    }

    pub fn verify_crc(&self) -> Result<(), BatchError> {
        let (stored, computed) = (self.crc(), self.compute_crc());
        if stored != computed {
            return Err(BatchError::CrcMismatch { stored, computed });
        }
        Ok(())
    }
}

/// The fixed header fields of a v2 batch, read from its first [`HEADER_SIZE`] bytes alone
/// (the records need not be present). Used to walk batches on disk without reading them whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    /// Total size including the log overhead.
    pub size: usize,
    pub partition_leader_epoch: i32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

impl BatchHeader {
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }
    /// The sequence of the last record (see [`last_sequence`]).
    pub fn last_sequence(&self) -> i32 {
        last_sequence(self.base_sequence, self.last_offset_delta)
    }
    pub fn has_producer_id(&self) -> bool {
        self.producer_id > NO_PRODUCER_ID
    }
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }
}

/// Parse the header at the start of `buf`, which must hold at least [`HEADER_SIZE`] bytes.
/// Checks the length field and magic; not the CRC.
pub fn parse_header(buf: &[u8]) -> Result<BatchHeader, BatchError> {
    let size = batch_size(buf)?;
    if buf.len() < HEADER_SIZE {
        return Err(BatchError::Truncated {
            available: buf.len(),
            needed: HEADER_SIZE,
        });
    }
    let magic = buf[MAGIC_OFFSET] as i8;
    if magic != 2 {
        return Err(BatchError::UnsupportedMagic { magic });
    }
    Ok(BatchHeader {
        base_offset: be_i64(buf, BASE_OFFSET_OFFSET),
        size,
        partition_leader_epoch: be_i32(buf, PARTITION_LEADER_EPOCH_OFFSET),
        attributes: be_i16(buf, ATTRIBUTES_OFFSET),
        last_offset_delta: be_i32(buf, LAST_OFFSET_DELTA_OFFSET),
        base_timestamp: be_i64(buf, BASE_TIMESTAMP_OFFSET),
        max_timestamp: be_i64(buf, MAX_TIMESTAMP_OFFSET),
        producer_id: be_i64(buf, PRODUCER_ID_OFFSET),
        producer_epoch: be_i16(buf, PRODUCER_EPOCH_OFFSET),
        base_sequence: be_i32(buf, BASE_SEQUENCE_OFFSET),
        records_count: be_i32(buf, RECORDS_COUNT_OFFSET),
    })
}

/// Iterate the batches laid end to end in `buf` (a produce payload or a segment slice).
/// Yields an error for the first batch that does not parse, then stops.
pub fn batches(buf: &[u8]) -> Batches<'_> {
    Batches { buf, pos: 0 }
}

pub struct Batches<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Batches<'a> {
    /// Byte position of the next batch in the buffer.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Batches<'a> {
    type Item = Result<RecordBatch<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        match RecordBatch::parse(rest) {
            Ok(b) => {
                self.pos += b.size();
                Some(Ok(b))
            }
            Err(e) => {
                self.pos = self.buf.len();
                Some(Err(e))
            }
        }
    }
}

/// Rewrite baseOffset in place (outside the CRC). `batch` must start with a batch header.
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[BASE_OFFSET_OFFSET..BASE_OFFSET_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Rewrite partitionLeaderEpoch in place (outside the CRC).
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    batch[PARTITION_LEADER_EPOCH_OFFSET..PARTITION_LEADER_EPOCH_OFFSET + 4]
        .copy_from_slice(&epoch.to_be_bytes());
}

/// Switch the batch to LogAppendTime with `now_ms` as its max timestamp, and recompute the CRC
/// (both fields are inside it).
pub fn set_log_append_time(batch: &mut [u8], now_ms: i64) {
    let attrs = be_i16(batch, ATTRIBUTES_OFFSET) | TIMESTAMP_TYPE_BIT;
    batch[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attrs.to_be_bytes());
    batch[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&now_ms.to_be_bytes());
    let crc = crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..]);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Encode an uncompressed v2 batch (baseOffset 0, no producer) of records given as
/// (key, value), all with `timestamp`. The broker uses it for its own internal records
/// (__consumer_offsets); producers' batches are stored as they arrive.
/// A record's key and value; None is null.
pub type KeyValue<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

pub fn encode_batch(entries: &[KeyValue<'_>], timestamp: i64) -> Vec<u8> {
    encode_batch_with(entries, timestamp, 0, -1, -1, -1)
}

/// Like [`encode_batch`], with batch attributes and producer fields.
pub fn encode_batch_with(
    entries: &[KeyValue<'_>],
    timestamp: i64,
    attributes: i16,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Vec<u8> {
    let mut records = Vec::new();
    let mut body = Vec::new();
    for (i, (key, value)) in entries.iter().enumerate() {
        body.clear();
        body.push(0u8); // record attributes
        testing::put_varint(&mut body, 0); // timestamp delta
        testing::put_varint(&mut body, i as i64); // offset delta
        for field in [key, value] {
            match field {
                Some(b) => {
                    testing::put_varint(&mut body, b.len() as i64);
                    body.extend_from_slice(b);
                }
                None => testing::put_varint(&mut body, -1),
            }
        }
        testing::put_varint(&mut body, 0); // no headers
        testing::put_varint(&mut records, body.len() as i64);
        records.extend_from_slice(&body);
    }
    let count = entries.len() as i32;
    let mut b = Vec::with_capacity(HEADER_SIZE + records.len());
    b.extend_from_slice(&0i64.to_be_bytes());
    b.extend_from_slice(&((HEADER_SIZE - LOG_OVERHEAD + records.len()) as i32).to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes()); // partition leader epoch
    b.push(2); // magic
    b.extend_from_slice(&0u32.to_be_bytes()); // crc placeholder
    b.extend_from_slice(&attributes.to_be_bytes());
    b.extend_from_slice(&(count - 1).to_be_bytes());
    b.extend_from_slice(&timestamp.to_be_bytes());
    b.extend_from_slice(&timestamp.to_be_bytes());
    b.extend_from_slice(&producer_id.to_be_bytes());
    b.extend_from_slice(&producer_epoch.to_be_bytes());
    b.extend_from_slice(&base_sequence.to_be_bytes());
    b.extend_from_slice(&count.to_be_bytes());
    b.extend_from_slice(&records);
    let crc = crc32c::crc32c(&b[ATTRIBUTES_OFFSET..]);
    b[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    b
}

/// Builders for tests elsewhere in the workspace (and fuzz seeds).
pub mod testing {
    use super::*;

    /// An uncompressed v2 batch of `values.len()` records with null keys, built by hand.
    pub fn build_batch(base_offset: i64, base_timestamp: i64, values: &[&[u8]]) -> Vec<u8> {
        build_batch_with(base_offset, base_timestamp, values, 0, -1, -1, -1)
    }

    /// Like [`build_batch`] with attributes and producer fields; `base_offset` is written as
    /// given.
    pub fn build_batch_with(
        base_offset: i64,
        base_timestamp: i64,
        values: &[&[u8]],
        attributes: i16,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
    ) -> Vec<u8> {
        let entries: Vec<KeyValue<'_>> = values.iter().map(|v| (None, Some(*v))).collect();
        let mut b = encode_batch_with(
            &entries,
            base_timestamp,
            attributes,
            producer_id,
            producer_epoch,
            base_sequence,
        );
        set_base_offset(&mut b, base_offset);
        b
    }

    /// Zig-zag varint as Kafka records use.
    pub fn put_varint(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        while z >= 0x80 {
            out.push((z as u8) | 0x80);
            z >>= 7;
        }
        out.push(z as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::testing::build_batch;
    use super::*;

    #[test]
    fn parses_and_validates_built_batch() {
        let b = build_batch(0, 1_000, &[b"a", b"bc", b"def"]);
        let batch = RecordBatch::parse_validated(&b).unwrap();
        assert_eq!(batch.records_count(), 3);
        assert_eq!(batch.last_offset_delta(), 2);
        assert_eq!(batch.size(), b.len());
        assert_eq!(batch.compression().unwrap(), Compression::None);
        assert_eq!(batch.timestamp_type(), TimestampType::CreateTime);
        assert_eq!(batch.max_timestamp(), 1_000);
    }

    #[test]
    fn rewrites_outside_crc_keep_it_valid() {
        let mut b = build_batch(0, 1_000, &[b"x"]);
        set_base_offset(&mut b, 42);
        set_partition_leader_epoch(&mut b, 7);
        let batch = RecordBatch::parse_validated(&b).unwrap();
        assert_eq!(batch.base_offset(), 42);
        assert_eq!(batch.partition_leader_epoch(), 7);
        set_log_append_time(&mut b, 5_000);
        let batch = RecordBatch::parse_validated(&b).unwrap();
        assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(batch.max_timestamp(), 5_000);
    }

    #[test]
    fn detects_corruption_and_truncation() {
        let b = build_batch(0, 1_000, &[b"hello"]);
        let mut flipped = b.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        assert!(matches!(
            RecordBatch::parse_validated(&flipped),
            Err(BatchError::CrcMismatch { .. })
        ));
        for n in 0..b.len() {
            assert!(RecordBatch::parse(&b[..n]).is_err(), "prefix {n} parsed");
        }
        let mut bad_len = b.clone();
        bad_len[LENGTH_OFFSET..LENGTH_OFFSET + 4].copy_from_slice(&(-5i32).to_be_bytes());
        assert_eq!(
            RecordBatch::parse(&bad_len).unwrap_err(),
            BatchError::InvalidLength { length: -5 }
        );
        let mut magic1 = b.clone();
        magic1[MAGIC_OFFSET] = 1;
        assert_eq!(
            RecordBatch::parse(&magic1).unwrap_err(),
            BatchError::UnsupportedMagic { magic: 1 }
        );
    }

    #[test]
    fn iterates_concatenated_batches_and_stops_at_garbage() {
        let mut buf = build_batch(0, 1, &[b"a"]);
        buf.extend(build_batch(1, 2, &[b"b", b"c"]));
        let n = buf.len();
        buf.extend_from_slice(&[0, 0, 0]);
        let mut it = batches(&buf);
        assert_eq!(it.next().unwrap().unwrap().records_count(), 1);
        assert_eq!(it.next().unwrap().unwrap().records_count(), 2);
        assert_eq!(it.position(), n);
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn parses_header_without_records() {
        let mut b = build_batch(0, 1_000, &[b"a", b"bc"]);
        set_base_offset(&mut b, 10);
        let h = parse_header(&b[..HEADER_SIZE]).unwrap();
        assert_eq!(h.base_offset, 10);
        assert_eq!(h.size, b.len());
        assert_eq!(h.last_offset(), 11);
        assert_eq!(h.max_timestamp, 1_000);
        assert!(parse_header(&b[..HEADER_SIZE - 1]).is_err());
    }

    #[test]
    fn encode_batch_round_trips_keys_and_values() {
        let b = encode_batch(&[(Some(b"k1"), Some(b"v1")), (Some(b"k2"), None)], 7);
        let batch = RecordBatch::parse_validated(&b).unwrap();
        let rs: Vec<_> = crate::records::records(batch.records())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rs[0].key, Some(&b"k1"[..]));
        assert_eq!(rs[1].value, None);
        assert_eq!(batch.max_timestamp(), 7);
    }

    #[test]
    fn offsets_saturate_instead_of_overflowing() {
        let mut b = build_batch(0, 1, &[b"a", b"b"]);
        set_base_offset(&mut b, i64::MAX - 1);
        let batch = RecordBatch::parse(&b).unwrap();
        assert_eq!(batch.last_offset(), i64::MAX);
        assert_eq!(batch.next_offset(), i64::MAX);
    }

    #[test]
    fn record_count_must_match_delta() {
        let mut b = build_batch(0, 1, &[b"a", b"b"]);
        b[RECORDS_COUNT_OFFSET..RECORDS_COUNT_OFFSET + 4].copy_from_slice(&5i32.to_be_bytes());
        let crc = crc32c::crc32c(&b[ATTRIBUTES_OFFSET..]);
        b[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            RecordBatch::parse_validated(&b),
            Err(BatchError::InvalidRecordCount { .. })
        ));
    }

    #[test]
    fn sequences_wrap_like_kafka() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert_eq!(decrement_sequence(8, 3), 5);
        assert_eq!(decrement_sequence(0, 1), i32::MAX);
        assert_eq!(decrement_sequence(1, 3), i32::MAX - 1);
        assert_eq!(last_sequence(NO_SEQUENCE, 4), NO_SEQUENCE);
        assert_eq!(last_sequence(i32::MAX, 2), 1);
    }

    #[test]
    fn producer_fields_in_header() {
        let b = testing::build_batch_with(0, 1, &[b"a", b"b", b"c"], TRANSACTIONAL_BIT, 7, 2, 40);
        let h = parse_header(&b).unwrap();
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (7, 2, 40)
        );
        assert_eq!(h.last_sequence(), 42);
        assert!(h.has_producer_id() && h.is_transactional() && !h.is_control());
        let r = RecordBatch::parse(&b).unwrap();
        assert_eq!(r.last_sequence(), 42);
        assert!(r.has_producer_id());
        assert!(!parse_header(&build_batch(0, 1, &[b"a"]))
            .unwrap()
            .has_producer_id());
    }
}
