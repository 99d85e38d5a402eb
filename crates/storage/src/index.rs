//! Kafka's sparse segment indexes, byte-compatible with Apache Kafka's files.
//!
//! - `.index` ([`OffsetIndex`]): 8-byte entries, relative offset (u32 BE) + physical position
//!   (u32 BE). Each entry names the *last* offset of the batch that starts at that position
//!   (that is what Kafka's `LogSegment.recover` writes and what `DumpLogSegments` verifies).
//! - `.timeindex` ([`TimeIndex`]): 12-byte entries, timestamp (i64 BE) + relative offset
//!   (u32 BE): the max timestamp seen so far in the segment and the last offset of the batch that
//!   carried it. Timestamps strictly increase from entry to entry.
//!
//! The active segment's files are pre-allocated to `segment.index.bytes` (rounded down to a whole
//! number of entries) and trimmed to their entries when the segment rolls or the log closes, as
//! Kafka does. Writes are positional (`pwrite`); readers look entries up with positional reads
//! through an immutable [`OffsetIndexView`] / [`TimeIndexView`] that knows how many entries were
//! published to it, so they never wait for the writer.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{IoContext, Result, StorageError};

pub const OFFSET_INDEX_ENTRY_SIZE: u64 = 8;
pub const TIME_INDEX_ENTRY_SIZE: u64 = 12;
/// Kafka's RecordBatch.NO_TIMESTAMP.
pub const NO_TIMESTAMP: i64 = -1;

/// An OffsetIndex entry: absolute offset and the byte position of the batch whose last offset it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetPosition {
    pub offset: i64,
    pub position: u32,
}

/// A TimeIndex entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampOffset {
    pub timestamp: i64,
    pub offset: i64,
}

fn open_rw(path: &Path, create: bool) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .open(path)
        .at(path)
}

fn read_exact_at(file: &File, path: &Path, buf: &mut [u8], pos: u64) -> Result<()> {
    file.read_exact_at(buf, pos).at(path)
}

fn round_down(value: u64, multiple: u64) -> u64 {
    value - value % multiple
}

fn relative(base_offset: i64, offset: i64) -> Option<u32> {
    let rel = offset.checked_sub(base_offset)?;
    if (0..=i64::from(i32::MAX)).contains(&rel) {
        Some(rel as u32)
    } else {
        None
    }
}

/// Shared file state of one index file.
#[derive(Debug)]
struct IndexFile {
    path: Arc<Path>,
    file: Arc<File>,
    base_offset: i64,
    entry_size: u64,
    entries: u64,
    max_entries: u64,
}

impl IndexFile {
    fn create(
        path: PathBuf,
        base_offset: i64,
        max_index_size: u32,
        entry_size: u64,
    ) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .at(&path)?;
        let len = round_down(u64::from(max_index_size), entry_size);
        file.set_len(len).at(&path)?;
        Ok(Self {
            path: path.into(),
            file: Arc::new(file),
            base_offset,
            entry_size,
            entries: 0,
            max_entries: len / entry_size,
        })
    }

    /// Open an existing file: as in Kafka, every whole entry in the file counts.
    fn open(path: PathBuf, base_offset: i64, entry_size: u64) -> Result<Self> {
        let file = open_rw(&path, false)?;
        let len = file.metadata().at(&path)?.len();
        if len % entry_size != 0 {
            return Err(StorageError::CorruptIndex {
                path,
                reason: format!("size {len} is not a multiple of the entry size {entry_size}"),
            });
        }
        Ok(Self {
            path: path.into(),
            file: Arc::new(file),
            base_offset,
            entry_size,
            entries: len / entry_size,
            max_entries: len / entry_size,
        })
    }

    fn write_entry(&mut self, buf: &[u8]) -> Result<()> {
        self.file
            .write_all_at(buf, self.entries * self.entry_size)
            .at(&self.path)?;
        self.entries += 1;
        Ok(())
    }

    fn trim_to_valid_size(&mut self) -> Result<()> {
        self.set_max_entries(self.entries)
    }

    fn resize(&mut self, max_index_size: u32) -> Result<()> {
        let max = (u64::from(max_index_size) / self.entry_size).max(self.entries);
        self.set_max_entries(max)
    }

    fn set_max_entries(&mut self, max: u64) -> Result<()> {
        if max != self.max_entries {
            self.file.set_len(max * self.entry_size).at(&self.path)?;
            self.max_entries = max;
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.file.sync_data().at(&self.path)
    }

    /// Rename the file (the open handle stays valid).
    fn rename(&mut self, to: PathBuf) -> Result<()> {
        std::fs::rename(&self.path, &to).at(&self.path)?;
        self.path = to.into();
        Ok(())
    }
}

