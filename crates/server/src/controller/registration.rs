//! At start-up, this node takes its place in the metadata as a Kafka broker does when it joins
//! and as the controller then reacts: an earlier incarnation that did not shut down cleanly is
//! fenced first and its partitions lose their leader (Kafka's session expiry); then its
//! registration (RegisterBrokerRecord: listeners,
//! supported features, rack, log dir ids; unfenced), and leadership of every partition — a
//! partition led by another broker or by none (an Apache Kafka node that shut down, say) is
//! taken over with a PartitionChangeRecord, which bumps its leader epoch as Kafka's election
//! does; a replica whose log dir id is not the one it lives in is corrected the same way.
//!
//! Sluice runs one node: metadata naming other brokers as replicas (a data directory of a
//! multi-broker Kafka cluster) is refused with an error.

use std::collections::BTreeMap;

use sluice_metadata::{MetadataImage, MetadataVersion};
use sluice_protocol::metadata::{
    BrokerEndpoint, BrokerFeature, BrokerRegistrationChangeRecord, MetadataRecord,
    PartitionChangeRecord, RegisterBrokerRecord, VersionedRecord,
};
use uuid::Uuid;

use super::{features, versioned};

/// What this broker registers with.
#[derive(Debug, Clone)]
pub struct LocalBroker {
    pub node_id: i32,
    /// Advertised endpoints: (listener name, host, port, security protocol id).
    pub endpoints: Vec<(String, String, u16, i16)>,
    pub rack: Option<String>,
    /// The directory id of every log dir, in `log.dirs` order.
    pub log_dir_ids: Vec<Uuid>,
}

/// Metadata that belongs to a cluster of several brokers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignBrokers {
    pub broker_ids: Vec<i32>,
    pub example: String,
}

impl std::fmt::Display for ForeignBrokers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the cluster metadata names other brokers ({}), e.g. {}; Sluice runs a single node and opens data directories of single-node clusters only",
            self.broker_ids
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            self.example
        )
    }
}

/// Refuse metadata in which a partition has a replica other than `node`.
pub fn check_single_node(image: &MetadataImage, node: i32) -> Result<(), ForeignBrokers> {
    let mut others = std::collections::BTreeSet::new();
    let mut example = None;
    for t in image.topics.iter() {
        for (p, reg) in &t.partitions {
            for r in reg.replicas.iter().filter(|r| **r != node) {
                others.insert(*r);
                example.get_or_insert_with(|| {
                    format!("partition {}-{p} has replicas {:?}", t.name, reg.replicas)
                });
            }
        }
    }
    match example {
        None => Ok(()),
        Some(example) => Err(ForeignBrokers {
            broker_ids: others.into_iter().collect(),
            example,
        }),
    }
}

/// The records that register `me` and make it lead every partition with its replica in the
/// log dir `placement` names (topic name, partition) -> log dir id. `next_offset` is the
/// offset the first record will get (Kafka's broker epoch is the offset of the registration).
pub fn start_records(
    image: &MetadataImage,
    me: &LocalBroker,
    placement: &BTreeMap<(String, i32), Uuid>,
    next_offset: i64,
) -> Vec<VersionedRecord> {
    let mv = image.metadata_version().unwrap_or(MetadataVersion::LATEST);
    let version = mv.partition_record_version();
    let mut out = Vec::new();
    let mut image = std::borrow::Cow::Borrowed(image);
    // The last incarnation stopped without its controlled shutdown (killed, or a Kafka node
    // killed before Sluice opened its dirs): Kafka's controller fences it when its session
    // expires and its partitions lose their leader. So here, before this incarnation registers.
    if let Some(old) = image
        .cluster
        .brokers
        .get(&me.node_id)
        .filter(|b| !b.fenced())
        .map(|b| b.epoch())
    {
        let mut fence = Vec::new();
        for t in image.topics.iter() {
            for (p, reg) in &t.partitions {
                if reg.leader == me.node_id {
                    fence.push(versioned(
                        MetadataRecord::PartitionChange(PartitionChangeRecord {
                            partition_id: *p,
                            topic_id: t.id,
                            leader: -1,
                            ..Default::default()
                        }),
                        version,
                    ));
                }
            }
        }
        fence.push(versioned(
            MetadataRecord::BrokerRegistrationChange(BrokerRegistrationChangeRecord {
                broker_id: me.node_id,
                broker_epoch: old,
                fenced: 1,
                ..Default::default()
            }),
            0,
        ));
        let mut next = image.into_owned();
        for r in &fence {
            // Built from the image itself: they apply.
            let _ = next.replay(&r.record);
        }
        image = std::borrow::Cow::Owned(next);
        out.extend(fence);
    }
    let wanted = registration(me, mv, next_offset + out.len() as i64);
    let current = image.cluster.brokers.get(&me.node_id).map(|b| &b.record);
    let same = current.is_some_and(|c| {
        c.end_points == wanted.end_points
            && c.features == wanted.features
            && c.rack == wanted.rack
            && c.log_dirs == wanted.log_dirs
            && !c.fenced
            && !c.in_controlled_shutdown
    });
    if !same {
        out.push(versioned(
            MetadataRecord::RegisterBroker(wanted),
            mv.register_broker_record_version(),
        ));
    }
    for t in image.topics.iter() {
        for (p, reg) in &t.partitions {
            let dir = placement.get(&(t.name.clone(), *p)).copied();
            let mut change = PartitionChangeRecord {
                partition_id: *p,
                topic_id: t.id,
                ..Default::default()
            };
            let mut changed = false;
            if reg.leader != me.node_id {
                change.leader = me.node_id;
                changed = true;
            }
            if reg.isr != [me.node_id] {
                change.isr = Some(vec![me.node_id]);
                changed = true;
            }
            if version >= 2 && (!reg.elr.is_empty() || !reg.last_known_elr.is_empty()) {
                // The leader comes back into the ISR: nothing is left eligible or last-known
                // (Kafka's PartitionChangeBuilder when a broker of the ELR is elected).
                change.eligible_leader_replicas = Some(Vec::new());
                change.last_known_elr = Some(Vec::new());
                changed = true;
            }
            if let Some(dir) = dir {
                if version >= 1 && reg.directories != [dir] {
                    change.directories = Some(vec![dir]);
                    changed = true;
                }
            }
            if changed {
                out.push(versioned(MetadataRecord::PartitionChange(change), version));
            }
        }
    }
    out
}

