//! Typed storage errors. Every variant that concerns data on disk names the file and, where it
//! applies, the offset or byte position that was wrong.

use std::path::PathBuf;

use sluice_protocol::batch::BatchError;
use thiserror::Error;

use crate::TopicPartition;

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum StorageError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Kafka's OFFSET_OUT_OF_RANGE.
    #[error("offset {offset} of {tp} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        tp: TopicPartition,
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },

    /// A produce payload that is not a sequence of whole v2 batches (CORRUPT_MESSAGE).
    #[error("invalid produce payload for {tp} at byte {position}: {source}")]
    InvalidRecords {
        tp: TopicPartition,
        position: usize,
        #[source]
        source: BatchError,
    },

    /// A batch larger than max.message.bytes (MESSAGE_TOO_LARGE).
    #[error("batch of {size} bytes for {tp} exceeds max.message.bytes {max}")]
    RecordTooLarge {
        tp: TopicPartition,
        size: usize,
        max: usize,
    },

    /// A produce payload larger than segment.bytes (RECORD_LIST_TOO_LARGE).
    #[error("append of {size} bytes for {tp} exceeds segment.bytes {max}")]
    RecordBatchTooLarge {
        tp: TopicPartition,
        size: usize,
        max: usize,
    },

    /// Data on disk that does not parse where the indexes or the log say a batch starts.
    #[error("corrupt record batch in {path} at byte {position}: {reason}")]
    CorruptRecord {
        path: PathBuf,
        position: u64,
        reason: String,
    },

    /// An index file that fails its sanity check.
    #[error("corrupt index {path}: {reason}")]
    CorruptIndex { path: PathBuf, reason: String },

    /// An offset that cannot be stored relative to its segment's base offset.
    #[error("offset {offset} overflows the relative offsets of segment {path}")]
    OffsetOverflow { path: PathBuf, offset: i64 },

    #[error("malformed checkpoint file {path} at line {line}: {reason}")]
    CorruptCheckpoint {
        path: PathBuf,
        line: usize,
        reason: String,
    },

    /// A `partition.metadata` file that Kafka's reader would refuse too.
    #[error("malformed partition metadata file {path}: {reason}")]
    CorruptPartitionMetadata { path: PathBuf, reason: String },

    /// A log asked to belong to a topic id other than the one in its `partition.metadata`
    /// (INCONSISTENT_TOPIC_ID, 103).
    #[error(
        "tried to assign topic id {expected} to the log of {tp}, but {path} holds topic id {found}"
    )]
    InconsistentTopicId {
        tp: TopicPartition,
        path: PathBuf,
        expected: String,
        found: String,
    },

    #[error("invalid log config: {0}")]
    InvalidConfig(String),

    #[error("invalid topic partition {0:?}")]
    InvalidTopicPartition(String),

    /// The same partition in two log dirs (Kafka refuses to start too: delete one of them).
    #[error("duplicate log directories for {tp}: {first} and {second}")]
    DuplicateLogDir {
        tp: TopicPartition,
        first: PathBuf,
        second: PathBuf,
    },

    #[error("log for {0} already exists")]
    LogExists(TopicPartition),

    /// A replicated batch that does not start where the log ends (Kafka's
    /// UnexpectedAppendOffsetException).
    #[error("{tp}: a replicated batch starts at offset {found}, the log ends at {expected}")]
    UnexpectedAppendOffset {
        tp: TopicPartition,
        expected: i64,
        found: i64,
    },

    /// Becoming leader in an epoch older than one the log already holds.
    #[error("{tp} cannot lead in leader epoch {epoch}: its log already holds epoch {latest}")]
    StaleLeaderEpoch {
        tp: TopicPartition,
        epoch: i32,
        latest: i32,
    },

    #[error("no log for {0}")]
    UnknownTopicPartition(TopicPartition),

    /// The log hit an I/O error on a write or fsync earlier and refuses further writes
    /// (Kafka takes the log dir offline: KAFKA_STORAGE_ERROR).
    #[error("log {dir} is offline after an earlier I/O failure")]
    LogOffline { dir: PathBuf },

    #[error("log {dir} is closed")]
    LogClosed { dir: PathBuf },

    /// An idempotent batch whose first sequence does not follow the producer's last one in
    /// the same epoch (OUT_OF_ORDER_SEQUENCE_NUMBER, 45).
    #[error(
        "out of order sequence number for producer {producer_id} at offset {offset} in {tp}: \
         {first_seq} (incoming seq. number), {last_seq} (current end sequence number)"
    )]
    OutOfOrderSequence {
        tp: TopicPartition,
        producer_id: i64,
        offset: i64,
        first_seq: i32,
        last_seq: i32,
    },

    /// A producer's first batch in a new epoch must have sequence 0
    /// (OUT_OF_ORDER_SEQUENCE_NUMBER, 45).
    #[error(
        "invalid sequence number for new epoch of producer {producer_id} at offset {offset} in \
         {tp}: {epoch} (request epoch), {first_seq} (seq. number), {current_epoch} (current \
         producer epoch)"
    )]
    InvalidSequenceForNewEpoch {
        tp: TopicPartition,
        producer_id: i64,
        offset: i64,
        epoch: i16,
        first_seq: i32,
        current_epoch: i16,
    },

    /// A batch with an epoch below the producer's current one: a zombie or a late retry
    /// (INVALID_PRODUCER_EPOCH, 47 — what Kafka answers on the produce path since 2.7;
    /// PRODUCER_FENCED is for the transaction coordinator's APIs).
    #[error(
        "epoch of producer {producer_id} at offset {offset} in {tp} is {epoch}, which is \
         smaller than the last seen epoch {current_epoch}"
    )]
    InvalidProducerEpoch {
        tp: TopicPartition,
        producer_id: i64,
        offset: i64,
        epoch: i16,
        current_epoch: i16,
    },

    /// A non-transactional batch from a producer with an open transaction
    /// (INVALID_TXN_STATE, 48).
    #[error("expected transactional write from producer {producer_id} at offset {offset} in {tp}")]
    InvalidTxnState {
        tp: TopicPartition,
        producer_id: i64,
        offset: i64,
    },

    /// A transaction marker from a coordinator epoch older than the one that wrote the
    /// producer's last marker: a zombie coordinator (TRANSACTION_COORDINATOR_FENCED, 52).
    #[error(
        "invalid coordinator epoch for producerId {producer_id} at offset {offset} in partition \
         {tp}: {coordinator_epoch} (zombie), {current_coordinator_epoch} (current)"
    )]
    TransactionCoordinatorFenced {
        tp: TopicPartition,
        producer_id: i64,
        offset: i64,
        coordinator_epoch: i32,
        current_coordinator_epoch: i32,
    },

    /// A control batch in a client's produce payload, or one whose marker does not parse
    /// (INVALID_RECORD, 87; Kafka: "Clients are not allowed to write control records").
    #[error("invalid control batch for {tp} at byte {position}: {reason}")]
    InvalidControlBatch {
        tp: TopicPartition,
        position: usize,
        reason: String,
    },

    /// A batch with a producer id but a negative base sequence (INVALID_RECORD, 87).
    #[error(
        "invalid sequence number {base_sequence} in record batch with producerId {producer_id} \
         in topic partition {tp}"
    )]
    InvalidProducerSequence {
        tp: TopicPartition,
        producer_id: i64,
        base_sequence: i32,
    },

    /// A producer state snapshot that fails its checks (version, CRC, length). At load such a
    /// file is deleted and an older snapshot or the log is used instead.
    #[error("corrupt producer snapshot {path}: {reason}")]
    CorruptSnapshot { path: PathBuf, reason: String },

    #[error("cannot sync {tp} to offset {offset}: log end offset is {log_end_offset}")]
    SyncBeyondLogEnd {
        tp: TopicPartition,
        offset: i64,
        log_end_offset: i64,
    },
}

