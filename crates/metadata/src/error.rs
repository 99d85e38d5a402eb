//! Errors of the metadata layer. Every one names the file (and where it helps, the offset) that
//! was wrong, so that a start-up that stops says what to look at.

use std::path::PathBuf;

use thiserror::Error;

use crate::image::ReplayError;

#[derive(Debug, Error)]
pub enum MetadataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file the broker cannot read: damaged, or written by something it does not know.
    #[error("{path}{}: {message}", offset.map(|o| format!(" at offset {o}")).unwrap_or_default())]
    Corrupt {
        path: PathBuf,
        offset: Option<i64>,
        message: String,
    },
    /// A record that does not apply to the metadata before it.
    #[error("{path} at offset {offset}: {source}")]
    Replay {
        path: PathBuf,
        offset: i64,
        source: ReplayError,
    },
    #[error("metadata log {0}")]
    Storage(#[from] sluice_storage::StorageError),
    /// A change the current metadata refuses (the caller's request is wrong, not the files).
    #[error("{0}")]
    Rejected(String),
}

pub type Result<T, E = MetadataError> = std::result::Result<T, E>;
