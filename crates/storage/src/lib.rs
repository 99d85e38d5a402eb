//! sluice-storage: durable partition logs in Apache Kafka's on-disk format.
//!
//! See `README.md` in this crate for the file formats, invariants and concurrency design.
//!
//! - [`LogManager`] owns the log dirs and all partitions.
//! - [`PartitionLog`] (Kafka's UnifiedLog) appends, reads, syncs, truncates one partition.
//! - [`LogSegment`], [`OffsetIndex`], [`TimeIndex`], [`TransactionIndex`]: the `.log`, `.index`,
//!   `.timeindex`, `.txnindex` files.
//! - [`ProducerStateManager`]: idempotent producers' epochs and last batches per partition
//!   (duplicate detection, sequence checks) and their `.snapshot` files.
//! - [`LogCleaner`]: compaction of `cleanup.policy=compact` logs (latest record per key,
//!   tombstones after delete.retention.ms, aborted transactions dropped), swapped in through
//!   Kafka's `.cleaned` / `.swap` files; progress in `cleaner-offset-checkpoint`.
//! - [`LogConfig`]: per-topic settings; [`Time`]: the injectable clock.

pub mod checkpoint;
pub mod cleaner;
pub mod config;
pub mod error;
pub mod fsutil;
pub mod group_commit;
pub mod index;
pub mod kafka_uuid;
pub mod leader_epoch;
pub mod log;
pub mod manager;
pub mod partition_metadata;
pub mod producer_state;
pub mod segment;
pub mod time;
pub mod txn_index;

pub use cleaner::{CleanStats, CleanerConfig, CleanerPassSummary, LogCleaner, OffsetMap};
pub use config::{LogConfig, MessageTimestampType};
pub use error::{Result, StorageError};
pub use index::{OffsetIndex, OffsetPosition, TimeIndex, TimestampOffset};
pub use log::{
    FetchDataInfo, HighWatermarkListener, LoadParams, LogAppendInfo, LogLoadStats, LogSnapshot,
    PartitionLog, TimestampAndOffset, Truncation, TxnMarker,
};
pub use manager::{
    LoadSummary, LogManager, ProducerStateConfig, CLEAN_SHUTDOWN_FILE, METADATA_TOPIC,
};
pub use partition_metadata::{PartitionMetadataFile, PARTITION_METADATA_FILE};
pub use producer_state::{
    BatchMetadata, CompletedTxn, ProducerStateEntry, ProducerStateManager, UnstableTxn,
};
pub use segment::{LogSegment, RollReason};
pub use time::{MockTime, SystemTime, Time};
pub use txn_index::{AbortedTxn, TransactionIndex};
pub use uuid::Uuid;

/// A topic partition. Its directory is `<topic>-<partition>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }

    /// Kafka's rules for topic names (legal characters, length), plus a non-negative partition:
    /// the name becomes a directory, so nothing else may pass.
    pub fn validate(&self) -> Result<()> {
        let t = &self.topic;
        let ok = !t.is_empty()
            && t.len() <= 249
            && t != "."
            && t != ".."
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
            && self.partition >= 0;
        if ok {
            Ok(())
        } else {
            Err(StorageError::InvalidTopicPartition(self.to_string()))
        }
    }

    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }

    /// Parse `<topic>-<partition>`.
    pub fn from_dir_name(name: &str) -> Result<Self> {
        let bad = || StorageError::InvalidTopicPartition(name.to_owned());
        let (topic, partition) = name.rsplit_once('-').ok_or_else(bad)?;
        if partition.is_empty() || !partition.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let tp = Self::new(topic, partition.parse().map_err(|_| bad())?);
        tp.validate().map_err(|_| bad())?;
        Ok(tp)
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<LogManager>();
        check::<PartitionLog>();
        check::<std::sync::Arc<PartitionLog>>();
    }

    #[test]
    fn topic_partition_dir_names() {
        let tp = TopicPartition::from_dir_name("my-topic-12").unwrap();
        assert_eq!(tp, TopicPartition::new("my-topic", 12));
        assert_eq!(tp.dir_name(), "my-topic-12");
        for bad in ["nodash", "t-", "t-x", "-1", "..-1", "a/b-0"] {
            assert!(TopicPartition::from_dir_name(bad).is_err(), "{bad}");
        }
        assert!(TopicPartition::new("../etc", 0).validate().is_err());
    }
}
