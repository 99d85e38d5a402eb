//! The one error type of the metadata record codec.

use thiserror::Error;

/// What went wrong decoding or encoding a metadata or KRaft control record. Field names are
/// Kafka's schema names, `Record.Field` (or `Record.Struct.Field` inside a nested struct);
/// offsets count from the first byte of the record value (or key) being decoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MetadataCodecError {
    // ---- decoding: the bytes ----
    #[error("{field}: needs {needed} byte(s) at offset {offset}, only {remaining} left")]
    Truncated {
        field: &'static str,
        offset: usize,
        needed: usize,
        remaining: usize,
    },
    #[error(
        "{field}: the unsigned varint at offset {offset} is longer than 5 bytes or above 2^32-1"
    )]
    BadVarint { field: &'static str, offset: usize },
    #[error("{field}: length {length} at offset {offset} exceeds the {remaining} byte(s) left")]
    LengthTooLarge {
        field: &'static str,
        offset: usize,
        length: u64,
        remaining: usize,
    },
    #[error(
        "{field}: {count} element(s) announced at offset {offset} need at least {needed} byte(s), \
         only {remaining} left"
    )]
    CountTooLarge {
        field: &'static str,
        offset: usize,
        count: u64,
        needed: u64,
        remaining: usize,
    },
    #[error("string field {field} had invalid length {length} at offset {offset} (at most 32767)")]
    StringTooLong {
        field: &'static str,
        offset: usize,
        length: u64,
    },
    #[error("non-nullable field {field} was serialized as null at offset {offset}")]
    UnexpectedNull { field: &'static str, offset: usize },
    #[error("{field}: the string at offset {offset} is not valid UTF-8")]
    InvalidUtf8 { field: &'static str, offset: usize },
    #[error("{record}: tag {tag} at offset {offset} is not valid for version {version}")]
    TagNotValidForVersion {
        record: &'static str,
        tag: u32,
        version: i16,
        offset: usize,
    },
    #[error(
        "{field}: the tagged field at offset {offset} declares {declared} byte(s) but its value \
         takes {used}"
    )]
    TaggedFieldSize {
        field: &'static str,
        offset: usize,
        declared: usize,
        used: usize,
    },

    // ---- both directions ----
    #[error("{record}: version {version} is not supported (valid versions {lowest}-{highest})")]
    UnsupportedVersion {
        record: &'static str,
        version: i16,
        lowest: i16,
        highest: i16,
    },

    // ---- encoding ----
    #[error("attempted to write a non-default {field} at version {version}")]
    NonDefaultField { field: &'static str, version: i16 },
    #[error("{field}: {length} {unit} are too many to be serialized (at most {max})")]
    TooLongToEncode {
        field: &'static str,
        length: usize,
        unit: &'static str,
        max: usize,
    },
    #[error("{record}: unknown tagged field {tag} {problem}")]
    BadUnknownTaggedField {
        record: &'static str,
        tag: u32,
        problem: String,
    },

    // ---- the metadata record value frame (Kafka's AbstractApiMessageSerde) ----
    #[error(
        "could not deserialize metadata record with frame version 0: upgrades from the preview \
         release of KRaft in 2.8 to newer versions are not supported"
    )]
    FrameVersionZero,
    #[error(
        "could not deserialize metadata record due to unknown frame version {0} (only frame \
         version 1 is supported)"
    )]
    UnknownFrameVersion(u32),
    #[error("metadata record value: {what} {value} is too large (at most 32767)")]
    FrameValueTooLarge { what: &'static str, value: u32 },
    #[error("unknown metadata record type (api key) {0}")]
    UnknownApiKey(i16),
    #[error(
        "found {count} byte(s) of garbage after {record} (api key {api_key}) at offset {offset}"
    )]
    TrailingBytes {
        record: &'static str,
        api_key: i16,
        offset: usize,
        count: usize,
    },

    // ---- KRaft control records ----
    #[error("control record key has {0} byte(s); it needs at least 4 (version, type)")]
    ControlKeyTooShort(usize),
    #[error("invalid control record key version {0}; may indicate data corruption")]
    ControlKeyVersion(i16),
    #[error("control record type {type_id} ({name}) is not a KRaft control record")]
    NotKRaftControlRecord { type_id: i16, name: &'static str },
    #[error("found {count} byte(s) of garbage after the {record} control record value at offset {offset}")]
    ControlTrailingBytes {
        record: &'static str,
        offset: usize,
        count: usize,
    },
}
