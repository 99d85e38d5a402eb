//! The records a new cluster starts with (Kafka's BootstrapMetadata, written by the first
//! active controller in one metadata transaction named "Bootstrap records"): the finalized
//! features and, as Kafka 4 does (KIP-966), the cluster-wide `min.insync.replicas` seeded from
//! the static config.
//!
//! A data dir formatted by Kafka's `kafka-storage format` but never started holds its bootstrap
//! records in `bootstrap.checkpoint`; those are used instead of Sluice's own, as Kafka does.

use std::path::Path;

use sluice_metadata::ConfigResource;
use sluice_protocol::metadata::{
    BeginTransactionRecord, ConfigRecord, EndTransactionRecord, MetadataRecord, VersionedRecord,
};

use super::{features, versioned};

/// Kafka's bootstrap file in the metadata log dir.
pub const BOOTSTRAP_FILE: &str = "bootstrap.checkpoint";

/// Sluice's records for a new cluster; `min_insync_replicas` is the static config's value.
pub fn records(min_insync_replicas: &str) -> Vec<VersionedRecord> {
    let mut inner = features::bootstrap_records();
    let resource = ConfigResource::cluster_default();
    inner.push(versioned(
        MetadataRecord::Config(ConfigRecord {
            resource_type: resource.kind.0,
            resource_name: resource.name,
            name: "min.insync.replicas".into(),
            value: Some(min_insync_replicas.trim().to_string()),
            ..Default::default()
        }),
        0,
    ));
    in_transaction("Bootstrap records", inner)
}

/// `records` wrapped in a metadata transaction, so they apply together.
pub fn in_transaction(name: &str, records: Vec<VersionedRecord>) -> Vec<VersionedRecord> {
    let mut out = Vec::with_capacity(records.len() + 2);
    out.push(versioned(
        MetadataRecord::BeginTransaction(BeginTransactionRecord {
            name: Some(name.to_string()),
            ..Default::default()
        }),
        0,
    ));
    out.extend(records);
    out.push(versioned(
        MetadataRecord::EndTransaction(EndTransactionRecord::default()),
        0,
    ));
    out
}

/// The records of Kafka's `bootstrap.checkpoint` in `dir`, if there is one.
pub fn read_kafka_bootstrap_file(
    dir: &Path,
) -> Result<Option<Vec<VersionedRecord>>, sluice_metadata::MetadataError> {
    let path = dir.join(BOOTSTRAP_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let contents = sluice_metadata::snapshot::read_path(&path)?;
    Ok(Some(in_transaction(
        "Bootstrap records",
        contents.image.records(),
    )))
}
