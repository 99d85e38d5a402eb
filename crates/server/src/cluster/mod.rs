//! A Sluice broker in a KRaft cluster (`process.roles=broker`): the controller quorum decides
//! the metadata, this broker follows it.
//!
//! - [`channel`]: connections to other nodes (controllers, brokers).
//! - [`raft`]: QuorumObserver, following the controllers' metadata log.

pub mod channel;
pub mod raft;
