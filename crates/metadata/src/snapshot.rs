//! Metadata snapshots (`<end offset:020>-<epoch:010>.checkpoint` in the metadata log's
//! directory), as Kafka's RecordsSnapshotWriter / RecordsSnapshotReader write and read them:
//! a control batch with a SnapshotHeader (and, from kraft.version 1, the KRaftVersion and
//! KRaftVoters records), data batches holding the whole image as metadata records, and a
//! control batch with a SnapshotFooter. Batch offsets count from 0 within the file; every
//! batch carries the snapshot's epoch.
//!
//! A snapshot is written to `<name>.checkpoint.part`, fsynced, then renamed (and the directory
//! fsynced), so a crash leaves either no snapshot or a whole one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sluice_protocol::batch::{self, RecordBatch};
use sluice_protocol::metadata::{
    encode_metadata_value, ControlRecord, KRaftVersionRecord, SnapshotFooterRecord,
    SnapshotHeaderRecord, VersionedRecord,
};

use crate::error::{MetadataError, Result};
use crate::image::MetadataImage;
use crate::loader::{KRaftState, MetadataLoader};

pub const SUFFIX: &str = ".checkpoint";
const PARTIAL_SUFFIX: &str = ".checkpoint.part";
const DELETED_SUFFIX: &str = ".checkpoint.deleted";

/// Kafka's attribute bit of a control batch.
const CONTROL_ATTRIBUTE: i16 = 0x20;
/// The largest batch written (Kafka's KafkaRaftClient.MAX_BATCH_SIZE_BYTES).
pub const MAX_BATCH_SIZE_BYTES: usize = 8 * 1024 * 1024;

/// A snapshot's id: the offset after its last record and that record's epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotId {
    pub end_offset: i64,
    pub epoch: i32,
}

impl SnapshotId {
    pub fn file_name(&self) -> String {
        format!("{:020}-{:010}{SUFFIX}", self.end_offset, self.epoch)
    }

    /// Parse a complete snapshot's file name; partial and deleted ones are not snapshots.
    pub fn parse(name: &str) -> Option<Self> {
        if name.ends_with(PARTIAL_SUFFIX) || name.ends_with(DELETED_SUFFIX) {
            return None;
        }
        let stem = name.strip_suffix(SUFFIX)?;
        let (offset, epoch) = stem.split_once('-')?;
        if offset.len() != 20 || epoch.len() != 10 {
            return None;
        }
        Some(Self {
            end_offset: offset.parse().ok()?,
            epoch: epoch.parse().ok()?,
        })
    }
}

/// The complete snapshots in `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<SnapshotId>> {
    let io = |source| MetadataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if let Some(id) = entry.file_name().to_str().and_then(SnapshotId::parse) {
            out.push(id);
        }
    }
    out.sort();
    Ok(out)
}

/// What a snapshot file holds.
#[derive(Debug)]
pub struct SnapshotContents {
    pub image: MetadataImage,
    pub kraft: KRaftState,
    pub last_contained_log_timestamp: i64,
}

/// Read and check a whole snapshot: header first, footer last, every batch whole and with
/// its CRC, every record replayable. Any defect is a [`MetadataError::Corrupt`] naming the
/// file.
pub fn read(dir: &Path, id: SnapshotId) -> Result<SnapshotContents> {
    let mut contents = read_path(&dir.join(id.file_name()))?;
    // The image stands for the log up to the snapshot's end offset.
    let p = &mut contents.image.provenance;
    p.last_offset = id.end_offset - 1;
    p.last_epoch = id.epoch;
    p.last_timestamp = contents.last_contained_log_timestamp;
    Ok(contents)
}

