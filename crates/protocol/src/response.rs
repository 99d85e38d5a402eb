//! From a typed response body to a size-prefixed frame.

use crate::ApiKey;
use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::ResponseKind;
use thiserror::Error;

/// A response that cannot be encoded at the negotiated version: a bug on our side (a field set
/// that does not exist at that version). Logged, and the connection is closed.
#[derive(Debug, Error)]
#[error("encoding {api:?} v{version} response: {source}")]
pub struct EncodeError {
    pub api: ApiKey,
    pub version: i16,
    pub source: anyhow::Error,
}

/// The response-header version for `api` at `version`. ApiVersions always uses v0.
pub fn response_header_version(api: ApiKey, version: i16) -> i16 {
    if api == ApiKey::ApiVersions {
        0
    } else {
        api.response_header_version(version)
    }
}

/// Encode `body` with its response header into `out`, size prefix included.
pub fn encode_response(
    out: &mut BytesMut,
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> Result<(), EncodeError> {
    let start = out.len();
    out.put_i32(0);
    out.put_i32(correlation_id);
    if response_header_version(api, version) >= 1 {
        out.put_u8(0); // no tagged fields
    }
    if let Err(source) = body.encode(out, version) {
        out.truncate(start);
        return Err(EncodeError {
            api,
            version,
            source,
        });
    }
    let size = (out.len() - start - 4) as i32;
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
    Ok(())
}
