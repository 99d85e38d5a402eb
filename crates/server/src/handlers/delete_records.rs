//! DeleteRecords (API key 21), v0-2 (v2 is flexible; v1 changes nothing on the wire).
//!
//! - Moves each partition's log start offset up to `offset` (-1: the high watermark); records
//!   below it are no longer readable, whole segments below it are deleted (renamed to
//!   `.deleted`, removed after file.delete.delay.ms). An offset at or below the current log
//!   start changes nothing. `low_watermark` is the log start offset afterwards.
//! - Errors, as Kafka's ReplicaManager: unknown topic or partition UNKNOWN_TOPIC_OR_PARTITION
//!   (low_watermark -1); an offset past the high watermark or negative (other than -1)
//!   OFFSET_OUT_OF_RANGE; a topic whose cleanup.policy lacks `delete` POLICY_VIOLATION.
//! - The log start offsets are checkpointed before answering, so deleted records stay deleted
//!   across a crash.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use sluice_protocol::kafka_protocol::messages::{
    DeleteRecordsRequest, DeleteRecordsResponse, ResponseKind,
};
use sluice_storage::PartitionLog;
use std::sync::Arc;

/// DeleteRecordsRequest.HIGH_WATERMARK
const HIGH_WATERMARK: i64 = -1;

pub async fn handle(
    broker: &Broker,
    _ctx: &RequestContext<'_>,
    req: DeleteRecordsRequest,
) -> Reply {
    let mut resp = DeleteRecordsResponse::default();
    let mut changed = false;
    for t in &req.topics {
        let mut tr = DeleteRecordsTopicResult::default().with_name(t.name.clone());
        for p in &t.partitions {
            let mut pr = DeleteRecordsPartitionResult::default()
                .with_partition_index(p.partition_index)
                .with_low_watermark(-1);
            match broker.leader_log(t.name.as_str(), p.partition_index) {
                Err(e) => pr.error_code = e.code(),
                Ok(log) => match delete_below(log, p.offset).await {
                    Ok((low, moved)) => {
                        pr.low_watermark = low;
                        changed |= moved;
                    }
                    Err(code) => pr.error_code = code.code(),
                },
            }
            tr.partitions.push(pr);
        }
        resp.topics.push(tr);
    }
    if changed {
        // A small file write and fsync; off the async workers where the runtime allows it.
        let write = || broker.logs.checkpoint_log_start_offsets();
        let res = match tokio::runtime::Handle::current().runtime_flavor() {
            tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(write),
            _ => write(),
        };
        if let Err(e) = res {
            tracing::error!(error = %e, "writing log start offsets failed");
        }
    }
    Reply::Response(ResponseKind::DeleteRecords(resp))
}

/// Returns the new log start offset and whether it moved.
async fn delete_below(log: Arc<PartitionLog>, offset: i64) -> Result<(i64, bool), KafkaError> {
    if !log.config().cleanup_policy_delete {
        return Err(KafkaError::PolicyViolation);
    }
    let hw = log.high_watermark();
    let target = if offset == HIGH_WATERMARK { hw } else { offset };
    if target < 0 || target > hw {
        return Err(KafkaError::OffsetOutOfRange);
    }
    let before = log.log_start_offset();
    let res = tokio::task::spawn_blocking(move || log.maybe_increment_log_start_offset(target))
        .await
        .map_err(|_| KafkaError::UnknownServerError)?;
    match res {
        Ok(low) => Ok((low, low > before)),
        Err(e) => {
            tracing::error!(error = %e, "DeleteRecords failed");
            Err(KafkaError::KafkaStorageError)
        }
    }
}
