//! One file per Kafka API, each with version notes at its top, and the registry that ties them
//! together.
//!
//! [`SUPPORTED`] is the single list of (API, min version, max version) this broker serves. It
//! drives both the request dispatch and the ApiVersions response, so ApiVersions advertises
//! exactly what is implemented.

use crate::broker::Broker;
use bytes::{Bytes, BytesMut};
use sluice_protocol::header::{self, HeaderError, RequestHeader};
use sluice_protocol::kafka_protocol::messages::{RequestKind, ResponseKind};
use sluice_protocol::request::{decode_body, BodyError};
use sluice_protocol::response::{encode_response, EncodeError};
use sluice_protocol::ApiKey;
use std::net::SocketAddr;
use std::sync::Arc;
use thiserror::Error;

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_configs;
pub mod alter_partition_reassignments;
pub mod api_versions;
pub mod consumer_group_describe;
pub mod consumer_group_heartbeat;
pub mod create_acls;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_acls;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_acls;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_topic_partitions;
pub mod describe_transactions;
pub mod elect_leaders;
pub mod end_txn;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod list_partition_reassignments;
pub mod list_transactions;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod sync_group;
mod txn_common;
pub mod txn_offset_commit;
pub mod write_txn_markers;

/// Per-connection facts a handler may need.
pub struct ConnectionContext {
    pub peer: SocketAddr,
    /// The listener the connection arrived on: Metadata answers with its advertised endpoint.
    pub listener: Arc<str>,
}

/// Per-request facts.
pub struct RequestContext<'a> {
    pub conn: &'a ConnectionContext,
    pub header: RequestHeader,
    pub api: ApiKey,
    pub version: i16,
}

/// What a handler answers. (Boxing the response would cost an allocation per request for
/// nothing: a Reply lives on the stack of one request.)
#[allow(clippy::large_enum_variant)]
pub enum Reply {
    Response(ResponseKind),
    /// A complete response frame (size prefix included) as chunks for a vectored write, so
    /// record data read from the log reaches the socket without being copied (Fetch).
    Frame(Vec<Bytes>),
    /// No response at all (Produce with acks=0).
    None,
    /// The reply once a future completes (Produce in fsync-before-ack mode: the group-commit
    /// fsync). The connection goes on serving its next requests meanwhile and sends the
    /// responses in request order, so pipelined produces share one fsync.
    Deferred(DeferredReply),
}

/// A reply that completes later; it owns everything it needs.
pub type DeferredReply = std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send>>;

