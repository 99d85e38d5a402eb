//! Coordinators. [`group::GroupCoordinator`] runs consumer groups of Kafka's classic protocol
//! and keeps every group's committed offsets; [`consumer_group::ConsumerGroupCoordinator`] runs
//! KIP-848 consumer groups. Both keep their state as records in `__consumer_offsets`.
//! [`transaction::TransactionCoordinator`] runs transactions, with its state in
//! `__transaction_state`.

pub mod consumer_group;
pub mod consumer_protocol;
pub mod consumer_records;
pub mod group;
pub mod records;
pub mod transaction;
pub mod txn_records;

use sluice_protocol::batch::{self, Compression};
use sluice_storage::PartitionLog;
use std::collections::HashSet;

/// The id a key of `__consumer_offsets` (group id) or `__transaction_state` (transactional id)
/// is for: every key of both topics is an int16 type/version, then that id as an int16-length
/// string. None for a key too short or not UTF-8.
pub fn key_id(key: &[u8]) -> Option<&str> {
    let len = i16::from_be_bytes([*key.get(2)?, *key.get(3)?]);
    let len = usize::try_from(len).ok()?;
    std::str::from_utf8(key.get(4..4 + len)?).ok()
}

/// Which records of an internal topic a start-up replay applies, when some were written by
/// Sluice before it placed ids in Kafka's partition ([`records::partition_for`]): those of an id
/// with a negative hash code went to [`records::legacy_partition_for`]. Every partition is
/// replayed, in no particular order. A record of a key found in its id's legacy partition is
/// older than any record of that key in the id's partition (written since), so it is applied
/// only while none of those has been.
pub struct Placement {
    partitions: i32,
    /// Keys (of ids whose two partitions differ) replayed from their id's partition.
    current: HashSet<Vec<u8>>,
}

impl Placement {
    pub fn new(partitions: i32) -> Self {
        Self {
            partitions,
            current: HashSet::new(),
        }
    }

    /// Whether the record with `key` read from `partition` is to be applied.
    pub fn admit(&mut self, key: &[u8], partition: i32) -> bool {
        let Some(id) = key_id(key) else {
            return true;
        };
        let home = records::partition_for(id, self.partitions);
        let legacy = records::legacy_partition_for(id, self.partitions);
        if home == legacy {
            return true;
        }
        if partition == home {
            self.current.insert(key.to_vec());
            return true;
        }
        !self.current.contains(key)
    }
}

/// An internal topic's contents as a coordinator replays them.
pub enum LogEntry<'a> {
    /// A record; `producer_id` is set when it belongs to a transaction (TxnOffsetCommit).
    Record {
        key: &'a [u8],
        value: Option<&'a [u8]>,
        producer_id: Option<i64>,
    },
    /// A transaction marker.
    Marker { producer_id: i64, commit: bool },
}

/// Calls `f` for every keyed record and every transaction marker of `log`, in log order, up to
/// the high watermark (a coordinator's start-up replay). A batch that cannot be decompressed
/// is skipped.
pub fn scan_log(log: &PartitionLog, mut f: impl FnMut(LogEntry<'_>)) {
    let mut offset = log.log_start_offset();
    let end = log.high_watermark();
    let mut scratch = Vec::new();
    while offset < end {
        let data = match log.read(offset, 1 << 20, true, None) {
            Ok(d) => d.into_bytes(),
            Err(e) => {
                tracing::error!(tp = %log.topic_partition(), error = %e, "reading an internal topic failed");
                return;
            }
        };
        if data.is_empty() {
            return;
        }
        for b in batch::batches(&data) {
            let Ok(b) = b else { return };
            offset = b.next_offset();
            if b.is_control() {
                if let Ok(Some(m)) = sluice_protocol::records::parse_end_txn_marker(&b) {
                    f(LogEntry::Marker {
                        producer_id: b.producer_id(),
                        commit: m.commit,
                    });
                }
                continue;
            }
            let producer_id = b.is_transactional().then(|| b.producer_id());
            let records: &[u8] = match b.compression() {
                Ok(Compression::None) => b.records(),
                Ok(codec) => {
                    scratch.clear();
                    if sluice_protocol::compression::decompress_into(
                        codec,
                        b.records(),
                        1 << 28,
                        &mut scratch,
                    )
                    .is_err()
                    {
                        tracing::warn!(tp = %log.topic_partition(), offset = b.base_offset(), "skipping a batch that does not decompress");
                        continue;
                    }
                    &scratch
                }
                Err(_) => continue,
            };
            for r in sluice_protocol::records::records(records).flatten() {
                if let Some(key) = r.key {
                    f(LogEntry::Record {
                        key,
                        value: r.value,
                        producer_id,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_legacy_placement() {
        let key = records::Key::Offset {
            group: "dd-classic".into(),
            topic: "t".into(),
            partition: 0,
        }
        .encode();
        assert_eq!(key_id(&key), Some("dd-classic"));
        assert_eq!(
            key_id(&txn_records::encode_key("dd-txn-id")),
            Some("dd-txn-id")
        );
        assert_eq!(key_id(&[0, 1, 0]), None);
        // dd-classic: Kafka's partition 5 of 50, Sluice's before 43.
        let mut p = Placement::new(50);
        assert!(p.admit(&key, 43), "legacy first: applied");
        assert!(p.admit(&key, 5));
        assert!(
            !p.admit(&key, 43),
            "legacy after a current record: older, skipped"
        );
        let other = records::Key::Group {
            group: "dd-classic".into(),
        }
        .encode();
        assert!(p.admit(&other, 43), "another key of the id: applied");
        // A positive hash code: the same partition either way, always applied.
        let same = records::Key::Group {
            group: "dd-txn-abort".into(),
        }
        .encode();
        assert!(p.admit(&same, 26) && p.admit(&same, 26));
    }
}
