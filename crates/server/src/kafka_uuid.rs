//! Kafka's textual form of UUIDs: the storage crate's (partition.metadata needs it there).

pub use sluice_storage::kafka_uuid::*;

/// A fixed id per topic name, for tests that reopen logs (a random one each time would be a
/// different topic: INCONSISTENT_TOPIC_ID).
#[cfg(test)]
pub(crate) fn test_topic_id(topic: &str) -> uuid::Uuid {
    let h = topic.bytes().fold(0xcbf2_9ce4_8422_2325_u128, |h, b| {
        (h ^ u128::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    uuid::Uuid::from_u128(h | 2)
}
