//! BrokerLifecycleManager: this broker's membership of the cluster, as Kafka's broker keeps it
//! with the active controller — BrokerRegistration (listeners, supported features, rack, log
//! dir ids; answered with the broker epoch), then a BrokerHeartbeat every
//! `broker.heartbeat.interval.ms` carrying how far it has applied the metadata log and whether
//! it wants to stay fenced (until it has caught up), and at shutdown the controlled shutdown:
//! heartbeats asking to shut down until the controller has moved leadership away.
//!
//! The active controller is the metadata quorum's leader ([`super::raft::QuorumLeader`]).

use std::time::Duration;

use sluice_protocol::kafka_protocol::messages::broker_registration_request::{Feature, Listener};
use sluice_protocol::kafka_protocol::messages::{
    BrokerHeartbeatRequest, BrokerId, BrokerRegistrationRequest, RequestKind, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;
use tokio::sync::watch;
use uuid::Uuid;

use super::channel::NodeChannel;
use super::raft::{ObservedMetadata, QuorumLeader};
use crate::controller::features::SupportedFeature;

/// What this broker registers with.
#[derive(Debug, Clone)]
pub struct Registration {
    pub node_id: i32,
    pub cluster_id: String,
    pub incarnation_id: Uuid,
    pub listeners: Vec<AdvertisedListener>,
    /// The features and levels this broker supports.
    pub features: Vec<SupportedFeature>,
    pub rack: Option<String>,
    pub log_dir_ids: Vec<Uuid>,
    pub heartbeat_interval: Duration,
    pub request_timeout: Duration,
}

/// A listener this broker advertises to clients and other brokers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertisedListener {
    pub name: String,
    pub host: String,
    pub port: u16,
    /// Kafka's SecurityProtocol id (0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL).
    pub security_protocol: i16,
}

/// This broker's standing with the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Membership {
    /// The broker epoch of the current registration (-1 before one).
    pub broker_epoch: i64,
    pub fenced: bool,
    /// The controller has let a requested controlled shutdown proceed.
    pub may_shut_down: bool,
}

/// See the module docs.
pub struct BrokerLifecycle {
    reg: Registration,
    leaders: watch::Receiver<Option<QuorumLeader>>,
    metadata: watch::Receiver<ObservedMetadata>,
    /// Whether this broker is ready to be unfenced (its logs loaded, the metadata applied).
    ready: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
    state: watch::Sender<Membership>,
}

impl BrokerLifecycle {
    pub fn new(
        reg: Registration,
        leaders: watch::Receiver<Option<QuorumLeader>>,
        metadata: watch::Receiver<ObservedMetadata>,
        ready: watch::Receiver<bool>,
        shutdown: watch::Receiver<bool>,
    ) -> (Self, watch::Receiver<Membership>) {
        let (state, rx) = watch::channel(Membership {
            broker_epoch: -1,
            fenced: true,
            may_shut_down: false,
        });
        (
            Self {
                reg,
                leaders,
                metadata,
                ready,
                shutdown,
                state,
            },
            rx,
        )
    }