impl StorageError {
    /// The Kafka protocol error code a produce (or fetch) response should carry for this error,
    /// as Apache Kafka's broker maps the equivalent exception.
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            Self::OffsetOutOfRange { .. } => 1,       // OFFSET_OUT_OF_RANGE
            Self::InvalidRecords { .. } => 2,         // CORRUPT_MESSAGE
            Self::UnknownTopicPartition(_) => 3,      // UNKNOWN_TOPIC_OR_PARTITION
            Self::RecordTooLarge { .. } => 10,        // MESSAGE_TOO_LARGE
            Self::InvalidTopicPartition(_) => 17,     // INVALID_TOPIC_EXCEPTION
            Self::RecordBatchTooLarge { .. } => 18,   // RECORD_LIST_TOO_LARGE
            Self::LogExists(_) => 36,                 // TOPIC_ALREADY_EXISTS
            Self::StaleLeaderEpoch { .. } => 74,      // FENCED_LEADER_EPOCH
            Self::UnexpectedAppendOffset { .. } => 1, // OFFSET_OUT_OF_RANGE
            Self::InvalidConfig(_) => 40,             // INVALID_CONFIG
            Self::OutOfOrderSequence { .. } | Self::InvalidSequenceForNewEpoch { .. } => 45, // OUT_OF_ORDER_SEQUENCE_NUMBER
            Self::InvalidProducerEpoch { .. } => 47, // INVALID_PRODUCER_EPOCH
            Self::InvalidTxnState { .. } => 48,      // INVALID_TXN_STATE
            Self::TransactionCoordinatorFenced { .. } => 52, // TRANSACTION_COORDINATOR_FENCED
            Self::InvalidProducerSequence { .. } | Self::InvalidControlBatch { .. } => 87, // INVALID_RECORD
            Self::InconsistentTopicId { .. } => 103, // INCONSISTENT_TOPIC_ID
            Self::Io { .. }
            | Self::CorruptRecord { .. }
            | Self::CorruptIndex { .. }
            | Self::OffsetOverflow { .. }
            | Self::CorruptCheckpoint { .. }
            | Self::CorruptPartitionMetadata { .. }
            | Self::DuplicateLogDir { .. }
            | Self::CorruptSnapshot { .. }
            | Self::LogOffline { .. }
            | Self::LogClosed { .. }
            | Self::SyncBeyondLogEnd { .. } => 56, // KAFKA_STORAGE_ERROR
        }
    }
}

/// Attach a path to an I/O error.
pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| StorageError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
