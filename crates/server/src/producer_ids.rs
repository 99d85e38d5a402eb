//! Producer id allocation (Kafka's ProducerIdManager): ids are handed out from blocks of
//! [`BLOCK_SIZE`]; the end of the current block is persisted (fsynced) before any id of the block
//! is used, so an id is never handed out twice, across restarts and crashes alike. A crash wastes
//! at most the rest of one block.

use crate::fsutil;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use thiserror::Error;

pub const FILE_NAME: &str = "sluice-producer-id-block";
pub const BLOCK_SIZE: i64 = 1000;

#[derive(Debug, Error)]
pub enum ProducerIdError {
    #[error("producer id block file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("producer id block file {path} is corrupt: {content:?}")]
    Corrupt { path: PathBuf, content: String },
    #[error("producer ids are exhausted")]
    Exhausted,
}

struct State {
    next: i64,
    block_end: i64,
}

pub struct ProducerIdManager {
    path: PathBuf,
    state: Mutex<State>,
}

impl ProducerIdManager {
    /// Load the persisted block end from `dir`; ids continue from there.
    pub fn load(dir: &Path) -> Result<Self, ProducerIdError> {
        let path = dir.join(FILE_NAME);
        let start = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let v: i64 = text.trim().parse().map_err(|_| ProducerIdError::Corrupt {
                    path: path.clone(),
                    content: text.clone(),
                })?;
                if v < 0 {
                    return Err(ProducerIdError::Corrupt {
                        path,
                        content: text,
                    });
                }
                v
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(source) => return Err(ProducerIdError::Io { path, source }),
        };
        Ok(Self {
            path,
            state: Mutex::new(State {
                next: start,
                block_end: start,
            }),
        })
    }

    /// A producer id never handed out before.
    pub fn generate(&self) -> Result<i64, ProducerIdError> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.next >= s.block_end {
            let end = s
                .block_end
                .checked_add(BLOCK_SIZE)
                .ok_or(ProducerIdError::Exhausted)?;
            let tmp = self.path.with_extension("tmp");
            fsutil::write_atomically(&tmp, &self.path, end.to_string().as_bytes()).map_err(
                |source| ProducerIdError::Io {
                    path: self.path.clone(),
                    source,
                },
            )?;
            s.next = s.block_end.max(s.next);
            s.block_end = end;
        }
        let id = s.next;
        s.next += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_reused_across_restarts() {
        let d = tempfile::tempdir().unwrap();
        let m = ProducerIdManager::load(d.path()).unwrap();
        let first: Vec<i64> = (0..1500).map(|_| m.generate().unwrap()).collect();
        assert_eq!(first[0], 0);
        assert_eq!(first[1499], 1499);
        drop(m);
        // A restart (or crash) continues after the persisted block end.
        let m = ProducerIdManager::load(d.path()).unwrap();
        assert_eq!(m.generate().unwrap(), 2000);
    }

    #[test]
    fn corrupt_file_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(FILE_NAME), "abc").unwrap();
        assert!(matches!(
            ProducerIdManager::load(d.path()),
            Err(ProducerIdError::Corrupt { .. })
        ));
    }
}