/// Writer side of a segment's `.index`.
#[derive(Debug)]
pub struct OffsetIndex {
    inner: IndexFile,
    /// The last entry, kept in memory: a fetch at the log end (a consumer that is caught up)
    /// finds its start there without reading the file.
    last_entry: Option<OffsetPosition>,
}

impl OffsetIndex {
    /// Create (or overwrite) the file, pre-allocated to `max_index_size`.
    pub fn create(path: PathBuf, base_offset: i64, max_index_size: u32) -> Result<Self> {
        Ok(Self {
            inner: IndexFile::create(path, base_offset, max_index_size, OFFSET_INDEX_ENTRY_SIZE)?,
            last_entry: None,
        })
    }

    /// Open an existing file and run Kafka's sanity check plus a bound on positions.
    pub fn open(path: PathBuf, base_offset: i64, log_size: u64) -> Result<Self> {
        let inner = IndexFile::open(path, base_offset, OFFSET_INDEX_ENTRY_SIZE)?;
        let mut index = Self {
            inner,
            last_entry: None,
        };
        if index.inner.entries > 0 {
            index.last_entry = Some(index.entry(index.inner.entries - 1)?);
            index.sanity_check(log_size)?;
        }
        Ok(index)
    }

    fn sanity_check(&self, log_size: u64) -> Result<()> {
        let corrupt = |reason: String| StorageError::CorruptIndex {
            path: self.inner.path.to_path_buf(),
            reason,
        };
        if self.inner.entries == 0 {
            return Ok(());
        }
        // Kafka: the last offset must not be below the base offset.
        if self.last_offset() < self.inner.base_offset {
            return Err(corrupt(format!(
                "last offset {} is below the base offset {}",
                self.last_offset(),
                self.inner.base_offset
            )));
        }
        // A zero-filled tail (pre-allocated file left by a crash) shows as a last entry equal to
        // the base offset after earlier, larger entries; and positions must lie inside the log.
        let last = self.entry(self.inner.entries - 1)?;
        if u64::from(last.position) >= log_size {
            return Err(corrupt(format!(
                "last entry position {} is beyond the log size {log_size}",
                last.position
            )));
        }
        if self.inner.entries > 1 {
            let prev = self.entry(self.inner.entries - 2)?;
            if prev.offset >= last.offset || prev.position >= last.position {
                return Err(corrupt(format!(
                    "entries {} and {} are not increasing ({prev:?}, {last:?})",
                    self.inner.entries - 2,
                    self.inner.entries - 1
                )));
            }
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }
    /// Rename the file (the cleaner's `.cleaned` -> `.swap` -> final name steps).
    pub(crate) fn rename(&mut self, to: PathBuf) -> Result<()> {
        self.inner.rename(to)
    }
    pub fn entries(&self) -> u64 {
        self.inner.entries
    }
    pub fn max_entries(&self) -> u64 {
        self.inner.max_entries
    }
    pub fn is_full(&self) -> bool {
        self.inner.entries >= self.inner.max_entries
    }
    /// The last entry's offset, or the base offset when there is none.
    pub fn last_offset(&self) -> i64 {
        self.last_entry.map_or(self.inner.base_offset, |e| e.offset)
    }
    pub fn can_append_offset(&self, offset: i64) -> bool {
        relative(self.inner.base_offset, offset).is_some()
    }

    pub fn entry(&self, n: u64) -> Result<OffsetPosition> {
        self.view().entry(n)
    }

    /// Append an entry; offsets must increase.
    pub fn append(&mut self, offset: i64, position: u32) -> Result<()> {
        let rel = relative(self.inner.base_offset, offset).ok_or_else(|| {
            StorageError::OffsetOverflow {
                path: self.inner.path.to_path_buf(),
                offset,
            }
        })?;
        if self.is_full() {
            return Err(StorageError::CorruptIndex {
                path: self.inner.path.to_path_buf(),
                reason: format!("append to a full index ({} entries)", self.inner.entries),
            });
        }
        if self.inner.entries > 0 && offset <= self.last_offset() {
            return Err(StorageError::CorruptIndex {
                path: self.inner.path.to_path_buf(),
                reason: format!(
                    "append of offset {offset} not above the last offset {}",
                    self.last_offset()
                ),
            });
        }
        let mut buf = [0u8; 8];
        buf[..4].copy_from_slice(&rel.to_be_bytes());
        buf[4..].copy_from_slice(&position.to_be_bytes());
        self.inner.write_entry(&buf)?;
        self.last_entry = Some(OffsetPosition { offset, position });
        Ok(())
    }

    /// Forget all entries (the file keeps its size).
    pub fn reset(&mut self) {
        self.inner.entries = 0;
        self.last_entry = None;
    }

    /// Drop every entry whose offset is >= `offset`.
    pub fn truncate_to(&mut self, offset: i64) -> Result<()> {
        while self.inner.entries > 0 {
            let last = self.entry(self.inner.entries - 1)?;
            if last.offset < offset {
                self.last_entry = Some(last);
                return Ok(());
            }
            self.inner.entries -= 1;
        }
        self.last_entry = None;
        Ok(())
    }

    pub fn trim_to_valid_size(&mut self) -> Result<()> {
        self.inner.trim_to_valid_size()
    }
    pub fn resize(&mut self, max_index_size: u32) -> Result<()> {
        self.inner.resize(max_index_size)
    }
    pub fn flush(&self) -> Result<()> {
        self.inner.flush()
    }

    /// An immutable view of the entries written so far, for readers.
    pub fn view(&self) -> OffsetIndexView {
        OffsetIndexView {
            path: self.inner.path.clone(),
            file: self.inner.file.clone(),
            base_offset: self.inner.base_offset,
            entries: self.inner.entries,
            last: self.last_entry,
        }
    }
}

/// What a reader sees of an OffsetIndex: the file and the number of published entries.
#[derive(Debug, Clone)]
pub struct OffsetIndexView {
    path: Arc<Path>,
    file: Arc<File>,
    base_offset: i64,
    entries: u64,
    /// Entry `entries - 1`, if any.
    last: Option<OffsetPosition>,
}

impl OffsetIndexView {
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// fsync the file.
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().at(&self.path)
    }

