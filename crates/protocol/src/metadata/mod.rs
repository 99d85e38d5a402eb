//! KRaft metadata records and KRaft control records: bytes <-> typed records, as Apache Kafka
//! 4.3.1 writes and reads them in the `__cluster_metadata-0` log and its snapshots
//! (`<endOffset:020>-<epoch:010>.checkpoint`, `bootstrap.checkpoint`). No I/O.
//!
//! - `generated.rs` (by `schema-gen/gen_metadata.py`, from Kafka's JSON schemas) holds one
//!   struct per record type and per nested struct, with `Default` giving every field the
//!   schema's default and `decode`/`encode` following Kafka's generated `Message.read`/`write`.
//!   Every version of these schemas is flexible: compact strings, bytes and arrays and a tagged
//!   field section after every struct. Tagged fields are written only when they differ from
//!   their default, in tag order, then the unknown ones read earlier (kept in
//!   `unknown_tagged_fields`). Writing a non-default value into a field the target version lacks
//!   is refused ([`MetadataCodecError::NonDefaultField`], Kafka's UnsupportedVersionException).
//! - A metadata record is a record with a null key whose value is framed as Kafka's
//!   `MetadataRecordSerde` (`AbstractApiMessageSerde`) frames it: unsigned varint frame version
//!   (1), unsigned varint api key, unsigned varint version, the message, nothing after it:
//!   [`decode_metadata_value`], [`encode_metadata_value`].
//! - A KRaft control record sits in a control batch (attributes bit 5); its key is Kafka's
//!   `ControlRecordTypeSchema` (int16 version 0, int16 type) and its value the message at
//!   schema version 0 (whose own first field is an int16 `Version`, 0 too): [`ControlRecord`].
//!   Types 0 (ABORT) and 1 (COMMIT) are transaction markers, handled by `records`.
//!
//! Decoding never trusts the bytes: every length and count is checked against the bytes left
//! before anything is allocated for it, nothing panics, and recursion follows the schema
//! (nested structs are at most three deep), never the input.
//!
//! Where this codec is stricter than Kafka's generated Java (which reads only what it needs):
//! a known tagged field must fill exactly the size its header declares, a version outside a
//! record's `validVersions` is refused rather than read with the newest layout, strings must be
//! UTF-8, a varint may not carry bits above 32, and a control record value may not have bytes
//! after its message. Kafka never writes any of these.

pub mod codec;
mod error;
#[rustfmt::skip]
mod generated;
#[cfg(test)]
mod test_gen;
#[cfg(test)]
mod tests;

pub use codec::{RawTaggedField, Reader};
pub use error::MetadataCodecError;
pub use generated::*;

use codec::put_uvarint;
use MetadataCodecError as E;

macro_rules! metadata_records {
    ($($variant:ident($ty:ident),)*) => {
        /// Every metadata record type (Kafka's `MetadataRecordType`); the discriminant is the
        /// api key.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(i16)]
        pub enum MetadataRecordType {
            $($variant = $ty::API_KEY,)*
        }

        impl MetadataRecordType {
            /// All of them, by api key.
            pub const ALL: &'static [MetadataRecordType] = &[$(Self::$variant,)*];

            pub fn from_api_key(api_key: i16) -> Option<Self> {
                match api_key {
                    $($ty::API_KEY => Some(Self::$variant),)*
                    _ => None,
                }
            }

            pub const fn api_key(self) -> i16 {
                self as i16
            }

            /// Kafka's name of the record (`TopicRecord`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $ty::NAME,)*
                }
            }

            pub const fn lowest_version(self) -> i16 {
                match self {
                    $(Self::$variant => $ty::LOWEST_VERSION,)*
                }
            }

            pub const fn highest_version(self) -> i16 {
                match self {
                    $(Self::$variant => $ty::HIGHEST_VERSION,)*
                }
            }

            /// A record of this type with every field at its default (Kafka's
            /// `newMetadataRecord()`).
            pub fn new_record(self) -> MetadataRecord {
                match self {
                    $(Self::$variant => MetadataRecord::$variant($ty::default()),)*
                }
            }

            /// A random record of this type that `version` can hold.
            #[cfg(test)]
            pub(crate) fn arbitrary(self, g: &mut test_gen::Gen, version: i16) -> MetadataRecord {
                match self {
                    $(Self::$variant => MetadataRecord::$variant($ty::arbitrary(g, version)),)*
                }
            }
        }

        /// A metadata record of any type.
        #[derive(Debug, Clone, PartialEq)]
        pub enum MetadataRecord {
            $($variant($ty),)*
        }

        impl MetadataRecord {
            pub fn record_type(&self) -> MetadataRecordType {
                match self {
                    $(Self::$variant(_) => MetadataRecordType::$variant,)*
                }
            }

            /// Reads a record of `record_type` at `version` (refused outside its valid
            /// versions).
            pub fn decode(
                record_type: MetadataRecordType,
                r: &mut Reader<'_>,
                version: i16,
            ) -> Result<Self, MetadataCodecError> {
                match record_type {
                    $(MetadataRecordType::$variant => $ty::decode(r, version).map(Self::$variant),)*
                }
            }

            /// Appends the record at `version` to `out`.
            pub fn encode(&self, version: i16, out: &mut Vec<u8>) -> Result<(), MetadataCodecError> {
                match self {
                    $(Self::$variant(rec) => rec.encode(version, out),)*
                }
            }
        }

        $(
            impl From<$ty> for MetadataRecord {
                fn from(rec: $ty) -> Self {
                    Self::$variant(rec)
                }
            }
        )*
    };
}

