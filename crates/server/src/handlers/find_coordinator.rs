//! FindCoordinator (API key 10), v0-6.
//!
//! - v1: key_type, throttle_time_ms, error_message. v3: flexible. v4: batched
//!   coordinator_keys with a coordinators array (KIP-699). v5-6: more error codes.
//! - Group keys (type 0): this node, after creating `__consumer_offsets` on first use.
//! - Transaction keys (type 1): this node, after creating `__transaction_state` on first use.
//! - Other key types: INVALID_REQUEST. The endpoint is the advertised address of the listener
//!   the request arrived on.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use crate::coordinator::group::OFFSETS_TOPIC;
use crate::coordinator::transaction::TRANSACTION_STATE_TOPIC;
use crate::metadata_cache;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::find_coordinator_response::Coordinator;
use sluice_protocol::kafka_protocol::messages::{
    BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

struct Answer {
    error: Option<KafkaError>,
    node: i32,
    host: String,
    port: i32,
}

fn lookup(broker: &Broker, ctx: &RequestContext<'_>, key_type: i8, key: &str) -> Answer {
    let error = match key_type {
        0 => broker.ensure_offsets_topic().err().map(|e| {
            if e.code != KafkaError::CoordinatorNotAvailable {
                tracing::error!(error = %e.message, "cannot create __consumer_offsets");
            }
            KafkaError::CoordinatorNotAvailable
        }),
        1 => broker.ensure_transaction_state_topic().err().map(|e| {
            if e.code != KafkaError::CoordinatorNotAvailable {
                tracing::error!(error = %e.message, "cannot create __transaction_state");
            }
            KafkaError::CoordinatorNotAvailable
        }),
        _ => Some(KafkaError::InvalidRequest),
    };
    let unavailable = |e: Option<KafkaError>| Answer {
        error: Some(e.unwrap_or(KafkaError::CoordinatorNotAvailable)),
        node: -1,
        host: String::new(),
        port: -1,
    };
    if error.is_some() {
        return unavailable(error);
    }
    if broker.member().is_some() {
        // A cluster broker: the coordinator is the leader of the key's partition of the
        // internal topic, if it is alive and reachable on this listener.
        let (topic, partition) = if key_type == 0 {
            (OFFSETS_TOPIC, broker.groups.partition_for(key))
        } else {
            (TRANSACTION_STATE_TOPIC, broker.txn.partition_for(key))
        };
        let image = broker.image();
        let leader = image
            .topics
            .get(topic)
            .and_then(|t| t.partition(partition))
            .and_then(|reg| metadata_cache::reachable_leader(&image, reg, ctx.listener()));
        return match leader {
            Some(ep) => Answer {
                error: None,
                node: ep.id,
                host: ep.host,
                port: i32::from(ep.port),
            },
            None => unavailable(None),
        };
    }
    let ep = broker
        .config
        .endpoint_for(ctx.listener())
        .or_else(|| broker.config.advertised.first());
    match ep {
        Some(ep) => Answer {
            error: None,
            node: broker.node_id(),
            host: ep.host.clone(),
            port: i32::from(ep.port),
        },
        None => unavailable(None),
    }
}

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext<'_>,
    req: FindCoordinatorRequest,
) -> Reply {
    let v = ctx.version;
    let mut resp = FindCoordinatorResponse::default();
    if v >= 4 {
        for key in &req.coordinator_keys {
            let a = lookup(broker, ctx, req.key_type, key.as_str());
            resp.coordinators.push(
                Coordinator::default()
                    .with_key(key.clone())
                    .with_node_id(BrokerId(a.node))
                    .with_host(StrBytes::from_string(a.host))
                    .with_port(a.port)
                    .with_error_code(a.error.map(|e| e.code()).unwrap_or(0)),
            );
        }
    } else {
        let a = lookup(
            broker,
            ctx,
            if v >= 1 { req.key_type } else { 0 },
            req.key.as_str(),
        );
        resp.error_code = a.error.map(|e| e.code()).unwrap_or(0);
        resp.node_id = BrokerId(a.node);
        resp.host = StrBytes::from_string(a.host);
        resp.port = a.port;
    }
    Reply::Response(ResponseKind::FindCoordinator(resp))
}
