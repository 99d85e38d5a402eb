//! The features Sluice supports, the levels a new cluster finalizes, and what ApiVersions
//! reports (Kafka's FeatureControlManager and BrokerFeatures).
//!
//! metadata.version is finalized by every cluster: Sluice reads levels 7 (3.3-IV3) to 30
//! (4.3-IV0) and starts new clusters at 30, as Apache Kafka 4.3.1 does. group.version 1 (the
//! KIP-848 consumer protocol) and transaction.version 2 (KIP-890 transactions v2) are finalized
//! by a new cluster and advertised in ApiVersions. Features a Kafka cluster may have finalized
//! that Sluice does not serve (share.version, streams.version)
//! are left as they are in the metadata — opening a Kafka data directory does not change them —
//! but are not advertised, since Sluice does not do what they gate.

use sluice_metadata::{MetadataImage, MetadataVersion};
use sluice_protocol::metadata::{FeatureLevelRecord, MetadataRecord, VersionedRecord};

use super::versioned;

/// A feature this broker supports, at levels `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportedFeature {
    pub name: &'static str,
    pub min: i16,
    pub max: i16,
    /// The level a new cluster finalizes (0: not finalized).
    pub bootstrap: i16,
    /// Listed in ApiVersions (v3+) supported and finalized features.
    pub advertised: bool,
}

pub const SUPPORTED: &[SupportedFeature] = &[
    SupportedFeature {
        name: MetadataVersion::FEATURE_NAME,
        min: MetadataVersion::MINIMUM.level(),
        max: MetadataVersion::LATEST.level(),
        bootstrap: MetadataVersion::LATEST.level(),
        advertised: false,
    },
    SupportedFeature {
        name: "group.version",
        min: 0,
        max: 1,
        bootstrap: 1,
        advertised: true,
    },
    SupportedFeature {
        name: "transaction.version",
        min: 0,
        max: 2,
        bootstrap: 2,
        advertised: true,
    },
    // Supported so that a Sluice broker may register with a Kafka 4.3 controller quorum, whose
    // new clusters finalize both (KIP-853 dynamic quorums; KIP-966 eligible leader replicas:
    // with level 1 a leader advances the high watermark only while its ISR has at least
    // min.insync.replicas members). A single-node Sluice finalizes neither.
    SupportedFeature {
        name: "kraft.version",
        min: 0,
        max: 1,
        bootstrap: 0,
        advertised: false,
    },
    SupportedFeature {
        name: "eligible.leader.replicas.version",
        min: 0,
        max: 1,
        bootstrap: 0,
        advertised: false,
    },
];

pub fn supported(name: &str) -> Option<&'static SupportedFeature> {
    SUPPORTED.iter().find(|f| f.name == name)
}

/// The FeatureLevelRecords of a new cluster, metadata.version first.
pub fn bootstrap_records() -> Vec<VersionedRecord> {
    SUPPORTED
        .iter()
        .filter(|f| f.bootstrap > 0)
        .map(|f| {
            versioned(
                MetadataRecord::FeatureLevel(FeatureLevelRecord {
                    name: f.name.to_string(),
                    feature_level: f.bootstrap,
                    ..Default::default()
                }),
                0,
            )
        })
        .collect()
}

/// The advertised features finalized in `image`, each at its level capped to what Sluice
/// supports (ApiVersions' finalized_features).
pub fn finalized_advertised(image: &MetadataImage) -> Vec<(&'static str, i16)> {
    SUPPORTED
        .iter()
        .filter(|f| f.advertised)
        .filter_map(|f| {
            let level = image.features.level(f.name).min(f.max);
            (level > 0).then_some((f.name, level))
        })
        .collect()
}

/// Features finalized in `image` above what Sluice does: one line each for the start-up log.
pub fn unserved(image: &MetadataImage) -> Vec<String> {
    image
        .features
        .finalized
        .iter()
        .filter_map(|(name, level)| match supported(name) {
            Some(f) if *level <= f.max => None,
            Some(f) => Some(format!(
                "{name}={level} is finalized in the cluster metadata; Sluice supports up to {}",
                f.max
            )),
            None => Some(format!(
                "{name}={level} is finalized in the cluster metadata; Sluice does not serve what it gates and does not advertise it"
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_matches_kafka_4_3() {
        let names: Vec<(String, i16)> = bootstrap_records()
            .into_iter()
            .map(|r| match r.record {
                MetadataRecord::FeatureLevel(f) => (f.name, f.feature_level),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            vec![
                ("metadata.version".to_string(), 30),
                ("group.version".to_string(), 1),
                ("transaction.version".to_string(), 2),
            ]
        );
    }

    #[test]
    fn advertised_levels_are_capped_and_unserved_ones_reported() {
        let mut image = MetadataImage::empty();
        for r in bootstrap_records() {
            image.replay(&r.record).unwrap();
        }
        image
            .replay(&MetadataRecord::FeatureLevel(FeatureLevelRecord {
                name: "share.version".into(),
                feature_level: 1,
                ..Default::default()
            }))
            .unwrap();
        assert_eq!(
            finalized_advertised(&image),
            vec![("group.version", 1), ("transaction.version", 2)]
        );
        assert_eq!(unserved(&image).len(), 1);
    }
}
