//! Kafka error codes as they go into responses.
//!
//! We use the `kafka-protocol` crate's table of Kafka's error codes (`Errors.java`).

pub use kafka_protocol::error::ResponseError as KafkaError;

/// The error code of "no error".
pub const NONE: i16 = 0;

/// The wire code of an optional error (`None` = 0).
pub fn code(err: Option<KafkaError>) -> i16 {
    err.map(|e| e.code()).unwrap_or(NONE)
}
