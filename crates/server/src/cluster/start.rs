//! Starting a cluster broker (`process.roles=broker`; Kafka's BrokerServer.startup):
//!
//! 1. meta.properties: the cluster id comes from the log dirs (formatted with Kafka's
//!    `kafka-storage format`) or `cluster.id`; a broker never invents one.
//! 2. The partition logs are loaded; the metadata log (`__cluster_metadata-0`) is opened as a
//!    follower's copy of the quorum's.
//! 3. The broker follows the quorum (QuorumObserver) and registers (BrokerLifecycle); it stays
//!    fenced while it catches up with the metadata.
//! 4. Caught up: logs the metadata does not assign to this broker are set aside as stray
//!    (renamed `-stray`, never deleted); the image is published (replicas lead or follow);
//!    the broker asks to be unfenced.
//! 5. Background tasks: every new image is published; ISR changes go to the controller; the
//!    ISR-expiration check runs every half of replica.lag.time.max.ms.

use std::sync::Arc;
use std::time::Duration;

use sluice_metadata::{MetadataFollower, MetadataImage};
use sluice_storage::{SystemTime, Time, TopicPartition};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::config::ClusterConfig;
use super::lifecycle::{AdvertisedListener, Registration};
use super::member::{ClusterMember, MemberConfig};
use super::raft::ObserverConfig;
use crate::broker::{Broker, MetadataRole, Replication, StartError};
use crate::config::BrokerConfig;
use crate::controller::{features, startup};
use crate::meta_properties;
use crate::producer_ids::ProducerIdManager;
use crate::replica::fetcher::ReplicaFetcherManager;
use crate::replica::{alter_partition, ReplicaConfig};

/// How often start-up reports that it is still catching up with the metadata.
const CATCH_UP_REPORT: Duration = Duration::from_secs(5);

