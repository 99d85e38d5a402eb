//! Error translations shared by the transaction APIs.

use sluice_protocol::error::KafkaError;

/// Clients before KIP-588 do not know PRODUCER_FENCED: Kafka answers INVALID_PRODUCER_EPOCH to
/// request versions below `since` (InitProducerId 4, AddPartitionsToTxn / AddOffsetsToTxn /
/// EndTxn / TxnOffsetCommit 2).
pub fn fenced_for_version(e: KafkaError, version: i16, since: i16) -> KafkaError {
    if e == KafkaError::ProducerFenced && version < since {
        KafkaError::InvalidProducerEpoch
    } else {
        e
    }
}
