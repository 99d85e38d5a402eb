//! Kafka's LeaderEpochFileCache with its `leader-epoch-checkpoint` file (LeaderEpochCheckpointFile):
//! per partition, the offset at which each leader epoch started.
//!
//! - File format: a version line (`0`), a count line, then one `epoch startOffset` line per
//!   entry, oldest first. Written atomically (temp file, fsync, rename, fsync of the directory)
//!   whenever the entries change. A missing file reads as empty, as in Kafka.
//! - [`assign`](LeaderEpochFileCache::assign): an append whose batches carry a
//!   partitionLeaderEpoch not yet known (or known but starting later) records
//!   `(epoch, baseOffset)`; entries with an epoch >= it or a start offset >= its start are dropped
//!   first, so epochs and start offsets stay strictly increasing. The partition's leader does the
//!   same when it becomes leader (epoch, log end offset).
//! - Truncation: [`truncate_from_end`](LeaderEpochFileCache::truncate_from_end) drops entries
//!   starting at or after the new log end; [`truncate_from_start`](LeaderEpochFileCache::truncate_from_start)
//!   drops entries wholly below a new log start offset, keeping the last of them with its start
//!   moved to the new log start offset.
//! - [`end_offset_for`](LeaderEpochFileCache::end_offset_for) answers OffsetForLeaderEpoch:
//!   for the latest epoch the log end offset; for an older one the start offset of the next
//!   higher epoch, paired with the largest known epoch <= the requested one (or the requested
//!   epoch itself when it is older than every known one); `(-1, -1)` for epoch -1 or an epoch
//!   newer than every known one.

use std::path::{Path, PathBuf};

use crate::checkpoint::{read_checkpoint, write_checkpoint};
use crate::error::Result;

pub const LEADER_EPOCH_CHECKPOINT_FILE: &str = "leader-epoch-checkpoint";
/// Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.
pub const UNDEFINED_EPOCH: i32 = -1;
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// One leader epoch and the first offset written in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

/// The epochs of one partition, kept in its `leader-epoch-checkpoint` file.
#[derive(Debug)]
pub struct LeaderEpochFileCache {
    path: PathBuf,
    /// Strictly increasing in both epoch and start offset.
    entries: Vec<EpochEntry>,
}

impl LeaderEpochFileCache {
    /// Read `dir/leader-epoch-checkpoint` (missing: empty).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(LEADER_EPOCH_CHECKPOINT_FILE);
        let entries = read_file(&path)?;
        Ok(Self { path, entries })
    }

    /// A cache for `dir` with no entries, ignoring the file there (which the first change
    /// rewrites): a damaged checkpoint is rebuilt from the log's batches this way.
    pub(crate) fn empty(dir: &Path) -> Self {
        Self {
            path: dir.join(LEADER_EPOCH_CHECKPOINT_FILE),
            entries: Vec::new(),
        }
    }

    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    /// Record that `epoch` starts at `start_offset` (Kafka's `assign`). Returns whether the
    /// entries changed (and the file was rewritten). Negative values are ignored.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> Result<bool> {
        if epoch < 0 || start_offset < 0 {
            return Ok(false);
        }
        let needed = self
            .entries
            .last()
            .is_none_or(|last| last.epoch != epoch || start_offset < last.start_offset);
        if !needed {
            return Ok(false);
        }
        self.entries
            .retain(|e| e.epoch < epoch && e.start_offset < start_offset);
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        self.write()?;
        Ok(true)
    }

    /// Drop the entries that start at or after `end_offset` (log truncation).
    pub fn truncate_from_end(&mut self, end_offset: i64) -> Result<()> {
        if end_offset < 0 || !self.entries.iter().any(|e| e.start_offset >= end_offset) {
            return Ok(());
        }
        self.entries.retain(|e| e.start_offset < end_offset);
        self.write()
    }

    /// Drop the entries wholly below a new log start offset; the last of them stays, starting
    /// at `start_offset` (log start offset advanced by DeleteRecords or retention).
    pub fn truncate_from_start(&mut self, start_offset: i64) -> Result<()> {
        let below = self
            .entries
            .iter()
            .take_while(|e| e.start_offset <= start_offset)
            .count();
        let Some(last_below) = below.checked_sub(1).map(|i| self.entries[i]) else {
            return Ok(());
        };
        if below == 1 && last_below.start_offset == start_offset {
            return Ok(());
        }
        self.entries.drain(..below);
        self.entries.insert(
            0,
            EpochEntry {
                epoch: last_below.epoch,
                start_offset,
            },
        );
        self.write()
    }

    /// Start afresh at `start_offset` (the whole log was truncated): entries from the start
    /// offset on go, as in Kafka's `truncateFullyAndStartAt`.
    pub fn clear_and_flush(&mut self) -> Result<()> {
        if self.entries.is_empty() {
            return Ok(());
        }
        self.entries.clear();
        self.write()
    }

    /// (epoch, end offset) for OffsetForLeaderEpoch (Kafka's `endOffsetFor`).
    pub fn end_offset_for(&self, requested_epoch: i32, log_end_offset: i64) -> (i32, i64) {
        let undefined = (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        if requested_epoch == UNDEFINED_EPOCH {
            return undefined;
        }
        if self.latest_epoch() == Some(requested_epoch) {
            return (requested_epoch, log_end_offset);
        }
        let Some(higher) = self.entries.iter().find(|e| e.epoch > requested_epoch) else {
            return undefined;
        };
        match self
            .entries
            .iter()
            .rev()
            .find(|e| e.epoch <= requested_epoch)
        {
            Some(floor) => (floor.epoch, higher.start_offset),
            None => (requested_epoch, higher.start_offset),
        }
    }

    /// The epoch that `offset` was written in, if known.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.start_offset <= offset)
            .map(|e| e.epoch)
    }

    /// Rewrite the file with the current entries.
    pub(crate) fn flush(&self) -> Result<()> {
        self.write()
    }

    fn write(&self) -> Result<()> {
        let lines: Vec<String> = self
            .entries
            .iter()
            .map(|e| format!("{} {}", e.epoch, e.start_offset))
            .collect();
        write_checkpoint(&self.path, &lines)
    }
}

