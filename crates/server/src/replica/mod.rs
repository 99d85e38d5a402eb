//! Replication (Kafka's ReplicaManager and what it drives): the local replicas
//! ([`partition::Partition`]), their manager ([`manager::ReplicaManager`]), the followers'
//! fetchers ([`fetcher::ReplicaFetcherManager`]) and the ISR changes sent to the controller
//! ([`alter_partition`]).

pub mod alter_partition;
pub mod delayed_produce;
pub mod fetcher;
pub mod manager;
pub mod partition;

pub use manager::{ReplicaConfig, ReplicaManager};
pub use partition::{LeaderInfo, Partition, PartitionError, Transition};