/// Open a cluster broker (see the module docs). Returns once it is caught up with the
/// metadata and has asked to be unfenced.
pub async fn open(
    config: BrokerConfig,
    cluster: ClusterConfig,
    shutdown: watch::Receiver<bool>,
) -> Result<Arc<Broker>, StartError> {
    let formatted = config
        .log_dirs
        .iter()
        .any(|d| d.join("meta.properties").is_file());
    if !formatted && config.cluster_id.is_none() {
        return Err(StartError::Config {
            key: "cluster.id".into(),
            message: "a broker joining a cluster (process.roles=broker) needs the cluster's id: format its log dirs with `kafka-storage.sh format -t <cluster id> -c <server.properties>` as for a Kafka broker, or set cluster.id".into(),
        });
    }
    let meta = meta_properties::ensure(
        &config.log_dirs,
        config.node_id,
        config.cluster_id.as_deref(),
    )?;
    let time: Arc<dyn Time> = Arc::new(SystemTime);
    let logs = Broker::open_logs(&config, time.clone())?;
    let metadata_dir = startup::metadata_dir(&config);
    let metadata_log =
        logs.open_metadata_log(startup::metadata_log_config(&config), Some(&metadata_dir))?;
    let follower = MetadataFollower::open(metadata_log).map_err(StartError::Metadata)?;
    let directory_id = config
        .log_dirs
        .iter()
        .position(|d| *d == metadata_dir)
        .and_then(|i| meta.directory_ids.get(i).copied())
        .unwrap_or_else(Uuid::nil);
    let member = ClusterMember::start(
        MemberConfig {
            observer: ObserverConfig {
                node_id: config.node_id,
                directory_id,
                cluster_id: meta.cluster_id.clone(),
                bootstrap: cluster.bootstrap.clone(),
                request_timeout: cluster.controller_request_timeout,
            },
            registration: Registration {
                node_id: config.node_id,
                cluster_id: meta.cluster_id.clone(),
                incarnation_id: ClusterMember::new_incarnation(),
                listeners: config
                    .advertised
                    .iter()
                    .map(|e| AdvertisedListener {
                        name: e.listener.clone(),
                        host: e.host.clone(),
                        port: e.port,
                        security_protocol: 0,
                    })
                    .collect(),
                features: features::SUPPORTED.to_vec(),
                rack: cluster.rack.clone(),
                log_dir_ids: meta.directory_ids.clone(),
                heartbeat_interval: cluster.heartbeat_interval,
                request_timeout: cluster.controller_request_timeout,
            },
        },
        follower,
    );
    let (isr_tx, isr_rx) = mpsc::unbounded_channel();
    let epoch_member = member.clone();
    let fetchers = Arc::new(ReplicaFetcherManager::new(
        cluster.fetcher_config(config.node_id),
        Arc::new(move || epoch_member.broker_epoch()),
    ));
    let producer_ids = Arc::new(ProducerIdManager::new(Arc::new(member.clone())));
    let broker = Arc::new(Broker::assemble(
        config,
        meta,
        logs,
        time,
        MetadataRole::Member(member.clone()),
        producer_ids,
        Some(fetchers),
        Some(Replication {
            config: ReplicaConfig {
                max_lag_ms: cluster.replica_lag_time_max_ms,
            },
            isr_changes: isr_tx,
        }),
    )?);
    tokio::spawn(alter_partition::run(
        isr_rx,
        member.clone(),
        broker.replicas.clone(),
    ));

    tracing::info!(
        controllers = %cluster.bootstrap.join(","),
        "catching up with the cluster metadata"
    );
    while !(member.wait_registered(CATCH_UP_REPORT).await
        && member.wait_caught_up(CATCH_UP_REPORT).await)
    {
        let m = member.membership();
        tracing::info!(
            leader = ?member.leader().map(|l| l.id),
            broker_epoch = m.broker_epoch,
            "still catching up with the cluster metadata"
        );
        if *shutdown.borrow() {
            return Err(StartError::Config {
                key: "controller.quorum.bootstrap.servers".into(),
                message: "shut down before the metadata was caught up".into(),
            });
        }
    }
    let image = member.image();
    set_aside_strays(&broker, &image)?;
    let published = crate::blocking::run(|| broker.publish(&image));
    if let Some(f) = published.failures.first() {
        tracing::error!(tp = %f.tp, error = %f.error, "a replica could not be started");
    }
    tracing::info!(
        topics = image.topics.len(),
        leader = published.became_leader.len(),
        follower = published.became_follower.len(),
        "caught up with the cluster metadata"
    );
    // The first producer ids before clients ask (later blocks are fetched ahead of need).
    member.fetch_producer_id_block().await;
    member.set_ready();
    tokio::spawn(publish_images(broker.clone(), shutdown.clone()));
    tokio::spawn(expire_isrs(
        broker.clone(),
        Duration::from_millis((cluster.replica_lag_time_max_ms / 2).max(1) as u64),
        shutdown,
    ));
    Ok(broker)
}

/// Logs of partitions the metadata does not assign to this broker (an unknown topic id, or
/// a replica list without this broker) are renamed `-stray` (Kafka's isStrayReplica).
fn set_aside_strays(broker: &Broker, image: &MetadataImage) -> Result<(), StartError> {
    let node = broker.node_id();
    for log in broker.logs.all_logs() {
        let tp: TopicPartition = log.topic_partition().clone();
        let assigned = log.topic_id().is_some_and(|id| {
            image
                .topics
                .get_by_id(&id)
                .filter(|t| t.name == tp.topic)
                .and_then(|t| t.partition(tp.partition))
                .is_some_and(|p| p.replicas.contains(&node))
        });
        if !assigned {
            crate::blocking::run(|| broker.logs.mark_stray(&tp))?;
        }
    }
    Ok(())
}

/// Publish every image the quorum observer applies, one at a time.
async fn publish_images(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let Some(member) = broker.member().cloned() else {
        return;
    };
    let mut images = member.subscribe();
    loop {
        tokio::select! {
            changed = images.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = shutdown.changed() => return,
        }
        let image = images.borrow_and_update().image.clone();
        if Arc::ptr_eq(&image, &broker.publisher_last()) {
            continue;
        }
        crate::blocking::run(|| broker.publish(&image));
    }
}

/// Kafka's isr-expiration task.
async fn expire_isrs(broker: Arc<Broker>, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => broker.replicas.maybe_shrink_isrs(),
            _ = shutdown.changed() => return,
        }
    }
}
