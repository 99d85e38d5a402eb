//! MetadataPublisher: makes this broker match each new metadata image (Kafka's
//! BrokerMetadataPublisher): the logs of the partitions it holds a replica of exist, in the
//! log dir the metadata names, with their topic's configs; each replica leads or follows as its
//! registration says (ReplicaManager, fetchers); replicas the metadata no longer assigns here —
//! deleted topics, partitions reassigned away — are stopped and their logs deleted (renamed
//! `-delete`, removed after file.delete.delay.ms).
//!
//! Images are published one at a time, each against the last one published. A cluster broker
//! publishes every image its QuorumObserver applies; the single-node broker publishes after
//! each metadata change its controller commits, and once at start-up.

use std::sync::{Arc, Mutex};

use sluice_metadata::{ConfigResource, MetadataImage, TopicImage};
use sluice_storage::{PartitionLog, TopicPartition};

use crate::broker::{log_config, Broker};
use crate::dynamic_config::DynamicState;
use crate::replica::fetcher::LeaderEndpoint;
use crate::replica::{PartitionError, Transition};
use crate::topic_policy::TopicPolicy;

/// What one publication changed (for logs and tests).
#[derive(Debug, Default)]
pub struct Published {
    pub became_leader: Vec<TopicPartition>,
    pub became_follower: Vec<TopicPartition>,
    pub removed: Vec<TopicPartition>,
    /// Replicas the image could not be applied to (logged; at start-up they stop the start).
    pub failures: Vec<ReplicaFailure>,
}

/// A local replica an image could not be applied to.
#[derive(Debug)]
pub struct ReplicaFailure {
    pub tp: TopicPartition,
    pub error: PartitionError,
}

/// See the module docs.
pub struct MetadataPublisher {
    last: Mutex<Arc<MetadataImage>>,
}

impl Default for MetadataPublisher {
    fn default() -> Self {
        Self {
            last: Mutex::new(Arc::new(MetadataImage::empty())),
        }
    }
}

impl std::fmt::Debug for MetadataPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataPublisher").finish_non_exhaustive()
    }
}

