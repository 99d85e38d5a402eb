//! Bytes <-> typed Kafka messages. No I/O, no tokio.
//!
//! - [`frame`]: splitting a byte stream into size-prefixed frames, with a size cap.
//! - [`header`]: our own request-header decoder (never panics on short input).
//! - [`schema`]: a table-driven walker, generated from Kafka's message schemas, that checks every
//!   length and count in a request body against the bytes actually present *before* the body is
//!   handed to the `kafka-protocol` crate (whose decoder trusts counts from the wire).
//! - [`request`]: frame -> header + typed body.
//! - [`response`]: typed body -> size-prefixed frame with the right response-header version.
//! - [`client`]: the other direction, for a node that talks to controllers and other brokers:
//!   typed request -> frame, and response frame -> typed body, checked against the response
//!   schema (by the same [`schema`] walker) before `kafka-protocol` decodes it.
//! - [`error`]: Kafka error codes.
//! - [`metadata`]: KRaft metadata records and KRaft control records (generated from Kafka's
//!   schemas by `schema-gen/gen_metadata.py`).
//! - [`wire`]: primitive wire types for internal-topic record schemas and hand-written decoders.

pub mod batch;
pub mod client;
pub mod compression;
pub mod error;
pub mod fetch_response;
pub mod frame;
pub mod header;
pub mod metadata;
pub mod offsets_v10;
pub mod records;
pub mod request;
pub mod response;
pub mod schema;
pub mod wire;
pub mod write_txn_markers_v2;

/// The codec crate, re-exported so the other crates name one version of it.
pub use kafka_protocol;
pub use kafka_protocol::messages::ApiKey;
