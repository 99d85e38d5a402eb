//! The broker side of producer-id allocation (Kafka's ProducerIdManager): ids come from blocks
//! this node's controller commits to the metadata log (ProducerIdsRecord) before any id of a
//! block is used, so an id is never handed out twice, across restarts and crashes alike.

use std::sync::Arc;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProducerIdError {
    /// The controller could not commit a new block (the metadata log is not writable, or
    /// producer ids are exhausted).
    #[error("{0}")]
    Allocation(String),
    /// No block is available yet: one is being asked for (a cluster broker's ids come from
    /// the controller over the network). Retriable.
    #[error("no producer id block is available yet; one was requested from the controller")]
    NotYetAvailable,
}

impl ProducerIdError {
    /// The error code a client gets: COORDINATOR_LOAD_IN_PROGRESS (retriable) while a block
    /// is on its way, UNKNOWN_SERVER_ERROR otherwise (as Kafka's ProducerIdManager).
    pub fn kafka_error(&self) -> sluice_protocol::error::KafkaError {
        match self {
            Self::Allocation(_) => sluice_protocol::error::KafkaError::UnknownServerError,
            Self::NotYetAvailable => sluice_protocol::error::KafkaError::CoordinatorLoadInProgress,
        }
    }
}

/// Where producer ids come from: the controller (Kafka's AllocateProducerIds), or a test's
/// counter.
pub trait ProducerIdSource: Send + Sync {
    /// A producer id never handed out before; may block on I/O.
    fn next_producer_id(&self) -> Result<i64, ProducerIdError>;
}

impl ProducerIdSource for crate::controller::Controller {
    fn next_producer_id(&self) -> Result<i64, ProducerIdError> {
        self.generate_producer_id()
            .map_err(|e| ProducerIdError::Allocation(e.message))
    }
}

pub struct ProducerIdManager {
    source: Arc<dyn ProducerIdSource>,
}

impl ProducerIdManager {
    pub fn new(source: Arc<dyn ProducerIdSource>) -> Self {
        Self { source }
    }

    /// A producer id never handed out before. Blocks on I/O when a new block is committed
    /// (once per 1000 ids).
    pub fn generate(&self) -> Result<i64, ProducerIdError> {
        self.source.next_producer_id()
    }
}

/// Ids counted in memory (tests of code that needs producer ids but no metadata log).
#[cfg(test)]
#[derive(Default)]
pub struct CountingProducerIds(std::sync::atomic::AtomicI64);

#[cfg(test)]
impl ProducerIdSource for CountingProducerIds {
    fn next_producer_id(&self) -> Result<i64, ProducerIdError> {
        Ok(self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
    }
}
