//! `meta.properties` in every log dir: cluster id, node id, directory id, version — created on
//! first start and checked on later ones, as Kafka does.

use crate::kafka_uuid;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

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
    #[error("{path}: stored cluster.id {stored} does not match {expected}")]
    ClusterIdMismatch {
        path: PathBuf,
        stored: String,
        expected: String,
    },
}

/// Make sure every log dir has a meta.properties agreeing on node and cluster id; returns the
/// cluster id. `configured_cluster_id` (cluster.id / CLUSTER_ID) is used for new dirs and must
/// match existing ones.
pub fn ensure(
    log_dirs: &[PathBuf],
    node_id: i32,
    configured_cluster_id: Option<&str>,
) -> Result<String, MetaPropertiesError> {
    let mut cluster_id: Option<String> = configured_cluster_id.map(str::to_string);
    let mut missing = Vec::new();
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
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push(dir.clone()),
            Err(e) => return Err(io(e)),
        }
    }
    let cluster_id = cluster_id.unwrap_or_else(|| kafka_uuid::to_base64(kafka_uuid::random()));
    for dir in missing {
        write(&dir, node_id, &cluster_id)?;
    }
    Ok(cluster_id)
}

fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn write(dir: &Path, node_id: i32, cluster_id: &str) -> Result<(), MetaPropertiesError> {
    let path = dir.join(FILE_NAME);
    let tmp = dir.join("meta.properties.tmp");
    let directory_id = kafka_uuid::to_base64(kafka_uuid::random());
    let text = format!(
        "#\n#Written by Sluice\nnode.id={node_id}\ndirectory.id={directory_id}\nversion=1\ncluster.id={cluster_id}\n"
    );
    crate::fsutil::write_atomically(&tmp, &path, text.as_bytes())
        .map_err(|source| MetaPropertiesError::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_then_checked() {
        let d = tempfile::tempdir().unwrap();
        let dirs = vec![d.path().join("a"), d.path().join("b")];
        let id = ensure(&dirs, 3, None).unwrap();
        assert_eq!(id.len(), 22);
        assert_eq!(ensure(&dirs, 3, None).unwrap(), id);
        assert_eq!(ensure(&dirs, 3, Some(&id)).unwrap(), id);
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
        assert_eq!(ensure(&more, 3, None).unwrap(), id);
    }
}