fn read_file(path: &Path) -> Result<Vec<EpochEntry>> {
    let mut prev: Option<EpochEntry> = None;
    read_checkpoint(path, |line| {
        let mut parts = line.split(' ');
        let (Some(epoch), Some(offset), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("expected `epoch startOffset`, got {line:?}"));
        };
        let epoch: i32 = epoch.parse().map_err(|e| format!("epoch: {e}"))?;
        let start_offset: i64 = offset.parse().map_err(|e| format!("offset: {e}"))?;
        if let Some(p) = &prev {
            if epoch <= p.epoch || start_offset < p.start_offset {
                return Err(format!("entry {line:?} is not after {p:?}"));
            }
        }
        let entry = EpochEntry {
            epoch,
            start_offset,
        };
        prev = Some(entry);
        Ok(entry)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StorageError;
    use std::fs;

    fn cache() -> (tempfile::TempDir, LeaderEpochFileCache) {
        let dir = tempfile::tempdir().unwrap();
        let c = LeaderEpochFileCache::load(dir.path()).unwrap();
        (dir, c)
    }

    fn pairs(c: &LeaderEpochFileCache) -> Vec<(i32, i64)> {
        c.entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect()
    }

    #[test]
    fn file_has_kafkas_format_and_reloads() {
        let (dir, mut c) = cache();
        assert!(c.assign(0, 0).unwrap());
        assert!(
            !c.assign(0, 5).unwrap(),
            "same epoch, later offset: no change"
        );
        assert!(c.assign(2, 7).unwrap());
        let text = fs::read_to_string(dir.path().join(LEADER_EPOCH_CHECKPOINT_FILE)).unwrap();
        assert_eq!(text, "0\n2\n0 0\n2 7\n");
        let again = LeaderEpochFileCache::load(dir.path()).unwrap();
        assert_eq!(pairs(&again), vec![(0, 0), (2, 7)]);
    }

    #[test]
    fn missing_file_is_empty_and_bad_files_are_errors() {
        let (dir, c) = cache();
        assert!(c.entries().is_empty());
        let path = dir.path().join(LEADER_EPOCH_CHECKPOINT_FILE);
        // Empty as Kafka creates it, or a lone version line: no entries (Kafka's CheckpointFile).
        for empty in ["", "0\n"] {
            fs::write(&path, empty).unwrap();
            assert!(LeaderEpochFileCache::load(dir.path())
                .unwrap()
                .entries()
                .is_empty());
        }
        for bad in [
            "1\n0\n",
            "0\n2\n0 0\n",
            "0\n1\n0\n",
            "0\n2\n3 5\n1 6\n",
            "0\n1\n0 x\n",
        ] {
            fs::write(&path, bad).unwrap();
            assert!(
                matches!(
                    LeaderEpochFileCache::load(dir.path()),
                    Err(StorageError::CorruptCheckpoint { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn assign_drops_entries_that_are_not_older() {
        let (_d, mut c) = cache();
        c.assign(1, 0).unwrap();
        c.assign(3, 10).unwrap();
        // Same epoch starting earlier replaces it.
        c.assign(3, 8).unwrap();
        assert_eq!(pairs(&c), vec![(1, 0), (3, 8)]);
        // An older epoch at a later offset removes what is not older than it.
        c.assign(2, 9).unwrap();
        assert_eq!(pairs(&c), vec![(1, 0), (2, 9)]);
        assert!(!c.assign(-1, 4).unwrap());
        assert_eq!(c.latest_epoch(), Some(2));
    }

    #[test]
    fn truncation_from_either_end() {
        let (_d, mut c) = cache();
        c.assign(0, 0).unwrap();
        c.assign(1, 5).unwrap();
        c.assign(2, 9).unwrap();
        c.truncate_from_start(6).unwrap();
        assert_eq!(pairs(&c), vec![(1, 6), (2, 9)]);
        c.truncate_from_start(3).unwrap();
        assert_eq!(pairs(&c), vec![(1, 6), (2, 9)]);
        c.truncate_from_start(9).unwrap();
        assert_eq!(pairs(&c), vec![(2, 9)]);
        c.assign(3, 12).unwrap();
        c.truncate_from_end(12).unwrap();
        assert_eq!(pairs(&c), vec![(2, 9)]);
        c.truncate_from_end(4).unwrap();
        assert!(c.entries().is_empty());
    }

    #[test]
    fn end_offsets_per_epoch_as_kafka() {
        let (_d, mut c) = cache();
        assert_eq!(c.end_offset_for(0, 5), (-1, -1));
        c.assign(1, 2).unwrap();
        c.assign(3, 6).unwrap();
        assert_eq!(c.end_offset_for(3, 9), (3, 9), "latest: log end");
        assert_eq!(c.end_offset_for(1, 9), (1, 6));
        assert_eq!(c.end_offset_for(2, 9), (1, 6), "unknown epoch between");
        assert_eq!(c.end_offset_for(0, 9), (0, 2), "older than every epoch");
        assert_eq!(c.end_offset_for(4, 9), (-1, -1), "newer than every epoch");
        assert_eq!(c.end_offset_for(-1, 9), (-1, -1));
        assert_eq!(c.epoch_for_offset(5), Some(1));
        assert_eq!(c.epoch_for_offset(1), None);
    }
}