metadata_records! {
    RegisterBroker(RegisterBrokerRecord),
    UnregisterBroker(UnregisterBrokerRecord),
    Topic(TopicRecord),
    Partition(PartitionRecord),
    Config(ConfigRecord),
    PartitionChange(PartitionChangeRecord),
    FenceBroker(FenceBrokerRecord),
    UnfenceBroker(UnfenceBrokerRecord),
    RemoveTopic(RemoveTopicRecord),
    DelegationToken(DelegationTokenRecord),
    UserScramCredential(UserScramCredentialRecord),
    FeatureLevel(FeatureLevelRecord),
    ClientQuota(ClientQuotaRecord),
    ProducerIds(ProducerIdsRecord),
    BrokerRegistrationChange(BrokerRegistrationChangeRecord),
    AccessControlEntry(AccessControlEntryRecord),
    RemoveAccessControlEntry(RemoveAccessControlEntryRecord),
    NoOp(NoOpRecord),
    ZkMigrationState(ZkMigrationStateRecord),
    RemoveUserScramCredential(RemoveUserScramCredentialRecord),
    BeginTransaction(BeginTransactionRecord),
    EndTransaction(EndTransactionRecord),
    AbortTransaction(AbortTransactionRecord),
    RemoveDelegationToken(RemoveDelegationTokenRecord),
    RegisterController(RegisterControllerRecord),
    ClearElr(ClearElrRecord),
}

impl MetadataRecord {
    pub fn api_key(&self) -> i16 {
        self.record_type().api_key()
    }
}

/// A metadata record and the version it is (to be) written at: Kafka's `ApiMessageAndVersion`.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionedRecord {
    pub record: MetadataRecord,
    pub version: i16,
}

impl VersionedRecord {
    pub fn new(record: impl Into<MetadataRecord>, version: i16) -> Self {
        Self {
            record: record.into(),
            version,
        }
    }
}

/// The only frame version of a metadata record value (`AbstractApiMessageSerde`).
pub const METADATA_FRAME_VERSION: u16 = 1;

/// An unsigned varint of the value frame that must fit an int16 (Kafka's `unsignedIntToShort`).
fn frame_short(r: &mut Reader<'_>, what: &'static str) -> Result<i16, E> {
    let v = r.uvarint(what)?;
    i16::try_from(v).map_err(|_| E::FrameValueTooLarge { what, value: v })
}

