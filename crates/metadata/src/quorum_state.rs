//! `quorum-state` (Kafka's FileQuorumStateStore): the KRaft election state of this node, one
//! line of JSON in the metadata log's directory, replaced atomically (tmp, fsync, rename).
//!
//! Kafka writes data_version 0 while kraft.version is 0 and data_version 1 (which adds
//! votedDirectoryId and drops the v0-only fields) once it is 1. Sluice, the only voter of its
//! single-node quorum, records itself as leader of the current epoch, as Kafka's leader does.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::{MetadataError, Result};

pub const FILE_NAME: &str = "quorum-state";

/// What the file holds that Sluice uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElectionState {
    pub leader_id: i32,
    pub leader_epoch: i32,
    pub voted_id: i32,
    pub voted_directory_id: Uuid,
}

/// Read `dir/quorum-state`; `None` when there is none.
pub fn read(dir: &Path) -> Result<Option<ElectionState>> {
    let path = dir.join(FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(MetadataError::Io { path, source }),
    };
    let corrupt = |message: String| MetadataError::Corrupt {
        path: path.clone(),
        offset: None,
        message,
    };
    let line = text.lines().next().unwrap_or("");
    let v: Value = serde_json::from_str(line).map_err(|e| corrupt(e.to_string()))?;
    let obj = v
        .as_object()
        .ok_or_else(|| corrupt("not a JSON object".into()))?;
    let version = obj
        .get("data_version")
        .and_then(Value::as_i64)
        .ok_or_else(|| corrupt("no data_version".into()))?;
    if !(0..=1).contains(&version) {
        return Err(corrupt(format!(
            "data_version ({version}) is not within the min (0) and max (1) supported version"
        )));
    }
    let int = |key: &str| -> Result<i32> {
        match obj.get(key) {
            None => Ok(-1),
            Some(v) => v
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| corrupt(format!("{key} is not an int32"))),
        }
    };
    let voted_directory_id = match obj.get("votedDirectoryId") {
        None => Uuid::nil(),
        Some(v) => v
            .as_str()
            .and_then(sluice_storage::kafka_uuid::from_base64)
            .ok_or_else(|| corrupt("votedDirectoryId is not a Kafka uuid".into()))?,
    };
    Ok(Some(ElectionState {
        leader_id: int("leaderId")?,
        leader_epoch: int("leaderEpoch")?,
        voted_id: int("votedId")?,
        voted_directory_id,
    }))
}

/// Write `state` as Kafka does for `kraft_version` (0: data_version 0, else 1).
pub fn write(dir: &Path, state: &ElectionState, kraft_version: i16) -> Result<()> {
    let path: PathBuf = dir.join(FILE_NAME);
    let v = if kraft_version == 0 {
        json!({
            "clusterId": "",
            "leaderId": state.leader_id,
            "leaderEpoch": state.leader_epoch,
            "votedId": state.voted_id,
            "appliedOffset": 0,
            // Kafka reads this list (its voter ids) from a version-0 file.
            "currentVoters": [{ "voterId": state.leader_id }],
            "data_version": 0,
        })
    } else {
        json!({
            "leaderId": state.leader_id,
            "leaderEpoch": state.leader_epoch,
            "votedId": state.voted_id,
            "votedDirectoryId": sluice_storage::kafka_uuid::to_base64(state.voted_directory_id),
            "data_version": 1,
        })
    };
    let tmp = dir.join(format!("{FILE_NAME}.tmp"));
    sluice_storage::fsutil::write_atomically(&tmp, &path, v.to_string().as_bytes())
        .map_err(|source| MetadataError::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_kafka_writes() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read(d.path()).unwrap(), None);
        std::fs::write(
            d.path().join(FILE_NAME),
            r#"{"leaderId":1,"leaderEpoch":1,"votedId":-1,"votedDirectoryId":"AAAAAAAAAAAAAAAAAAAAAA","data_version":1}"#,
        )
        .unwrap();
        let s = read(d.path()).unwrap().unwrap();
        assert_eq!((s.leader_id, s.leader_epoch, s.voted_id), (1, 1, -1));
        std::fs::write(
            d.path().join(FILE_NAME),
            r#"{"leaderId":1,"data_version":7}"#,
        )
        .unwrap();
        assert!(read(d.path()).is_err());
        std::fs::write(d.path().join(FILE_NAME), "{").unwrap();
        assert!(read(d.path()).is_err());
    }

    #[test]
    fn round_trip_both_versions() {
        let d = tempfile::tempdir().unwrap();
        let s = ElectionState {
            leader_id: 3,
            leader_epoch: 9,
            voted_id: -1,
            voted_directory_id: Uuid::nil(),
        };
        for kraft in [0, 1] {
            write(d.path(), &s, kraft).unwrap();
            assert_eq!(read(d.path()).unwrap(), Some(s));
        }
    }
}
