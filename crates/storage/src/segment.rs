//! One segment: `<base>.log` plus its `.index`, `.timeindex` and `.txnindex` (Kafka's
//! LogSegment).
//!
//! The writer side ([`LogSegment`]) is owned by the partition's append path; readers get an
//! immutable [`SegmentView`] (file handles plus the byte size and index entry counts that were
//! published) and do positional reads through it.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::BytesMut;
use sluice_protocol::batch::{self, BatchHeader, RecordBatch, HEADER_SIZE, LOG_OVERHEAD};

use crate::error::{IoContext, Result, StorageError};
use crate::index::{
    OffsetIndex, OffsetIndexView, TimeIndex, TimeIndexView, TimestampOffset, NO_TIMESTAMP,
};
use crate::txn_index::{txn_index_file, AbortedTxn, TransactionIndex, TxnIndexView};

pub const LOG_FILE_SUFFIX: &str = ".log";
pub const INDEX_FILE_SUFFIX: &str = ".index";
pub const TIME_INDEX_FILE_SUFFIX: &str = ".timeindex";
/// Kafka's suffix for segment files scheduled for deletion.
pub const DELETED_FILE_SUFFIX: &str = ".deleted";

/// Suffix of a segment the cleaner is writing (Kafka's CleanedFileSuffix).
pub const CLEANED_FILE_SUFFIX: &str = ".cleaned";
/// Suffix of a cleaned segment being swapped in (Kafka's SwapFileSuffix).
pub const SWAP_FILE_SUFFIX: &str = ".swap";

/// `path` with `suffix` appended to its file name.
pub fn add_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The 20-digit zero-padded file name prefix Kafka uses for a segment's base offset.
pub fn filename_prefix(offset: i64) -> String {
    format!("{offset:020}")
}

pub fn log_file(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!("{}{LOG_FILE_SUFFIX}", filename_prefix(base_offset)))
}
pub fn index_file(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!(
        "{}{INDEX_FILE_SUFFIX}",
        filename_prefix(base_offset)
    ))
}
pub fn time_index_file(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!(
        "{}{TIME_INDEX_FILE_SUFFIX}",
        filename_prefix(base_offset)
    ))
}

/// Parse a segment file name (`<20 digits><suffix>`) into its base offset.
pub fn offset_from_file_name(name: &str, suffix: &str) -> Option<i64> {
    let digits = name.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Inputs to [`LogSegment::should_roll`] (Kafka's RollParams).
#[derive(Debug, Clone, Copy)]
pub struct RollParams {
    pub max_segment_ms: i64,
    pub max_segment_bytes: u64,
    pub max_timestamp_in_messages: i64,
    pub max_offset_in_messages: i64,
    pub messages_size: u64,
    pub now: i64,
}

/// Why a segment rolled (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollReason {
    SegmentBytes,
    SegmentMs,
    OffsetIndexFull,
    TimeIndexFull,
    OffsetOverflow,
}

/// Walks batch headers in `[pos, end)` of a file with block reads.
pub(crate) struct BatchScanner<'a> {
    file: &'a File,
    path: &'a Path,
    pos: u64,
    end: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

const SCAN_BLOCK: u64 = 16 * 1024;

impl<'a> BatchScanner<'a> {
    pub(crate) fn new(file: &'a File, path: &'a Path, pos: u64, end: u64) -> Self {
        Self {
            file,
            path,
            pos,
            end,
            buf: Vec::new(),
            buf_start: 0,
        }
    }

    fn corrupt(&self, reason: String) -> StorageError {
        StorageError::CorruptRecord {
            path: self.path.to_path_buf(),
            position: self.pos,
            reason,
        }
    }

    pub(crate) fn next_header(&mut self) -> Result<Option<(u64, BatchHeader)>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let header = HEADER_SIZE as u64;
        if self.end - self.pos < header {
            return Err(self.corrupt(format!(
                "{} bytes left, less than a batch header",
                self.end - self.pos
            )));
        }
        let buf_end = self.buf_start + self.buf.len() as u64;
        if self.pos < self.buf_start || self.pos + header > buf_end {
            let len = SCAN_BLOCK.min(self.end - self.pos);
            self.buf.resize(len as usize, 0);
            self.file
                .read_exact_at(&mut self.buf, self.pos)
                .at(self.path)?;
            self.buf_start = self.pos;
        }
        let at = (self.pos - self.buf_start) as usize;
        let h = batch::parse_header(&self.buf[at..]).map_err(|e| self.corrupt(e.to_string()))?;
        if self.pos + h.size as u64 > self.end {
            return Err(self.corrupt(format!(
                "batch of {} bytes runs past the end at {}",
                h.size, self.end
            )));
        }
        let pos = self.pos;
        self.pos += h.size as u64;
        Ok(Some((pos, h)))
    }
}

