//! `metadata.version` (Kafka's MetadataVersion): the feature level that decides which record
//! versions the metadata log may hold. Sluice reads every level Apache Kafka 4.3.1 reads
//! (3.3-IV3 = 7 up to 4.3-IV0 = 30, its latest production level) and writes records at the
//! versions Kafka writes for the level in effect.

/// A metadata.version feature level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetadataVersion(i16);

impl MetadataVersion {
    pub const FEATURE_NAME: &'static str = "metadata.version";
    /// 3.3-IV3, the oldest level Kafka 4.x reads.
    pub const MINIMUM: Self = Self(7);
    /// 3.6-IV1: metadata transactions (Begin/End/AbortTransactionRecord).
    pub const IBP_3_6_IV1: Self = Self(13);
    /// 3.7-IV0: controller registrations.
    pub const IBP_3_7_IV0: Self = Self(15);
    /// 3.7-IV2: replica directory assignment (KIP-858).
    pub const IBP_3_7_IV2: Self = Self(17);
    /// 4.0-IV1: eligible leader replicas (KIP-966) in partition records.
    pub const IBP_4_0_IV1: Self = Self(23);
    /// 4.3-IV0: cordoned log dirs in broker registrations; Kafka 4.3.1's latest production
    /// level, the level a new Sluice cluster starts at.
    pub const IBP_4_3_IV0: Self = Self(30);
    /// The newest level Sluice reads and writes.
    pub const LATEST: Self = Self::IBP_4_3_IV0;

    pub fn from_level(level: i16) -> Option<Self> {
        (Self::MINIMUM.0..=Self::LATEST.0)
            .contains(&level)
            .then_some(Self(level))
    }

    pub const fn level(self) -> i16 {
        self.0
    }

    /// Kafka's `MetadataVersion.registerBrokerRecordVersion`.
    pub fn register_broker_record_version(self) -> i16 {
        if self >= Self::IBP_4_3_IV0 {
            4
        } else if self >= Self::IBP_3_7_IV2 {
            3
        } else {
            // 3.4-IV0 (level 8) and later add isMigratingZkBroker.
            if self.0 >= 8 {
                2
            } else {
                1
            }
        }
    }

    /// Kafka's `MetadataVersion.partitionRecordVersion` (also PartitionChangeRecord's).
    pub fn partition_record_version(self) -> i16 {
        if self >= Self::IBP_4_0_IV1 {
            2
        } else if self >= Self::IBP_3_7_IV2 {
            1
        } else {
            0
        }
    }

    /// Kafka's `MetadataVersion.isMetadataTransactionSupported`.
    pub fn supports_metadata_transactions(self) -> bool {
        self >= Self::IBP_3_6_IV1
    }

    /// Kafka's `isControllerRegistrationSupported`.
    pub fn supports_controller_registration(self) -> bool {
        self >= Self::IBP_3_7_IV0
    }
}

impl std::fmt::Display for MetadataVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_versions_follow_kafka() {
        let v = |l| MetadataVersion::from_level(l).unwrap();
        assert_eq!(v(30).register_broker_record_version(), 4);
        assert_eq!(v(21).register_broker_record_version(), 3);
        assert_eq!(v(10).register_broker_record_version(), 2);
        assert_eq!(v(7).register_broker_record_version(), 1);
        assert_eq!(v(30).partition_record_version(), 2);
        assert_eq!(v(21).partition_record_version(), 1);
        assert_eq!(v(14).partition_record_version(), 0);
        assert!(MetadataVersion::from_level(6).is_none());
        assert!(MetadataVersion::from_level(31).is_none());
    }
}
