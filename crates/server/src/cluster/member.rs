//! ClusterMember: what a broker of a KRaft cluster (`process.roles=broker`) holds of the
//! cluster — the metadata it follows ([`super::raft::QuorumObserver`]), its membership
//! ([`super::lifecycle::BrokerLifecycle`]), and the requests it sends the active controller:
//! admin requests of clients forwarded in an Envelope (Kafka's ForwardingManager, KIP-590),
//! its own CreateTopics (auto-creation, internal topics), AllocateProducerIds.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use sluice_metadata::{MetadataFollower, MetadataImage};
use sluice_protocol::kafka_protocol::messages::create_topics_request::{
    CreatableTopic, CreatableTopicConfig,
};
use sluice_protocol::kafka_protocol::messages::{
    AllocateProducerIdsRequest, BrokerId, CreateTopicsRequest, DefaultPrincipalData,
    EnvelopeRequest, RequestKind, ResponseKind, TopicName,
};
use sluice_protocol::kafka_protocol::protocol::{Encodable, StrBytes};
use sluice_protocol::ApiKey;
use tokio::sync::watch;
use uuid::Uuid;

use super::channel::{ChannelError, NodeChannel};
use super::lifecycle::{BrokerLifecycle, Membership, Registration};
use super::raft::{ObservedMetadata, ObserverConfig, QuorumLeader, QuorumObserver};
use crate::broker::ApiError;
use crate::producer_ids::ProducerIdError;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::error::ParseResponseErrorCode;

/// The admin requests a broker forwards to the controller (Kafka's KafkaApis forwards these).
pub const FORWARDED: &[ApiKey] = &[
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::CreatePartitions,
    ApiKey::AlterConfigs,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::AlterPartitionReassignments,
    ApiKey::ListPartitionReassignments,
    ApiKey::ElectLeaders,
    ApiKey::CreateAcls,
    ApiKey::DeleteAcls,
    ApiKey::AlterClientQuotas,
    ApiKey::AlterUserScramCredentials,
    ApiKey::UpdateFeatures,
];

/// How this broker joins.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    pub observer: ObserverConfig,
    pub registration: Registration,
}

/// See the module docs.
pub struct ClusterMember {
    node_id: i32,
    metadata: watch::Receiver<ObservedMetadata>,
    leaders: watch::Receiver<Option<QuorumLeader>>,
    membership: watch::Receiver<Membership>,
    ready: watch::Sender<bool>,
    shutdown: watch::Sender<bool>,
    controller: tokio::sync::Mutex<Option<(QuorumLeader, Arc<NodeChannel>)>>,
    request_timeout: Duration,
    producer_ids: Mutex<ProducerIds>,
    /// Topics whose creation this broker asked for and is waiting on.
    creating: Mutex<std::collections::HashSet<String>>,
}

