//! MetadataLog: the `__cluster_metadata-0` log of a single-node cluster, which this node writes
//! as its only voter — Kafka's KafkaRaftLog plus the leader's share of KafkaRaftClient.
//!
//! Opening it loads the newest readable snapshot and replays the log after it into a
//! [`MetadataImage`]; this node then leads epoch `last epoch + 1`, as a Kafka node that wins the
//! election of a new epoch does: with its first change it records itself as leader in
//! `quorum-state` and writes a LeaderChange control record in that epoch (a start that changes
//! nothing writes nothing). Every change is appended as one batch (or, past Kafka's batch size,
//! as a metadata transaction) in that epoch and fsynced before the caller publishes the new
//! image. Snapshots are written from the image every so many bytes or so much time, as
//! Kafka's controller does (`metadata.log.max.record.bytes.between.snapshots`,
//! `metadata.log.max.snapshot.interval.ms`).
//!
//! Nothing here deletes files: old snapshots and log segments stay (the metadata log of a
//! single node grows by a few records per admin change).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sluice_protocol::batch::{self, RecordBatch};
use sluice_protocol::metadata::{
    encode_metadata_value, BeginTransactionRecord, ControlRecord, EndTransactionRecord,
    KRaftVersionRecord, LeaderChangeMessage, LeaderChangeMessageVoter, MetadataRecord,
    VersionedRecord, VotersRecord,
};
use sluice_storage::{PartitionLog, Time};
use uuid::Uuid;

use crate::error::{MetadataError, Result};
use crate::image::MetadataImage;
use crate::loader::{KRaftState, MetadataLoader, RemovedTopic};
use crate::quorum_state::{self, ElectionState};
use crate::snapshot::{self, SnapshotId, MAX_BATCH_SIZE_BYTES};

const CONTROL_ATTRIBUTE: i16 = 0x20;
/// Bytes of a record beyond its value, for batch sizing.
const RECORD_OVERHEAD: usize = 32;

/// When to write a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// metadata.log.max.record.bytes.between.snapshots (Kafka: 20 MiB).
    pub max_bytes_between: u64,
    /// metadata.log.max.snapshot.interval.ms (Kafka: 1 hour; 0 disables the time trigger).
    pub max_interval_ms: i64,
}

impl Default for SnapshotPolicy {
    fn default() -> Self {
        Self {
            max_bytes_between: 20 * 1024 * 1024,
            max_interval_ms: 60 * 60 * 1000,
        }
    }
}

/// This node, as the only voter of the quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalVoter {
    pub node_id: i32,
    /// The metadata log dir's directory id (meta.properties `directory.id`).
    pub directory_id: Uuid,
}

/// What opening the log found.
#[derive(Debug)]
pub struct LoadedMetadata {
    pub image: MetadataImage,
    /// Topics that records after the loaded snapshot removed (their partition directories may
    /// still be waiting for their `-delete` rename if the broker stopped in between).
    pub removed_topics: Vec<RemovedTopic>,
    pub summary: LoadSummary,
}

/// For the start-up log line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadSummary {
    pub snapshot: Option<SnapshotId>,
    /// Snapshots that could not be read and were passed over (newest first).
    pub unreadable_snapshots: Vec<SnapshotId>,
    pub records: u64,
    pub batches: u64,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    /// The epoch this node leads from now on.
    pub epoch: i32,
    /// An open metadata transaction at the end of the log was left unapplied.
    pub incomplete_transaction: bool,
}

struct State {
    epoch: i32,
    /// Whether this epoch's LeaderChange (and quorum-state) is written.
    epoch_started: bool,
    /// Whether the log (not only a snapshot) holds the voter set.
    voters_in_log: bool,
    kraft: KRaftState,
    last_snapshot: Option<SnapshotId>,
    bytes_since_snapshot: u64,
    last_snapshot_ms: i64,
}

/// See the module docs.
pub struct MetadataLog {
    log: Arc<PartitionLog>,
    dir: PathBuf,
    voter: LocalVoter,
    time: Arc<dyn Time>,
    policy: SnapshotPolicy,
    state: std::sync::Mutex<State>,
}