impl MetadataPublisher {
    /// The image last published.
    pub fn last(&self) -> Arc<MetadataImage> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Make `broker` match `image` (see the module docs). Blocks on file I/O (log creation and
    /// deletion). Errors of one partition are logged and do not stop the others: the next
    /// image (or the next start) tries again.
    pub fn publish(&self, broker: &Broker, image: &Arc<MetadataImage>) -> Published {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let prev = last.clone();
        let mut out = Published::default();
        let node = broker.node_id();
        broker.replicas.liveness().update(image.clone());
        let dynamic = DynamicState::from_image(image, node);
        let layers = dynamic.layers(&broker.config.raw);
        let broker_configs_changed = [
            ConfigResource::cluster_default(),
            ConfigResource::broker(node),
        ]
        .iter()
        .any(|r| prev.configs.get(r) != image.configs.get(r));

        // Topics gone from the metadata.
        for t in prev.topics.iter() {
            if image.topics.get_by_id(&t.id).is_none() {
                broker.policies.remove(&t.name);
                for p in t.partitions.keys() {
                    let tp = TopicPartition::new(t.name.clone(), *p);
                    if self.stop_replica(broker, &tp) {
                        out.removed.push(tp);
                    }
                }
            }
        }

        for t in image.topics.iter() {
            let before = prev.topics.get_by_id(&t.id);
            let configs = image.configs.topic(&t.name);
            let configs_changed = broker_configs_changed
                || before.is_none()
                || prev.configs.topic(&t.name) != configs;
            if !configs_changed && before.is_some_and(|b| Arc::ptr_eq(b, t)) {
                continue;
            }
            let cfg = match log_config(&layers, configs) {
                Ok(c) => c,
                Err((key, message)) => {
                    tracing::error!(topic = %t.name, key, message, "invalid topic config; the topic's replicas are left as they are");
                    continue;
                }
            };
            let policy = TopicPolicy::from_configs(&layers, configs);
            let min_isr = policy.min_insync_replicas;
            if configs_changed {
                broker.policies.set(&t.name, policy);
            }
            for (p, reg) in &t.partitions {
                let tp = TopicPartition::new(t.name.clone(), *p);
                let unchanged = before
                    .and_then(|b| b.partition(*p))
                    .is_some_and(|r| r == reg);
                if unchanged
                    && !configs_changed
                    && broker.replicas.partition(&tp.topic, *p).is_some()
                {
                    continue;
                }
                if !reg.replicas.contains(&node) {
                    if self.stop_replica(broker, &tp) {
                        out.removed.push(tp);
                    }
                    continue;
                }
                let log = match self.ensure_log(broker, image, t, &tp, &cfg) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!(%tp, error = %e, "cannot create the partition's log");
                        out.failures.push(ReplicaFailure {
                            tp,
                            error: PartitionError::Storage(e),
                        });
                        continue;
                    }
                };
                if configs_changed {
                    if let Err(e) = log.update_config(cfg.clone()) {
                        tracing::error!(%tp, error = %e, "cannot apply the topic's configs");
                    }
                }
                match broker.replicas.apply(&tp, t.id, &log, reg, min_isr) {
                    Ok(Some(Transition::BecameLeader)) => {
                        if let Some(f) = broker.fetchers() {
                            f.remove_partitions(std::slice::from_ref(&tp));
                        }
                        out.became_leader.push(tp);
                    }
                    Ok(Some(Transition::BecameFollower { leader })) => {
                        if let Some(f) = broker.fetchers() {
                            let endpoint = (leader >= 0)
                                .then(|| self.leader_endpoint(broker, image, leader))
                                .flatten();
                            let partition = broker.replicas.partition(&tp.topic, *p);
                            match (endpoint, partition) {
                                (Some(ep), Some(partition)) => {
                                    f.add_partition(ep, partition, reg.leader_epoch)
                                }
                                _ => f.remove_partitions(std::slice::from_ref(&tp)),
                            }
                        }
                        out.became_follower.push(tp);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(%tp, error = %e, "cannot apply the partition's registration");
                        out.failures.push(ReplicaFailure { tp, error: e });
                    }
                }
            }
        }
        if !out.became_leader.is_empty()
            || !out.became_follower.is_empty()
            || !out.removed.is_empty()
        {
            tracing::info!(
                leader = out.became_leader.len(),
                follower = out.became_follower.len(),
                removed = out.removed.len(),
                "applied the metadata to the local replicas"
            );
        }
        *last = image.clone();
        out
    }

    /// The log of a local replica, created in the log dir the metadata names if missing.
    fn ensure_log(
        &self,
        broker: &Broker,
        image: &MetadataImage,
        t: &TopicImage,
        tp: &TopicPartition,
        cfg: &sluice_storage::LogConfig,
    ) -> Result<Arc<PartitionLog>, sluice_storage::StorageError> {
        if let Some(log) = broker.logs.get_log(tp) {
            if log.topic_id().is_none() {
                log.assign_topic_id(t.id)?;
            }
            return Ok(log);
        }
        broker.create_log(image, tp, t.id, cfg.clone())
    }

    /// Stop a local replica the metadata no longer assigns here and delete its log. Returns
    /// whether there was one.
    fn stop_replica(&self, broker: &Broker, tp: &TopicPartition) -> bool {
        if let Some(f) = broker.fetchers() {
            f.remove_partitions(std::slice::from_ref(tp));
        }
        let had = broker.replicas.remove(tp).is_some();
        let had_log = broker.logs.get_log(tp).is_some();
        if had_log {
            if let Err(e) = broker.logs.delete_log(tp) {
                tracing::error!(%tp, error = %e, "cannot delete the partition's log");
            }
        }
        had || had_log
    }

    /// Where `leader` listens for other brokers (its inter-broker listener).
    fn leader_endpoint(
        &self,
        broker: &Broker,
        image: &MetadataImage,
        leader: i32,
    ) -> Option<LeaderEndpoint> {
        let reg = image.cluster.brokers.get(&leader)?;
        let name = &broker.config.inter_broker_listener_name;
        let ep = reg
            .record
            .end_points
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name))
            .or_else(|| reg.record.end_points.first())?;
        Some(LeaderEndpoint {
            id: leader,
            addr: format!("{}:{}", ep.host, ep.port),
        })
    }
}
