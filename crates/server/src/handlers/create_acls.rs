//! CreateAcls (API key 30), v1-3 (v2+ flexible; v0 is gone from Kafka 4).
//!
//! Sluice has no authorizer (PLAINTEXT listeners, no authentication or authorization), so the
//! ACL APIs answer as Apache Kafka 4.3 does when `authorizer.class.name` is not set:
//! SECURITY_DISABLED with "No Authorizer is configured." (for every creation; compat-tests/differential,
//! case `acls`). Clients and tools read this as "ACLs are not in use": the AdminClient raises
//! SecurityDisabledException, and ClientCompatibilityTest counts the ACL calls as supported.

use super::describe_acls::NO_AUTHORIZER;
use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::create_acls_response::AclCreationResult;
use sluice_protocol::kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

pub async fn handle(_broker: &Broker, _ctx: &RequestContext<'_>, req: CreateAclsRequest) -> Reply {
    let results = req
        .creations
        .iter()
        .map(|_| {
            AclCreationResult::default()
                .with_error_code(KafkaError::SecurityDisabled.code())
                .with_error_message(Some(StrBytes::from_static_str(NO_AUTHORIZER)))
        })
        .collect();
    Reply::Response(ResponseKind::CreateAcls(
        CreateAclsResponse::default().with_results(results),
    ))
}
