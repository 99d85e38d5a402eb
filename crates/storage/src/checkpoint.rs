//! Kafka's offset checkpoint files (`recovery-point-offset-checkpoint`,
//! `log-start-offset-checkpoint`, `replication-offset-checkpoint`,
//! `cleaner-offset-checkpoint`): a version line (`0`), a count line, then one
//! `topic partition offset` line per partition. Written atomically: temp file, fsync, rename,
//! fsync of the directory.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result, StorageError};
use crate::TopicPartition;

pub const RECOVERY_POINT_CHECKPOINT_FILE: &str = "recovery-point-offset-checkpoint";
pub const LOG_START_OFFSET_CHECKPOINT_FILE: &str = "log-start-offset-checkpoint";
/// The high watermark per partition (Kafka's ReplicaManager `HighWatermarkFilename`).
pub const REPLICATION_OFFSET_CHECKPOINT_FILE: &str = "replication-offset-checkpoint";
/// The log cleaner's progress per compacted partition: below the offset, the log is clean.
pub const CLEANER_OFFSET_CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";
const VERSION: i32 = 0;

/// One checkpoint file in a log dir.
#[derive(Debug, Clone)]
pub struct OffsetCheckpointFile {
    path: PathBuf,
}

impl OffsetCheckpointFile {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write all entries, replacing the file atomically.
    pub fn write(&self, entries: &[(TopicPartition, i64)]) -> Result<()> {
        let lines: Vec<String> = entries
            .iter()
            .map(|(tp, offset)| format!("{} {} {}", tp.topic, tp.partition, offset))
            .collect();
        write_checkpoint(&self.path, &lines)
    }

    /// Read the file; a missing or empty file reads as empty (as in Kafka).
    pub fn read(&self) -> Result<HashMap<TopicPartition, i64>> {
        let entries = read_checkpoint(&self.path, |line| {
            let mut parts = line.split(' ');
            let (Some(topic), Some(partition), Some(offset), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(format!("expected `topic partition offset`, got {line:?}"));
            };
            let partition: i32 = partition.parse().map_err(|e| format!("partition: {e}"))?;
            let offset: i64 = offset.parse().map_err(|e| format!("offset: {e}"))?;
            Ok((TopicPartition::new(topic, partition), offset))
        })?;
        Ok(entries.into_iter().collect())
    }
}

/// Write Kafka's checkpoint format — a version line (`0`), a count line, one line per entry —
/// atomically: temp file, fsync, rename, fsync of the directory.
pub(crate) fn write_checkpoint(path: &Path, entries: &[String]) -> Result<()> {
    let mut text = format!("{VERSION}\n{}\n", entries.len());
    for line in entries {
        text.push_str(line);
        text.push('\n');
    }
    let tmp = path.with_extension("tmp");
    {
        let mut f = fs::File::create(&tmp).at(&tmp)?;
        f.write_all(text.as_bytes()).at(&tmp)?;
        f.sync_all().at(&tmp)?;
    }
    fs::rename(&tmp, path).at(path)?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Read Kafka's checkpoint format; a missing file reads as empty. `parse` turns one entry line
/// into an entry, or says what is wrong with it (reported with the file and line number).
pub(crate) fn read_checkpoint<T>(
    path: &Path,
    mut parse: impl FnMut(&str) -> std::result::Result<T, String>,
) -> Result<Vec<T>> {
    let bytes = match fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(StorageError::Io {
                path: path.to_path_buf(),
                source: e,
            })
        }
    };
    let bad = |line: usize, reason: String| StorageError::CorruptCheckpoint {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let text = String::from_utf8(bytes).map_err(|e| StorageError::CorruptCheckpoint {
        path: path.to_path_buf(),
        line: 1,
        reason: format!("not UTF-8 text: {e}"),
    })?;
    let mut lines = text.lines();
    // Kafka's CheckpointReadBuffer: an empty file, or one with only the version line, holds
    // no entries (Kafka 4.3 leaves an empty `replication-offset-checkpoint` behind, for one).
    let Some(version_line) = lines.next() else {
        return Ok(Vec::new());
    };
    let version: i32 = version_line
        .trim()
        .parse()
        .map_err(|e| bad(1, format!("version: {e}")))?;
    if version != VERSION {
        return Err(bad(1, format!("unsupported version {version}")));
    }
    let Some(count_line) = lines.next() else {
        return Ok(Vec::new());
    };
    let count: usize = count_line
        .trim()
        .parse()
        .map_err(|e| bad(2, format!("count: {e}")))?;
    let mut out = Vec::with_capacity(count.min(1 << 16));
    for i in 0..count {
        let n = i + 3;
        let line = lines
            .next()
            .ok_or_else(|| bad(n, format!("expected {count} entries, found {i}")))?;
        out.push(parse(line).map_err(|reason| bad(n, reason))?);
    }
    if let Some(extra) = lines.find(|l| !l.trim().is_empty()) {
        return Err(bad(count + 3, format!("unexpected line {extra:?}")));
    }
    Ok(out)
}

/// fsync a directory so that entries created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let f = fs::File::open(dir).at(dir)?;
    f.sync_all().at(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_kafka_format() {
        let dir = tempfile::tempdir().unwrap();
        let file = OffsetCheckpointFile::new(dir.path().join(RECOVERY_POINT_CHECKPOINT_FILE));
        assert!(file.read().unwrap().is_empty());
        // What Kafka reads as empty too: an empty file, a version line alone.
        for text in ["", "0\n", "0"] {
            fs::write(file.path(), text).unwrap();
            assert!(file.read().unwrap().is_empty(), "{text:?}");
        }
        let entries = vec![
            (TopicPartition::new("orders", 0), 42),
            (TopicPartition::new("my-topic.v2", 11), 0),
        ];
        file.write(&entries).unwrap();
        let text = fs::read_to_string(file.path()).unwrap();
        assert_eq!(text, "0\n2\norders 0 42\nmy-topic.v2 11 0\n");
        let read = file.read().unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[&TopicPartition::new("orders", 0)], 42);
    }

    /// Kafka 4.3.1 killed with SIGKILL within a minute of its start left
    /// recovery-point-offset-checkpoint and log-start-offset-checkpoint empty (0 bytes, as it
    /// creates them); Kafka reads such a file, or one with only a version line, as no entries.
    #[test]
    fn an_empty_file_or_a_lone_version_line_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RECOVERY_POINT_CHECKPOINT_FILE);
        let file = OffsetCheckpointFile::new(path.clone());
        for text in ["", "0\n", "0"] {
            fs::write(&path, text).unwrap();
            assert!(file.read().unwrap().is_empty(), "{text:?}");
        }
    }

    #[test]
    fn rejects_malformed_files_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp");
        let file = OffsetCheckpointFile::new(path.clone());
        for (text, line) in [
            ("1\n0\n", 1),
            ("0\n2\na 0 1\n", 4),
            ("0\n1\na x 1\n", 3),
            ("0\n1\na 0\n", 3),
            ("0\n0\nextra 0 1\n", 3),
            ("\u{1}garbage\u{ff}", 1),
        ] {
            fs::write(&path, text).unwrap();
            match file.read() {
                Err(StorageError::CorruptCheckpoint { line: l, .. }) => {
                    assert_eq!(l, line, "{text:?}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
