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

fn lookup(broker: &Broker, ctx: &RequestContext<'_>, key_type: i8) -> Answer {
    let error = match key_type {
        0 => broker.ensure_offsets_topic().err().map(|e| {
            tracing::error!(error = %e.message, "cannot create __consumer_offsets");
            KafkaError::CoordinatorNotAvailable
        }),
        1 => broker.ensure_transaction_state_topic().err().map(|e| {
            tracing::error!(error = %e.message, "cannot create __transaction_state");
            KafkaError::CoordinatorNotAvailable
        }),
        _ => Some(KafkaError::InvalidRequest),
    };
    let ep = broker
        .config
        .endpoint_for(ctx.listener())
        .or_else(|| broker.config.advertised.first());
    match (error, ep) {
        (None, Some(ep)) => Answer {
            error: None,
            node: broker.node_id(),
            host: ep.host.clone(),
            port: i32::from(ep.port),
        },
        (e, _) => Answer {
            error: Some(e.unwrap_or(KafkaError::CoordinatorNotAvailable)),
            node: -1,
            host: String::new(),
            port: -1,
        },
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
            let a = lookup(broker, ctx, req.key_type);
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
        let a = lookup(broker, ctx, if v >= 1 { req.key_type } else { 0 });
        resp.error_code = a.error.map(|e| e.code()).unwrap_or(0);
        resp.node_id = BrokerId(a.node);
        resp.host = StrBytes::from_string(a.host);
        resp.port = a.port;
    }
    Reply::Response(ResponseKind::FindCoordinator(resp))
}
