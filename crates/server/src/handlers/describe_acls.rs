//! DescribeAcls (API key 29), v1-3 (v2+ flexible; v0 is gone from Kafka 4).
//!
//! Sluice has no authorizer (PLAINTEXT listeners, no authentication or authorization), so the
//! ACL APIs answer as Apache Kafka 4.3 does when `authorizer.class.name` is not set:
//! SECURITY_DISABLED with "No Authorizer is configured." (once for the request; compat-tests/differential,
//! case `acls`). Clients and tools read this as "ACLs are not in use": the AdminClient raises
//! SecurityDisabledException, and ClientCompatibilityTest counts the ACL calls as supported.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::{
    DescribeAclsRequest, DescribeAclsResponse, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

/// Kafka's message when no authorizer is configured.
pub const NO_AUTHORIZER: &str = "No Authorizer is configured.";

pub async fn handle(
    _broker: &Broker,
    _ctx: &RequestContext<'_>,
    _req: DescribeAclsRequest,
) -> Reply {
    Reply::Response(ResponseKind::DescribeAcls(
        DescribeAclsResponse::default()
            .with_error_code(KafkaError::SecurityDisabled.code())
            .with_error_message(Some(StrBytes::from_static_str(NO_AUTHORIZER))),
    ))
}
