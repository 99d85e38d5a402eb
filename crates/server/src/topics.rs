//! The topic registry: names, ids, partition counts and per-topic config overrides, persisted in
//! the first log dir (`sluice-topics.toml`) and reloaded at start-up.
//!
//! Readers take a cheap snapshot (`Arc`) and never wait on I/O; changes are serialized by an
//! admin lock, persisted first, then published.

use crate::fsutil;
use crate::kafka_uuid;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use thiserror::Error;
use uuid::Uuid;

pub const FILE_NAME: &str = "sluice-topics.toml";
/// Kafka's longest legal topic name.
pub const MAX_NAME_LENGTH: usize = 249;

/// Topics whose names Kafka reserves for its own state.
pub const CONSUMER_OFFSETS: &str = "__consumer_offsets";
pub const TRANSACTION_STATE: &str = "__transaction_state";

#[derive(Debug, Error)]
pub enum RegistryError {
    #[error("topic registry {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("topic registry {path} is corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("Topic '{0}' already exists.")]
    AlreadyExists(String),
    #[error("Topic '{name}' collides with existing topic: {existing}")]
    Collides { name: String, existing: String },
    #[error("Topic '{0}' does not exist.")]
    Unknown(String),
    /// A change that no longer applies to the current state (a concurrent change won).
    #[error("{0}")]
    Conflict(String),
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMeta {
    pub name: String,
    #[serde(with = "uuid_text")]
    pub id: Uuid,
    pub partitions: i32,
    pub replication_factor: i16,
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

impl TopicMeta {
    pub fn is_internal(&self) -> bool {
        is_internal(&self.name)
    }
}

pub fn is_internal(name: &str) -> bool {
    name == CONSUMER_OFFSETS || name == TRANSACTION_STATE
}

mod uuid_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use uuid::Uuid;

    pub fn serialize<S: Serializer>(id: &Uuid, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::kafka_uuid::to_base64(*id))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Uuid, D::Error> {
        let s = String::deserialize(d)?;
        crate::kafka_uuid::from_base64(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid topic id {s:?}")))
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct FileFormat {
    version: u32,
    #[serde(default)]
    topic: Vec<TopicMeta>,
}

/// An immutable view of all topics.
#[derive(Debug, Default, Clone)]
pub struct Topics {
    by_name: BTreeMap<String, Arc<TopicMeta>>,
    by_id: BTreeMap<Uuid, Arc<TopicMeta>>,
}

impl Topics {
    pub fn get(&self, name: &str) -> Option<&Arc<TopicMeta>> {
        self.by_name.get(name)
    }
    pub fn get_by_id(&self, id: &Uuid) -> Option<&Arc<TopicMeta>> {
        self.by_id.get(id)
    }
    pub fn iter(&self) -> impl Iterator<Item = &Arc<TopicMeta>> {
        self.by_name.values()
    }
    pub fn len(&self) -> usize {
        self.by_name.len()
    }
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
    /// A topic whose name differs from `name` only by '.' vs '_' (Kafka refuses such pairs,
    /// because metric names cannot tell them apart).
    pub fn collision(&self, name: &str) -> Option<&str> {
        let norm = name.replace('.', "_");
        self.by_name
            .keys()
            .find(|k| k.as_str() != name && k.replace('.', "_") == norm)
            .map(String::as_str)
    }
    fn insert(&mut self, t: TopicMeta) {
        let t = Arc::new(t);
        self.by_id.insert(t.id, t.clone());
        self.by_name.insert(t.name.clone(), t);
    }
}

/// The persisted registry.
pub struct TopicRegistry {
    path: PathBuf,
    current: RwLock<Arc<Topics>>,
    admin: Mutex<()>,
}

impl TopicRegistry {
    /// Load `dir/sluice-topics.toml`, or start empty.
    pub fn load(dir: &Path) -> Result<Self, RegistryError> {
        let path = dir.join(FILE_NAME);
        let mut topics = Topics::default();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let file: FileFormat =
                    toml::from_str(&text).map_err(|e| RegistryError::Corrupt {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                for t in file.topic {
                    topics.insert(t);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(RegistryError::Io { path, source }),
        }
        Ok(Self {
            path,
            current: RwLock::new(Arc::new(topics)),
            admin: Mutex::new(()),
        })
    }

    /// The current topics; never blocks on I/O.
    pub fn snapshot(&self) -> Arc<Topics> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Add a topic (persisted before it becomes visible). A new random id is assigned.
    pub fn create(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<TopicMeta>, RegistryError> {
        self.create_with_id(name, None, partitions, replication_factor, configs)
    }

    /// [`create`](Self::create) with the topic id chosen by the caller (the partition logs
    /// are created first and name it in their `partition.metadata`); None: a new random id.
    pub fn create_with_id(
        &self,
        name: &str,
        id: impl Into<Option<Uuid>>,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<TopicMeta>, RegistryError> {
        let chosen = id.into();
        self.update(|topics| {
            if topics.get(name).is_some() {
                return Err(RegistryError::AlreadyExists(name.to_string()));
            }
            if let Some(existing) = topics.collision(name) {
                return Err(RegistryError::Collides {
                    name: name.to_string(),
                    existing: existing.to_string(),
                });
            }
            let id = match chosen {
                Some(id) if topics.get_by_id(&id).is_some() => {
                    return Err(RegistryError::Conflict(format!(
                        "topic id {} is in use",
                        kafka_uuid::to_base64(id)
                    )))
                }
                Some(id) => id,
                None => {
                    let mut id = kafka_uuid::random();
                    while topics.get_by_id(&id).is_some() {
                        id = kafka_uuid::random();
                    }
                    id
                }
            };
            topics.insert(TopicMeta {
                name: name.to_string(),
                id,
                partitions,
                replication_factor,
                configs,
            });
            Ok(())
        })?;
        self.snapshot()
            .get(name)
            .cloned()
            .ok_or_else(|| RegistryError::Unknown(name.to_string()))
    }

    /// Remove a topic; returns what it was.
    pub fn delete(&self, name: &str) -> Result<Arc<TopicMeta>, RegistryError> {
        let mut removed = None;
        self.update(|topics| {
            let t = topics
                .by_name
                .remove(name)
                .ok_or_else(|| RegistryError::Unknown(name.to_string()))?;
            topics.by_id.remove(&t.id);
            removed = Some(t);
            Ok(())
        })?;
        removed.ok_or_else(|| RegistryError::Unknown(name.to_string()))
    }

    /// Change an existing topic (configs, partition count) with `change`; persisted before it
    /// becomes visible. Nothing changes if `change` fails. Returns the new metadata.
    pub fn update_topic(
        &self,
        name: &str,
        change: impl FnOnce(&mut TopicMeta) -> Result<(), RegistryError>,
    ) -> Result<Arc<TopicMeta>, RegistryError> {
        let mut updated = None;
        self.update(|topics| {
            let current = topics
                .get(name)
                .ok_or_else(|| RegistryError::Unknown(name.to_string()))?;
            let mut t = (**current).clone();
            change(&mut t)?;
            let t = Arc::new(t);
            topics.by_id.insert(t.id, t.clone());
            topics.by_name.insert(t.name.clone(), t.clone());
            updated = Some(t);
            Ok(())
        })?;
        updated.ok_or_else(|| RegistryError::Unknown(name.to_string()))
    }

    fn update(
        &self,
        change: impl FnOnce(&mut Topics) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError> {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = (*self.snapshot()).clone();
        change(&mut next)?;
        self.persist(&next)?;
        let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
        *cur = Arc::new(next);
        Ok(())
    }

    fn persist(&self, topics: &Topics) -> Result<(), RegistryError> {
        let file = FileFormat {
            version: 1,
            topic: topics.iter().map(|t| (**t).clone()).collect(),
        };
        let text = toml::to_string(&file).map_err(|e| RegistryError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let tmp = self.path.with_extension("toml.tmp");
        fsutil::write_atomically(&tmp, &self.path, text.as_bytes()).map_err(|source| {
            RegistryError::Io {
                path: self.path.clone(),
                source,
            }
        })
    }
}

/// Kafka's topic-name rule: 1-249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Topic name is illegal, it can't be empty".into());
    }
    if name == "." || name == ".." {
        return Err("Topic name cannot be \".\" or \"..\"".into());
    }
    if name.len() > MAX_NAME_LENGTH {
        return Err(format!(
            "Topic name is illegal, it can't be longer than {MAX_NAME_LENGTH} characters, topic name: {name}"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(format!(
            "Topic name {name} is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_delete_persist_reload() {
        let d = tempfile::tempdir().unwrap();
        let r = TopicRegistry::load(d.path()).unwrap();
        let mut cfg = BTreeMap::new();
        cfg.insert("retention.ms".to_string(), "1000".to_string());
        let a = r.create("a.b", 3, 1, cfg.clone()).unwrap();
        assert!(matches!(
            r.create("a.b", 1, 1, BTreeMap::new()),
            Err(RegistryError::AlreadyExists(_))
        ));
        assert!(matches!(
            r.create("a_b", 1, 1, BTreeMap::new()),
            Err(RegistryError::Collides { .. })
        ));
        r.create("c", 1, 1, BTreeMap::new()).unwrap();
        let r2 = TopicRegistry::load(d.path()).unwrap();
        let snap = r2.snapshot();
        assert_eq!(snap.len(), 2);
        let a2 = snap.get("a.b").unwrap();
        assert_eq!(a2.id, a.id, "topic id stable across restarts");
        assert_eq!(a2.configs, cfg);
        assert_eq!(snap.get_by_id(&a.id).unwrap().name, "a.b");
        r2.delete("c").unwrap();
        assert!(matches!(r2.delete("c"), Err(RegistryError::Unknown(_))));
        assert_eq!(TopicRegistry::load(d.path()).unwrap().snapshot().len(), 1);
    }

    #[test]
    fn update_topic_persists_before_visible() {
        let d = tempfile::tempdir().unwrap();
        let r = TopicRegistry::load(d.path()).unwrap();
        let a = r.create("a", 1, 1, BTreeMap::new()).unwrap();
        let b = r
            .update_topic("a", |t| {
                t.partitions = 3;
                t.configs.insert("retention.ms".into(), "5".into());
                Ok(())
            })
            .unwrap();
        assert_eq!((b.id, b.partitions), (a.id, 3));
        let again = TopicRegistry::load(d.path()).unwrap().snapshot();
        let t = again.get("a").unwrap();
        assert_eq!(t.partitions, 3);
        assert_eq!(t.configs.get("retention.ms").map(String::as_str), Some("5"));
        assert_eq!(again.get_by_id(&a.id).unwrap().partitions, 3);
        assert!(matches!(
            r.update_topic("nope", |_| Ok(())),
            Err(RegistryError::Unknown(_))
        ));
        // A failing change leaves the topic as it was.
        assert!(r
            .update_topic("a", |t| {
                t.partitions = 9;
                Err(RegistryError::Unknown("x".into()))
            })
            .is_err());
        assert_eq!(r.snapshot().get("a").unwrap().partitions, 3);
    }

    #[test]
    fn corrupt_file_is_reported() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(FILE_NAME), "version = [").unwrap();
        assert!(matches!(
            TopicRegistry::load(d.path()),
            Err(RegistryError::Corrupt { .. })
        ));
    }

    #[test]
    fn names() {
        assert!(validate_name("ok.topic_1-x").is_ok());
        for bad in ["", ".", "..", "a b", "ü", &"x".repeat(250)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_name(&"x".repeat(249)).is_ok());
    }
}