/// Why a connection is closed instead of answered.
#[derive(Debug, Error)]
pub enum CloseReason {
    #[error("request header: {0}")]
    Header(#[from] HeaderError),
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    #[error("{api:?} is not supported by this broker")]
    UnsupportedApi { api: ApiKey },
    #[error("{api:?} v{version} is not supported (supported: v{min}-v{max})")]
    UnsupportedVersion {
        api: ApiKey,
        version: i16,
        min: i16,
        max: i16,
    },
    #[error("request body: {0}")]
    Body(#[from] BodyError),
    #[error("response: {0}")]
    Encode(#[from] EncodeError),
    #[error("{api:?} could not be forwarded to the controller: {message}")]
    Forwarding { api: ApiKey, message: String },
}

macro_rules! registry {
    ($( $variant:ident => $module:ident, $min:expr, $max:expr; )*) => {
        /// Every API this broker serves, with its version range.
        pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[ $( (ApiKey::$variant, $min, $max), )* ];

        async fn dispatch(broker: &Broker, ctx: &RequestContext<'_>, req: RequestKind) -> Reply {
            match req {
                $( RequestKind::$variant(r) => $module::handle(broker, ctx, r).await, )*
                // Unreachable: the API key was checked against SUPPORTED before decoding.
                _ => Reply::None,
            }
        }
    };
}

registry! {
    Produce => produce, 3, 13;
    Fetch => fetch, 4, 18;
    ListOffsets => list_offsets, 1, 11;
    InitProducerId => init_producer_id, 0, 5;
    AddPartitionsToTxn => add_partitions_to_txn, 0, 5;
    AddOffsetsToTxn => add_offsets_to_txn, 0, 4;
    EndTxn => end_txn, 0, 5;
    TxnOffsetCommit => txn_offset_commit, 0, 5;
    WriteTxnMarkers => write_txn_markers, 1, 2;
    FindCoordinator => find_coordinator, 0, 6;
    JoinGroup => join_group, 0, 9;
    SyncGroup => sync_group, 0, 5;
    Heartbeat => heartbeat, 0, 4;
    LeaveGroup => leave_group, 0, 5;
    OffsetCommit => offset_commit, 2, 10;
    OffsetFetch => offset_fetch, 1, 10;
    ListGroups => list_groups, 0, 5;
    DescribeGroups => describe_groups, 0, 6;
    DeleteGroups => delete_groups, 0, 2;
    OffsetDelete => offset_delete, 0, 0;
    ConsumerGroupHeartbeat => consumer_group_heartbeat, 0, 1;
    ConsumerGroupDescribe => consumer_group_describe, 0, 1;
    ApiVersions => api_versions, 0, 4;
    Metadata => metadata, 0, 13;
    CreateTopics => create_topics, 2, 7;
    DeleteTopics => delete_topics, 1, 6;
    DescribeConfigs => describe_configs, 1, 4;
    DescribeAcls => describe_acls, 1, 3;
    CreateAcls => create_acls, 1, 3;
    DeleteAcls => delete_acls, 1, 3;
    DescribeTopicPartitions => describe_topic_partitions, 0, 0;
    AlterConfigs => alter_configs, 0, 2;
    IncrementalAlterConfigs => incremental_alter_configs, 0, 1;
    CreatePartitions => create_partitions, 0, 3;
    DeleteRecords => delete_records, 0, 2;
    DescribeCluster => describe_cluster, 0, 2;
    DescribeLogDirs => describe_log_dirs, 1, 4;
    DescribeProducers => describe_producers, 0, 0;
    DescribeTransactions => describe_transactions, 0, 0;
    ListTransactions => list_transactions, 0, 2;
    OffsetForLeaderEpoch => offset_for_leader_epoch, 2, 4;
    ElectLeaders => elect_leaders, 0, 2;
    AlterPartitionReassignments => alter_partition_reassignments, 0, 1;
    ListPartitionReassignments => list_partition_reassignments, 0, 0;
}

/// The version whose wire layout (request and response) a version newer than the codec crate's
/// shares: such a request is decoded and its response encoded as that version, while the
/// handler sees the real version (`RequestContext::version`) for its semantics.
/// ListOffsets v11 (Kafka 4.2, KIP-1023) only allows timestamp -6.
pub fn wire_version(api: ApiKey, version: i16) -> i16 {
    match (api, version) {
        (ApiKey::ListOffsets, 11) => 10,
        _ => version,
    }
}

/// The version range served for `api`.
pub fn supported_range(api: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == api)
        .map(|(_, min, max)| (*min, *max))
}

/// What to write back for one request.
pub enum Outgoing {
    /// Nothing (acks=0).
    Nothing,
    /// The response was encoded into the caller's buffer.
    Buffer,
    /// The response frame as chunks.
    Chunks(Vec<Bytes>),
    /// A reply still to come ([`Reply::Deferred`]); [`Deferred::finish`] encodes it.
    Deferred(Deferred),
}

/// A deferred reply with what encoding it needs.
pub struct Deferred {
    reply: DeferredReply,
    api: ApiKey,
    wire_version: i16,
    correlation_id: i32,
}

impl Deferred {
    /// Wait for the reply and encode it into `out` (or pass its chunks on). Never
    /// [`Outgoing::Deferred`] again.
    pub async fn finish(self, out: &mut BytesMut) -> Result<Outgoing, CloseReason> {
        let reply = self.reply.await;
        encode_reply(out, self.api, self.wire_version, self.correlation_id, reply)
    }
}

fn encode_reply(
    out: &mut BytesMut,
    api: ApiKey,
    wire_version: i16,
    correlation_id: i32,
    reply: Reply,
) -> Result<Outgoing, CloseReason> {
    Ok(match reply {
        Reply::Response(resp) => {
            encode_response(out, api, wire_version, correlation_id, &resp)?;
            Outgoing::Buffer
        }
        Reply::Frame(chunks) => Outgoing::Chunks(chunks),
        Reply::None => Outgoing::Nothing,
        // A deferred reply resolving to another deferred one: wait for that too.
        Reply::Deferred(reply) => Outgoing::Deferred(Deferred {
            reply,
            api,
            wire_version,
            correlation_id,
        }),
    })
}

async fn forward(
    member: &crate::cluster::member::ClusterMember,
    conn: &ConnectionContext,
    api: ApiKey,
    frame: Bytes,
) -> Result<Outgoing, CloseReason> {
    match member.forward(frame, conn.peer).await {
        Ok(response) => {
            let size = i32::try_from(response.len()).map_err(|_| CloseReason::Forwarding {
                api,
                message: "the controller's response is too large".into(),
            })?;
            Ok(Outgoing::Chunks(vec![
                Bytes::copy_from_slice(&size.to_be_bytes()),
                response,
            ]))
        }
        // The client retries on a new connection (Kafka answers the request's own error
        // response; a disconnect is retriable for every client too).
        Err(e) => Err(CloseReason::Forwarding {
            api,
            message: e.message,
        }),
    }
}

/// Serve one frame: decode, dispatch, and encode the response (into `out`, or as chunks).
pub async fn handle_frame(
    broker: &Broker,
    conn: &ConnectionContext,
    frame: Bytes,
    out: &mut BytesMut,
) -> Result<Outgoing, CloseReason> {
    let (raw_key, version, correlation_id) =
        header::peek_prefix(&frame).ok_or(HeaderError::Truncated {
            len: frame.len(),
            need: 8,
        })?;
    let api = ApiKey::try_from(raw_key).map_err(|_| CloseReason::UnknownApiKey(raw_key))?;
    let (min, max) = supported_range(api).ok_or(CloseReason::UnsupportedApi { api })?;
    if version < min || version > max {
        if api == ApiKey::ApiVersions {
            // Kafka answers an ApiVersions it cannot parse with UNSUPPORTED_VERSION and its
            // ranges, encoded as v0, so the client can retry with a version we know.
            let body = api_versions::unsupported_version_response();
            encode_response(
                out,
                api,
                0,
                correlation_id,
                &ResponseKind::ApiVersions(body),
            )?;
            return Ok(Outgoing::Buffer);
        }
        return Err(CloseReason::UnsupportedVersion {
            api,
            version,
            min,
            max,
        });
    }
    let (header, body_start) =
        header::decode(&frame, header::request_header_version(api, version))?;
    if let Some(member) = broker.member() {
        if crate::cluster::member::FORWARDED.contains(&api) {
            // A cluster broker sends metadata changes to the controller as they came (Kafka's
            // ForwardingManager): the request in an Envelope, the controller's response
            // relayed as it is.
            return forward(member, conn, api, frame).await;
        }
    }
    let body = frame.slice(body_start..);
    if api == ApiKey::WriteTxnMarkers && version == 2 {
        // Beyond the codec crate: our own decoder; the response has v1's layout.
        let markers = sluice_protocol::write_txn_markers_v2::decode_write_txn_markers_v2(&body)
            .map_err(|e| BodyError::Decode {
                api,
                version,
                source: e.into(),
            })?;
        let resp = write_txn_markers::handle_v2(broker, &markers).await;
        encode_response(
            out,
            api,
            1,
            correlation_id,
            &ResponseKind::WriteTxnMarkers(resp),
        )?;
        return Ok(Outgoing::Buffer);
    }
    let request = decode_body(api, wire_version(api, version), body)?;
    let ctx = RequestContext {
        conn,
        header,
        api,
        version,
    };
    let reply = dispatch(broker, &ctx, request).await;
    encode_reply(out, api, wire_version(api, version), correlation_id, reply)
}