    pub fn entry(&self, n: u64) -> Result<OffsetPosition> {
        let mut buf = [0u8; 8];
        read_exact_at(
            &self.file,
            &self.path,
            &mut buf,
            n * OFFSET_INDEX_ENTRY_SIZE,
        )?;
        let rel = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let position = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        Ok(OffsetPosition {
            offset: self.base_offset + i64::from(rel),
            position,
        })
    }

    /// The entry with the largest offset <= `target`, or (base offset, 0) if there is none.
    pub fn lookup(&self, target: i64) -> Result<OffsetPosition> {
        let none = OffsetPosition {
            offset: self.base_offset,
            position: 0,
        };
        // At or past the last entry (fetches at the log end): no binary search, no read.
        if let Some(last) = self.last.filter(|l| l.offset <= target) {
            return Ok(last);
        }
        let (mut lo, mut hi) = (0u64, self.entries);
        let mut best = None;
        // Invariant: entries < lo are <= target; entries >= hi are > target.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.entry(mid)?;
            if e.offset <= target {
                best = Some(e);
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(best.unwrap_or(none))
    }
}

/// Writer side of a segment's `.timeindex`.
#[derive(Debug)]
pub struct TimeIndex {
    inner: IndexFile,
    last_entry: TimestampOffset,
}

impl TimeIndex {
    pub fn create(path: PathBuf, base_offset: i64, max_index_size: u32) -> Result<Self> {
        Ok(Self {
            inner: IndexFile::create(path, base_offset, max_index_size, TIME_INDEX_ENTRY_SIZE)?,
            last_entry: TimestampOffset {
                timestamp: NO_TIMESTAMP,
                offset: base_offset,
            },
        })
    }

