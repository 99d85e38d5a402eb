//! The client side of the protocol: requests this node sends to controllers and other brokers
//! (BrokerRegistration, BrokerHeartbeat, KRaft Fetch and FetchSnapshot, replica Fetch, ...) and
//! the responses they answer with. No I/O: bytes in, typed messages out.
//!
//! - [`encode_request`]: a [`RequestHeader`] and a `RequestKind` body -> one size-prefixed frame,
//!   with the request-header version `kafka-protocol` defines for the API and version (v2 for
//!   flexible versions, else v1).
//! - [`decode_response`]: one frame (without its size prefix, as [`crate::frame::split_frame`]
//!   returns it) of a response to a request of `api` at `version` -> correlation id and
//!   `ResponseKind`. The response header is read by our own bounded code (v0: correlation id;
//!   v1: plus a tagged-field section; ApiVersions responses always use v0), the body is checked
//!   by [`crate::schema::validate_response_body`] and only then decoded by `kafka-protocol`,
//!   whose decoder trusts counts from the wire. A peer is network input like any client: a
//!   response that does not fit its schema is an error naming the API, version, field and byte,
//!   never a panic or an allocation larger than the frame justifies.
//! - [`peek_correlation_id`]: the first four bytes of any response frame, to find the request
//!   in flight that a frame answers before decoding it at that request's API and version.
//!
//! As Kafka's `ApiVersionsResponse.parse` does, an ApiVersions response that does not parse at
//! the requested version is parsed again as v0: a broker that does not support the requested
//! version answers with a v0 body carrying UNSUPPORTED_VERSION (35) and its own version range.
//!
//! The versions are those of `kafka-protocol` 0.18 (Kafka 4.1.0's schemas); a version outside
//! them is refused on both sides ([`SchemaError::NoResponseSchema`] when decoding), so a client
//! negotiates the highest version both the peer's ApiVersions and `ApiKey::valid_versions()`
//! allow.

use crate::header::{skip_tagged_fields, RequestHeader};
use crate::response::response_header_version;
use crate::schema::{self, SchemaError};
use crate::ApiKey;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{RequestKind, ResponseKind};
use thiserror::Error;

/// The APIs whose responses a broker of a KRaft cluster decodes: from the controller quorum
/// (KRaft Fetch and FetchSnapshot of `__cluster_metadata`, BrokerRegistration, BrokerHeartbeat,
/// Envelope, AllocateProducerIds, AlterPartition, DescribeQuorum) and from other brokers (replica
/// Fetch, OffsetForLeaderEpoch, WriteTxnMarkers), plus ApiVersions and Metadata. The
/// `response_decode` fuzz target picks its API from this list by its first input byte.
pub const PEER_RESPONSE_APIS: [ApiKey; 12] = [
    ApiKey::Fetch,
    ApiKey::FetchSnapshot,
    ApiKey::BrokerRegistration,
    ApiKey::BrokerHeartbeat,
    ApiKey::Envelope,
    ApiKey::AllocateProducerIds,
    ApiKey::AlterPartition,
    ApiKey::OffsetForLeaderEpoch,
    ApiKey::ApiVersions,
    ApiKey::Metadata,
    ApiKey::DescribeQuorum,
    ApiKey::WriteTxnMarkers,
];

/// A request that cannot be encoded: a bug on the caller's side (a mismatched header, a field
/// set that does not exist at that version, a version the codec does not know).
#[derive(Debug, Error)]
pub enum EncodeRequestError {
    #[error("request header names API key {header_key} but the body is {}", kind_name(*.body))]
    ApiKeyMismatch {
        header_key: i16,
        body: Option<ApiKey>,
    },
    #[error("{api:?} v{version} request header: client id of {len} bytes is longer than an int16 length allows (32767)")]
    ClientIdTooLong {
        api: ApiKey,
        version: i16,
        len: usize,
    },
    #[error("encoding {api:?} v{version} request: {source}")]
    Body {
        api: ApiKey,
        version: i16,
        source: anyhow::Error,
    },
    #[error("{api:?} v{version} request of {size} bytes does not fit an int32 frame size")]
    TooLarge {
        api: ApiKey,
        version: i16,
        size: usize,
    },
}

