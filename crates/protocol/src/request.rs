//! From a frame to a typed request body.

use crate::schema::{self, SchemaError};
use crate::ApiKey;
use bytes::Bytes;
use kafka_protocol::messages::RequestKind;
use thiserror::Error;

/// A body that cannot be decoded. The connection that sent it is closed, as Kafka does.
#[derive(Debug, Error)]
pub enum BodyError {
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("{api:?} v{version}: {source}")]
    Decode {
        api: ApiKey,
        version: i16,
        source: anyhow::Error,
    },
}

/// Validate `body` against the schema, then decode it with `kafka-protocol`.
pub fn decode_body(api: ApiKey, version: i16, body: Bytes) -> Result<RequestKind, BodyError> {
    schema::validate_request_body(api, version, &body)?;
    // kafka-protocol 0.18 cannot decode these two versions; ours can (offsets_v10).
    let v10 = |e: crate::offsets_v10::V10Error| BodyError::Decode {
        api,
        version,
        source: anyhow::anyhow!(e),
    };
    match (api, version) {
        (ApiKey::OffsetCommit, 10) => {
            return crate::offsets_v10::decode_offset_commit_v10(body)
                .map(RequestKind::OffsetCommit)
                .map_err(v10)
        }
        (ApiKey::OffsetFetch, 10) => {
            return crate::offsets_v10::decode_offset_fetch_v10(body)
                .map(RequestKind::OffsetFetch)
                .map_err(v10)
        }
        _ => {}
    }
    let mut body = body;
    RequestKind::decode(api, &mut body, version).map_err(|source| BodyError::Decode {
        api,
        version,
        source,
    })
}
