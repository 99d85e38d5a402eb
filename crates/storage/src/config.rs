//! Per-topic log configuration (Kafka's LogConfig), filled by the server from topic configs.

use crate::error::{Result, StorageError};

/// message.timestamp.type
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageTimestampType {
    #[default]
    CreateTime,
    LogAppendTime,
}

/// The subset of Kafka's topic configs that the storage layer acts on. Defaults are Kafka's.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// segment.bytes: roll when the active segment would exceed this (default 1 GiB).
    pub segment_bytes: u32,
    /// segment.ms: roll when the active segment's first batch is this old (default 7 days).
    pub segment_ms: i64,
    /// segment.index.bytes: pre-allocated size of each index file (default 10 MiB).
    pub segment_index_bytes: u32,
    /// index.interval.bytes: add an OffsetIndex entry every this many log bytes (default 4096).
    pub index_interval_bytes: u32,
    /// flush.messages: fsync after this many unflushed messages (default: never).
    pub flush_messages: i64,
    /// flush.ms: fsync when the last flush is this old (default: never).
    pub flush_ms: i64,
    /// max.message.bytes: largest batch accepted (default 1 MiB + 12 bytes of log overhead).
    pub max_message_bytes: u32,
    /// message.timestamp.type
    pub message_timestamp_type: MessageTimestampType,
    /// Sluice extension: fsync before acknowledging (group commit). The high watermark then only
    /// moves past data that is on disk.
    pub fsync_before_ack: bool,
    /// retention.ms: delete a segment whose largest timestamp is older than this (default
    /// 7 days; -1: no time limit).
    pub retention_ms: i64,
    /// retention.bytes: delete the oldest segments while the log would stay above this size
    /// (default -1: no size limit).
    pub retention_bytes: i64,
    /// file.delete.delay.ms: how long a deleted segment's files stay on disk, renamed to
    /// `.deleted`, before they are removed (default 60 s).
    pub file_delete_delay_ms: i64,
    /// cleanup.policy contains `delete`: retention.ms / retention.bytes apply (a compact-only
    /// topic keeps its segments; only the log start offset removes them).
    pub cleanup_policy_delete: bool,
    /// cleanup.policy contains `compact`: the log cleaner keeps the latest record per key
    /// (default false).
    pub cleanup_policy_compact: bool,
    /// delete.retention.ms: how long a tombstone (and a transaction marker) stays after the
    /// cleaner first saw it (its batch's delete horizon; default 1 day).
    pub delete_retention_ms: i64,
    /// min.cleanable.dirty.ratio: clean when dirty bytes / total bytes exceed this (default
    /// 0.5).
    pub min_cleanable_dirty_ratio: f64,
    /// min.compaction.lag.ms: a segment whose largest timestamp is newer than this is not
    /// cleaned yet (default 0).
    pub min_compaction_lag_ms: i64,
    /// max.compaction.lag.ms: a log whose oldest dirty segment's first batch is older than
    /// this is cleaned whatever its dirty ratio (default: never).
    pub max_compaction_lag_ms: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: 7 * 24 * 60 * 60 * 1000,
            segment_index_bytes: 10 * 1024 * 1024,
            index_interval_bytes: 4096,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            max_message_bytes: 1024 * 1024 + 12,
            message_timestamp_type: MessageTimestampType::CreateTime,
            fsync_before_ack: false,
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            file_delete_delay_ms: 60_000,
            cleanup_policy_delete: true,
            cleanup_policy_compact: false,
            delete_retention_ms: 24 * 60 * 60 * 1000,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
        }
    }
}

impl LogConfig {
    /// Reject values Kafka's config validation would reject.
    pub fn validate(&self) -> Result<()> {
        // Kafka: segment.bytes >= 14 (LegacyRecord.RECORD_OVERHEAD_V0), int range.
        if self.segment_bytes < 14 || self.segment_bytes > i32::MAX as u32 {
            return Err(StorageError::InvalidConfig(format!(
                "segment.bytes {} must be in [14, {}]",
                self.segment_bytes,
                i32::MAX
            )));
        }
        if self.segment_ms < 1 {
            return Err(StorageError::InvalidConfig(format!(
                "segment.ms {} must be >= 1",
                self.segment_ms
            )));
        }
        // Kafka: segment.index.bytes >= 4 (an index must hold at least one entry to be useful;
        // we require room for two time-index entries so isFull() can leave one for the roll).
        if self.segment_index_bytes < 24 || self.segment_index_bytes > i32::MAX as u32 {
            return Err(StorageError::InvalidConfig(format!(
                "segment.index.bytes {} must be in [24, {}]",
                self.segment_index_bytes,
                i32::MAX
            )));
        }
        if self.flush_messages < 1 {
            return Err(StorageError::InvalidConfig(format!(
                "flush.messages {} must be >= 1",
                self.flush_messages
            )));
        }
        if self.flush_ms < 0 {
            return Err(StorageError::InvalidConfig(format!(
                "flush.ms {} must be >= 0",
                self.flush_ms
            )));
        }
        if self.retention_ms < -1 {
            return Err(StorageError::InvalidConfig(format!(
                "retention.ms {} must be >= -1",
                self.retention_ms
            )));
        }
        if self.file_delete_delay_ms < 0 {
            return Err(StorageError::InvalidConfig(format!(
                "file.delete.delay.ms {} must be >= 0",
                self.file_delete_delay_ms
            )));
        }
        if self.delete_retention_ms < 0 || self.min_compaction_lag_ms < 0 {
            return Err(StorageError::InvalidConfig(format!(
                "delete.retention.ms {} and min.compaction.lag.ms {} must be >= 0",
                self.delete_retention_ms, self.min_compaction_lag_ms
            )));
        }
        if self.max_compaction_lag_ms < 1 {
            return Err(StorageError::InvalidConfig(format!(
                "max.compaction.lag.ms {} must be >= 1",
                self.max_compaction_lag_ms
            )));
        }
        if self.min_compaction_lag_ms > self.max_compaction_lag_ms {
            // Kafka's text (InvalidConfigurationException).
            return Err(StorageError::InvalidConfig(format!(
                "conflict topic config setting min.compaction.lag.ms ({}) > \
                 max.compaction.lag.ms ({})",
                self.min_compaction_lag_ms, self.max_compaction_lag_ms
            )));
        }
        if !(0.0..=1.0).contains(&self.min_cleanable_dirty_ratio) {
            return Err(StorageError::InvalidConfig(format!(
                "min.cleanable.dirty.ratio {} must be in [0, 1]",
                self.min_cleanable_dirty_ratio
            )));
        }
        if self.max_message_bytes > i32::MAX as u32 {
            return Err(StorageError::InvalidConfig(format!(
                "max.message.bytes {} must be <= {}",
                self.max_message_bytes,
                i32::MAX
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_settings_are_checked_as_kafka_does() {
        assert!(LogConfig::default().validate().is_ok());
        let conflict = LogConfig {
            min_compaction_lag_ms: 10,
            max_compaction_lag_ms: 5,
            ..LogConfig::default()
        };
        let e = conflict.validate().unwrap_err().to_string();
        assert!(
            e.contains("conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)"),
            "{e}"
        );
        for ratio in [-0.1, 1.1] {
            let bad = LogConfig {
                min_cleanable_dirty_ratio: ratio,
                ..LogConfig::default()
            };
            assert!(bad.validate().is_err());
        }
    }
}
