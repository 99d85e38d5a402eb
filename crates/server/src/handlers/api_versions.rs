//! ApiVersions (API key 18), v0-4.
//!
//! - v0: api_keys. v1: + throttle_time_ms. v3: flexible; request carries
//!   client_software_name/version (validated as Kafka does, logged); response gains tagged
//!   supported_features / finalized_features. v4: same shape (KIP-511 clients use it).
//! - A request of a version above ours is answered by [`unsupported_version_response`] as v0
//!   (see handlers::handle_frame).
//! - The api_keys list is derived from [`super::SUPPORTED`]. Produce is advertised from v0 even
//!   though v0-2 are refused, as Kafka does (librdkafka only sends compressed produce when v0 is
//!   listed: KAFKA-18659).
//! - v3+: supported and finalized features (controller::features): group.version (the KIP-848
//!   consumer protocol, ConsumerGroupHeartbeat / ConsumerGroupDescribe) and transaction.version
//!   (KIP-890 transactions v2: Produce v12 implicit adds, EndTxn v5 epoch bumps), at the levels
//!   the cluster metadata finalizes (a new cluster: 1 and 2, as Kafka 4.3); the others Kafka
//!   lists (metadata.version, share.version, ...) gate what Sluice does not do, or matter only
//!   between Kafka nodes. finalized_features_epoch is the metadata offset.

use super::{Reply, RequestContext, SUPPORTED};

use crate::broker::Broker;
use crate::controller::features;
use sluice_protocol::error::KafkaError;
use sluice_protocol::kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use sluice_protocol::kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, ResponseKind,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;

/// The advertised api_keys list.
pub fn advertised() -> Vec<ApiVersion> {
    SUPPORTED
        .iter()
        .map(|(key, min, max)| {
            let min = if *key == ApiKey::Produce { 0 } else { *min };
            ApiVersion::default()
                .with_api_key(*key as i16)
                .with_min_version(min)
                .with_max_version(*max)
        })
        .collect()
}

/// The v0 answer to an ApiVersions request of a version we do not know.
pub fn unsupported_version_response() -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(KafkaError::UnsupportedVersion.code())
        .with_api_keys(advertised())
}

/// Kafka's rule for client_software_name/version: `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`.
fn valid_software_field(s: &str) -> bool {
    let b = s.as_bytes();
    let inner_ok = |c: &u8| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'.';
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() && b.iter().all(inner_ok)
        }
        _ => false,
    }
}

pub async fn handle(broker: &Broker, ctx: &RequestContext<'_>, req: ApiVersionsRequest) -> Reply {
    if ctx.version >= 3 {
        let name = req.client_software_name.as_str();
        let version = req.client_software_version.as_str();
        if !valid_software_field(name) || !valid_software_field(version) {
            return Reply::Response(ResponseKind::ApiVersions(
                ApiVersionsResponse::default().with_error_code(KafkaError::InvalidRequest.code()),
            ));
        }
        tracing::info!(
            peer = %ctx.conn.peer,
            client_id = ctx.header.client_id.as_deref().unwrap_or(""),
            software = name,
            software_version = version,
            "client connected"
        );
    }
    let mut resp = ApiVersionsResponse::default().with_api_keys(advertised());
    if ctx.version >= 3 {
        resp.supported_features = features::SUPPORTED
            .iter()
            .filter(|f| f.advertised)
            .map(|f| {
                SupportedFeatureKey::default()
                    .with_name(StrBytes::from_static_str(f.name))
                    .with_min_version(f.min)
                    .with_max_version(f.max)
            })
            .collect();
        let image = broker.image();
        resp.finalized_features = features::finalized_advertised(&image)
            .into_iter()
            .map(|(name, level)| {
                FinalizedFeatureKey::default()
                    .with_name(StrBytes::from_static_str(name))
                    .with_min_version_level(level)
                    .with_max_version_level(level)
            })
            .collect();
        resp.finalized_features_epoch = image.provenance.last_offset.max(0);
    }
    Reply::Response(ResponseKind::ApiVersions(resp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_field_rule() {
        for ok in [
            "apache-kafka-java",
            "4.3.1",
            "a",
            "librdkafka",
            "v2.0.0-rc1",
        ] {
            assert!(valid_software_field(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a b", "a_b", "ü"] {
            assert!(!valid_software_field(bad), "{bad}");
        }
    }

    #[test]
    fn advertises_registry() {
        let adv = advertised();
        assert_eq!(adv.len(), SUPPORTED.len());
        for (a, (key, _, max)) in adv.iter().zip(SUPPORTED) {
            assert_eq!(a.api_key, *key as i16);
            assert_eq!(a.max_version, *max);
        }
    }
}
