//! What a broker answers clients about the cluster, read from the metadata image (Kafka's
//! KRaftMetadataCache): the alive brokers and their endpoints on a listener, a partition's
//! leader as a client may reach it, offline replicas.
//!
//! A broker is alive when it is registered and not fenced. The single-node broker registers
//! itself in its own metadata, so the same reading serves both modes.

use sluice_metadata::{MetadataImage, PartitionRegistration};

/// A broker's endpoint on one listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerEndpoint {
    pub id: i32,
    pub host: String,
    pub port: u16,
    pub rack: Option<String>,
}

/// The alive brokers with an endpoint on `listener`, by id.
pub fn alive_brokers(image: &MetadataImage, listener: &str) -> Vec<BrokerEndpoint> {
    image
        .cluster
        .brokers
        .values()
        .filter(|b| !b.record.fenced)
        .filter_map(|b| endpoint(image, b.id(), listener))
        .collect()
}

/// Broker `id`'s endpoint on `listener`, if it is registered (fenced or not) and has one.
pub fn endpoint(image: &MetadataImage, id: i32, listener: &str) -> Option<BrokerEndpoint> {
    let b = image.cluster.brokers.get(&id)?;
    let ep = b
        .record
        .end_points
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case(listener))?;
    Some(BrokerEndpoint {
        id,
        host: ep.host.clone(),
        port: ep.port,
        rack: b.record.rack.clone(),
    })
}

/// Whether broker `id` is registered and not fenced.
pub fn is_alive(image: &MetadataImage, id: i32) -> bool {
    image
        .cluster
        .brokers
        .get(&id)
        .is_some_and(|b| !b.record.fenced)
}

/// The replicas of `reg` on brokers that are not alive (Metadata v5+ offline_replicas).
pub fn offline_replicas(image: &MetadataImage, reg: &PartitionRegistration) -> Vec<i32> {
    reg.replicas
        .iter()
        .copied()
        .filter(|r| !is_alive(image, *r))
        .collect()
}

/// The leader of `reg` as a client on `listener` may use it: None when there is no leader, or
/// it is not alive, or it has no endpoint on the listener (LEADER_NOT_AVAILABLE).
pub fn reachable_leader(
    image: &MetadataImage,
    reg: &PartitionRegistration,
    listener: &str,
) -> Option<BrokerEndpoint> {
    if reg.leader < 0 || !is_alive(image, reg.leader) {
        return None;
    }
    endpoint(image, reg.leader, listener)
}
