//! The Sluice broker: listeners, connections, one handler file per API, this node's controller
//! (the writer of the cluster metadata), coordinators and configuration.

pub mod blocking;
pub mod broker;
pub mod cluster;
pub mod config;
pub mod config_def;
pub mod controller;
pub mod coordinator;
pub mod dynamic_config;
pub mod fetch_session;
pub mod handlers;
pub mod kafka_uuid;
pub mod meta_properties;
pub mod metadata_cache;
pub mod metadata_publisher;
pub mod network;
pub mod producer_ids;
pub mod purgatory;
pub mod replica;
pub mod server;
pub mod topic_config;
pub mod topic_policy;
pub mod topics;
