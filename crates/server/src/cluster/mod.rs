//! A Sluice broker in a KRaft cluster (`process.roles=broker`): the controller quorum decides
//! the metadata, this broker follows it.
//!
//! - [`config`]: `process.roles` and a cluster broker's settings.
//! - [`channel`]: connections to other nodes (controllers, brokers).
//! - [`raft`]: QuorumObserver, following the controllers' metadata log.
//! - [`lifecycle`]: BrokerLifecycleManager, registration and heartbeats.
//! - [`member`]: ClusterMember, what the broker holds of the cluster and asks the controller.
//! - [`start`]: a cluster broker's start-up.

pub mod channel;
pub mod config;
pub mod lifecycle;
pub mod member;
pub mod raft;
pub mod start;
