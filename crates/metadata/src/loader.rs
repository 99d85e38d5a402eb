//! MetadataLoader: replays record batches of the metadata log (or of a snapshot) into a
//! [`MetadataImage`], as Kafka's MetadataLoader / MetadataBatchLoader do.
//!
//! - Data batches hold metadata records (null key, value = Kafka's MetadataRecordSerde frame).
//! - Control batches hold KRaft records: LeaderChange, SnapshotHeader/Footer, KRaftVersion,
//!   Voters. kraft.version and the voter set are the raft layer's state, kept beside the image.
//! - Metadata transactions (KIP-866): records between a BeginTransactionRecord and its
//!   EndTransactionRecord become visible together; an AbortTransactionRecord drops them, and a
//!   transaction still open at the end of the log is not applied.

use std::path::Path;

use sluice_protocol::batch::{Compression, RecordBatch};
use sluice_protocol::metadata::{
    decode_metadata_value, ControlRecord, MetadataRecord, VotersRecord,
};
use uuid::Uuid;

use crate::error::{MetadataError, Result};
use crate::image::{MetadataImage, MetadataProvenance};

/// The largest decompressed batch the loader accepts (Kafka's metadata batches are at most
/// 8 MiB; a compressed one may not inflate past this).
pub const MAX_DECOMPRESSED_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// The raft layer's state carried by control records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KRaftState {
    /// kraft.version (0: static voters from `controller.quorum.voters`).
    pub kraft_version: i16,
    /// The voter set, when kraft.version >= 1 (KRaftVoters control record).
    pub voters: Option<VotersRecord>,
}

/// A topic a RemoveTopicRecord removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedTopic {
    pub id: Uuid,
    pub name: String,
    /// The offset of the RemoveTopicRecord.
    pub offset: i64,
}

/// Replays batches; see the module docs.
#[derive(Debug)]
pub struct MetadataLoader {
    /// Everything outside an open transaction.
    published: MetadataImage,
    /// While a transaction is open: the published image plus the transaction's records.
    in_transaction: Option<MetadataImage>,
    removed_in_transaction: Vec<RemovedTopic>,
    kraft: KRaftState,
    removed: Vec<RemovedTopic>,
    records: u64,
    batches: u64,
    /// KRaftVoters control records replayed.
    voters_records: u64,
    scratch: Vec<u8>,
}

impl MetadataLoader {
    pub fn new(image: MetadataImage, kraft: KRaftState) -> Self {
        Self {
            published: image,
            in_transaction: None,
            removed_in_transaction: Vec::new(),
            kraft,
            removed: Vec::new(),
            records: 0,
            batches: 0,
            voters_records: 0,
            scratch: Vec::new(),
        }
    }

    /// The image of every complete change so far.
    pub fn image(&self) -> &MetadataImage {
        &self.published
    }

    pub fn kraft(&self) -> &KRaftState {
        &self.kraft
    }

    /// Whether a metadata transaction is open (its records are not in [`image`](Self::image)).
    pub fn in_transaction(&self) -> bool {
        self.in_transaction.is_some()
    }

    /// Records and batches replayed.
    pub fn counts(&self) -> (u64, u64) {
        (self.records, self.batches)
    }

    /// Whether a KRaftVoters control record was replayed (from these batches, not from the
    /// snapshot the loader started from).
    pub fn saw_voters(&self) -> bool {
        self.voters_records > 0
    }

    /// The loaded image, the kraft state and the topics removed by the replayed records.
    pub fn finish(self) -> (MetadataImage, KRaftState, Vec<RemovedTopic>) {
        (self.published, self.kraft, self.removed)
    }

    /// Replay one stored batch from `source` (CRC-checked here).
    pub fn replay_batch(&mut self, batch: &RecordBatch<'_>, source: &Path) -> Result<()> {
        let offset = batch.base_offset();
        let corrupt = |message: String| MetadataError::Corrupt {
            path: source.to_path_buf(),
            offset: Some(offset),
            message,
        };
        batch
            .verify_crc()
            .map_err(|e| corrupt(format!("record batch: {e}")))?;
        let compression = batch
            .compression()
            .map_err(|e| corrupt(format!("record batch: {e}")))?;
        let mut scratch = std::mem::take(&mut self.scratch);
        let records: &[u8] = match compression {
            Compression::None => batch.records(),
            codec => {
                scratch.clear();
                sluice_protocol::compression::decompress_into(
                    codec,
                    batch.records(),
                    MAX_DECOMPRESSED_BATCH_BYTES,
                    &mut scratch,
                )
                .map_err(|e| corrupt(format!("record batch does not decompress: {e}")))?;
                &scratch
            }
        };
        let result = self.replay_records(batch, records, source);
        self.scratch = scratch;
        result?;
        self.batches += 1;
        if !batch.is_control() {
            let provenance = MetadataProvenance {
                last_offset: batch.last_offset(),
                last_epoch: batch.partition_leader_epoch(),
                last_timestamp: batch.max_timestamp(),
            };
            match &mut self.in_transaction {
                Some(image) => image.provenance = provenance,
                None => self.published.provenance = provenance,
            }
        }
        Ok(())
    }