/// What was wrong with a response header.
#[derive(Debug, Clone, Copy, Error, PartialEq, Eq)]
pub enum HeaderProblem {
    #[error("{len} bytes, too short for the 4-byte correlation id")]
    Truncated { len: usize },
    #[error("malformed tagged-field section")]
    BadTaggedFields,
}

/// A response that cannot be decoded. The connection it came on can no longer be trusted to be
/// in step (its next frame may answer nothing we sent): close it.
#[derive(Debug, Error)]
pub enum ResponseError {
    #[error("{api:?} v{version} response header (v{header_version}): {problem}")]
    Header {
        api: ApiKey,
        version: i16,
        header_version: i16,
        problem: HeaderProblem,
    },
    /// The body does not fit the response schema (or the version has none).
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The body fits the schema but `kafka-protocol` refused a value in it (bad UTF-8, ...).
    #[error("decoding {api:?} v{version} response: {source}")]
    Decode {
        api: ApiKey,
        version: i16,
        source: anyhow::Error,
    },
}

/// Encode `header` and `body` as one request frame, size prefix included. The API key of
/// `header` must be that of `body`; its version is the version the body is encoded at.
pub fn encode_request(
    header: &RequestHeader,
    body: &RequestKind,
) -> Result<Bytes, EncodeRequestError> {
    let api = match request_api_key(body) {
        Some(api) if api as i16 == header.api_key => api,
        body => {
            return Err(EncodeRequestError::ApiKeyMismatch {
                header_key: header.api_key,
                body,
            })
        }
    };
    let version = header.api_version;
    let header_version = api.request_header_version(version);
    let mut out = BytesMut::with_capacity(64);
    out.put_i32(0); // size, filled in below
    out.put_i16(header.api_key);
    out.put_i16(version);
    out.put_i32(header.correlation_id);
    if header_version >= 1 {
        match &header.client_id {
            None => out.put_i16(-1),
            Some(id) => {
                let len =
                    i16::try_from(id.len()).map_err(|_| EncodeRequestError::ClientIdTooLong {
                        api,
                        version,
                        len: id.len(),
                    })?;
                out.put_i16(len);
                out.put_slice(id.as_bytes());
            }
        }
    }
    if header_version >= 2 {
        out.put_u8(0); // no tagged fields
    }
    body.encode(&mut out, version)
        .map_err(|source| EncodeRequestError::Body {
            api,
            version,
            source,
        })?;
    let size = out.len() - 4;
    let size_i32 =
        i32::try_from(size).map_err(|_| EncodeRequestError::TooLarge { api, version, size })?;
    out[..4].copy_from_slice(&size_i32.to_be_bytes());
    Ok(out.freeze())
}