/// `len` bytes of `file` at `pos` in a new buffer that is not zero-filled before the read
/// (`read_exact_at` needs an initialized slice); an end of file before `len` is an error.
fn pread_exact(file: &File, pos: u64, len: usize) -> std::io::Result<BytesMut> {
    use std::os::fd::AsRawFd;
    let mut buf = BytesMut::with_capacity(len);
    while buf.len() < len {
        let filled = buf.len();
        let at = pos
            .checked_add(filled as u64)
            .and_then(|p| libc::off_t::try_from(p).ok())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "offset"))?;
        let spare = buf.spare_capacity_mut();
        let want = (len - filled).min(spare.len());
        // SAFETY: `spare` is valid for writes of `spare.len() >= want` bytes, and pread writes
        // at most `want` bytes into it; `file` keeps its descriptor open for the call.
        let n = unsafe { libc::pread(file.as_raw_fd(), spare.as_mut_ptr().cast(), want, at) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        // SAFETY: pread initialized the first `n <= want` bytes of the spare capacity.
        unsafe { buf.set_len(filled + n as usize) };
    }
    Ok(buf)
}

/// Reader-side view of a segment as of one published snapshot.
#[derive(Debug, Clone)]
pub struct SegmentView {
    pub(crate) base_offset: i64,
    pub(crate) log_path: Arc<Path>,
    pub(crate) log: Arc<File>,
    /// Bytes of the `.log` file that hold committed batches.
    pub(crate) size: u64,
    pub(crate) offset_index: OffsetIndexView,
    pub(crate) time_index: TimeIndexView,
    pub(crate) txn_index: TxnIndexView,
    /// Largest batch max timestamp in the segment (NO_TIMESTAMP if none).
    pub(crate) max_timestamp: i64,
}

impl SegmentView {
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The first batch whose last offset is >= `target` (Kafka's translateOffset): start at the
    /// OffsetIndex's greatest lower bound, then walk headers.
    pub(crate) fn translate_offset(&self, target: i64) -> Result<Option<(u64, BatchHeader)>> {
        let start = self.offset_index.lookup(target)?;
        let mut scan = BatchScanner::new(
            &self.log,
            &self.log_path,
            u64::from(start.position),
            self.size,
        );
        while let Some((pos, h)) = scan.next_header()? {
            if h.last_offset() >= target {
                return Ok(Some((pos, h)));
            }
        }
        Ok(None)
    }

    /// Read `len` bytes at `pos` with one positional read (into memory that is not zero-filled
    /// first: fetches read up to a MiB per partition, and the memset cost as much as the read).
    pub(crate) fn read_at(&self, pos: u64, len: usize) -> Result<BytesMut> {
        pread_exact(&self.log, pos, len).at(&self.log_path)
    }

    /// The first batch (at or after `min_offset`) whose max timestamp is >= `timestamp`, with
    /// its position in the `.log` file.
    pub(crate) fn find_offset_by_timestamp(
        &self,
        timestamp: i64,
        min_offset: i64,
    ) -> Result<Option<(u64, BatchHeader)>> {
        let ts_entry = self.time_index.lookup(timestamp)?;
        let from = ts_entry.offset.max(min_offset);
        let start = self.offset_index.lookup(from)?;
        let mut scan = BatchScanner::new(
            &self.log,
            &self.log_path,
            u64::from(start.position),
            self.size,
        );
        while let Some((pos, h)) = scan.next_header()? {
            if h.last_offset() >= min_offset && h.max_timestamp >= timestamp {
                return Ok(Some((pos, h)));
            }
        }
        Ok(None)
    }
}

/// Writer side of one segment.
#[derive(Debug)]
pub struct LogSegment {
    base_offset: i64,
    log_path: Arc<Path>,
    log: Arc<File>,
    size: u64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    txn_index: TransactionIndex,
    index_interval_bytes: u64,
    bytes_since_last_index_entry: u64,
    max_timestamp_so_far: TimestampOffset,
    rolling_based_timestamp: Option<i64>,
    created_ms: i64,
}

impl LogSegment {
    /// Create a new, empty segment with pre-allocated indexes. Fails if a non-empty `.log`
    /// already exists for this base offset; stale index files are replaced.
    pub fn create(
        dir: &Path,
        base_offset: i64,
        index_interval_bytes: u32,
        max_index_size: u32,
        now: i64,
    ) -> Result<Self> {
        Self::create_with_suffix(
            dir,
            base_offset,
            "",
            index_interval_bytes,
            max_index_size,
            now,
        )
    }

