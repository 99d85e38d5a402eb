//! WriteTxnMarkersRequest v2 (Kafka 4.2+, KIP-1228), which the codec crate (Kafka 4.1 schemas)
//! does not know: v1's fields plus a per-marker `transaction_version` (int8). Flexible:
//! markers (compact array) of {producer_id int64, producer_epoch int16, transaction_result
//! bool, topics (compact array) of {name compact string, partition_indexes compact []int32,
//! tags}, coordinator_epoch int32, transaction_version int8, tags}, tags. Every count is checked
//! against the bytes present ([`WireReader`]). The v2 response has v1's layout.

use crate::wire::{WireError, WireReader};
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{ProducerId, TopicName};
use kafka_protocol::protocol::StrBytes;

/// One marker of a v2 request and its transaction version.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkerV2 {
    pub marker: WritableTxnMarker,
    pub transaction_version: i8,
}

pub fn decode_write_txn_markers_v2(body: &[u8]) -> Result<Vec<MarkerV2>, WireError> {
    let mut r = WireReader::new(body);
    // A marker takes at least 8 + 2 + 1 + 1 + 4 + 1 + 1 bytes; a topic at least 3.
    let n = r.compact_array_len(18)?.unwrap_or(0);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let producer_id = r.i64()?;
        let producer_epoch = r.i16()?;
        let transaction_result = r.i8()? != 0;
        let topics_n = r.compact_array_len(3)?.unwrap_or(0);
        let mut topics = Vec::with_capacity(topics_n);
        for _ in 0..topics_n {
            let name = r.compact_string()?;
            let parts_n = r.compact_array_len(4)?.unwrap_or(0);
            let mut partition_indexes = Vec::with_capacity(parts_n);
            for _ in 0..parts_n {
                partition_indexes.push(r.i32()?);
            }
            r.tagged_fields(|_, _| Ok(()))?;
            topics.push(
                WritableTxnMarkerTopic::default()
                    .with_name(TopicName(StrBytes::from_string(name)))
                    .with_partition_indexes(partition_indexes),
            );
        }
        let coordinator_epoch = r.i32()?;
        let transaction_version = r.i8()?;
        r.tagged_fields(|_, _| Ok(()))?;
        out.push(MarkerV2 {
            marker: WritableTxnMarker::default()
                .with_producer_id(ProducerId(producer_id))
                .with_producer_epoch(producer_epoch)
                .with_transaction_result(transaction_result)
                .with_topics(topics)
                .with_coordinator_epoch(coordinator_epoch),
            transaction_version,
        });
    }
    r.tagged_fields(|_, _| Ok(()))?;
    if r.remaining() != 0 {
        return Err(WireError::BadLength {
            pos: r.position(),
            len: r.remaining() as i64,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{put_compact_nullable_string, put_uvarint};
    use bytes::BufMut;

    fn v2_body(tv: i8) -> Vec<u8> {
        let mut b = Vec::new();
        put_uvarint(&mut b, 2); // one marker
        b.put_i64(7);
        b.put_i16(3);
        b.put_i8(1);
        put_uvarint(&mut b, 2); // one topic
        put_compact_nullable_string(&mut b, Some("t"));
        put_uvarint(&mut b, 3); // two partitions
        b.put_i32(0);
        b.put_i32(4);
        put_uvarint(&mut b, 0);
        b.put_i32(9);
        b.put_i8(tv);
        put_uvarint(&mut b, 0);
        put_uvarint(&mut b, 0);
        b
    }

    #[test]
    fn decodes_markers_with_their_transaction_version() {
        let m = decode_write_txn_markers_v2(&v2_body(2)).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].transaction_version, 2);
        assert_eq!(m[0].marker.producer_id, ProducerId(7));
        assert!(m[0].marker.transaction_result);
        assert_eq!(m[0].marker.coordinator_epoch, 9);
        assert_eq!(m[0].marker.topics[0].partition_indexes, vec![0, 4]);
    }

    #[test]
    fn truncated_and_hostile_bodies_are_errors() {
        let b = v2_body(2);
        for cut in 0..b.len() {
            assert!(
                decode_write_txn_markers_v2(&b[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut huge = Vec::new();
        put_uvarint(&mut huge, u32::MAX as u64);
        assert!(decode_write_txn_markers_v2(&huge).is_err());
        let mut trailing = b.clone();
        trailing.push(0);
        assert!(decode_write_txn_markers_v2(&trailing).is_err());
    }
}