    fn replay_records(
        &mut self,
        batch: &RecordBatch<'_>,
        records: &[u8],
        source: &Path,
    ) -> Result<()> {
        let base = batch.base_offset();
        let mut count = 0i64;
        for (i, r) in sluice_protocol::records::records(records).enumerate() {
            let offset = base + i as i64;
            let corrupt = |message: String| MetadataError::Corrupt {
                path: source.to_path_buf(),
                offset: Some(offset),
                message,
            };
            let r = r.map_err(|e| corrupt(format!("record: {e}")))?;
            count += 1;
            if batch.is_control() {
                let key = r
                    .key
                    .ok_or_else(|| corrupt("control record without a key".into()))?;
                let value = r.value.unwrap_or(&[]);
                match ControlRecord::decode(key, value).map_err(|e| corrupt(e.to_string()))? {
                    ControlRecord::KRaftVersion(v) => self.kraft.kraft_version = v.kraft_version,
                    ControlRecord::Voters(v) => {
                        self.kraft.voters = Some(v);
                        self.voters_records += 1;
                    }
                    ControlRecord::LeaderChange(_)
                    | ControlRecord::SnapshotHeader(_)
                    | ControlRecord::SnapshotFooter(_) => {}
                }
            } else {
                let value = r
                    .value
                    .ok_or_else(|| corrupt("metadata record without a value".into()))?;
                let record = decode_metadata_value(value).map_err(|e| corrupt(e.to_string()))?;
                self.replay(&record.record, offset, source)?;
                self.records += 1;
            }
        }
        if count != i64::from(batch.last_offset_delta()) + 1 {
            return Err(MetadataError::Corrupt {
                path: source.to_path_buf(),
                offset: Some(base),
                message: format!(
                    "batch declares {} records but holds {count}",
                    i64::from(batch.last_offset_delta()) + 1
                ),
            });
        }
        Ok(())
    }

    fn replay(&mut self, record: &MetadataRecord, offset: i64, source: &Path) -> Result<()> {
        let err = |message: &str| MetadataError::Corrupt {
            path: source.to_path_buf(),
            offset: Some(offset),
            message: message.to_string(),
        };
        match record {
            MetadataRecord::BeginTransaction(_) => {
                if self.in_transaction.is_some() {
                    return Err(err(
                        "BeginTransactionRecord while a metadata transaction is open",
                    ));
                }
                self.in_transaction = Some(self.published.clone());
                return Ok(());
            }
            MetadataRecord::EndTransaction(_) => {
                let image = self
                    .in_transaction
                    .take()
                    .ok_or_else(|| err("EndTransactionRecord without a BeginTransactionRecord"))?;
                self.published = image;
                self.removed.append(&mut self.removed_in_transaction);
                return Ok(());
            }
            MetadataRecord::AbortTransaction(_) => {
                if self.in_transaction.take().is_none() {
                    return Err(err(
                        "AbortTransactionRecord without a BeginTransactionRecord",
                    ));
                }
                self.removed_in_transaction.clear();
                return Ok(());
            }
            _ => {}
        }
        let (image, removed) = match &mut self.in_transaction {
            Some(image) => (image, &mut self.removed_in_transaction),
            None => (&mut self.published, &mut self.removed),
        };
        if let MetadataRecord::RemoveTopic(r) = record {
            if let Some(t) = image.topics.get_by_id(&r.topic_id) {
                removed.push(RemovedTopic {
                    id: r.topic_id,
                    name: t.name.clone(),
                    offset,
                });
            }
        }
        image.replay(record).map_err(|e| MetadataError::Replay {
            path: source.to_path_buf(),
            offset,
            source: e,
        })
    }
}