    /// [`create`](Self::create) with `suffix` after every file name (the cleaner writes
    /// `<base>.log.cleaned` etc.; see [`change_file_suffixes`](Self::change_file_suffixes)).
    pub fn create_with_suffix(
        dir: &Path,
        base_offset: i64,
        suffix: &str,
        index_interval_bytes: u32,
        max_index_size: u32,
        now: i64,
    ) -> Result<Self> {
        let with = |p: PathBuf| add_suffix(&p, suffix);
        let log_path = with(log_file(dir, base_offset));
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&log_path)
            .at(&log_path)?;
        let existing = log.metadata().at(&log_path)?.len();
        if existing != 0 {
            return Err(StorageError::CorruptRecord {
                path: log_path,
                position: 0,
                reason: format!("new segment file already holds {existing} bytes"),
            });
        }
        Ok(Self {
            base_offset,
            log_path: log_path.into(),
            log: Arc::new(log),
            size: 0,
            offset_index: OffsetIndex::create(
                with(index_file(dir, base_offset)),
                base_offset,
                max_index_size,
            )?,
            time_index: TimeIndex::create(
                with(time_index_file(dir, base_offset)),
                base_offset,
                max_index_size,
            )?,
            txn_index: TransactionIndex::create(
                with(txn_index_file(dir, base_offset)),
                base_offset,
            )?,
            index_interval_bytes: u64::from(index_interval_bytes),
            bytes_since_last_index_entry: 0,
            max_timestamp_so_far: TimestampOffset {
                timestamp: NO_TIMESTAMP,
                offset: base_offset,
            },
            rolling_based_timestamp: None,
            created_ms: now,
        })
    }

