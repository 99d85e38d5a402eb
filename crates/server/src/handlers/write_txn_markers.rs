//! WriteTxnMarkers (API key 27), v1-2 (flexible; v0 is gone from Kafka 4). v2 (KIP-1228) adds a
//! per-marker transaction_version: 2 makes the partition's check strict (the marker must bump
//! the producer's epoch, as transactions v2 markers do). The codec crate (Kafka 4.1 schemas)
//! stops at v1, so v2 requests are decoded by `sluice_protocol::write_txn_markers_v2` and
//! answered through [`handle_v2`] (the v2 response has v1's layout).
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
use crate::replica::delayed_produce::{wait_for_acks, PendingAck};
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::write_txn_markers_request::WritableTxnMarker;
use sluice_protocol::kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use sluice_protocol::kafka_protocol::messages::{
    ResponseKind, WriteTxnMarkersRequest, WriteTxnMarkersResponse,
};
use sluice_protocol::write_txn_markers_v2::MarkerV2;
use sluice_storage::TxnMarker;

/// How long a marker waits for the ISR (Kafka: request.timeout.ms, 30 s).
const MARKER_ACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext<'_>,
    req: WriteTxnMarkersRequest,
) -> Reply {
    let markers: Vec<(&WritableTxnMarker, i16)> = req.markers.iter().map(|m| (m, 0)).collect();
    Reply::Response(ResponseKind::WriteTxnMarkers(write(broker, &markers).await))
}

/// WriteTxnMarkers v2, decoded by our own decoder.
pub async fn handle_v2(broker: &Broker, markers: &[MarkerV2]) -> WriteTxnMarkersResponse {
    let markers: Vec<(&WritableTxnMarker, i16)> = markers
        .iter()
        .map(|m| (&m.marker, i16::from(m.transaction_version)))
        .collect();
    write(broker, &markers).await
}

async fn write(broker: &Broker, markers: &[(&WritableTxnMarker, i16)]) -> WriteTxnMarkersResponse {
    let mut resp = WriteTxnMarkersResponse::default();
    for (m, transaction_version) in markers {
        let marker = TxnMarker {
            producer_id: m.producer_id.0,
            producer_epoch: m.producer_epoch,
            coordinator_epoch: m.coordinator_epoch,
            commit: m.transaction_result,
            transaction_version: *transaction_version,
        };
        let mut result = WritableTxnMarkerResult::default().with_producer_id(m.producer_id);
        for t in &m.topics {
            let mut tr = WritableTxnMarkerTopicResult::default().with_name(t.name.clone());
            for p in &t.partition_indexes {
                let err = match broker.leader_log(t.name.as_str(), *p) {
                    Err(e) => Some(e),
                    Ok(log) => match log.append_control_marker(&marker, log.leader_epoch()) {
                        Ok(info) => {
                            if t.name.as_str() == OFFSETS_TOPIC {
                                broker
                                    .groups
                                    .complete_txn(*p, marker.producer_id, marker.commit);
                            }
                            let synced = if log.config().fsync_before_ack {
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
                            };
                            // Markers are written with acks=all (Kafka's WriteTxnMarkers).
                            match (synced, broker.replicas.partition(t.name.as_str(), *p)) {
                                (None, Some(part)) if part.is_replicated() => {
                                    broker.replicas.on_leader_append(&part);
                                    wait_for_acks(
                                        &broker.purgatory,
                                        &[PendingAck {
                                            partition: part,
                                            required_offset: info.last_offset + 1,
                                        }],
                                        MARKER_ACK_TIMEOUT,
                                    )
                                    .await
                                    .pop()
                                    .flatten()
                                }
                                (synced, _) => synced,
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
    resp
}
