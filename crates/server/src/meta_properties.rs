//! `meta.properties` in every log dir: cluster id, node id, directory id, version — created on
//! first start and checked on later ones, as Kafka does.

use crate::kafka_uuid;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;
use uuid::Uuid;

pub const FILE_NAME: &str = "meta.properties";

#[derive(Debug, Error)]
pub enum MetaPropertiesError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: missing or invalid {key}")]
    Invalid { path: PathBuf, key: &'static str },
    #[error("{path}: stored node.id {stored} does not match configured node.id {configured}")]
    NodeIdMismatch {
        path: PathBuf,
        stored: i32,
        configured: i32,
    },
    #[error("{} holds data ({}) but no meta.properties: it was not written by this cluster's \
             brokers, or its meta.properties was lost. Sluice does not take over such a directory: \
             restore its meta.properties (cluster.id, node.id, directory.id, version=1)", dir.display(), example)]
    MissingWithData { dir: PathBuf, example: String },
    #[error("{path}: stored cluster.id {stored} does not match {expected}")]
    ClusterIdMismatch {
        path: PathBuf,
        stored: String,
        expected: String,
    },
}

/// What the log dirs' meta.properties say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaProperties {
    pub cluster_id: String,
    /// Each log dir's `directory.id` (KIP-858), in `log.dirs` order.
    pub directory_ids: Vec<Uuid>,
}

/// Make sure every log dir has a meta.properties agreeing on node and cluster id, with a
/// directory id of its own. `configured_cluster_id` (cluster.id / CLUSTER_ID) is used for new
/// dirs and must match existing ones. A v1 file without a directory id (written by Kafka
/// before KIP-858) gets one, as Kafka adds it.
pub fn ensure(
    log_dirs: &[PathBuf],
    node_id: i32,
    configured_cluster_id: Option<&str>,
) -> Result<MetaProperties, MetaPropertiesError> {
    let mut cluster_id: Option<String> = configured_cluster_id.map(str::to_string);
    let mut missing = Vec::new();
    let mut directory_ids: Vec<Option<Uuid>> = Vec::with_capacity(log_dirs.len());
    for dir in log_dirs {
        let path = dir.join(FILE_NAME);
        let io = |source| MetaPropertiesError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let props = parse(&text);
                let stored_node: i32 = props.get("node.id").and_then(|v| v.parse().ok()).ok_or(
                    MetaPropertiesError::Invalid {
                        path: path.clone(),
                        key: "node.id",
                    },
                )?;
                if stored_node != node_id {
                    return Err(MetaPropertiesError::NodeIdMismatch {
                        path,
                        stored: stored_node,
                        configured: node_id,
                    });
                }
                let stored_cluster =
                    props
                        .get("cluster.id")
                        .cloned()
                        .ok_or(MetaPropertiesError::Invalid {
                            path: path.clone(),
                            key: "cluster.id",
                        })?;
                match &cluster_id {
                    Some(expected) if *expected != stored_cluster => {
                        return Err(MetaPropertiesError::ClusterIdMismatch {
                            path,
                            stored: stored_cluster,
                            expected: expected.clone(),
                        })
                    }
                    _ => cluster_id = Some(stored_cluster),
                }
                match props.get("directory.id") {
                    None => {
                        // Kafka adds one to a v1 file that lacks it.
                        let id = kafka_uuid::random();
                        let version = props.get("version").map(String::as_str).unwrap_or("1");
                        write(
                            dir,
                            node_id,
                            props.get("cluster.id").map(String::as_str).unwrap_or(""),
                            id,
                            version,
                        )?;
                        directory_ids.push(Some(id));
                    }
                    Some(text) => directory_ids.push(Some(kafka_uuid::from_base64(text).ok_or(
                        MetaPropertiesError::Invalid {
                            path: path.clone(),
                            key: "directory.id",
                        },
                    )?)),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(example) = data_in(dir).map_err(io)? {
                    return Err(MetaPropertiesError::MissingWithData {
                        dir: dir.clone(),
                        example,
                    });
                }
                missing.push(directory_ids.len());
                directory_ids.push(None);
            }
            Err(e) => return Err(io(e)),
        }
    }
    let cluster_id = cluster_id.unwrap_or_else(|| kafka_uuid::to_base64(kafka_uuid::random()));
    for i in missing {
        let id = kafka_uuid::random();
        write(&log_dirs[i], node_id, &cluster_id, id, "1")?;
        directory_ids[i] = Some(id);
    }
    Ok(MetaProperties {
        cluster_id,
        directory_ids: directory_ids.into_iter().flatten().collect(),
    })
}

/// A partition directory (or the metadata log) in `dir`, if it holds one.
fn data_in(dir: &Path) -> std::io::Result<Option<String>> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let partition_like = name.rsplit_once('-').is_some_and(|(t, p)| {
            !t.is_empty() && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
        });
        if entry.file_type()?.is_dir() && partition_like {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn write(
    dir: &Path,
    node_id: i32,
    cluster_id: &str,
    directory_id: Uuid,
    version: &str,
) -> Result<(), MetaPropertiesError> {
    let path = dir.join(FILE_NAME);
    let tmp = dir.join("meta.properties.tmp");
    let directory_id = kafka_uuid::to_base64(directory_id);
    let text = format!(
        "#\n#Written by Sluice\nnode.id={node_id}\ndirectory.id={directory_id}\nversion={version}\ncluster.id={cluster_id}\n"
    );
    sluice_storage::fsutil::write_atomically(&tmp, &path, text.as_bytes())
        .map_err(|source| MetaPropertiesError::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_then_checked() {
        let d = tempfile::tempdir().unwrap();
        let dirs = vec![d.path().join("a"), d.path().join("b")];
        let meta = ensure(&dirs, 3, None).unwrap();
        let id = meta.cluster_id.clone();
        assert_eq!(id.len(), 22);
        assert_eq!(meta.directory_ids.len(), 2);
        assert_ne!(meta.directory_ids[0], meta.directory_ids[1]);
        assert_eq!(
            ensure(&dirs, 3, None).unwrap(),
            meta,
            "directory ids are kept"
        );
        assert_eq!(ensure(&dirs, 3, Some(&id)).unwrap().cluster_id, id);
        assert!(matches!(
            ensure(&dirs, 4, None),
            Err(MetaPropertiesError::NodeIdMismatch { .. })
        ));
        assert!(matches!(
            ensure(&dirs, 3, Some("otherotherotherother00")),
            Err(MetaPropertiesError::ClusterIdMismatch { .. })
        ));
        // A new dir joins the existing cluster id.
        let more = vec![d.path().join("a"), d.path().join("c")];
        assert_eq!(ensure(&more, 3, None).unwrap().cluster_id, id);
        // A dir with data but without meta.properties is not taken over.
        std::fs::remove_file(d.path().join("b").join(FILE_NAME)).unwrap();
        std::fs::create_dir_all(d.path().join("b").join("t-0")).unwrap();
        assert!(matches!(
            ensure(&dirs, 3, None),
            Err(MetaPropertiesError::MissingWithData { .. })
        ));
        assert!(!d.path().join("b").join(FILE_NAME).exists());
    }
}