impl std::fmt::Debug for MetadataLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataLog")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl MetadataLog {
    /// Load the metadata in `log` (see the module docs) and start a new epoch. An empty log
    /// yields an empty image: the caller then appends the bootstrap records.
    pub fn open(
        log: Arc<PartitionLog>,
        voter: LocalVoter,
        time: Arc<dyn Time>,
        policy: SnapshotPolicy,
    ) -> Result<(Self, LoadedMetadata)> {
        let dir = log.dir().to_path_buf();
        let mut summary = LoadSummary {
            log_start_offset: log.log_start_offset(),
            log_end_offset: log.log_end_offset(),
            ..Default::default()
        };
        let (loader, snapshot_id) = Self::load_latest_snapshot(&log, &dir, &mut summary)?;
        let mut loader = loader;
        let start = snapshot_id.map_or(summary.log_start_offset, |s| s.end_offset);
        Self::replay_log(&log, &dir, start, &mut loader)?;
        let voters_in_log = loader.saw_voters();
        summary.incomplete_transaction = loader.in_transaction();
        (summary.records, summary.batches) = loader.counts();
        summary.snapshot = snapshot_id;
        let (image, kraft, removed_topics) = loader.finish();

        let last_epoch = [
            quorum_state::read(&dir)?.map_or(-1, |s| s.leader_epoch),
            log.leader_epoch_entries().last().map_or(-1, |(e, _)| *e),
            snapshot_id.map_or(-1, |s| s.epoch),
            image.provenance.last_epoch,
        ]
        .into_iter()
        .max()
        .unwrap_or(-1);
        let epoch = last_epoch
            .checked_add(1)
            .ok_or_else(|| MetadataError::Corrupt {
                path: dir.clone(),
                offset: None,
                message: "the leader epoch cannot grow past i32::MAX".into(),
            })?;
        summary.epoch = epoch;
        let now = time.milliseconds();
        let this = Self {
            log,
            dir,
            voter,
            time,
            policy,
            state: std::sync::Mutex::new(State {
                epoch,
                epoch_started: false,
                voters_in_log,
                kraft,
                last_snapshot: snapshot_id,
                bytes_since_snapshot: 0,
                last_snapshot_ms: now,
            }),
        };
        Ok((
            this,
            LoadedMetadata {
                image,
                removed_topics,
                summary,
            },
        ))
    }

    /// The newest snapshot that reads whole, passing over damaged ones as long as the log
    /// still covers what they covered; none at all when the log starts at 0.
    fn load_latest_snapshot(
        log: &PartitionLog,
        dir: &Path,
        summary: &mut LoadSummary,
    ) -> Result<(MetadataLoader, Option<SnapshotId>)> {
        let mut ids = snapshot::list(dir)?;
        ids.reverse();
        let log_start = log.log_start_offset();
        let log_end = log.log_end_offset();
        let mut first_error = None;
        for id in ids {
            if id.end_offset < log_start {
                continue;
            }
            match snapshot::read(dir, id) {
                Ok(contents) => {
                    if id.end_offset > log_end {
                        // Kafka's truncateToLatestSnapshot: the snapshot holds everything the
                        // log held, and more.
                        tracing::info!(
                            "the metadata log ends at {log_end}, before snapshot {}: the log continues at the snapshot",
                            id.file_name()
                        );
                        log.truncate_fully_and_start_at(id.end_offset)?;
                    }
                    return Ok((
                        MetadataLoader::new(contents.image, contents.kraft),
                        Some(id),
                    ));
                }
                Err(e) => {
                    tracing::warn!("metadata snapshot {} cannot be read: {e}", id.file_name());
                    summary.unreadable_snapshots.push(id);
                    first_error.get_or_insert(e);
                }
            }
        }
        if log_start > 0 {
            return Err(first_error.unwrap_or_else(|| MetadataError::Corrupt {
                path: dir.to_path_buf(),
                offset: Some(log_start),
                message: format!(
                    "the metadata log starts at offset {log_start} but no snapshot covers the offsets before it"
                ),
            }));
        }
        Ok((
            MetadataLoader::new(MetadataImage::empty(), KRaftState::default()),
            None,
        ))
    }

    fn replay_log(
        log: &PartitionLog,
        dir: &Path,
        mut offset: i64,
        loader: &mut MetadataLoader,
    ) -> Result<()> {
        let end = log.log_end_offset();
        while offset < end {
            let data = log.read(offset, 1 << 20, true, None)?.into_bytes();
            if data.is_empty() {
                break;
            }
            let mut pos = 0;
            while pos < data.len() {
                let b = RecordBatch::parse_stored(&data[pos..]).map_err(|e| {
                    MetadataError::Corrupt {
                        path: dir.to_path_buf(),
                        offset: Some(offset),
                        message: format!("record batch: {e}"),
                    }
                })?;
                if b.last_offset() >= offset {
                    loader.replay_batch(&b, dir)?;
                }
                offset = offset.max(b.next_offset());
                pos += b.size();
            }
        }
        Ok(())
    }

    /// Record this node as leader of `st.epoch` in `quorum-state`, and return the control
    /// batch Kafka's leader writes when its epoch starts (LeaderState.appendStartOfEpochControlRecords):
    /// the LeaderChange, and with kraft.version 1, the KRaftVersion and voter set when the log
    /// does not hold them yet (they were only in the bootstrap snapshot).
    fn start_epoch(&self, st: &mut State) -> Result<Vec<u8>> {
        quorum_state::write(
            &self.dir,
            &ElectionState {
                leader_id: self.voter.node_id,
                leader_epoch: st.epoch,
                voted_id: self.voter.node_id,
                voted_directory_id: if st.kraft.kraft_version >= 1 {
                    self.voter.directory_id
                } else {
                    Uuid::nil()
                },
            },
            st.kraft.kraft_version,
        )?;
        let voters: Vec<LeaderChangeMessageVoter> = match &st.kraft.voters {
            Some(v) => v
                .voters
                .iter()
                .map(|v| LeaderChangeMessageVoter {
                    voter_id: v.voter_id,
                    ..Default::default()
                })
                .collect(),
            None => vec![LeaderChangeMessageVoter {
                voter_id: self.voter.node_id,
                ..Default::default()
            }],
        };
        let mut records = vec![ControlRecord::LeaderChange(LeaderChangeMessage {
            version: 0,
            leader_id: self.voter.node_id,
            voters,
            granting_voters: vec![LeaderChangeMessageVoter {
                voter_id: self.voter.node_id,
                ..Default::default()
            }],
            ..Default::default()
        })];
        if st.kraft.kraft_version >= 1 && !st.voters_in_log {
            if let Some(voters) = &st.kraft.voters {
                records.push(ControlRecord::KRaftVersion(KRaftVersionRecord {
                    version: 0,
                    kraft_version: st.kraft.kraft_version,
                    ..Default::default()
                }));
                records.push(ControlRecord::Voters(voters.clone()));
                st.voters_in_log = true;
            }
        }
        let encoded: Vec<_> = records
            .iter()
            .map(ControlRecord::encode)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| MetadataError::Rejected(format!("control record: {e}")))?;
        let entries: Vec<batch::KeyValue<'_>> = encoded
            .iter()
            .map(|c| (Some(&c.key[..]), Some(c.value.as_slice())))
            .collect();
        Ok(batch::encode_batch_with(
            &entries,
            self.time.milliseconds(),
            CONTROL_ATTRIBUTE,
            -1,
            -1,
            -1,
        ))
    }

    /// Make an empty log a dynamic quorum's (kraft.version 1 and its voters), as Kafka's
    /// `kafka-storage format --standalone` does: the bootstrap snapshot, then this node leads
    /// epoch 1. Refused once the log holds anything.
    pub fn format_kraft(&self, kraft: KRaftState) -> Result<()> {
        let mut st = lock(&self.state);
        if self.log.log_end_offset() > 0 || st.epoch_started || st.last_snapshot.is_some() {
            return Err(MetadataError::Rejected(
                "kraft.version is set when a cluster is formatted, on an empty metadata log".into(),
            ));
        }
        Self::format_bootstrap_snapshot(&self.dir, &kraft, self.time.milliseconds())?;
        st.kraft = kraft;
        st.epoch = st.epoch.max(1);
        Ok(())
    }

    /// Write the kraft.version (and voters) of a new cluster as Kafka's `format` does: a
    /// bootstrap snapshot `00000000000000000000-0000000000.checkpoint` when kraft.version is
    /// 1 or more. Call on an empty log only, before anything else is appended.
    pub fn format_bootstrap_snapshot(dir: &Path, kraft: &KRaftState, now_ms: i64) -> Result<()> {
        if kraft.kraft_version == 0 {
            return Ok(());
        }
        snapshot::write(
            dir,
            SnapshotId {
                end_offset: 0,
                epoch: 0,
            },
            &[],
            kraft,
            now_ms,
            now_ms,
        )?;
        Ok(())
    }

    /// The voter record of this node alone (kraft.version 1), for a new cluster.
    pub fn standalone_voters(
        voter: LocalVoter,
        endpoints: Vec<sluice_protocol::metadata::Endpoint>,
    ) -> KRaftState {
        KRaftState {
            kraft_version: 1,
            voters: Some(VotersRecord {
                version: 0,
                voters: vec![sluice_protocol::metadata::VotersRecordVoter {
                    voter_id: voter.node_id,
                    voter_directory_id: voter.directory_id,
                    endpoints,
                    kraft_version_feature: sluice_protocol::metadata::KRaftVersionFeature {
                        min_supported_version: 0,
                        max_supported_version: 1,
                        ..Default::default()
                    },
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    /// Append `records` as one atomic change, durably, in this node's epoch; returns the
    /// offset of the last one. Past one batch's size they are wrapped in a metadata
    /// transaction (Begin/EndTransactionRecord), which readers apply all at once or not at all.
    pub fn append(&self, records: &[VersionedRecord]) -> Result<i64> {
        if records.is_empty() {
            return Err(MetadataError::Rejected("no records to append".into()));
        }
        let mut values = Vec::with_capacity(records.len());
        let mut total = 0usize;
        for r in records {
            let v = encode_metadata_value(r)
                .map_err(|e| MetadataError::Rejected(format!("metadata record: {e}")))?;
            total += v.len() + RECORD_OVERHEAD;
            values.push(v);
        }
        if total > MAX_BATCH_SIZE_BYTES {
            let begin = encode_metadata_value(&VersionedRecord {
                record: MetadataRecord::BeginTransaction(BeginTransactionRecord {
                    name: Some("Sluice".into()),
                    ..Default::default()
                }),
                version: 0,
            })
            .map_err(|e| MetadataError::Rejected(e.to_string()))?;
            let end = encode_metadata_value(&VersionedRecord {
                record: MetadataRecord::EndTransaction(EndTransactionRecord::default()),
                version: 0,
            })
            .map_err(|e| MetadataError::Rejected(e.to_string()))?;
            values.insert(0, begin);
            values.push(end);
        }
        let now = self.time.milliseconds();
        let mut payload = Vec::with_capacity(total + 256);
        let mut chunk: Vec<batch::KeyValue<'_>> = Vec::new();
        let mut size = 0;
        for v in &values {
            if !chunk.is_empty() && size + v.len() + RECORD_OVERHEAD > MAX_BATCH_SIZE_BYTES {
                payload.extend_from_slice(&batch::encode_batch_with(&chunk, now, 0, -1, -1, -1));
                chunk.clear();
                size = 0;
            }
            size += v.len() + RECORD_OVERHEAD;
            chunk.push((None, Some(v.as_slice())));
        }
        payload.extend_from_slice(&batch::encode_batch_with(&chunk, now, 0, -1, -1, -1));
        self.append_durably(payload)
    }

    /// Append `payload` in this node's epoch and fsync it. The epoch's first append writes
    /// `quorum-state` and the LeaderChange first, in the same write: a start that changes no
    /// metadata writes nothing.
    fn append_durably(&self, payload: Vec<u8>) -> Result<i64> {
        let mut st = lock(&self.state);
        let mut payload = if st.epoch_started {
            payload
        } else {
            let mut first = self.start_epoch(&mut st)?;
            first.extend_from_slice(&payload);
            first
        };
        let info = self.log.append_as_raft_leader(&mut payload, st.epoch)?;
        st.epoch_started = true;
        st.bytes_since_snapshot += payload.len() as u64;
        drop(st);
        self.log.sync_to(info.last_offset)?;
        Ok(info.last_offset)
    }

    /// The epoch this node leads.
    pub fn epoch(&self) -> i32 {
        lock(&self.state).epoch
    }

    pub fn kraft_state(&self) -> KRaftState {
        lock(&self.state).kraft.clone()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The offset the next record will get.
    pub fn end_offset(&self) -> i64 {
        self.log.log_end_offset()
    }

    /// Write a snapshot of `image` if the policy says one is due (the image must be the one
    /// every record appended so far produced). Returns the snapshot written, if any.
    pub fn maybe_snapshot(&self, image: &MetadataImage) -> Result<Option<SnapshotId>> {
        let now = self.time.milliseconds();
        let due = {
            let st = lock(&self.state);
            st.bytes_since_snapshot > 0
                && (st.bytes_since_snapshot >= self.policy.max_bytes_between
                    || (self.policy.max_interval_ms > 0
                        && now.saturating_sub(st.last_snapshot_ms) >= self.policy.max_interval_ms))
        };
        if !due {
            return Ok(None);
        }
        self.snapshot(image).map(Some)
    }

    /// Write a snapshot of `image` now, at the offset after its last record.
    pub fn snapshot(&self, image: &MetadataImage) -> Result<SnapshotId> {
        let id = SnapshotId {
            end_offset: image.provenance.last_offset + 1,
            epoch: image.provenance.last_epoch,
        };
        if id.end_offset <= 0 {
            return Err(MetadataError::Rejected(
                "an empty image has no snapshot".into(),
            ));
        }
        let kraft = lock(&self.state).kraft.clone();
        let now = self.time.milliseconds();
        snapshot::write(
            &self.dir,
            id,
            &image.records(),
            &kraft,
            image.provenance.last_timestamp,
            now,
        )?;
        let mut st = lock(&self.state);
        st.last_snapshot = Some(id);
        st.bytes_since_snapshot = 0;
        st.last_snapshot_ms = now;
        tracing::info!("wrote metadata snapshot {}", id.file_name());
        Ok(id)
    }

    pub fn last_snapshot(&self) -> Option<SnapshotId> {
        lock(&self.state).last_snapshot
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
