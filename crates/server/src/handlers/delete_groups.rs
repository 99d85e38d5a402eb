//! DeleteGroups (API key 42), v0-2.
//!
//! - v1: no wire change. v2: flexible.
//! - Only empty groups can be deleted (NON_EMPTY_GROUP); unknown groups: GROUP_ID_NOT_FOUND.
//!   Tombstones for the group and its offsets are written to `__consumer_offsets`.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use sluice_protocol::kafka_protocol::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, ResponseKind,
};

pub async fn handle(broker: &Broker, _ctx: &RequestContext<'_>, req: DeleteGroupsRequest) -> Reply {
    let mut resp = DeleteGroupsResponse::default();
    for g in &req.groups_names {
        let err = match broker.consumer_groups.delete(g.as_str()) {
            // A KIP-848 group: its offsets live in the classic coordinator's entry, if any.
            Some(Ok(())) => broker
                .groups
                .delete_group(g.as_str())
                .filter(|e| *e != sluice_protocol::error::KafkaError::GroupIdNotFound),
            Some(Err(e)) => Some(e),
            None => broker.groups.delete_group(g.as_str()),
        };
        resp.results.push(
            DeletableGroupResult::default()
                .with_group_id(g.clone())
                .with_error_code(err.map(|e| e.code()).unwrap_or(0)),
        );
    }
    Reply::Response(ResponseKind::DeleteGroups(resp))
}
