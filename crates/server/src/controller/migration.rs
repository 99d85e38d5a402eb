//! One-time migration of a data dir written by Sluice before its metadata became a KRaft
//! metadata log: `sluice-topics.toml` (topics, ids, partition counts, config overrides),
//! `sluice-broker-configs.toml` (dynamic broker configs) and `sluice-producer-id-block` (the
//! end of the last producer-id block) become metadata records, committed as one metadata
//! transaction after the bootstrap records. The files are then renamed `<name>.migrated` and
//! never read again (they are kept, not deleted). A damaged file stops the start-up with an
//! error naming it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sluice_metadata::{ConfigResource, MetadataVersion};
use sluice_protocol::metadata::{MetadataRecord, ProducerIdsRecord, VersionedRecord};
use thiserror::Error;
use uuid::Uuid;

use super::{replication, versioned};

pub const TOPICS_FILE: &str = "sluice-topics.toml";
pub const BROKER_CONFIGS_FILE: &str = "sluice-broker-configs.toml";
pub const PRODUCER_ID_BLOCK_FILE: &str = "sluice-producer-id-block";
pub const FILES: [&str; 3] = [TOPICS_FILE, BROKER_CONFIGS_FILE, PRODUCER_ID_BLOCK_FILE];
/// What a migrated file is renamed to end with.
pub const MIGRATED_SUFFIX: &str = ".migrated";

#[derive(Debug, Error)]
pub enum MigrationError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged and cannot be migrated to the metadata log: {message}. Restore it from a backup, or move the data directory aside")]
    Corrupt { path: PathBuf, message: String },
}

#[derive(Debug, Deserialize)]
struct TopicsFile {
    #[serde(default)]
    topic: Vec<OldTopic>,
}

