//! MetadataFollower: the metadata log of a broker that follows a KRaft controller quorum as an
//! observer (Kafka's KafkaRaftClient in its follower/observer states, without the network: the
//! caller fetches). The local `__cluster_metadata-0` holds what the leader sent, offsets and
//! epochs as the leader wrote them; only records below the leader's high watermark (committed
//! by the quorum) are replayed into the image, whole batches at a time, as Kafka's raft client
//! hands committed batches to its listeners.
//!
//! At open only the newest snapshot is loaded: which of the local log's records are committed
//! is known from the leader's next Fetch response.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sluice_protocol::batch::RecordBatch;
use sluice_storage::PartitionLog;

use crate::error::{MetadataError, Result};
use crate::image::MetadataImage;
use crate::loader::{KRaftState, MetadataLoader};
use crate::snapshot::{self, SnapshotId};

/// See the module docs.
pub struct MetadataFollower {
    log: Arc<PartitionLog>,
    dir: PathBuf,
    loader: MetadataLoader,
    /// The next offset to replay.
    applied: i64,
    /// The leader's high watermark, as last heard.
    high_watermark: i64,
    /// The snapshot the image was loaded from, if any.
    snapshot: Option<SnapshotId>,
}

impl std::fmt::Debug for MetadataFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataFollower")
            .field("dir", &self.dir)
            .field("applied", &self.applied)
            .field("high_watermark", &self.high_watermark)
            .finish_non_exhaustive()
    }
}

/// Where the next Fetch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchPosition {
    pub fetch_offset: i64,
    /// The epoch of the last record held; with none, the epoch of the snapshot the log starts
    /// at, else 0 (Kafka's KafkaRaftLog.lastFetchedEpoch).
    pub last_fetched_epoch: i32,
}

impl MetadataFollower {
    /// Load the newest readable snapshot of `log` (a damaged one is passed over only while the
    /// log still covers it, as the leader's MetadataLog does).
    pub fn open(log: Arc<PartitionLog>) -> Result<Self> {
        let dir = log.dir().to_path_buf();
        let mut ids = snapshot::list(&dir)?;
        ids.reverse();
        let mut loaded = None;
        for id in ids {
            if id.end_offset < log.log_start_offset() || id.end_offset > log.log_end_offset() {
                continue;
            }
            match snapshot::read(&dir, id) {
                Ok(c) => {
                    loaded = Some((id, c));
                    break;
                }
                Err(e) => {
                    tracing::warn!("metadata snapshot {} cannot be read: {e}", id.file_name())
                }
            }
        }
        let snapshot = loaded.as_ref().map(|(id, _)| *id);
        let (applied, loader) = match loaded {
            Some((id, c)) => (id.end_offset, MetadataLoader::new(c.image, c.kraft)),
            None if log.log_start_offset() == 0 => (
                0,
                MetadataLoader::new(MetadataImage::empty(), KRaftState::default()),
            ),
            None => {
                // Nothing readable covers the start of the log: fetch it all again.
                log.truncate_fully_and_start_at(0)?;
                (
                    0,
                    MetadataLoader::new(MetadataImage::empty(), KRaftState::default()),
                )
            }
        };
        Ok(Self {
            log,
            dir,
            loader,
            applied,
            high_watermark: -1,
            snapshot,
        })
    }

    /// The image of every committed record replayed so far.
    pub fn image(&self) -> &MetadataImage {
        self.loader.image()
    }

    pub fn kraft(&self) -> &KRaftState {
        self.loader.kraft()
    }

    /// The offset after the last record replayed into the image.
    pub fn applied_offset(&self) -> i64 {
        self.applied
    }

    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    pub fn log(&self) -> &Arc<PartitionLog> {
        &self.log
    }

