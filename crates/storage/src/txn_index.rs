//! The `.txnindex` file of a segment (Kafka's TransactionIndex and AbortedTxn).
//!
//! One 34-byte entry per transaction aborted by a marker written in this segment, big-endian:
//!
//! ```text
//! version i16 (=0) · producerId i64 · firstOffset i64 · lastOffset i64 · lastStableOffset i64
//! ```
//!
//! `firstOffset` is the first offset of the aborted transaction (possibly in an earlier
//! segment), `lastOffset` the offset of its ABORT marker, `lastStableOffset` the first offset of
//! the oldest transaction of another producer still open when the marker was written, or
//! `lastOffset + 1` if there was none (Kafka's `ProducerStateManager.lastStableOffset`).
//! Entries are appended in marker order, so `lastOffset` strictly increases.
//!
//! Unlike Kafka, which creates the file lazily on the first abort, every segment gets one (empty
//! until an abort): a missing file then means a lost file, and the segment is recovered, which
//! rebuilds it. Kafka reads an empty file as an index without entries.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{IoContext, Result, StorageError};

pub const TXN_INDEX_FILE_SUFFIX: &str = ".txnindex";
/// Size of one entry (Kafka's `AbortedTxn.TOTAL_SIZE`).
pub const ABORTED_TXN_SIZE: usize = 34;
/// Kafka's `AbortedTxn.CURRENT_VERSION`.
pub const ABORTED_TXN_VERSION: i16 = 0;

