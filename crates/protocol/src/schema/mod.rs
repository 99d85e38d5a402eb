//! Request- and response-body validation against Kafka's message schemas.
//!
//! # Why
//!
//! `kafka-protocol` 0.18 trusts element counts from the wire: array, string and bytes lengths go
//! straight into `Vec::with_capacity` / `vec![0; n]`, so a 32-byte request can make it try to
//! allocate hundreds of gigabytes and abort the process. Before any body reaches
//! `RequestKind::decode`, [`validate_request_body`] walks it with a table generated from Kafka's
//! own message schemas and checks every length and count against the bytes actually present.
//! Responses from other brokers and controllers are network input too: before any reaches
//! `ResponseKind::decode`, [`validate_response_body`] walks it the same way (see
//! [`crate::client`]).
//!
//! # How
//!
//! - `generated.rs` holds one static table per request and per response API key
//!   (`validVersions`, `flexibleVersions`, and per field: type, `versions`, `nullableVersions`,
//!   `taggedVersions` and tag, nested struct fields with `commonStructs` resolved), and the
//!   request and response headers. It is written by `crates/protocol/schema-gen/gen.py` from the
//!   Apache Kafka 4.1.0 JSON schemas, the release `kafka-protocol` 0.18 was generated from; unit
//!   tests check every API key's request and response `validVersions` against
//!   `ApiKey::valid_versions()`.
//! - [`walk`] walks the body field by field in schema order, exactly as the crate decodes it:
//!   fixed-size primitives; `int16` (`string`) or `int32` (`bytes`, `records`, arrays) lengths in
//!   non-flexible versions and uvarint length+1 ("compact") in flexible versions; `-1` / `0` as
//!   null only where the field is nullable at that version; nullable structs as an `int8` presence
//!   marker (1 present, -1 null); and in flexible versions a tagged-field section at the end of
//!   every struct, where known tags are walked against their schema *inside* their declared size
//!   (and must fill it exactly, since the crate decodes them without looking at the size) and
//!   unknown tags are skipped.
//! - Every length must fit in the bytes remaining (of the body, or of the enclosing tagged
//!   field); an array count must be at most the bytes remaining even if its elements could be
//!   zero-width, and `count * size` must fit for fixed-size elements. Struct arrays are walked
//!   element by element, so a body that passes holds every element its counts announce: the
//!   crate then allocates in proportion to the bytes actually received.
//! - The walk allocates nothing, and its recursion follows the schema (never the input), bounded
//!   by [`walk::MAX_DEPTH`]. Work is linear in the body size.
//! - A version outside `validVersions` is [`SchemaError::NoSchema`] (requests) or
//!   [`SchemaError::NoResponseSchema`]. Trailing bytes after the last field are accepted, as
//!   Kafka accepts them.
//!
//! The walker checks structure and lengths only; values (UTF-8, enum codes) are left to the
//! crate's decoder, which reports them as errors rather than crashing.

#[rustfmt::skip]
mod generated;
pub mod table;
pub mod walk;

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
pub(crate) mod response_tests;

use crate::ApiKey;
use table::Message;
use thiserror::Error;

pub use walk::Problem;

/// A body that does not fit its schema.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SchemaError {
    #[error("{api:?} v{version}: {reason} at byte {offset}")]
    Invalid {
        api: ApiKey,
        version: i16,
        offset: usize,
        reason: &'static str,
    },
    /// A request version outside the request's `validVersions`.
    #[error("{api:?} v{version}: no request schema for this version")]
    NoSchema { api: ApiKey, version: i16 },
    /// A response version outside the response's `validVersions`.
    #[error("{api:?} v{version}: no response schema for this version")]
    NoResponseSchema { api: ApiKey, version: i16 },
    /// A field whose bytes do not fit its schema. `message` is the schema's name
    /// (`FetchRequest`, `FetchResponse`, `ResponseHeader`); `offset` is relative to the body
    /// start.
    #[error("{message} v{version}: field {field} at byte {offset}: {problem}")]
    Field {
        message: &'static str,
        api: ApiKey,
        version: i16,
        field: &'static str,
        offset: usize,
        problem: Problem,
    },
}

fn by_key(table: &'static [Option<Message>], api: ApiKey) -> Option<&'static Message> {
    let index = usize::try_from(api as i16).ok()?;
    table
        .get(index)?
        .as_ref()
        .filter(|m| m.api_key == api as i16)
}

/// The schema of the request with API key `api`, if Kafka 4.1.0 defines one.
pub fn request_schema(api: ApiKey) -> Option<&'static Message> {
    by_key(&generated::REQUESTS, api)
}

/// The schema of the response with API key `api`, if Kafka 4.1.0 defines one.
pub fn response_schema(api: ApiKey) -> Option<&'static Message> {
    by_key(&generated::RESPONSES, api)
}

/// The schema of the request header (versions 1 and 2).
pub fn request_header_schema() -> &'static Message {
    &generated::REQUEST_HEADER
}

/// The schema of the response header (versions 0 and 1).
pub fn response_header_schema() -> &'static Message {
    &generated::RESPONSE_HEADER
}

/// Check `body` (the bytes after the request header) against the schema of `api` at `version`.
pub fn validate_request_body(api: ApiKey, version: i16, body: &[u8]) -> Result<(), SchemaError> {
    let message = request_schema(api)
        .filter(|m| m.valid.contains(version))
        .ok_or(SchemaError::NoSchema { api, version })?;
    walk::walk_message(message, api, version, body).map(|_| ())
}

/// Check `body` (the bytes after the response header) against the response schema of `api` at
/// `version`. A peer broker or controller is network input like any client: its responses pass
/// the same walk before `kafka-protocol` decodes them.
pub fn validate_response_body(api: ApiKey, version: i16, body: &[u8]) -> Result<(), SchemaError> {
    let message = response_schema(api)
        .filter(|m| m.valid.contains(version))
        .ok_or(SchemaError::NoResponseSchema { api, version })?;
    walk::walk_message(message, api, version, body).map(|_| ())
}