impl std::fmt::Debug for ClusterMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterMember")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl ClusterMember {
    /// Start following the quorum and registering with its controller (on the current tokio
    /// runtime). The broker stays fenced until [`set_ready`](Self::set_ready).
    pub fn start(config: MemberConfig, follower: MetadataFollower) -> Arc<Self> {
        let node_id = config.registration.node_id;
        let request_timeout = config.registration.request_timeout;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (ready, ready_rx) = watch::channel(false);
        let (observer, metadata, leaders) = QuorumObserver::new(config.observer, follower);
        let (lifecycle, membership) = BrokerLifecycle::new(
            config.registration,
            leaders.clone(),
            metadata.clone(),
            ready_rx,
            shutdown_rx.clone(),
        );
        // The observer goes on through the controlled shutdown; it stops once the lifecycle has.
        let (observer_stop, observer_stop_rx) = watch::channel(false);
        tokio::spawn(observer.run(observer_stop_rx));
        tokio::spawn(async move {
            lifecycle.run().await;
            let _ = observer_stop.send(true);
        });
        Arc::new(Self {
            node_id,
            metadata,
            leaders,
            membership,
            ready,
            shutdown,
            controller: tokio::sync::Mutex::new(None),
            request_timeout,
            producer_ids: Mutex::new(ProducerIds::default()),
            creating: Mutex::new(std::collections::HashSet::new()),
        })
    }

    /// The metadata as far as it is committed and applied.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.metadata.borrow().image.clone()
    }

    /// A receiver of every new image (the broker's publisher follows it).
    pub fn subscribe(&self) -> watch::Receiver<ObservedMetadata> {
        self.metadata.clone()
    }

    pub fn membership(&self) -> Membership {
        *self.membership.borrow()
    }

    pub fn leader(&self) -> Option<QuorumLeader> {
        self.leaders.borrow().clone()
    }

    /// Wait until the metadata is caught up with the quorum (the applied offset reached the
    /// leader's high watermark once), bounded by `timeout`.
    pub async fn wait_caught_up(&self, timeout: Duration) -> bool {
        let mut rx = self.metadata.clone();
        let wait = async {
            loop {
                {
                    let m = rx.borrow();
                    if m.high_watermark >= 0 && m.applied_offset >= m.high_watermark {
                        return true;
                    }
                }
                if rx.changed().await.is_err() {
                    return false;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }

    /// Wait until the controller registered this broker (a broker epoch is known), bounded
    /// by `timeout`.
    pub async fn wait_registered(&self, timeout: Duration) -> bool {
        let mut rx = self.membership.clone();
        let wait = async {
            while rx.borrow().broker_epoch < 0 {
                if rx.changed().await.is_err() {
                    return false;
                }
            }
            true
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }

    /// The broker has loaded its logs and applied the metadata: it may be unfenced.
    pub fn set_ready(&self) {
        self.ready.send_replace(true);
    }

    /// Ask for the controlled shutdown and wait (bounded) until the controller lets it
    /// proceed.
    pub async fn controlled_shutdown(&self, timeout: Duration) {
        self.shutdown.send_replace(true);
        let mut rx = self.membership.clone();
        let wait = async {
            while !rx.borrow().may_shut_down {
                if rx.changed().await.is_err() {
                    return;
                }
            }
        };
        if tokio::time::timeout(timeout, wait).await.is_err() {
            tracing::warn!("the controller did not confirm the controlled shutdown in time");
        }
    }

    async fn controller_channel(&self) -> Result<Arc<NodeChannel>, ApiError> {
        let leader = self.leaders.borrow().clone().ok_or_else(|| {
            ApiError::new(
                KafkaError::NotController,
                "no active controller is known yet",
            )
        })?;
        let mut slot = self.controller.lock().await;
        match slot.as_ref() {
            Some((l, c)) if *l == leader => Ok(c.clone()),
            _ => {
                let c = Arc::new(NodeChannel::new(
                    format!("controller {}", leader.id),
                    leader.addr.clone(),
                    &format!("broker-{}-forwarding", self.node_id),
                    self.request_timeout,
                ));
                *slot = Some((leader, c.clone()));
                Ok(c)
            }
        }
    }

    /// Send `request` to the active controller (this broker's own requests: AlterPartition,
    /// CreateTopics, AllocateProducerIds).
    pub async fn call_controller(&self, request: RequestKind) -> Result<ResponseKind, ApiError> {
        let channel = self.controller_channel().await?;
        match channel.call(request, None).await {
            Ok(r) => Ok(r.body),
            Err(e) => {
                // The controller may have moved: look it up again next time.
                *self.controller.lock().await = None;
                Err(self.unavailable(e))
            }
        }
    }

    /// The broker epoch of this broker's registration (-1 before one).
    pub fn broker_epoch(&self) -> i64 {
        self.membership.borrow().broker_epoch
    }

    /// Forward a client's request (`frame`: its header and body as received) to the active
    /// controller in an Envelope; returns the controller's response (header and body) to
    /// pass back to the client as it is.
    pub async fn forward(&self, frame: Bytes, peer: SocketAddr) -> Result<Bytes, ApiError> {
        let principal = {
            let p = DefaultPrincipalData::default()
                .with_type(StrBytes::from_static_str("User"))
                .with_name(StrBytes::from_static_str("ANONYMOUS"))
                .with_token_authenticated(false);
            let mut b = BytesMut::new();
            b.extend_from_slice(&0i16.to_be_bytes());
            p.encode(&mut b, 0)
                .map_err(|e| ApiError::new(KafkaError::UnknownServerError, e.to_string()))?;
            b.freeze()
        };
        let address = match peer.ip() {
            IpAddr::V4(a) => Bytes::copy_from_slice(&a.octets()),
            IpAddr::V6(a) => Bytes::copy_from_slice(&a.octets()),
        };
        let request = EnvelopeRequest::default()
            .with_request_data(frame)
            .with_request_principal(Some(principal))
            .with_client_host_address(address);
        let channel = self.controller_channel().await?;
        let response = channel
            .call(RequestKind::Envelope(request), None)
            .await
            .map_err(|e| self.unavailable(e))?;
        let ResponseKind::Envelope(r) = response.body else {
            return Err(ApiError::new(
                KafkaError::UnknownServerError,
                "Envelope answered with another response",
            ));
        };
        if r.error_code != 0 {
            return Err(ApiError::new(
                r.error_code.err().unwrap_or(KafkaError::UnknownServerError),
                format!(
                    "the controller refused the forwarded request ({})",
                    r.error_code
                ),
            ));
        }
        r.response_data.ok_or_else(|| {
            ApiError::new(
                KafkaError::UnknownServerError,
                "the controller's Envelope response carries no response",
            )
        })
    }

    /// Ask the controller to create `topic` in the background (Kafka's
    /// AutoTopicCreationManager): the caller answers at once with a retriable error and the
    /// client asks again; a creation of the same name already in flight is not asked twice.
    pub fn create_in_background(self: &Arc<Self>, topic: NewTopicRequest) {
        {
            let mut inflight = self.creating.lock().unwrap_or_else(|p| p.into_inner());
            if !inflight.insert(topic.name.clone()) {
                return;
            }
        }
        let me = self.clone();
        tokio::spawn(async move {
            let name = topic.name.clone();
            match me.create_topics(std::slice::from_ref(&topic)).await {
                Ok(results) => {
                    for r in results {
                        match r.error {
                            None => {
                                tracing::info!(topic = %r.name, "created topic through the controller")
                            }
                            Some(KafkaError::TopicAlreadyExists) => {}
                            Some(e) => tracing::info!(
                                topic = %r.name,
                                error = ?e,
                                message = r.message.as_deref().unwrap_or(""),
                                "the controller did not create the topic"
                            ),
                        }
                    }
                }
                Err(e) => {
                    tracing::info!(topic = %name, error = %e.message, "topic creation failed")
                }
            }
            me.creating
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&name);
        });
    }

    /// Create topics as this broker (auto-creation, internal topics); the outcome per topic.
    pub async fn create_topics(
        &self,
        topics: &[NewTopicRequest],
    ) -> Result<Vec<CreatedTopic>, ApiError> {
        let request = CreateTopicsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(
                topics
                    .iter()
                    .map(|t| {
                        CreatableTopic::default()
                            .with_name(TopicName(StrBytes::from_string(t.name.clone())))
                            .with_num_partitions(t.partitions)
                            .with_replication_factor(t.replication_factor)
                            .with_configs(
                                t.configs
                                    .iter()
                                    .map(|(k, v)| {
                                        CreatableTopicConfig::default()
                                            .with_name(StrBytes::from_string(k.clone()))
                                            .with_value(Some(StrBytes::from_string(v.clone())))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let response = self
            .call_controller(RequestKind::CreateTopics(request))
            .await?;
        let ResponseKind::CreateTopics(r) = response else {
            return Err(ApiError::new(
                KafkaError::UnknownServerError,
                "CreateTopics answered with another response",
            ));
        };
        Ok(r.topics
            .into_iter()
            .map(|t| CreatedTopic {
                name: t.name.to_string(),
                error: t.error_code.err(),
                message: t.error_message.map(|m| m.to_string()),
            })
            .collect())
    }

    /// A producer id never handed out before, from the block the controller allocated to this
    /// broker (Kafka's RPCProducerIdManager): when 90% of the block is used the next one is
    /// asked for in the background; while none is there yet, the caller gets
    /// [`ProducerIdError::NotYetAvailable`] (the client retries:
    /// COORDINATOR_LOAD_IN_PROGRESS). Never blocks.
    pub fn try_next_producer_id(self: &Arc<Self>) -> Result<i64, ProducerIdError> {
        let mut ids = self.producer_ids.lock().unwrap_or_else(|p| p.into_inner());
        if ids.current.next >= ids.current.end {
            if let Some(next) = ids.prefetched.take() {
                ids.current = next;
            }
        }
        let b = &mut ids.current;
        let result = if b.next < b.end {
            let id = b.next;
            b.next += 1;
            Ok(id)
        } else {
            Err(ProducerIdError::NotYetAvailable)
        };
        let low = ids.current.end - ids.current.next <= ids.current.len / 10;
        if low && ids.prefetched.is_none() && !ids.fetching {
            ids.fetching = true;
            let me = self.clone();
            tokio::spawn(async move { me.fetch_producer_id_block().await });
        }
        result
    }

    /// Ask the controller for a block (AllocateProducerIds) and keep it for
    /// [`try_next_producer_id`](Self::try_next_producer_id).
    pub async fn fetch_producer_id_block(&self) {
        let result = self.allocate_producer_ids().await;
        let mut ids = self.producer_ids.lock().unwrap_or_else(|p| p.into_inner());
        ids.fetching = false;
        match result {
            Ok(block) => ids.prefetched = Some(block),
            Err(e) => tracing::warn!(error = %e.message, "AllocateProducerIds failed"),
        }
    }

    async fn allocate_producer_ids(&self) -> Result<ProducerIdBlock, ApiError> {
        let epoch = self.membership().broker_epoch;
        let request = AllocateProducerIdsRequest::default()
            .with_broker_id(BrokerId(self.node_id))
            .with_broker_epoch(epoch);
        let response = self
            .call_controller(RequestKind::AllocateProducerIds(request))
            .await?;
        let ResponseKind::AllocateProducerIds(r) = response else {
            return Err(ApiError::new(
                KafkaError::UnknownServerError,
                "AllocateProducerIds answered with another response",
            ));
        };
        if r.error_code != 0 {
            return Err(ApiError::new(
                r.error_code.err().unwrap_or(KafkaError::UnknownServerError),
                "the controller allocated no producer ids",
            ));
        }
        let start = r.producer_id_start.0;
        let len = i64::from(r.producer_id_len.max(1));
        Ok(ProducerIdBlock {
            next: start,
            end: start + len,
            len,
        })
    }

    fn unavailable(&self, e: ChannelError) -> ApiError {
        ApiError::new(KafkaError::NotController, e.to_string())
    }

    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    /// An id for this incarnation (BrokerRegistration).
    pub fn new_incarnation() -> Uuid {
        Uuid::new_v4()
    }
}

/// A topic this broker asks the controller to create.
#[derive(Debug, Clone)]
pub struct NewTopicRequest {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    pub configs: Vec<(String, String)>,
}

/// The controller's answer for one topic of [`ClusterMember::create_topics`].
#[derive(Debug, Clone)]
pub struct CreatedTopic {
    pub name: String,
    /// `None` when created.
    pub error: Option<KafkaError>,
    pub message: Option<String>,
}

/// The producer ids this broker may hand out: `next..end` of a block of `len` ids the
/// controller allocated.
#[derive(Debug, Default, Clone, Copy)]
struct ProducerIdBlock {
    next: i64,
    end: i64,
    len: i64,
}

#[derive(Debug, Default)]
struct ProducerIds {
    current: ProducerIdBlock,
    prefetched: Option<ProducerIdBlock>,
    /// An AllocateProducerIds is in flight.
    fetching: bool,
}

impl crate::producer_ids::ProducerIdSource for Arc<ClusterMember> {
    fn next_producer_id(&self) -> Result<i64, ProducerIdError> {
        self.try_next_producer_id()
    }
}