    /// Open an existing file and run Kafka's sanity check.
    pub fn open(path: PathBuf, base_offset: i64) -> Result<Self> {
        let inner = IndexFile::open(path, base_offset, TIME_INDEX_ENTRY_SIZE)?;
        let mut index = Self {
            inner,
            last_entry: TimestampOffset {
                timestamp: NO_TIMESTAMP,
                offset: base_offset,
            },
        };
        if index.inner.entries > 0 {
            index.last_entry = index.entry(index.inner.entries - 1)?;
            let first = index.entry(0)?;
            let corrupt = |reason: String| StorageError::CorruptIndex {
                path: index.inner.path.to_path_buf(),
                reason,
            };
            if index.last_entry.timestamp < first.timestamp {
                return Err(corrupt(format!(
                    "last timestamp {} is below the first timestamp {}",
                    index.last_entry.timestamp, first.timestamp
                )));
            }
            if index.last_entry.offset < base_offset {
                return Err(corrupt(format!(
                    "last offset {} is below the base offset {base_offset}",
                    index.last_entry.offset
                )));
            }
        }
        Ok(index)
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }
    /// Rename the file (the cleaner's `.cleaned` -> `.swap` -> final name steps).
    pub(crate) fn rename(&mut self, to: PathBuf) -> Result<()> {
        self.inner.rename(to)
    }
    pub fn entries(&self) -> u64 {
        self.inner.entries
    }
    /// Kafka keeps one slot free for the entry written when the segment becomes inactive.
    pub fn is_full(&self) -> bool {
        self.inner.entries + 1 >= self.inner.max_entries
    }
    pub fn last_entry(&self) -> TimestampOffset {
        self.last_entry
    }
    pub fn entry(&self, n: u64) -> Result<TimestampOffset> {
        self.view().entry(n)
    }

    /// Append (timestamp, offset) if the timestamp is larger than the last entry's.
    pub fn maybe_append(
        &mut self,
        timestamp: i64,
        offset: i64,
        skip_full_check: bool,
    ) -> Result<()> {
        if timestamp <= self.last_entry.timestamp {
            return Ok(());
        }
        if offset < self.last_entry.offset && self.inner.entries > 0 {
            return Err(StorageError::CorruptIndex {
                path: self.inner.path.to_path_buf(),
                reason: format!(
                    "append of offset {offset} below the last offset {}",
                    self.last_entry.offset
                ),
            });
        }
        let rel = relative(self.inner.base_offset, offset).ok_or_else(|| {
            StorageError::OffsetOverflow {
                path: self.inner.path.to_path_buf(),
                offset,
            }
        })?;
        if self.inner.entries >= self.inner.max_entries || (!skip_full_check && self.is_full()) {
            if skip_full_check {
                // Room for the final entry: grow by one entry.
                let max = self.inner.entries + 1;
                self.inner.set_max_entries(max)?;
            } else {
                return Err(StorageError::CorruptIndex {
                    path: self.inner.path.to_path_buf(),
                    reason: format!("append to a full index ({} entries)", self.inner.entries),
                });
            }
        }
        let mut buf = [0u8; 12];
        buf[..8].copy_from_slice(&timestamp.to_be_bytes());
        buf[8..].copy_from_slice(&rel.to_be_bytes());
        self.inner.write_entry(&buf)?;
        self.last_entry = TimestampOffset { timestamp, offset };
        Ok(())
    }

