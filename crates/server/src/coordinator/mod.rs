//! Coordinators. [`group::GroupCoordinator`] runs consumer groups of Kafka's classic protocol
//! and keeps every group's committed offsets; [`consumer_group::ConsumerGroupCoordinator`] runs
//! KIP-848 consumer groups. Both keep their state as records in `__consumer_offsets`.

pub mod consumer_group;
pub mod consumer_records;
pub mod group;
pub mod records;