/// A transaction aborted by a marker (one `.txnindex` entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    /// First offset of the transaction.
    pub first_offset: i64,
    /// Offset of the ABORT marker.
    pub last_offset: i64,
    /// The last stable offset right after the marker (ignoring the high watermark).
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    pub fn encode(&self) -> [u8; ABORTED_TXN_SIZE] {
        let mut b = [0u8; ABORTED_TXN_SIZE];
        b[0..2].copy_from_slice(&ABORTED_TXN_VERSION.to_be_bytes());
        b[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        b[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        b[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        b[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        b
    }

    /// Decode one entry; `None` for an unknown version.
    pub fn decode(b: &[u8; ABORTED_TXN_SIZE]) -> Option<Self> {
        let i64_at = |at: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[at..at + 8]);
            i64::from_be_bytes(x)
        };
        if i16::from_be_bytes([b[0], b[1]]) != ABORTED_TXN_VERSION {
            return None;
        }
        Some(Self {
            producer_id: i64_at(2),
            first_offset: i64_at(10),
            last_offset: i64_at(18),
            last_stable_offset: i64_at(26),
        })
    }
}

/// `<dir>/<20-digit offset>.txnindex`
pub fn txn_index_file(dir: &Path, base_offset: i64) -> PathBuf {
    dir.join(format!(
        "{}{TXN_INDEX_FILE_SUFFIX}",
        crate::segment::filename_prefix(base_offset)
    ))
}

/// Writer side of a segment's transaction index.
#[derive(Debug)]
pub struct TransactionIndex {
    path: Arc<Path>,
    file: Arc<File>,
    base_offset: i64,
    entries: u64,
    last_offset: Option<i64>,
}

impl TransactionIndex {
    /// Create (or empty) the index file.
    pub fn create(path: PathBuf, base_offset: i64) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .at(&path)?;
        Ok(Self {
            path: path.into(),
            file: Arc::new(file),
            base_offset,
            entries: 0,
            last_offset: None,
        })
    }

    /// Open an existing index and sanity-check it: whole entries, version 0, each entry's
    /// first offset <= last offset, last offsets >= the segment's base offset (Kafka's check)
    /// and strictly increasing. Fails with [`StorageError::CorruptIndex`] otherwise (the caller
    /// then rebuilds it by recovering the segment).
    pub fn open(path: PathBuf, base_offset: i64) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .at(&path)?;
        let len = file.metadata().at(&path)?.len();
        let corrupt = |reason: String| StorageError::CorruptIndex {
            path: path.clone(),
            reason,
        };
        if len % ABORTED_TXN_SIZE as u64 != 0 {
            return Err(corrupt(format!(
                "size {len} is not a multiple of the entry size {ABORTED_TXN_SIZE}"
            )));
        }
        let mut idx = Self {
            path: path.clone().into(),
            file: Arc::new(file),
            base_offset,
            entries: len / ABORTED_TXN_SIZE as u64,
            last_offset: None,
        };
        for e in idx.view().all()? {
            if e.last_offset < base_offset {
                return Err(corrupt(format!(
                    "last offset {} of aborted transaction is below the segment's base offset \
                     {base_offset}",
                    e.last_offset
                )));
            }
            if e.first_offset > e.last_offset {
                return Err(corrupt(format!(
                    "aborted transaction first offset {} is above its last offset {}",
                    e.first_offset, e.last_offset
                )));
            }
            if idx.last_offset.is_some_and(|l| l >= e.last_offset) {
                return Err(corrupt(format!(
                    "last offsets do not increase: {} after {:?}",
                    e.last_offset, idx.last_offset
                )));
            }
            idx.last_offset = Some(e.last_offset);
        }
        Ok(idx)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Rename the file (the cleaner's `.cleaned` -> `.swap` -> final name steps).
    pub(crate) fn rename(&mut self, to: PathBuf) -> Result<()> {
        std::fs::rename(&self.path, &to).at(&self.path)?;
        self.path = to.into();
        Ok(())
    }
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Append an entry; its last offset must be above every earlier one.
    pub fn append(&mut self, txn: &AbortedTxn) -> Result<()> {
        if self.last_offset.is_some_and(|l| l >= txn.last_offset)
            || txn.last_offset < self.base_offset
        {
            return Err(StorageError::CorruptIndex {
                path: self.path.to_path_buf(),
                reason: format!(
                    "aborted transaction with last offset {} does not follow {:?}",
                    txn.last_offset, self.last_offset
                ),
            });
        }
        let pos = self.entries * ABORTED_TXN_SIZE as u64;
        self.file.write_all_at(&txn.encode(), pos).at(&self.path)?;
        self.entries += 1;
        self.last_offset = Some(txn.last_offset);
        Ok(())
    }

    /// Remove every entry.
    pub fn reset(&mut self) -> Result<()> {
        self.file.set_len(0).at(&self.path)?;
        self.entries = 0;
        self.last_offset = None;
        Ok(())
    }

    /// Remove the entries whose marker is at or above `offset` (Kafka's truncateTo).
    pub fn truncate_to(&mut self, offset: i64) -> Result<()> {
        let all = self.view().all()?;
        let keep = all.iter().take_while(|e| e.last_offset < offset).count();
        if keep as u64 == self.entries {
            return Ok(());
        }
        self.file
            .set_len(keep as u64 * ABORTED_TXN_SIZE as u64)
            .at(&self.path)?;
        self.entries = keep as u64;
        self.last_offset = keep
            .checked_sub(1)
            .and_then(|i| all.get(i))
            .map(|e| e.last_offset);
        Ok(())
    }

    pub fn flush(&self) -> Result<()> {
        self.file.sync_data().at(&self.path)
    }

    pub fn view(&self) -> TxnIndexView {
        TxnIndexView {
            path: self.path.clone(),
            file: self.file.clone(),
            entries: self.entries,
        }
    }
}

/// Reader side: the entries published with a snapshot.
#[derive(Debug, Clone)]
pub struct TxnIndexView {
    path: Arc<Path>,
    file: Arc<File>,
    entries: u64,
}

impl TxnIndexView {
    pub fn entries(&self) -> u64 {
        self.entries
    }
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().at(&self.path)
    }

    /// Every published entry, in order (one positional read). Entries of an unknown version
    /// are an error.
    pub fn all(&self) -> Result<Vec<AbortedTxn>> {
        let len = usize::try_from(self.entries)
            .ok()
            .and_then(|n| n.checked_mul(ABORTED_TXN_SIZE))
            .ok_or_else(|| StorageError::CorruptIndex {
                path: self.path.to_path_buf(),
                reason: "too many entries".into(),
            })?;
        let mut buf = vec![0u8; len];
        self.file.read_exact_at(&mut buf, 0).at(&self.path)?;
        buf.chunks_exact(ABORTED_TXN_SIZE)
            .map(|c| {
                let mut e = [0u8; ABORTED_TXN_SIZE];
                e.copy_from_slice(c);
                AbortedTxn::decode(&e).ok_or_else(|| StorageError::CorruptIndex {
                    path: self.path.to_path_buf(),
                    reason: format!(
                        "unknown aborted transaction version {}",
                        i16::from_be_bytes([e[0], e[1]])
                    ),
                })
            })
            .collect()
    }

    /// Kafka's `collectAbortedTxns`: entries with `lastOffset >= fetch_offset` and
    /// `firstOffset < upper_bound_offset`, added to `out`. Returns true when the search is
    /// complete (an entry's last stable offset reached the upper bound: every transaction
    /// aborted later started at or above it).
    pub fn collect_aborted(
        &self,
        fetch_offset: i64,
        upper_bound_offset: i64,
        out: &mut Vec<AbortedTxn>,
    ) -> Result<bool> {
        if self.entries == 0 {
            return Ok(false);
        }
        for e in self.all()? {
            if e.last_offset >= fetch_offset && e.first_offset < upper_bound_offset {
                out.push(e);
            }
            if e.last_stable_offset >= upper_bound_offset {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: lso,
        }
    }

    #[test]
    fn entry_layout_is_kafkas() {
        let b = txn(7, 10, 20, 21).encode();
        assert_eq!(b.len(), 34);
        assert_eq!(&b[0..2], &0i16.to_be_bytes());
        assert_eq!(&b[2..10], &7i64.to_be_bytes());
        assert_eq!(&b[10..18], &10i64.to_be_bytes());
        assert_eq!(&b[18..26], &20i64.to_be_bytes());
        assert_eq!(&b[26..34], &21i64.to_be_bytes());
        assert_eq!(AbortedTxn::decode(&b), Some(txn(7, 10, 20, 21)));
        let mut v1 = b;
        v1[1] = 1;
        assert_eq!(AbortedTxn::decode(&v1), None);
    }

    #[test]
    fn append_truncate_reopen_and_sanity_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = txn_index_file(dir.path(), 100);
        let mut idx = TransactionIndex::create(path.clone(), 100).unwrap();
        idx.append(&txn(1, 90, 105, 106)).unwrap();
        idx.append(&txn(2, 100, 110, 111)).unwrap();
        idx.append(&txn(3, 107, 120, 121)).unwrap();
        assert!(
            idx.append(&txn(4, 107, 120, 121)).is_err(),
            "not increasing"
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 3 * 34);
        let reopened = TransactionIndex::open(path.clone(), 100).unwrap();
        assert_eq!(reopened.view().all().unwrap(), idx.view().all().unwrap());
        idx.truncate_to(110).unwrap();
        assert_eq!(idx.view().all().unwrap(), vec![txn(1, 90, 105, 106)]);
        idx.append(&txn(5, 108, 109, 110)).unwrap();
        assert_eq!(idx.entries(), 2);
        // Torn tail.
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(2 * 34 + 5).unwrap();
        assert!(matches!(
            TransactionIndex::open(path.clone(), 100),
            Err(StorageError::CorruptIndex { .. })
        ));
        // An entry below the base offset (Kafka's sanity check).
        f.set_len(0).unwrap();
        f.write_all_at(&txn(1, 1, 99, 100).encode(), 0).unwrap();
        assert!(matches!(
            TransactionIndex::open(path.clone(), 100),
            Err(StorageError::CorruptIndex { .. })
        ));
        // Unknown version.
        let mut e = txn(1, 100, 101, 102).encode();
        e[1] = 9;
        f.write_all_at(&e, 0).unwrap();
        assert!(TransactionIndex::open(path, 100).is_err());
    }

    #[test]
    fn collect_follows_kafka_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = TransactionIndex::create(txn_index_file(dir.path(), 0), 0).unwrap();
        idx.append(&txn(1, 0, 10, 5)).unwrap();
        idx.append(&txn(2, 5, 20, 21)).unwrap();
        idx.append(&txn(3, 25, 30, 31)).unwrap();
        let collect = |from, to| {
            let mut v = Vec::new();
            let done = idx.view().collect_aborted(from, to, &mut v).unwrap();
            (v.iter().map(|t| t.producer_id).collect::<Vec<_>>(), done)
        };
        assert_eq!(collect(0, 100), (vec![1, 2, 3], false));
        assert_eq!(collect(11, 100), (vec![2, 3], false));
        assert_eq!(
            collect(11, 25),
            (vec![2], true),
            "lso 31 >= 25 ends the search"
        );
        assert_eq!(collect(0, 5), (vec![1], true));
        assert_eq!(collect(31, 100), (vec![], false));
    }
}
