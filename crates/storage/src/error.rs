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

    #[error("invalid log config: {0}")]
    InvalidConfig(String),

    #[error("invalid topic partition {0:?}")]
    InvalidTopicPartition(String),

    #[error("log for {0} already exists")]
    LogExists(TopicPartition),

    #[error("no log for {0}")]
    UnknownTopicPartition(TopicPartition),

    /// The log hit an I/O error on a write or fsync earlier and refuses further writes
    /// (Kafka takes the log dir offline: KAFKA_STORAGE_ERROR).
    #[error("log {dir} is offline after an earlier I/O failure")]
    LogOffline { dir: PathBuf },

    #[error("log {dir} is closed")]
    LogClosed { dir: PathBuf },

    #[error("cannot sync {tp} to offset {offset}: log end offset is {log_end_offset}")]
    SyncBeyondLogEnd {
        tp: TopicPartition,
        offset: i64,
        log_end_offset: i64,
    },
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