    /// Open an existing segment. Returns the segment and whether its indexes were missing or
    /// failed their sanity check (then they are recreated empty and the caller must
    /// [`recover`](Self::recover) the segment to rebuild them).
    pub fn open(
        dir: &Path,
        base_offset: i64,
        index_interval_bytes: u32,
        max_index_size: u32,
        now: i64,
    ) -> Result<(Self, bool)> {
        let log_path = log_file(dir, base_offset);
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&log_path)
            .at(&log_path)?;
        let size = log.metadata().at(&log_path)?.len();
        if size > i32::MAX as u64 {
            return Err(StorageError::CorruptRecord {
                path: log_path,
                position: size,
                reason: "segment larger than 2 GiB".into(),
            });
        }
        let idx_path = index_file(dir, base_offset);
        let tidx_path = time_index_file(dir, base_offset);
        let mut rebuild = false;
        let offset_index = match idx_path.exists() {
            true => match OffsetIndex::open(idx_path.clone(), base_offset, size) {
                Ok(i) => Some(i),
                Err(
                    e @ (StorageError::CorruptIndex { .. } | StorageError::OffsetOverflow { .. }),
                ) => {
                    tracing::debug!("{e}; rebuilding");
                    None
                }
                Err(e) => return Err(e),
            },
            false => None,
        };
        let time_index = match tidx_path.exists() {
            true => match TimeIndex::open(tidx_path.clone(), base_offset) {
                Ok(i) => Some(i),
                Err(
                    e @ (StorageError::CorruptIndex { .. } | StorageError::OffsetOverflow { .. }),
                ) => {
                    tracing::debug!("{e}; rebuilding");
                    None
                }
                Err(e) => return Err(e),
            },
            false => None,
        };
        let txn_path = txn_index_file(dir, base_offset);
        let txn_index = match txn_path.exists() {
            true => match TransactionIndex::open(txn_path.clone(), base_offset) {
                Ok(i) => Some(i),
                Err(e @ StorageError::CorruptIndex { .. }) => {
                    tracing::debug!("{e}; rebuilding");
                    None
                }
                Err(e) => return Err(e),
            },
            false => {
                tracing::debug!("{} is missing; rebuilding", txn_path.display());
                None
            }
        };
        let (offset_index, time_index, txn_index) = match (offset_index, time_index, txn_index) {
            (Some(o), Some(t), Some(x)) => (o, t, x),
            _ => {
                rebuild = true;
                (
                    OffsetIndex::create(idx_path, base_offset, max_index_size)?,
                    TimeIndex::create(tidx_path, base_offset, max_index_size)?,
                    TransactionIndex::create(txn_path, base_offset)?,
                )
            }
        };
        let mut seg = Self {
            base_offset,
            log_path: log_path.into(),
            log: Arc::new(log),
            size,
            max_timestamp_so_far: time_index.last_entry(),
            offset_index,
            time_index,
            txn_index,
            index_interval_bytes: u64::from(index_interval_bytes),
            bytes_since_last_index_entry: 0,
            rolling_based_timestamp: None,
            created_ms: now,
        };
        if !rebuild {
            seg.load_first_batch_timestamp()?;
        }
        Ok((seg, rebuild))
    }

    fn load_first_batch_timestamp(&mut self) -> Result<()> {
        self.rolling_based_timestamp = None;
        if self.size >= HEADER_SIZE as u64 {
            let mut scan = BatchScanner::new(&self.log, &self.log_path, 0, self.size);
            match scan.next_header() {
                Ok(Some((_, h))) => self.rolling_based_timestamp = Some(h.max_timestamp),
                Ok(None) => {}
                // Recovery deals with bad data; the roll timer then falls back to creation time.
                Err(StorageError::CorruptRecord { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
    pub fn offset_index(&self) -> &OffsetIndex {
        &self.offset_index
    }
    pub fn time_index(&self) -> &TimeIndex {
        &self.time_index
    }
    pub fn txn_index(&self) -> &TransactionIndex {
        &self.txn_index
    }

    /// Record a transaction aborted by a marker in this segment (Kafka's updateTxnIndex).
    pub fn append_aborted_txn(&mut self, txn: &AbortedTxn) -> Result<()> {
        self.txn_index.append(txn)
    }
    pub fn max_timestamp_so_far(&self) -> TimestampOffset {
        self.max_timestamp_so_far
    }

    pub fn view(&self) -> SegmentView {
        SegmentView {
            base_offset: self.base_offset,
            log_path: self.log_path.clone(),
            log: self.log.clone(),
            size: self.size,
            offset_index: self.offset_index.view(),
            time_index: self.time_index.view(),
            txn_index: self.txn_index.view(),
            max_timestamp: self.max_timestamp_so_far.timestamp,
        }
    }

    /// Set the `.log` file's modification time (the cleaner keeps the replaced segments').
    pub(crate) fn set_last_modified(&self, t: std::time::SystemTime) -> Result<()> {
        self.log.set_modified(t).at(&self.log_path)
    }

    /// Whether `view` was taken of this segment (the same open `.log` file and size): the
    /// cleaner checks the segments it read are still in the log before swapping.
    pub(crate) fn is_viewed_by(&self, view: &SegmentView) -> bool {
        Arc::ptr_eq(&self.log, &view.log) && self.size == view.size
    }

    pub fn can_convert_to_relative_offset(&self, offset: i64) -> bool {
        self.offset_index.can_append_offset(offset)
    }

    /// Kafka's shouldRoll: size, age (by first batch timestamp, else creation time), full
    /// indexes, or an offset that does not fit the relative offsets.
    pub fn should_roll(&self, p: &RollParams) -> Option<RollReason> {
        let waited = match self.rolling_based_timestamp {
            Some(ts) if ts >= 0 => p.max_timestamp_in_messages.saturating_sub(ts),
            _ => p.now.saturating_sub(self.created_ms),
        };
        if self.size + p.messages_size > p.max_segment_bytes {
            Some(RollReason::SegmentBytes)
        } else if self.size > 0 && waited > p.max_segment_ms {
            Some(RollReason::SegmentMs)
        } else if self.offset_index.is_full() {
            Some(RollReason::OffsetIndexFull)
        } else if self.time_index.is_full() {
            Some(RollReason::TimeIndexFull)
        } else if !self.can_convert_to_relative_offset(p.max_offset_in_messages) {
            Some(RollReason::OffsetOverflow)
        } else {
            None
        }
    }

    /// Append whole batches (offsets already assigned), written with one positional write, and
    /// index them batch by batch as Kafka's recovery would.
    pub fn append(&mut self, records: &[u8]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let start = self.size;
        // Pass 1: every batch must parse and fit the relative offsets before anything is written.
        let mut first_max_timestamp = None;
        for item in HeaderWalk::new(records) {
            let (_, h) = item.map_err(|e| self.corrupt_at(start + e.0 as u64, e.1))?;
            first_max_timestamp.get_or_insert(h.max_timestamp);
            if h.base_offset < self.base_offset
                || !self.can_convert_to_relative_offset(h.last_offset())
            {
                return Err(StorageError::OffsetOverflow {
                    path: self.log_path.to_path_buf(),
                    offset: h.last_offset(),
                });
            }
        }
        self.log.write_all_at(records, start).at(&self.log_path)?;
        self.size = start + records.len() as u64;
        if start == 0 {
            self.rolling_based_timestamp = first_max_timestamp;
        }
        // Pass 2: index batch by batch (no allocation).
        for item in HeaderWalk::new(records) {
            let (pos, h) = item.map_err(|e| self.corrupt_at(start + e.0 as u64, e.1))?;
            self.index_batch(start + pos as u64, &h)?;
        }
        Ok(())
    }

    fn corrupt_at(&self, position: u64, e: batch::BatchError) -> StorageError {
        StorageError::CorruptRecord {
            path: self.log_path.to_path_buf(),
            position,
            reason: e.to_string(),
        }
    }

    fn index_batch(&mut self, position: u64, h: &BatchHeader) -> Result<()> {
        if h.max_timestamp > self.max_timestamp_so_far.timestamp {
            self.max_timestamp_so_far = TimestampOffset {
                timestamp: h.max_timestamp,
                offset: h.last_offset(),
            };
        }
        // A payload of several batches can fill the indexes mid-append (the roll check runs
        // once per payload): further entries are skipped — they are sparse hints — and the
        // next append rolls. Recovery applies the same rule, so it rebuilds the same files.
        if self.bytes_since_last_index_entry > self.index_interval_bytes
            && !self.offset_index.is_full()
            && !self.time_index.is_full()
        {
            self.offset_index.append(h.last_offset(), position as u32)?;
            let m = self.max_timestamp_so_far;
            self.time_index.maybe_append(m.timestamp, m.offset, false)?;
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += h.size as u64;
        Ok(())
    }

    /// Rebuild the indexes from the log, validating every batch (length, magic, CRC, record
    /// count, offsets ascending and representable). Truncates the log at the first invalid batch
    /// and returns the number of bytes removed. The `.txnindex` is emptied: its entries need the
    /// producer state at the segment's start, so the log rebuilds them by replaying
    /// ([`append_aborted_txn`](Self::append_aborted_txn)).
    pub fn recover(&mut self, max_index_size: u32) -> Result<u64> {
        self.recover_with_reason(max_index_size).map(|(n, _)| n)
    }

    /// [`recover`](Self::recover), also saying what was wrong with the first invalid batch.
    pub fn recover_with_reason(&mut self, max_index_size: u32) -> Result<(u64, Option<String>)> {
        self.offset_index.resize(max_index_size)?;
        self.time_index.resize(max_index_size)?;
        self.offset_index.reset();
        self.time_index.reset();
        self.txn_index.reset()?;
        self.bytes_since_last_index_entry = 0;
        self.max_timestamp_so_far = TimestampOffset {
            timestamp: NO_TIMESTAMP,
            offset: self.base_offset,
        };
        let file_len = self.log.metadata().at(&self.log_path)?.len();
        let (log, log_path) = (self.log.clone(), self.log_path.clone());
        let mut reader = ChunkReader::new(&log, &log_path, file_len);
        let mut pos = 0u64;
        let mut expected_min_offset = self.base_offset;
        let mut invalid: Option<String> = None;
        while pos < file_len {
            let remaining = file_len - pos;
            if remaining < LOG_OVERHEAD as u64 {
                invalid = Some(format!(
                    "{remaining} trailing bytes, less than a batch header"
                ));
                break;
            }
            let size = match batch::batch_size(reader.slice(pos, LOG_OVERHEAD)?) {
                Ok(s) => s as u64,
                Err(e) => {
                    invalid = Some(e.to_string());
                    break;
                }
            };
            if size > remaining {
                invalid = Some(format!(
                    "torn batch: {size} bytes declared, {remaining} present"
                ));
                break;
            }
            let bytes = reader.slice(pos, size as usize)?;
            let b = match RecordBatch::parse_stored(bytes) {
                Ok(b) => b,
                Err(e) => {
                    invalid = Some(e.to_string());
                    break;
                }
            };
            if b.base_offset() < expected_min_offset
                || !self.can_convert_to_relative_offset(b.last_offset())
            {
                invalid = Some(format!(
                    "batch offsets {}..={} out of order or out of range (expected >= {expected_min_offset})",
                    b.base_offset(),
                    b.last_offset()
                ));
                break;
            }
            let h = batch::parse_header(bytes).map_err(|e| StorageError::CorruptRecord {
                path: self.log_path.to_path_buf(),
                position: pos,
                reason: e.to_string(),
            })?;
            expected_min_offset = h.next_offset();
            self.index_batch(pos, &h)?;
            pos += size;
        }
        let truncated = file_len - pos;
        if let Some(reason) = &invalid {
            tracing::debug!(
                "found invalid data in {} at byte {pos}: {reason}; truncating {truncated} bytes",
                self.log_path.display()
            );
        }
        if truncated > 0 {
            self.log.set_len(pos).at(&self.log_path)?;
        }
        self.size = pos;
        self.load_first_batch_timestamp()?;
        self.offset_index.trim_to_valid_size()?;
        let m = self.max_timestamp_so_far;
        self.time_index.maybe_append(m.timestamp, m.offset, true)?;
        self.time_index.trim_to_valid_size()?;
        Ok((truncated, invalid))
    }

    /// The offset after the last batch (base offset if empty): index lookup then a header walk.
    pub fn read_next_offset(&self) -> Result<i64> {
        let view = self.view();
        let last = if self.offset_index.entries() > 0 {
            self.offset_index.entry(self.offset_index.entries() - 1)?
        } else {
            crate::index::OffsetPosition {
                offset: self.base_offset,
                position: 0,
            }
        };
        let mut next = self.base_offset;
        let mut scan = BatchScanner::new(
            &view.log,
            &view.log_path,
            u64::from(last.position),
            view.size,
        );
        while let Some((_, h)) = scan.next_header()? {
            next = h.next_offset();
        }
        Ok(next)
    }

    /// Remove every batch whose last offset is >= `offset`. Returns the new next offset of the
    /// segment if anything was removed.
    pub fn truncate_to(&mut self, offset: i64, now: i64) -> Result<Option<i64>> {
        let Some((pos, h)) = self.view().translate_offset(offset)? else {
            return Ok(None);
        };
        self.offset_index.truncate_to(offset)?;
        self.time_index.truncate_to(offset)?;
        self.txn_index.truncate_to(offset)?;
        self.log.set_len(pos).at(&self.log_path)?;
        self.size = pos;
        self.bytes_since_last_index_entry = 0;
        self.max_timestamp_so_far = self.time_index.last_entry();
        if self.size == 0 {
            self.created_ms = now;
            self.rolling_based_timestamp = None;
        }
        Ok(Some(h.base_offset))
    }

    /// Kafka's onBecomeInactiveSegment: record the max timestamp in the time index and trim
    /// both indexes to their entries.
    pub fn on_become_inactive(&mut self) -> Result<()> {
        let m = self.max_timestamp_so_far;
        self.time_index.maybe_append(m.timestamp, m.offset, true)?;
        self.offset_index.trim_to_valid_size()?;
        self.time_index.trim_to_valid_size()
    }

    /// Trim both indexes to their entries (no new time-index entry: see
    /// [`on_become_inactive`](Self::on_become_inactive)).
    pub fn trim_indexes(&mut self) -> Result<()> {
        self.offset_index.trim_to_valid_size()?;
        self.time_index.trim_to_valid_size()
    }

    /// Extend the indexes back to `max_index_size` so the segment can take appends.
    pub fn make_active(&mut self, max_index_size: u32) -> Result<()> {
        self.offset_index.resize(max_index_size)?;
        self.time_index.resize(max_index_size)
    }

    /// fsync the log and its indexes.
    pub fn flush(&self) -> Result<()> {
        self.log.sync_data().at(&self.log_path)?;
        self.offset_index.flush()?;
        self.time_index.flush()?;
        self.txn_index.flush()
    }

    /// Kafka's `largestTimestamp`: the largest batch max timestamp, or the `.log` file's
    /// modification time when the segment holds no timestamp (what retention.ms compares).
    pub fn largest_timestamp(&self) -> Result<i64> {
        if self.max_timestamp_so_far.timestamp >= 0 {
            return Ok(self.max_timestamp_so_far.timestamp);
        }
        let modified = self
            .log
            .metadata()
            .and_then(|m| m.modified())
            .at(&self.log_path)?;
        Ok(modified
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
    }

    /// First step of an asynchronous deletion (Kafka's `changeFileSuffixes("", ".deleted")`):
    /// rename the segment's files to `<name>.deleted` and close the writer's handles. Readers
    /// holding a [`SegmentView`] keep their open handles, so a read in progress finishes on
    /// the renamed (or, later, unlinked) files. Returns the renamed paths, to remove later.
    pub fn rename_to_deleted(self) -> Result<Vec<PathBuf>> {
        let mut renamed = Vec::with_capacity(4);
        for p in [
            self.log_path.to_path_buf(),
            self.offset_index.path().to_path_buf(),
            self.time_index.path().to_path_buf(),
            self.txn_index.path().to_path_buf(),
        ] {
            let mut target = p.clone().into_os_string();
            target.push(DELETED_FILE_SUFFIX);
            let target = PathBuf::from(target);
            match fs::rename(&p, &target) {
                Ok(()) => renamed.push(target),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::Io { path: p, source: e }),
            }
        }
        Ok(renamed)
    }

    /// Rename every file of the segment from `<name><old>` to `<name><new>` (Kafka's
    /// `changeFileSuffixes`), the `.log` last; open handles (and readers' views) stay valid.
    pub fn change_file_suffixes(&mut self, old: &str, new: &str) -> Result<()> {
        let rename = |p: &Path| -> Result<PathBuf> {
            let name = p.to_string_lossy();
            let stem = name.strip_suffix(old).ok_or_else(|| StorageError::Io {
                path: p.to_path_buf(),
                source: std::io::Error::other(format!("file name does not end with {old:?}")),
            })?;
            Ok(PathBuf::from(format!("{stem}{new}")))
        };
        let to = rename(self.offset_index.path())?;
        self.offset_index.rename(to)?;
        let to = rename(self.time_index.path())?;
        self.time_index.rename(to)?;
        let to = rename(self.txn_index.path())?;
        self.txn_index.rename(to)?;
        let to = rename(&self.log_path)?;
        fs::rename(&self.log_path, &to).at(&self.log_path)?;
        self.log_path = to.into();
        Ok(())
    }

    /// Delete the segment's files.
    pub fn delete(self) -> Result<()> {
        for p in [
            self.log_path.to_path_buf(),
            self.offset_index.path().to_path_buf(),
            self.time_index.path().to_path_buf(),
            self.txn_index.path().to_path_buf(),
        ] {
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::Io { path: p, source: e }),
            }
        }
        Ok(())
    }
}

/// Sequential reader over a file that hands out slices, reading in 1 MiB chunks.
struct ChunkReader<'a> {
    file: &'a File,
    path: &'a Path,
    file_len: u64,
    buf: Vec<u8>,
    start: u64,
}

const RECOVERY_CHUNK: u64 = 1024 * 1024;

impl<'a> ChunkReader<'a> {
    fn new(file: &'a File, path: &'a Path, file_len: u64) -> Self {
        Self {
            file,
            path,
            file_len,
            buf: Vec::new(),
            start: 0,
        }
    }

    /// `[pos, pos + len)`, which the caller has checked lies inside the file.
    fn slice(&mut self, pos: u64, len: usize) -> Result<&[u8]> {
        let end = self.start + self.buf.len() as u64;
        if pos < self.start || pos + len as u64 > end {
            let want = (len as u64).max(RECOVERY_CHUNK).min(self.file_len - pos);
            self.buf.resize(want as usize, 0);
            self.file.read_exact_at(&mut self.buf, pos).at(self.path)?;
            self.start = pos;
        }
        let at = (pos - self.start) as usize;
        Ok(&self.buf[at..at + len])
    }
}

/// Walks the batch headers of an in-memory payload.
struct HeaderWalk<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> HeaderWalk<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
}

impl Iterator for HeaderWalk<'_> {
    type Item = std::result::Result<(usize, BatchHeader), (usize, batch::BatchError)>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.pos..).filter(|r| !r.is_empty())?;
        let pos = self.pos;
        match batch::parse_header(rest) {
            Ok(h) if h.size <= rest.len() => {
                self.pos += h.size;
                Some(Ok((pos, h)))
            }
            Ok(h) => {
                self.pos = self.buf.len();
                Some(Err((
                    pos,
                    batch::BatchError::Truncated {
                        available: rest.len(),
                        needed: h.size,
                    },
                )))
            }
            Err(e) => {
                self.pos = self.buf.len();
                Some(Err((pos, e)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_protocol::batch::testing::build_batch;

    fn batch_at(offset: i64, ts: i64, n: usize) -> Vec<u8> {
        let values: Vec<&[u8]> = (0..n).map(|_| &b"value"[..]).collect();
        build_batch(offset, ts, &values)
    }

    #[test]
    fn pread_exact_reads_the_range_and_refuses_short_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let f = File::open(&path).unwrap();
        assert_eq!(&pread_exact(&f, 0, 0).unwrap()[..], &[] as &[u8]);
        assert_eq!(&pread_exact(&f, 7, 150_000).unwrap()[..], &data[7..150_007]);
        assert_eq!(&pread_exact(&f, 199_990, 10).unwrap()[..], &data[199_990..]);
        let e = pread_exact(&f, 199_990, 11).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(pread_exact(&f, u64::MAX, 1).is_err());
    }

    #[test]
    fn file_names_are_twenty_digit_offsets() {
        assert_eq!(filename_prefix(42), "00000000000000000042");
        let dir = Path::new("/d");
        assert_eq!(log_file(dir, 7), Path::new("/d/00000000000000000007.log"));
        assert_eq!(
            offset_from_file_name("00000000000000000042.index", INDEX_FILE_SUFFIX),
            Some(42)
        );
        assert_eq!(offset_from_file_name("42.index", INDEX_FILE_SUFFIX), None);
        assert_eq!(
            offset_from_file_name("0000000000000000004x.log", LOG_FILE_SUFFIX),
            None
        );
    }

    #[test]
    fn append_indexes_per_batch_and_recover_rebuilds_the_same_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = LogSegment::create(dir.path(), 100, 50, 1024, 0).unwrap();
        let mut payload = Vec::new();
        for i in 0..10 {
            payload.extend(batch_at(100 + 2 * i, 1000 + i, 2));
        }
        seg.append(&payload).unwrap();
        assert!(seg.offset_index().entries() > 3);
        let entries: Vec<_> = (0..seg.offset_index().entries())
            .map(|i| seg.offset_index().entry(i).unwrap())
            .collect();
        // Each entry names the last offset of the batch starting at its position.
        for e in &entries {
            let h = batch::parse_header(&payload[e.position as usize..]).unwrap();
            assert_eq!(h.last_offset(), e.offset);
        }
        assert_eq!(seg.read_next_offset().unwrap(), 120);
        assert_eq!(seg.recover(1024).unwrap(), 0);
        let rebuilt: Vec<_> = (0..seg.offset_index().entries())
            .map(|i| seg.offset_index().entry(i).unwrap())
            .collect();
        assert_eq!(rebuilt, entries);
        assert_eq!(
            seg.max_timestamp_so_far(),
            TimestampOffset {
                timestamp: 1009,
                offset: 119
            }
        );
    }

    #[test]
    fn append_rejects_offsets_outside_the_segment() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = LogSegment::create(dir.path(), 100, 50, 1024, 0).unwrap();
        assert!(matches!(
            seg.append(&batch_at(99, 0, 1)),
            Err(StorageError::OffsetOverflow { .. })
        ));
        let mut torn = batch_at(100, 0, 1);
        torn.pop();
        assert!(matches!(
            seg.append(&torn),
            Err(StorageError::CorruptRecord { .. })
        ));
        assert_eq!(seg.size(), 0);
    }

    #[test]
    fn should_roll_follows_kafka_rules() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = LogSegment::create(dir.path(), 0, 4096, 1024, 0).unwrap();
        let p = RollParams {
            max_segment_ms: 100,
            max_segment_bytes: 1000,
            max_timestamp_in_messages: 10,
            max_offset_in_messages: 0,
            messages_size: 100,
            now: 1_000_000,
        };
        // Empty segment: time does not roll it.
        assert_eq!(seg.should_roll(&p), None);
        seg.append(&batch_at(0, 10, 1)).unwrap();
        assert_eq!(
            seg.should_roll(&RollParams {
                max_timestamp_in_messages: 110,
                ..p
            }),
            None
        );
        assert_eq!(
            seg.should_roll(&RollParams {
                max_timestamp_in_messages: 111,
                ..p
            }),
            Some(RollReason::SegmentMs)
        );
        assert_eq!(
            seg.should_roll(&RollParams {
                messages_size: 1000,
                ..p
            }),
            Some(RollReason::SegmentBytes)
        );
        assert_eq!(
            seg.should_roll(&RollParams {
                max_offset_in_messages: 1 << 31,
                ..p
            }),
            Some(RollReason::OffsetOverflow)
        );
    }
}
