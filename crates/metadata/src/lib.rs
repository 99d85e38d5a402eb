//! sluice-metadata: the cluster's metadata as Kafka keeps it in KRaft mode — the
//! `__cluster_metadata-0` log of metadata records and its snapshots, replayed into an in-memory
//! [`MetadataImage`] (topics and partitions with their leaders and epochs, configs, features,
//! broker registrations, producer-id blocks, ACLs, SCRAM credentials, quotas).
//!
//! - [`image`]: MetadataImage and its parts (Kafka's `org.apache.kafka.image`), replay of one
//!   record, and the image written back as records.
//! - [`loader`]: MetadataLoader, batches (with KRaft control records and metadata
//!   transactions) into an image.
//! - [`log`]: MetadataLog, the log this single-node cluster writes as its only voter: load,
//!   new epoch, durable appends, snapshots.
//! - [`follower`]: MetadataFollower, the log of a broker that follows a controller quorum as an
//!   observer: appends what the leader sends, replays what its high watermark commits.
//! - [`snapshot`], [`quorum_state`]: the `*.checkpoint` and `quorum-state` files.
//! - [`metadata_version`]: which record versions a metadata.version allows.
//!
//! No sockets here; the files go through `sluice-storage`, the record codec is
//! `sluice_protocol::metadata`.

pub mod error;
pub mod follower;
pub mod image;
pub mod loader;
pub mod log;
pub mod metadata_version;
pub mod quorum_state;
pub mod snapshot;

pub use error::{MetadataError, Result};
pub use follower::{FetchPosition, MetadataFollower};
pub use image::{
    ConfigResource, ConfigResourceType, MetadataImage, PartitionRegistration, TopicImage,
    TopicsImage,
};
pub use loader::{KRaftState, MetadataLoader, RemovedTopic};
pub use log::{LoadSummary, LoadedMetadata, LocalVoter, MetadataLog, SnapshotPolicy};
pub use metadata_version::MetadataVersion;
pub use snapshot::SnapshotId;

/// The feature whose level lives in the log's control records, not in FeatureLevelRecords.
pub const KRAFT_VERSION_FEATURE: &str = "kraft.version";
/// Kafka's KRaft metadata topic; its one partition is the metadata log.
pub const CLUSTER_METADATA_TOPIC: &str = image::topics::CLUSTER_METADATA;