/// The correlation id of a response frame (its first four bytes, whatever the header version).
pub fn peek_correlation_id(frame: &[u8]) -> Option<i32> {
    let b = frame.get(..4)?;
    Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Decode `frame` (a response without its size prefix) as the response to a request of `api` at
/// `version`: its correlation id and body.
pub fn decode_response(
    api: ApiKey,
    version: i16,
    frame: Bytes,
) -> Result<(i32, ResponseKind), ResponseError> {
    if !schema::response_schema(api).is_some_and(|m| m.valid.contains(version)) {
        return Err(SchemaError::NoResponseSchema { api, version }.into());
    }
    let header_version = response_header_version(api, version);
    let header_err = |problem| ResponseError::Header {
        api,
        version,
        header_version,
        problem,
    };
    let correlation_id = peek_correlation_id(&frame)
        .ok_or(header_err(HeaderProblem::Truncated { len: frame.len() }))?;
    let mut start = 4;
    if header_version >= 1 {
        start =
            skip_tagged_fields(&frame, start).ok_or(header_err(HeaderProblem::BadTaggedFields))?;
    }
    let body = frame.slice(start..);
    match decode_body(api, version, body.clone()) {
        Ok(kind) => Ok((correlation_id, kind)),
        // Kafka's ApiVersionsResponse.parse: a broker that does not know the requested version
        // answers with a v0 body (and the v0 header, which every ApiVersions response has).
        Err(first) if api == ApiKey::ApiVersions && version != 0 => decode_body(api, 0, body)
            .map(|kind| (correlation_id, kind))
            .map_err(|_| first),
        Err(e) => Err(e),
    }
}

/// Validate `body` against the response schema, then decode it with `kafka-protocol`.
fn decode_body(api: ApiKey, version: i16, body: Bytes) -> Result<ResponseKind, ResponseError> {
    schema::validate_response_body(api, version, &body)?;
    let mut body = body;
    ResponseKind::decode(api, &mut body, version).map_err(|source| ResponseError::Decode {
        api,
        version,
        source,
    })
}

/// Every message kind `kafka-protocol` 0.18 has, by its `ApiKey` / `RequestKind` /
/// `ResponseKind` variant name (the three enums name them alike).
macro_rules! for_every_kind {
    ($m:ident) => {
        $m!(
            Produce,
            Fetch,
            ListOffsets,
            Metadata,
            OffsetCommit,
            OffsetFetch,
            FindCoordinator,
            JoinGroup,
            Heartbeat,
            LeaveGroup,
            SyncGroup,
            DescribeGroups,
            ListGroups,
            SaslHandshake,
            ApiVersions,
            CreateTopics,
            DeleteTopics,
            DeleteRecords,
            InitProducerId,
            OffsetForLeaderEpoch,
            AddPartitionsToTxn,
            AddOffsetsToTxn,
            EndTxn,
            WriteTxnMarkers,
            TxnOffsetCommit,
            DescribeAcls,
            CreateAcls,
            DeleteAcls,
            DescribeConfigs,
            AlterConfigs,
            AlterReplicaLogDirs,
            DescribeLogDirs,
            SaslAuthenticate,
            CreatePartitions,
            CreateDelegationToken,
            RenewDelegationToken,
            ExpireDelegationToken,
            DescribeDelegationToken,
            DeleteGroups,
            ElectLeaders,
            IncrementalAlterConfigs,
            AlterPartitionReassignments,
            ListPartitionReassignments,
            OffsetDelete,
            DescribeClientQuotas,
            AlterClientQuotas,
            DescribeUserScramCredentials,
            AlterUserScramCredentials,
            Vote,
            BeginQuorumEpoch,
            EndQuorumEpoch,
            DescribeQuorum,
            AlterPartition,
            UpdateFeatures,
            Envelope,
            FetchSnapshot,
            DescribeCluster,
            DescribeProducers,
            BrokerRegistration,
            BrokerHeartbeat,
            UnregisterBroker,
            DescribeTransactions,
            ListTransactions,
            AllocateProducerIds,
            ConsumerGroupHeartbeat,
            ConsumerGroupDescribe,
            ControllerRegistration,
            GetTelemetrySubscriptions,
            PushTelemetry,
            AssignReplicasToDirs,
            ListConfigResources,
            DescribeTopicPartitions,
            ShareGroupHeartbeat,
            ShareGroupDescribe,
            ShareFetch,
            ShareAcknowledge,
            AddRaftVoter,
            RemoveRaftVoter,
            UpdateRaftVoter,
            InitializeShareGroupState,
            ReadShareGroupState,
            WriteShareGroupState,
            DeleteShareGroupState,
            ReadShareGroupStateSummary,
            DescribeShareGroupOffsets,
            AlterShareGroupOffsets,
            DeleteShareGroupOffsets
        )
    };
}

#[cfg(test)]
pub(crate) use for_every_kind;

/// The API key of a request body (`None` only for a kind a newer `kafka-protocol` would add:
/// its enums are `#[non_exhaustive]`).
pub fn request_api_key(body: &RequestKind) -> Option<ApiKey> {
    macro_rules! key {
        ($($name:ident),*) => {
            match body {
                $(RequestKind::$name(_) => Some(ApiKey::$name),)*
                _ => None,
            }
        };
    }
    for_every_kind!(key)
}

/// The API key of a response body (`None` as for [`request_api_key`]).
pub fn response_api_key(body: &ResponseKind) -> Option<ApiKey> {
    macro_rules! key {
        ($($name:ident),*) => {
            match body {
                $(ResponseKind::$name(_) => Some(ApiKey::$name),)*
                _ => None,
            }
        };
    }
    for_every_kind!(key)
}

fn kind_name(api: Option<ApiKey>) -> String {
    match api {
        Some(api) => format!("a {api:?} request"),
        None => "a request of a kind this codec does not know".to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests;
