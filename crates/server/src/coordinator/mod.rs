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
