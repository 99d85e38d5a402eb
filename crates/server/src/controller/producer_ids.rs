//! ProducerIdControlManager: hands out blocks of producer ids, each recorded as a
//! ProducerIdsRecord (the next block's first id) before any id of it is used, so no id is ever
//! handed out twice, across restarts and crashes alike; a crash wastes at most the rest of one
//! block. Kafka's brokers ask their controller for a block with AllocateProducerIds; this
//! node's broker side asks its own controller.

use std::sync::Mutex;

use sluice_protocol::error::KafkaError;
use sluice_protocol::metadata::{MetadataRecord, ProducerIdsRecord};

use super::{versioned, Controller};
use crate::broker::ApiError;

/// Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE.
pub const BLOCK_SIZE: i64 = 1000;

/// The block the broker side is using: `next..end`.
#[derive(Debug, Default)]
struct Block {
    next: i64,
    end: i64,
}

#[derive(Debug, Default)]
pub struct ProducerIdControlManager {
    block: Mutex<Block>,
}

impl ProducerIdControlManager {
    /// A producer id never handed out before (a new block is committed when the current one
    /// is used up). Blocks on I/O when it commits.
    pub fn generate(&self, controller: &Controller) -> Result<i64, ApiError> {
        let mut b = self.block.lock().unwrap_or_else(|p| p.into_inner());
        if b.next >= b.end {
            let node = controller.node_id();
            let ((first, end), _) = controller.commit(
                |image| {
                    let first = image.producer_ids.next_producer_id.max(0);
                    let end = first.checked_add(BLOCK_SIZE).ok_or_else(|| {
                        ApiError::new(
                            KafkaError::UnknownServerError,
                            "Exhausted all producerIds as the next block's end producerId has exceeded the int64 type limit",
                        )
                    })?;
                    let epoch = image
                        .cluster
                        .brokers
                        .get(&node)
                        .map_or(-1, |r| r.epoch());
                    let record = ProducerIdsRecord {
                        broker_id: node,
                        broker_epoch: epoch,
                        next_producer_id: end,
                        ..Default::default()
                    };
                    Ok((
                        vec![versioned(MetadataRecord::ProducerIds(record), 0)],
                        (first, end),
                    ))
                },
                |_| {},
            )?;
            b.next = first;
            b.end = end;
        }
        let id = b.next;
        b.next += 1;
        Ok(id)
    }
}