    pub fn position(&self) -> FetchPosition {
        let fetch_offset = self.log.log_end_offset();
        let from_log = (fetch_offset > self.log.log_start_offset())
            .then(|| self.log.epoch_for_offset(fetch_offset - 1))
            .flatten();
        let from_snapshot = self
            .snapshot
            .filter(|s| s.end_offset == fetch_offset)
            .map(|s| s.epoch);
        FetchPosition {
            fetch_offset,
            last_fetched_epoch: from_log.or(from_snapshot).unwrap_or(0),
        }
    }

    /// Append what the leader of `leader_epoch` sent (may be empty; batches of a later epoch
    /// are left out) and replay what its high watermark commits. Returns whether the image
    /// changed.
    pub fn append(
        &mut self,
        records: &mut [u8],
        leader_epoch: i32,
        leader_high_watermark: i64,
    ) -> Result<bool> {
        if !records.is_empty() {
            self.log.append_as_follower(records, leader_epoch)?;
        }
        self.high_watermark = self.high_watermark.max(leader_high_watermark);
        self.replay_committed()
    }

    /// The leader says the log diverges from its own at `end_offset` (a record this follower
    /// holds was never committed): cut it there. Committed records are never cut.
    pub fn truncate(&mut self, end_offset: i64) -> Result<()> {
        if end_offset < self.applied {
            return Err(MetadataError::Corrupt {
                path: self.dir.clone(),
                offset: Some(end_offset),
                message: format!(
                    "the leader asks to truncate below offset {}, which was committed and applied",
                    self.applied
                ),
            });
        }
        self.log.truncate_to(end_offset)?;
        Ok(())
    }

    /// Install snapshot `id` (the bytes the leader sent, FetchSnapshot): written to a `.part`
    /// file and read whole (a damaged download is refused and removed), then renamed into
    /// place; the log continues at its end offset and the image is the snapshot's.
    pub fn install_snapshot(&mut self, id: SnapshotId, bytes: &[u8]) -> Result<()> {
        let path = self.dir.join(id.file_name());
        let part = self.dir.join(format!("{}.part", id.file_name()));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| MetadataError::Io { path, source }
        };
        {
            let mut f = std::fs::File::create(&part).map_err(io(&part))?;
            f.write_all(bytes).map_err(io(&part))?;
            f.sync_all().map_err(io(&part))?;
        }
        let contents = match snapshot::read_path(&part) {
            Ok(c) => c,
            Err(e) => {
                // Our own partial download: not a snapshot, removed.
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
        };
        std::fs::rename(&part, &path).map_err(io(&path))?;
        sluice_storage::checkpoint::sync_dir(&self.dir)?;
        self.log.truncate_fully_and_start_at(id.end_offset)?;
        self.loader = MetadataLoader::new(contents.image, contents.kraft);
        self.applied = id.end_offset;
        self.snapshot = Some(id);
        Ok(())
    }

    /// Replay every whole batch below the high watermark not replayed yet.
    fn replay_committed(&mut self) -> Result<bool> {
        let limit = self.high_watermark.min(self.log.log_end_offset());
        let before = self.applied;
        while self.applied < limit {
            // Up to the log end: what is committed is the quorum's high watermark (`limit`),
            // not the local log's own.
            let data = self
                .log
                .read_to_log_end(self.applied, 1 << 20, true)?
                .into_bytes();
            if data.is_empty() {
                break;
            }
            let mut pos = 0;
            let mut progressed = false;
            while pos < data.len() {
                let b = RecordBatch::parse_stored(&data[pos..]).map_err(|e| {
                    MetadataError::Corrupt {
                        path: self.dir.clone(),
                        offset: Some(self.applied),
                        message: format!("record batch: {e}"),
                    }
                })?;
                if b.last_offset() >= limit {
                    break;
                }
                if b.last_offset() >= self.applied {
                    self.loader.replay_batch(&b, &self.dir)?;
                    self.applied = b.next_offset();
                    progressed = true;
                }
                pos += b.size();
            }
            if !progressed {
                break;
            }
        }
        Ok(self.applied != before)
    }
}
