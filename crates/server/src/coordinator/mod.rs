//! Coordinators. [`group::GroupCoordinator`] runs consumer groups (Kafka's classic protocol)
//! and keeps committed offsets, with its state as records in `__consumer_offsets`.

pub mod consumer_group;
pub mod consumer_records;
pub mod group;
pub mod records;
