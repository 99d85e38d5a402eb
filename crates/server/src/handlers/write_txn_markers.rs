//! WriteTxnMarkers (API key 27), v1 (flexible; v0 is gone from Kafka 4). Kafka 4.3's v2 adds
//! a per-marker transaction_version (KIP-1228) that the codec crate (Kafka 4.1 schemas) does
//! not decode yet, so v2 is not served and markers are written as transaction version 0/1.
//!
//! Sent by a transaction coordinator to partition leaders, and by the Admin client's
//! abortTransaction (`kafka-transactions.sh abort`) to end a hanging transaction. Each marker is
//! a COMMIT or ABORT control batch appended to each named partition, checked by the
//! partition's producer state (INVALID_PRODUCER_EPOCH for an epoch below the producer's,
//! TRANSACTION_COORDINATOR_FENCED for an older coordinator epoch). Unknown partitions:
//! UNKNOWN_TOPIC_OR_PARTITION. A marker into `__consumer_offsets` also completes the group
//! coordinator's pending transactional offsets.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use crate::coordinator::group::OFFSETS_TOPIC;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use sluice_protocol::kafka_protocol::messages::{
    ResponseKind, WriteTxnMarkersRequest, WriteTxnMarkersResponse,
};
use sluice_storage::TxnMarker;

pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext<'_>,
    req: WriteTxnMarkersRequest,
) -> Reply {
    let mut resp = WriteTxnMarkersResponse::default();
    for m in &req.markers {
        let marker = TxnMarker {
            producer_id: m.producer_id.0,
            producer_epoch: m.producer_epoch,
            coordinator_epoch: m.coordinator_epoch,
            commit: m.transaction_result,
            transaction_version: 0,
        };
        let mut result = WritableTxnMarkerResult::default().with_producer_id(m.producer_id);
        for t in &m.topics {
            let mut tr = WritableTxnMarkerTopicResult::default().with_name(t.name.clone());
            for p in &t.partition_indexes {
                let err = match broker.log(t.name.as_str(), *p) {
                    None => Some(KafkaError::UnknownTopicOrPartition),
                    Some(log) => match log.append_control_marker(&marker, 0) {
                        Ok(info) => {
                            if t.name.as_str() == OFFSETS_TOPIC {
                                broker
                                    .groups
                                    .complete_txn(*p, marker.producer_id, marker.commit);
                            }
                            if log.config().fsync_before_ack {
                                let log = log.clone();
                                match tokio::task::spawn_blocking(move || {
                                    log.sync_to(info.last_offset)
                                })
                                .await
                                {
                                    Ok(Ok(())) => None,
                                    _ => Some(KafkaError::KafkaStorageError),
                                }
                            } else {
                                None
                            }
                        }
                        Err(e) => Some(
                            KafkaError::try_from_code(e.kafka_error_code())
                                .unwrap_or(KafkaError::UnknownServerError),
                        ),
                    },
                };
                tr.partitions.push(
                    WritableTxnMarkerPartitionResult::default()
                        .with_partition_index(*p)
                        .with_error_code(err.map(|e| e.code()).unwrap_or(0)),
                );
            }
            result.topics.push(tr);
        }
        resp.markers.push(result);
    }
    Reply::Response(ResponseKind::WriteTxnMarkers(resp))
}
