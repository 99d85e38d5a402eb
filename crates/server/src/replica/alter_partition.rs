//! AlterPartitionManager: sends the ISR changes leaders propose to the active controller
//! (Kafka's AlterPartitionManager): proposals queued meanwhile go in one AlterPartition
//! request; the controller's answer for each partition completes its proposal (the committed
//! ISR and partition epoch, or the error that drops it). A request that fails as a whole (no
//! controller, a stale broker epoch) is sent again after a backoff.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sluice_protocol::kafka_protocol::error::ParseResponseErrorCode;
use sluice_protocol::kafka_protocol::messages::alter_partition_request::{
    BrokerState, PartitionData, TopicData,
};
use sluice_protocol::kafka_protocol::messages::{
    AlterPartitionRequest, BrokerId, RequestKind, ResponseKind,
};
use sluice_storage::TopicPartition;
use tokio::sync::mpsc;

use super::manager::ReplicaManager;
use super::partition::{CommittedIsr, IsrProposal};
use crate::cluster::member::ClusterMember;
use sluice_metadata::image::topics::RECOVERED;

const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// Run the sender until the proposal channel closes.
pub async fn run(
    mut proposals: mpsc::UnboundedReceiver<IsrProposal>,
    member: Arc<ClusterMember>,
    replicas: Arc<ReplicaManager>,
) {
    let mut queued: BTreeMap<TopicPartition, IsrProposal> = BTreeMap::new();
    loop {
        if queued.is_empty() {
            match proposals.recv().await {
                Some(p) => {
                    queued.insert(p.tp.clone(), p);
                }
                None => return,
            }
        }
        while let Ok(p) = proposals.try_recv() {
            queued.insert(p.tp.clone(), p);
        }
        let batch: Vec<IsrProposal> = queued.values().cloned().collect();
        match send(&member, &replicas, &batch).await {
            Ok(()) => {
                for p in &batch {
                    if queued.get(&p.tp) == Some(p) {
                        queued.remove(&p.tp);
                    }
                }
            }
            Err(message) => {
                tracing::info!("AlterPartition failed ({message}); retrying");
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
        }
    }
}

async fn send(
    member: &ClusterMember,
    replicas: &ReplicaManager,
    batch: &[IsrProposal],
) -> Result<(), String> {
    let mut topics: Vec<TopicData> = Vec::new();
    for p in batch {
        let data = PartitionData::default()
            .with_partition_index(p.tp.partition)
            .with_leader_epoch(p.leader_epoch)
            // AlterPartition v3 (Kafka 4's controllers serve v2-3): the ISR with broker epochs.
            .with_new_isr_with_epochs(
                p.new_isr
                    .iter()
                    .map(|(id, epoch)| {
                        BrokerState::default()
                            .with_broker_id(BrokerId(*id))
                            .with_broker_epoch(*epoch)
                    })
                    .collect(),
            )
            .with_leader_recovery_state(RECOVERED)
            .with_partition_epoch(p.partition_epoch);
        match topics.iter_mut().find(|t| t.topic_id == p.topic_id) {
            Some(t) => t.partitions.push(data),
            None => topics.push(
                TopicData::default()
                    .with_topic_id(p.topic_id)
                    .with_partitions(vec![data]),
            ),
        }
    }
    let request = AlterPartitionRequest::default()
        .with_broker_id(BrokerId(member.node_id()))
        .with_broker_epoch(member.broker_epoch())
        .with_topics(topics);
    let response = member
        .call_controller(RequestKind::AlterPartition(request))
        .await
        .map_err(|e| e.message)?;
    let ResponseKind::AlterPartition(r) = response else {
        return Err("AlterPartition answered with another response".into());
    };
    if r.error_code != 0 {
        return Err(format!("error {:?}", r.error_code.err()));
    }
    for t in r.topics {
        for pd in t.partitions {
            let Some(proposal) = batch
                .iter()
                .find(|p| p.topic_id == t.topic_id && p.tp.partition == pd.partition_index)
            else {
                continue;
            };
            let Some(partition) = replicas.partition(&proposal.tp.topic, proposal.tp.partition)
            else {
                continue;
            };
            let result = match pd.error_code.err() {
                None => Ok(CommittedIsr {
                    isr: pd.isr.iter().map(|b| b.0).collect(),
                    leader_epoch: pd.leader_epoch,
                    partition_epoch: pd.partition_epoch,
                }),
                Some(e) => Err(e),
            };
            partition.complete_isr_change(result, replicas.now_ms());
        }
    }
    Ok(())
}