    pub fn reset(&mut self) {
        self.inner.entries = 0;
        self.last_entry = TimestampOffset {
            timestamp: NO_TIMESTAMP,
            offset: self.inner.base_offset,
        };
    }

    /// Drop every entry whose offset is >= `offset`.
    pub fn truncate_to(&mut self, offset: i64) -> Result<()> {
        while self.inner.entries > 0 {
            let last = self.entry(self.inner.entries - 1)?;
            if last.offset < offset {
                self.last_entry = last;
                return Ok(());
            }
            self.inner.entries -= 1;
        }
        self.reset();
        Ok(())
    }

    pub fn trim_to_valid_size(&mut self) -> Result<()> {
        self.inner.trim_to_valid_size()
    }
    pub fn resize(&mut self, max_index_size: u32) -> Result<()> {
        self.inner.resize(max_index_size)
    }
    pub fn flush(&self) -> Result<()> {
        self.inner.flush()
    }

    pub fn view(&self) -> TimeIndexView {
        TimeIndexView {
            path: self.inner.path.clone(),
            file: self.inner.file.clone(),
            base_offset: self.inner.base_offset,
            entries: self.inner.entries,
        }
    }
}

/// What a reader sees of a TimeIndex.
#[derive(Debug, Clone)]
pub struct TimeIndexView {
    path: Arc<Path>,
    file: Arc<File>,
    base_offset: i64,
    entries: u64,
}

impl TimeIndexView {
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// fsync the file.
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().at(&self.path)
    }

