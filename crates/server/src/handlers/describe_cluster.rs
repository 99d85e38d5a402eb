//! DescribeCluster (API key 60), v0-2 (all flexible).
//!
//! - cluster id, controller id = this node (it is its own controller), and this broker at the
//!   advertised endpoint of the listener the request arrived on (rack null).
//! - cluster_authorized_operations: the CLUSTER operations (no authorizer: all of them, as
//!   Kafka) when asked, else i32::MIN.
//! - v1: endpoint_type in request and response; only 1 (BROKERS) is served: asking a broker
//!   for controllers (2) gets MISMATCHED_ENDPOINT_TYPE (114) and endpoint_type 1 (the type of
//!   the endpoint that answered), as Kafka 4.3's broker answers (compat-tests/differential).
//! - v2: include_fenced_brokers, is_fenced per broker (never fenced).

use super::metadata::CLUSTER_OPERATIONS;
use super::{Reply, RequestContext};
use crate::broker::Broker;
use crate::metadata_cache;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use sluice_protocol::kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

const ENDPOINT_BROKERS: i8 = 1;

/// One of `ids`, picked at random (Kafka's getRandomAliveBrokerId).
fn pick(ids: &[i32]) -> Option<i32> {
    if ids.is_empty() {
        return None;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as usize)
        .unwrap_or(0);
    ids.get(nanos % ids.len()).copied()
}

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext<'_>,
    req: DescribeClusterRequest,
) -> Reply {
    let v = ctx.version;
    let node = broker.node_id();
    let mut resp = DescribeClusterResponse::default()
        .with_cluster_id(StrBytes::from_string(broker.cluster_id.clone()))
        .with_controller_id(BrokerId(node))
        .with_cluster_authorized_operations(if req.include_cluster_authorized_operations {
            CLUSTER_OPERATIONS
        } else {
            i32::MIN
        });
    if v >= 1 {
        resp.endpoint_type = ENDPOINT_BROKERS;
        if req.endpoint_type != ENDPOINT_BROKERS {
            resp.error_code = KafkaError::MismatchedEndpointType.code();
            resp.error_message = Some(StrBytes::from_string(format!(
                "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type {}",
                if req.endpoint_type == 2 { "CONTROLLER" } else { "UNKNOWN" }
            )));
            resp.controller_id = BrokerId(-1);
            resp.cluster_authorized_operations = i32::MIN;
            return Reply::Response(ResponseKind::DescribeCluster(resp));
        }
    }
    if broker.member().is_some() {
        // A cluster broker: the registered brokers with an endpoint on this listener (the
        // fenced ones too when asked, v2+); the controller id is an alive broker's, as in
        // Metadata.
        let image = broker.image();
        let include_fenced = v >= 2 && req.include_fenced_brokers;
        let mut alive = Vec::new();
        for b in image.cluster.brokers.values() {
            let fenced = b.record.fenced;
            if fenced && !include_fenced {
                continue;
            }
            let Some(ep) = metadata_cache::endpoint(&image, b.id(), ctx.listener()) else {
                continue;
            };
            if !fenced {
                alive.push(ep.id);
            }
            let mut entry = DescribeClusterBroker::default()
                .with_broker_id(BrokerId(ep.id))
                .with_host(StrBytes::from_string(ep.host))
                .with_port(i32::from(ep.port))
                .with_rack(ep.rack.map(StrBytes::from_string));
            if v >= 2 {
                entry.is_fenced = fenced;
            }
            resp.brokers.push(entry);
        }
        resp.controller_id = BrokerId(pick(&alive).unwrap_or(-1));
        return Reply::Response(ResponseKind::DescribeCluster(resp));
    }
    if let Some(ep) = broker
        .config
        .endpoint_for(ctx.listener())
        .or_else(|| broker.config.advertised.first())
    {
        resp.brokers.push(
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(node))
                .with_host(StrBytes::from_string(ep.host.clone()))
                .with_port(i32::from(ep.port)),
        );
    }
    Reply::Response(ResponseKind::DescribeCluster(resp))
}