/// A topic as sluice-topics.toml held it.
#[derive(Debug, Clone, Deserialize)]
pub struct OldTopic {
    pub name: String,
    pub id: String,
    pub partitions: i32,
    #[serde(default)]
    pub replication_factor: i16,
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct BrokerConfigsFile {
    #[serde(default)]
    cluster_default: BTreeMap<String, String>,
    #[serde(default)]
    broker: BTreeMap<String, String>,
}

/// The old files' contents.
#[derive(Debug, Default)]
pub struct OldMetadata {
    pub topics: Vec<(OldTopic, Uuid)>,
    pub cluster_default: BTreeMap<String, String>,
    pub broker: BTreeMap<String, String>,
    /// The end of the last producer-id block (0 if none was taken).
    pub producer_id_block_end: i64,
    /// The files found.
    pub files: Vec<PathBuf>,
}

/// Whether `dir` holds any of the old files.
pub fn present(dir: &Path) -> bool {
    FILES.iter().any(|f| dir.join(f).exists())
}

fn read_text(path: &Path) -> Result<Option<String>, MigrationError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(MigrationError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Read the old files in `dir`.
pub fn read(dir: &Path) -> Result<OldMetadata, MigrationError> {
    let mut out = OldMetadata::default();
    let corrupt = |path: &Path, message: String| MigrationError::Corrupt {
        path: path.to_path_buf(),
        message,
    };
    let path = dir.join(TOPICS_FILE);
    if let Some(text) = read_text(&path)? {
        let file: TopicsFile = toml::from_str(&text).map_err(|e| corrupt(&path, e.to_string()))?;
        for t in file.topic {
            let id = sluice_storage::kafka_uuid::from_base64(&t.id).ok_or_else(|| {
                corrupt(
                    &path,
                    format!("topic {} has an invalid id {:?}", t.name, t.id),
                )
            })?;
            if t.partitions < 1 {
                return Err(corrupt(
                    &path,
                    format!("topic {} has {} partitions", t.name, t.partitions),
                ));
            }
            out.topics.push((t, id));
        }
        out.files.push(path);
    }
    let path = dir.join(BROKER_CONFIGS_FILE);
    if let Some(text) = read_text(&path)? {
        let file: BrokerConfigsFile =
            toml::from_str(&text).map_err(|e| corrupt(&path, e.to_string()))?;
        out.cluster_default = file.cluster_default;
        out.broker = file.broker;
        out.files.push(path);
    }
    let path = dir.join(PRODUCER_ID_BLOCK_FILE);
    if let Some(text) = read_text(&path)? {
        out.producer_id_block_end = text
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 0)
            .ok_or_else(|| corrupt(&path, format!("{:?} is not a producer id", text.trim())))?;
        out.files.push(path);
    }
    Ok(out)
}

/// The records of `old`: every topic led by `node` with leader epoch 0 (what Sluice always
/// reported) in the log dir `placement` gives, its overrides, the dynamic broker configs and
/// the producer-id high mark.
pub fn records(
    old: &OldMetadata,
    mv: MetadataVersion,
    node: i32,
    placement: impl Fn(&str, i32) -> Uuid,
) -> Vec<VersionedRecord> {
    let mut out = Vec::new();
    for (t, id) in &old.topics {
        let partitions: Vec<_> = (0..t.partitions)
            .map(|p| replication::new_partition(node, placement(&t.name, p)))
            .collect();
        out.extend(replication::create_topic_records(
            mv,
            &t.name,
            *id,
            &partitions,
            &t.configs,
        ));
    }
    let empty = BTreeMap::new();
    out.extend(replication::config_diff(
        &ConfigResource::cluster_default(),
        &empty,
        &old.cluster_default,
    ));
    out.extend(replication::config_diff(
        &ConfigResource::broker(node),
        &empty,
        &old.broker,
    ));
    if old.producer_id_block_end > 0 {
        out.push(versioned(
            MetadataRecord::ProducerIds(ProducerIdsRecord {
                broker_id: node,
                broker_epoch: -1,
                next_producer_id: old.producer_id_block_end,
                ..Default::default()
            }),
            0,
        ));
    }
    out
}

/// Rename the migrated files to `<name>.migrated` (they are no longer read or written).
pub fn retire(dir: &Path) -> Result<(), MigrationError> {
    for f in FILES {
        let path = dir.join(f);
        if path.exists() {
            let to = dir.join(format!("{f}{MIGRATED_SUFFIX}"));
            std::fs::rename(&path, &to).map_err(|source| MigrationError::Io {
                path: path.clone(),
                source,
            })?;
            tracing::info!(
                "migrated {} into the metadata log; kept as {}",
                path.display(),
                to.display()
            );
        }
    }
    sluice_storage::checkpoint::sync_dir(dir).map_err(|e| MigrationError::Io {
        path: dir.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_metadata::MetadataImage;

    #[test]
    fn old_files_become_records() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join(TOPICS_FILE),
            "version = 1\n[[topic]]\nname = \"a\"\nid = \"AAAAAAAAAAAAAAAAAAAAAg\"\npartitions = 2\nreplication_factor = 1\n[topic.configs]\n\"retention.ms\" = \"5\"\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join(BROKER_CONFIGS_FILE),
            "version = 1\n[cluster_default]\n\"min.insync.replicas\" = \"1\"\n[broker]\n\"log.retention.ms\" = \"9\"\n",
        )
        .unwrap();
        std::fs::write(d.path().join(PRODUCER_ID_BLOCK_FILE), "3000").unwrap();
        assert!(present(d.path()));
        let old = read(d.path()).unwrap();
        let mut image = MetadataImage::empty();
        for r in records(&old, MetadataVersion::LATEST, 1, |_, _| Uuid::from_u128(9)) {
            image.replay(&r.record).unwrap();
        }
        let t = image.topics.get("a").unwrap();
        assert_eq!((t.id, t.partition_count()), (Uuid::from_u128(2), 2));
        assert_eq!(t.partition(0).unwrap().leader_epoch, 0);
        assert_eq!(image.configs.topic("a").get("retention.ms").unwrap(), "5");
        assert_eq!(
            image
                .configs
                .get(&ConfigResource::broker(1))
                .get("log.retention.ms")
                .unwrap(),
            "9"
        );
        assert_eq!(image.producer_ids.next_producer_id, 3000);
        retire(d.path()).unwrap();
        assert!(!present(d.path()));
        assert!(d.path().join("sluice-topics.toml.migrated").exists());
    }

    #[test]
    fn damaged_files_are_named() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(TOPICS_FILE), "version = [").unwrap();
        let e = read(d.path()).unwrap_err().to_string();
        assert!(e.contains("sluice-topics.toml"), "{e}");
        std::fs::remove_file(d.path().join(TOPICS_FILE)).unwrap();
        std::fs::write(d.path().join(PRODUCER_ID_BLOCK_FILE), "x").unwrap();
        let e = read(d.path()).unwrap_err().to_string();
        assert!(e.contains("sluice-producer-id-block"), "{e}");
    }
}