    pub fn entry(&self, n: u64) -> Result<TimestampOffset> {
        let mut buf = [0u8; 12];
        read_exact_at(&self.file, &self.path, &mut buf, n * TIME_INDEX_ENTRY_SIZE)?;
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&buf[..8]);
        let rel = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        Ok(TimestampOffset {
            timestamp: i64::from_be_bytes(ts),
            offset: self.base_offset + i64::from(rel),
        })
    }

    /// The entry with the largest timestamp <= `target`, or (NO_TIMESTAMP, base offset).
    pub fn lookup(&self, target: i64) -> Result<TimestampOffset> {
        let (mut lo, mut hi) = (0u64, self.entries);
        let mut best = TimestampOffset {
            timestamp: NO_TIMESTAMP,
            offset: self.base_offset,
        };
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.entry(mid)?;
            if e.timestamp <= target {
                best = e;
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(best)
    }

    /// The last published entry, or (NO_TIMESTAMP, base offset).
    pub fn last_entry(&self) -> Result<TimestampOffset> {
        if self.entries == 0 {
            return Ok(TimestampOffset {
                timestamp: NO_TIMESTAMP,
                offset: self.base_offset,
            });
        }
        self.entry(self.entries - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_index_preallocates_appends_looks_up_and_trims() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000100.index");
        let mut idx = OffsetIndex::create(path.clone(), 100, 100).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 96);
        assert_eq!(idx.max_entries(), 12);
        idx.append(105, 0).unwrap();
        idx.append(110, 4200).unwrap();
        idx.append(120, 8400).unwrap();
        assert!(idx.append(120, 9000).is_err());
        let v = idx.view();
        assert_eq!(
            v.lookup(99).unwrap(),
            OffsetPosition {
                offset: 100,
                position: 0
            }
        );
        assert_eq!(v.lookup(109).unwrap().position, 0);
        assert_eq!(v.lookup(110).unwrap().position, 4200);
        assert_eq!(v.lookup(1000).unwrap().position, 8400);
        idx.trim_to_valid_size().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 24);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[8..16], &[0, 0, 0, 10, 0, 0, 0x10, 0x68]);
        drop(idx);
        let idx = OffsetIndex::open(path, 100, 9000).unwrap();
        assert_eq!(idx.entries(), 3);
        assert_eq!(idx.last_offset(), 120);
    }

    /// The in-memory last entry answers exactly what the binary search over the file would,
    /// after appends, truncation, reset and reopening.
    #[test]
    fn offset_index_last_entry_shortcut_matches_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000001000.index");
        let mut idx = OffsetIndex::create(path.clone(), 1000, 800).unwrap();
        let check = |idx: &OffsetIndex, what: &str| {
            let fast = idx.view();
            let mut slow = fast.clone();
            slow.last = None;
            if fast.entries() > 0 {
                assert_eq!(
                    fast.last,
                    Some(fast.entry(fast.entries() - 1).unwrap()),
                    "{what}"
                );
            } else {
                assert_eq!(fast.last, None, "{what}");
            }
            for target in 990..1400 {
                assert_eq!(
                    fast.lookup(target).unwrap(),
                    slow.lookup(target).unwrap(),
                    "{what}: target {target}"
                );
            }
        };
        check(&idx, "empty");
        for i in 0..40u32 {
            idx.append(1000 + i64::from(i) * 7 + 3, i * 1000).unwrap();
        }
        check(&idx, "40 entries");
        idx.truncate_to(1100).unwrap();
        check(&idx, "truncated to 1100");
        idx.append(1150, 60_000).unwrap();
        check(&idx, "appended after truncation");
        idx.flush().unwrap();
        idx.trim_to_valid_size().unwrap();
        drop(idx);
        let mut idx = OffsetIndex::open(path, 1000, 100_000).unwrap();
        check(&idx, "reopened");
        idx.reset();
        check(&idx, "reset");
        idx.truncate_to(0).unwrap();
        check(&idx, "truncated empty");
    }

    #[test]
    fn offset_index_rejects_overflow_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut idx = OffsetIndex::create(path.clone(), 0, 80).unwrap();
        assert!(matches!(
            idx.append(i64::from(i32::MAX) + 1, 0),
            Err(StorageError::OffsetOverflow { .. })
        ));
        drop(idx);
        std::fs::write(&path, [0u8; 13]).unwrap();
        assert!(matches!(
            OffsetIndex::open(path.clone(), 0, 100),
            Err(StorageError::CorruptIndex { .. })
        ));
        // A pre-allocated, zero-filled file after real entries fails the check.
        let mut idx = OffsetIndex::create(path.clone(), 0, 80).unwrap();
        idx.append(3, 0).unwrap();
        drop(idx);
        assert!(OffsetIndex::open(path, 0, 100).is_err());
    }

    #[test]
    fn time_index_only_appends_larger_timestamps_and_keeps_a_slot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.timeindex");
        let mut idx = TimeIndex::create(path.clone(), 0, 40).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 36);
        idx.maybe_append(1000, 3, false).unwrap();
        idx.maybe_append(1000, 4, false).unwrap();
        assert_eq!(idx.entries(), 1);
        idx.maybe_append(2000, 9, false).unwrap();
        assert!(idx.is_full());
        idx.maybe_append(3000, 12, true).unwrap();
        let v = idx.view();
        assert_eq!(
            v.lookup(500).unwrap(),
            TimestampOffset {
                timestamp: -1,
                offset: 0
            }
        );
        assert_eq!(
            v.lookup(1500).unwrap(),
            TimestampOffset {
                timestamp: 1000,
                offset: 3
            }
        );
        assert_eq!(v.lookup(9999).unwrap().offset, 12);
        idx.truncate_to(9).unwrap();
        assert_eq!(idx.entries(), 1);
        idx.trim_to_valid_size().unwrap();
        drop(idx);
        let idx = TimeIndex::open(path, 0).unwrap();
        assert_eq!(
            idx.last_entry(),
            TimestampOffset {
                timestamp: 1000,
                offset: 3
            }
        );
    }
}