fn registration(me: &LocalBroker, mv: MetadataVersion, epoch: i64) -> RegisterBrokerRecord {
    RegisterBrokerRecord {
        broker_id: me.node_id,
        is_migrating_zk_broker: false,
        incarnation_id: Uuid::new_v4(),
        broker_epoch: epoch,
        end_points: me
            .endpoints
            .iter()
            .map(|(name, host, port, protocol)| BrokerEndpoint {
                name: name.clone(),
                host: host.clone(),
                port: *port,
                security_protocol: *protocol,
                ..Default::default()
            })
            .collect(),
        features: features::SUPPORTED
            .iter()
            .map(|f| BrokerFeature {
                name: f.name.to_string(),
                min_supported_version: f.min,
                max_supported_version: f.max,
                ..Default::default()
            })
            .collect(),
        rack: me.rack.clone(),
        fenced: false,
        in_controlled_shutdown: false,
        log_dirs: if mv.register_broker_record_version() >= 3 {
            me.log_dir_ids.clone()
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::replication;

    fn me() -> LocalBroker {
        LocalBroker {
            node_id: 1,
            endpoints: vec![("PLAINTEXT".into(), "localhost".into(), 9092, 0)],
            rack: None,
            log_dir_ids: vec![Uuid::from_u128(70)],
        }
    }

    #[test]
    fn registers_once_and_takes_over_leadership() {
        let mut image = MetadataImage::empty();
        for r in features::bootstrap_records() {
            image.replay(&r.record).unwrap();
        }
        let id = Uuid::from_u128(3);
        let mut p = replication::new_partition(1, Uuid::from_u128(70));
        p.leader = -1;
        p.isr = vec![];
        for r in replication::create_topic_records(
            MetadataVersion::LATEST,
            "t",
            id,
            &[p],
            &BTreeMap::new(),
        ) {
            image.replay(&r.record).unwrap();
        }
        let mut placement = BTreeMap::new();
        placement.insert(("t".to_string(), 0), Uuid::from_u128(70));
        let records = start_records(&image, &me(), &placement, 10);
        assert_eq!(records.len(), 2, "{records:?}");
        for r in &records {
            image.replay(&r.record).unwrap();
        }
        let p = image.topics.get("t").unwrap().partition(0).unwrap().clone();
        assert_eq!((p.leader, p.leader_epoch, p.isr.clone()), (1, 1, vec![1]));
        assert_eq!(image.cluster.brokers.get(&1).unwrap().epoch(), 10);
        // Started again without a controlled shutdown (killed): the old incarnation is
        // fenced and its partitions lose their leader first, as Kafka's session expiry does;
        // then the new one registers and leads: the leader epoch moves by two, as on Kafka.
        let records = start_records(&image, &me(), &placement, 20);
        assert_eq!(records.len(), 4, "{records:?}");
        for r in &records {
            image.replay(&r.record).unwrap();
        }
        let p = image.topics.get("t").unwrap().partition(0).unwrap().clone();
        assert_eq!((p.leader, p.leader_epoch), (1, 3));
        let b = image.cluster.brokers.get(&1).unwrap();
        assert_eq!((b.epoch(), b.fenced()), (22, false));
        // Another broker's replica is refused.
        let mut other = replication::new_partition(2, Uuid::nil());
        other.replicas = vec![2];
        for r in replication::create_topic_records(
            MetadataVersion::LATEST,
            "u",
            Uuid::from_u128(4),
            &[other],
            &BTreeMap::new(),
        ) {
            image.replay(&r.record).unwrap();
        }
        assert_eq!(
            check_single_node(&image, 1).unwrap_err().broker_ids,
            vec![2]
        );
    }
}