/// Read a file in snapshot format (a snapshot, or Kafka's `bootstrap.checkpoint`).
pub fn read_path(path: &Path) -> Result<SnapshotContents> {
    let path = path.to_path_buf();
    let data = fs::read(&path).map_err(|source| MetadataError::Io {
        path: path.clone(),
        source,
    })?;
    let corrupt = |offset: Option<i64>, message: String| MetadataError::Corrupt {
        path: path.clone(),
        offset,
        message,
    };
    let mut loader = MetadataLoader::new(MetadataImage::empty(), KRaftState::default());
    let mut header_timestamp = None;
    let mut footer = false;
    let mut pos = 0usize;
    while pos < data.len() {
        let b = RecordBatch::parse_stored(&data[pos..])
            .map_err(|e| corrupt(None, format!("batch at byte {pos}: {e}")))?;
        if footer {
            return Err(corrupt(
                Some(b.base_offset()),
                "data after the SnapshotFooter".into(),
            ));
        }
        if b.is_control() {
            // Header or footer batch: look at the control records' types first.
            for r in sluice_protocol::records::records(b.records()) {
                let r = r.map_err(|e| corrupt(Some(b.base_offset()), e.to_string()))?;
                let key = r.key.ok_or_else(|| {
                    corrupt(Some(b.base_offset()), "control record without a key".into())
                })?;
                match ControlRecord::decode(key, r.value.unwrap_or(&[]))
                    .map_err(|e| corrupt(Some(b.base_offset()), e.to_string()))?
                {
                    ControlRecord::SnapshotHeader(h) => {
                        if pos != 0 || header_timestamp.is_some() {
                            return Err(corrupt(
                                Some(b.base_offset()),
                                "SnapshotHeader not at the start".into(),
                            ));
                        }
                        header_timestamp = Some(h.last_contained_log_timestamp);
                    }
                    ControlRecord::SnapshotFooter(_) => footer = true,
                    _ => {}
                }
            }
        } else if header_timestamp.is_none() {
            return Err(corrupt(Some(b.base_offset()), "no SnapshotHeader".into()));
        }
        loader.replay_batch(&b, &path)?;
        pos += b.size();
    }
    let Some(last_contained_log_timestamp) = header_timestamp else {
        return Err(corrupt(None, "empty: no SnapshotHeader".into()));
    };
    if !footer {
        return Err(corrupt(
            None,
            "no SnapshotFooter: the file is incomplete".into(),
        ));
    }
    if loader.in_transaction() {
        return Err(corrupt(None, "a metadata transaction is not ended".into()));
    }
    let (image, kraft, _) = loader.finish();
    Ok(SnapshotContents {
        image,
        kraft,
        last_contained_log_timestamp,
    })
}

/// Write `records` (a whole image) and the raft state as snapshot `id`.
pub fn write(
    dir: &Path,
    id: SnapshotId,
    records: &[VersionedRecord],
    kraft: &KRaftState,
    last_contained_log_timestamp: i64,
    now_ms: i64,
) -> Result<PathBuf> {
    let path = dir.join(id.file_name());
    let part = dir.join(format!(
        "{}{PARTIAL_SUFFIX}",
        id.file_name().trim_end_matches(SUFFIX)
    ));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MetadataError::Io { path, source }
    };
    let mut out = Vec::new();
    let mut next_offset = 0i64;
    let mut push_batch =
        |out: &mut Vec<u8>, values: &[(Vec<u8>, Option<Vec<u8>>)], control: bool| {
            let entries: Vec<batch::KeyValue<'_>> = values
                .iter()
                .map(|(k, v)| ((!k.is_empty()).then_some(k.as_slice()), v.as_deref()))
                .collect();
            let mut b = batch::encode_batch_with(
                &entries,
                now_ms,
                if control { CONTROL_ATTRIBUTE } else { 0 },
                -1,
                -1,
                -1,
            );
            batch::set_base_offset(&mut b, next_offset);
            batch::set_partition_leader_epoch(&mut b, id.epoch);
            next_offset += values.len() as i64;
            out.extend_from_slice(&b);
        };
    // Header batch.
    let mut header = vec![ControlRecord::SnapshotHeader(SnapshotHeaderRecord {
        version: 0,
        last_contained_log_timestamp,
        ..Default::default()
    })];
    if kraft.kraft_version >= 1 {
        header.push(ControlRecord::KRaftVersion(KRaftVersionRecord {
            version: 0,
            kraft_version: kraft.kraft_version,
            ..Default::default()
        }));
        if let Some(voters) = &kraft.voters {
            header.push(ControlRecord::Voters(voters.clone()));
        }
    }
    let header: Vec<(Vec<u8>, Option<Vec<u8>>)> = header
        .iter()
        .map(|c| c.encode().map(|e| (e.key.to_vec(), Some(e.value))))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| MetadataError::Rejected(format!("snapshot header: {e}")))?;
    push_batch(&mut out, &header, true);
    // Data batches of at most MAX_BATCH_SIZE_BYTES.
    let mut values: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    let mut size = 0usize;
    for r in records {
        let v = encode_metadata_value(r)
            .map_err(|e| MetadataError::Rejected(format!("snapshot record: {e}")))?;
        if !values.is_empty() && size + v.len() + 32 > MAX_BATCH_SIZE_BYTES {
            push_batch(&mut out, &values, false);
            values.clear();
            size = 0;
        }
        size += v.len() + 32;
        values.push((Vec::new(), Some(v)));
    }
    if !values.is_empty() {
        push_batch(&mut out, &values, false);
    }
    let footer = ControlRecord::SnapshotFooter(SnapshotFooterRecord {
        version: 0,
        ..Default::default()
    })
    .encode()
    .map_err(|e| MetadataError::Rejected(format!("snapshot footer: {e}")))?;
    push_batch(&mut out, &[(footer.key.to_vec(), Some(footer.value))], true);

    {
        let mut f = fs::File::create(&part).map_err(io(&part))?;
        f.write_all(&out).map_err(io(&part))?;
        f.sync_all().map_err(io(&part))?;
    }
    fs::rename(&part, &path).map_err(io(&path))?;
    sluice_storage::checkpoint::sync_dir(dir)?;
    Ok(path)
}