/// Decodes the value of a metadata record (Kafka's `MetadataRecordSerde.read`): frame version
/// 1, api key, version, the message, and no byte after it.
pub fn decode_metadata_value(value: &[u8]) -> Result<VersionedRecord, MetadataCodecError> {
    let mut r = Reader::new(value);
    match frame_short(&mut r, "frame version")? {
        0 => return Err(E::FrameVersionZero),
        1 => {}
        other => return Err(E::UnknownFrameVersion(other as u32)),
    }
    let api_key = frame_short(&mut r, "type")?;
    let version = frame_short(&mut r, "version")?;
    let record_type = MetadataRecordType::from_api_key(api_key).ok_or(E::UnknownApiKey(api_key))?;
    let record = MetadataRecord::decode(record_type, &mut r, version)?;
    if r.remaining() > 0 {
        return Err(E::TrailingBytes {
            record: record_type.name(),
            api_key,
            offset: r.offset(),
            count: r.remaining(),
        });
    }
    Ok(VersionedRecord { record, version })
}

/// Encodes the value of a metadata record (Kafka's `MetadataRecordSerde.write`).
pub fn encode_metadata_value(rec: &VersionedRecord) -> Result<Vec<u8>, MetadataCodecError> {
    let mut out = Vec::new();
    encode_metadata_value_into(rec, &mut out)?;
    Ok(out)
}

/// As [`encode_metadata_value`], appending to `out`; on error `out` is left as it was.
pub fn encode_metadata_value_into(
    rec: &VersionedRecord,
    out: &mut Vec<u8>,
) -> Result<(), MetadataCodecError> {
    let start = out.len();
    put_uvarint(out, u32::from(METADATA_FRAME_VERSION));
    // Both are >= 0 here: the api key by construction, the version once encode accepts it.
    put_uvarint(out, rec.record.api_key() as u16 as u32);
    put_uvarint(out, rec.version as u16 as u32);
    let result = rec.record.encode(rec.version, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// The type of a control record, from its key (Kafka's `ControlRecordType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// A transaction marker (EndTxnMarker value), handled by `records`.
    Abort,
    /// A transaction marker (EndTxnMarker value), handled by `records`.
    Commit,
    LeaderChange,
    SnapshotHeader,
    SnapshotFooter,
    KRaftVersion,
    KRaftVoters,
    /// A type this codec does not know; Kafka ignores such records.
    Unknown(i16),
}

impl ControlRecordType {
    /// The key version Kafka writes (`ControlRecordTypeSchema` version 0).
    pub const KEY_VERSION: i16 = 0;
    /// The size of a version-0 key.
    pub const KEY_SIZE: usize = 4;

    pub fn from_type_id(type_id: i16) -> Self {
        match type_id {
            0 => Self::Abort,
            1 => Self::Commit,
            2 => Self::LeaderChange,
            3 => Self::SnapshotHeader,
            4 => Self::SnapshotFooter,
            5 => Self::KRaftVersion,
            6 => Self::KRaftVoters,
            other => Self::Unknown(other),
        }
    }

    pub fn type_id(self) -> i16 {
        match self {
            Self::Abort => 0,
            Self::Commit => 1,
            Self::LeaderChange => 2,
            Self::SnapshotHeader => 3,
            Self::SnapshotFooter => 4,
            Self::KRaftVersion => 5,
            Self::KRaftVoters => 6,
            Self::Unknown(t) => t,
        }
    }

    /// Kafka's enum name (`LEADER_CHANGE`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Abort => "ABORT",
            Self::Commit => "COMMIT",
            Self::LeaderChange => "LEADER_CHANGE",
            Self::SnapshotHeader => "SNAPSHOT_HEADER",
            Self::SnapshotFooter => "SNAPSHOT_FOOTER",
            Self::KRaftVersion => "KRAFT_VERSION",
            Self::KRaftVoters => "KRAFT_VOTERS",
            Self::Unknown(_) => "UNKNOWN",
        }
    }

    /// Parses a control record key as Kafka's `ControlRecordType.parse` does: at least 4
    /// bytes, a version >= 0 (a higher version is read as version 0, whose layout it keeps),
    /// the type; bytes after the type are ignored.
    pub fn parse_key(key: &[u8]) -> Result<Self, MetadataCodecError> {
        if key.len() < Self::KEY_SIZE {
            return Err(E::ControlKeyTooShort(key.len()));
        }
        let version = i16::from_be_bytes([key[0], key[1]]);
        if version < 0 {
            return Err(E::ControlKeyVersion(version));
        }
        Ok(Self::from_type_id(i16::from_be_bytes([key[2], key[3]])))
    }

    /// The version-0 key of this type.
    pub fn key(self) -> [u8; 4] {
        let mut k = [0u8; 4];
        k[..2].copy_from_slice(&Self::KEY_VERSION.to_be_bytes());
        k[2..].copy_from_slice(&self.type_id().to_be_bytes());
        k
    }
}