    /// Register and heartbeat until the controller lets a requested shutdown proceed.
    pub async fn run(mut self) {
        let mut epoch: i64 = -1;
        loop {
            if self.state.borrow().may_shut_down {
                return;
            }
            let Some(leader) = self.wait_for_leader().await else {
                return;
            };
            let channel = NodeChannel::new(
                format!("controller {}", leader.id),
                leader.addr.clone(),
                &format!("broker-{}-lifecycle", self.reg.node_id),
                self.reg.request_timeout,
            );
            if epoch < 0 {
                match self.register(&channel, epoch).await {
                    Ok(e) => {
                        epoch = e;
                        tracing::info!(
                            broker_epoch = e,
                            controller = leader.id,
                            "registered with the controller"
                        );
                        self.state.send_modify(|s| s.broker_epoch = e);
                    }
                    Err(message) => {
                        tracing::warn!("registration with controller {}: {message}", leader.id);
                        self.pause().await;
                        continue;
                    }
                }
            }
            // Heartbeats to this controller until it changes or refuses.
            loop {
                let shutting_down = *self.shutdown.borrow();
                match self.heartbeat(&channel, epoch, shutting_down).await {
                    Ok(HeartbeatOutcome::Continue) => {}
                    Ok(HeartbeatOutcome::Reregister) => {
                        epoch = -1;
                        break;
                    }
                    Ok(HeartbeatOutcome::ShutDown) => return,
                    Err(message) => {
                        tracing::debug!("heartbeat to controller {}: {message}", leader.id);
                        break;
                    }
                }
                if *self.leaders.borrow() != Some(leader.clone()) {
                    break;
                }
                let interval = if shutting_down {
                    Duration::from_millis(200)
                } else {
                    self.reg.heartbeat_interval
                };
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {},
                    _ = self.shutdown.changed() => {},
                    _ = self.ready.changed() => {},
                }
            }
            self.pause().await;
        }
    }

    async fn wait_for_leader(&mut self) -> Option<QuorumLeader> {
        loop {
            if let Some(l) = self.leaders.borrow().clone() {
                return Some(l);
            }
            if self.leaders.changed().await.is_err() {
                return None;
            }
        }
    }

    async fn pause(&mut self) {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {},
            _ = self.leaders.changed() => {},
        }
    }

    async fn register(&self, channel: &NodeChannel, previous_epoch: i64) -> Result<i64, String> {
        let r = &self.reg;
        let request = BrokerRegistrationRequest::default()
            .with_broker_id(BrokerId(r.node_id))
            .with_cluster_id(StrBytes::from_string(r.cluster_id.clone()))
            .with_incarnation_id(r.incarnation_id)
            .with_listeners(
                r.listeners
                    .iter()
                    .map(|l| {
                        Listener::default()
                            .with_name(StrBytes::from_string(l.name.clone()))
                            .with_host(StrBytes::from_string(l.host.clone()))
                            .with_port(l.port)
                            .with_security_protocol(l.security_protocol)
                    })
                    .collect(),
            )
            .with_features(
                r.features
                    .iter()
                    .map(|f| {
                        Feature::default()
                            .with_name(StrBytes::from_static_str(f.name))
                            .with_min_supported_version(f.min)
                            .with_max_supported_version(f.max)
                    })
                    .collect(),
            )
            .with_rack(r.rack.clone().map(StrBytes::from_string))
            .with_is_migrating_zk_broker(false)
            .with_log_dirs(r.log_dir_ids.clone())
            .with_previous_broker_epoch(previous_epoch);
        let response = channel
            .call(RequestKind::BrokerRegistration(request), None)
            .await
            .map_err(|e| e.to_string())?;
        let ResponseKind::BrokerRegistration(resp) = response.body else {
            return Err("BrokerRegistration answered with another response".into());
        };
        if resp.error_code != 0 {
            return Err(format!("BrokerRegistration error {}", resp.error_code));
        }
        Ok(resp.broker_epoch)
    }

    async fn heartbeat(
        &self,
        channel: &NodeChannel,
        epoch: i64,
        want_shut_down: bool,
    ) -> Result<HeartbeatOutcome, String> {
        let applied = self.metadata.borrow().applied_offset;
        let ready = *self.ready.borrow();
        let request = BrokerHeartbeatRequest::default()
            .with_broker_id(BrokerId(self.reg.node_id))
            .with_broker_epoch(epoch)
            .with_current_metadata_offset(applied)
            .with_want_fence(!ready && !want_shut_down)
            .with_want_shut_down(want_shut_down);
        let response = channel
            .call(RequestKind::BrokerHeartbeat(request), None)
            .await
            .map_err(|e| e.to_string())?;
        let ResponseKind::BrokerHeartbeat(resp) = response.body else {
            return Err("BrokerHeartbeat answered with another response".into());
        };
        match resp.error_code {
            0 => {}
            // STALE_BROKER_EPOCH (77): the controller no longer knows this registration.
            77 => return Ok(HeartbeatOutcome::Reregister),
            code => return Err(format!("BrokerHeartbeat error {code}")),
        }
        let was = *self.state.borrow();
        let now = Membership {
            broker_epoch: epoch,
            fenced: resp.is_fenced,
            may_shut_down: resp.should_shut_down,
        };
        if was.fenced != now.fenced {
            tracing::info!(
                fenced = now.fenced,
                caught_up = resp.is_caught_up,
                "controller membership changed"
            );
        }
        self.state.send_replace(now);
        Ok(if resp.should_shut_down {
            HeartbeatOutcome::ShutDown
        } else {
            HeartbeatOutcome::Continue
        })
    }
}

enum HeartbeatOutcome {
    Continue,
    Reregister,
    ShutDown,
}