/// The schema version Kafka reads and writes every KRaft control record value at
/// (`ControlRecordUtils.*_CURRENT_VERSION`, all 0 in 4.3.1).
pub const CONTROL_RECORD_VALUE_VERSION: i16 = 0;

/// A KRaft control record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlRecord {
    LeaderChange(LeaderChangeMessage),
    SnapshotHeader(SnapshotHeaderRecord),
    SnapshotFooter(SnapshotFooterRecord),
    KRaftVersion(KRaftVersionRecord),
    Voters(VotersRecord),
}

/// The key and value of an encoded control record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedControlRecord {
    pub key: [u8; 4],
    pub value: Vec<u8>,
}

impl ControlRecord {
    pub fn record_type(&self) -> ControlRecordType {
        match self {
            Self::LeaderChange(_) => ControlRecordType::LeaderChange,
            Self::SnapshotHeader(_) => ControlRecordType::SnapshotHeader,
            Self::SnapshotFooter(_) => ControlRecordType::SnapshotFooter,
            Self::KRaftVersion(_) => ControlRecordType::KRaftVersion,
            Self::Voters(_) => ControlRecordType::KRaftVoters,
        }
    }

    /// Decodes a control record from its key and value. Transaction markers and unknown types
    /// are refused ([`MetadataCodecError::NotKRaftControlRecord`]).
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, MetadataCodecError> {
        Self::decode_value(ControlRecordType::parse_key(key)?, value)
    }

    /// Decodes the value of a control record of `record_type`.
    pub fn decode_value(
        record_type: ControlRecordType,
        value: &[u8],
    ) -> Result<Self, MetadataCodecError> {
        let v = CONTROL_RECORD_VALUE_VERSION;
        let mut r = Reader::new(value);
        let (rec, name) = match record_type {
            ControlRecordType::LeaderChange => (
                Self::LeaderChange(LeaderChangeMessage::decode(&mut r, v)?),
                LeaderChangeMessage::NAME,
            ),
            ControlRecordType::SnapshotHeader => (
                Self::SnapshotHeader(SnapshotHeaderRecord::decode(&mut r, v)?),
                SnapshotHeaderRecord::NAME,
            ),
            ControlRecordType::SnapshotFooter => (
                Self::SnapshotFooter(SnapshotFooterRecord::decode(&mut r, v)?),
                SnapshotFooterRecord::NAME,
            ),
            ControlRecordType::KRaftVersion => (
                Self::KRaftVersion(KRaftVersionRecord::decode(&mut r, v)?),
                KRaftVersionRecord::NAME,
            ),
            ControlRecordType::KRaftVoters => (
                Self::Voters(VotersRecord::decode(&mut r, v)?),
                VotersRecord::NAME,
            ),
            other @ (ControlRecordType::Abort
            | ControlRecordType::Commit
            | ControlRecordType::Unknown(_)) => {
                return Err(E::NotKRaftControlRecord {
                    type_id: other.type_id(),
                    name: other.name(),
                })
            }
        };
        if r.remaining() > 0 {
            return Err(E::ControlTrailingBytes {
                record: name,
                offset: r.offset(),
                count: r.remaining(),
            });
        }
        Ok(rec)
    }

    /// Encodes the record: its version-0 key and its value at schema version 0.
    pub fn encode(&self) -> Result<EncodedControlRecord, MetadataCodecError> {
        let v = CONTROL_RECORD_VALUE_VERSION;
        let mut value = Vec::new();
        match self {
            Self::LeaderChange(m) => m.encode(v, &mut value)?,
            Self::SnapshotHeader(m) => m.encode(v, &mut value)?,
            Self::SnapshotFooter(m) => m.encode(v, &mut value)?,
            Self::KRaftVersion(m) => m.encode(v, &mut value)?,
            Self::Voters(m) => m.encode(v, &mut value)?,
        }
        Ok(EncodedControlRecord {
            key: self.record_type().key(),
            value,
        })
    }
}
