//! The KIP-848 consumer group records of `__consumer_offsets`, in Apache Kafka 4.3's schemas
//! (group-coordinator's ConsumerGroup*Key/Value). Keys are non-flexible (version int16 = the
//! record type, then plain strings); values are flexible (version int16 = 0, compact strings
//! and arrays, tagged fields). The member metadata's tagged field 0 (classic_member_metadata:
//! session timeout and supported protocols of a member using the classic protocol) is written
//! and read: a nullable struct, which Kafka writes as a presence varint (0 null, 1 present)
//! before the struct, and writes even when null.
//!
//! | key type | key | value |
//! |---|---|---|
//! | 3 | ConsumerGroupMetadataKey (group) | epoch |
//! | 5 | ConsumerGroupMemberMetadataKey (group, member) | instance_id, rack_id, client_id, client_host, subscribed_topic_names, subscribed_topic_regex, rebalance_timeout_ms, server_assignor, classic_member_metadata (tag 0) |
//! | 6 | ConsumerGroupTargetAssignmentMetadataKey (group) | assignment_epoch |
//! | 7 | ConsumerGroupTargetAssignmentMemberKey (group, member) | topic_partitions |
//! | 8 | ConsumerGroupCurrentMemberAssignmentKey (group, member) | member_epoch, previous_member_epoch, state, assigned_partitions, partitions_pending_revocation |
//! | 4 | ConsumerGroupPartitionMetadataKey (group) | (replaced by the metadata hash in Kafka 4.1; only its tombstone is written, when a group is deleted) |
//! | 16 | ConsumerGroupRegularExpressionKey (group, regular expression) | topics, version, timestamp (the topics a regex resolved to) |
//!
//! Tagged fields Kafka 4.3 writes and Sluice does not use are skipped when read: metadata_hash
//! (tag 0 of type 3), assignment_timestamp (tag 0 of type 6), assignment_epochs (tag 0 of each
//! topic in type 8). Sluice writes assignment_epochs as the member epoch for every partition
//! (Kafka 4.3 logs an error reading a current assignment without them, then assumes that). Sluice never writes type 16: it resolves regular expressions at each heartbeat; it
//! replays Kafka's, and writes their tombstones as Kafka does (the regex unused, the group
//! deleted), so that a Kafka reading the log later does not bring the group back.

use super::consumer_group::Assignment;
use bytes::{BufMut, Bytes};
use sluice_protocol::wire::{
    put_compact_nullable_string as put_compact_str, put_string as put_str, put_uvarint, WireError,
    WireReader,
};
use thiserror::Error;
use uuid::Uuid;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConsumerRecordError {
    #[error("consumer group record: {0}")]
    Wire(#[from] WireError),
    #[error("consumer group record: not a KIP-848 key (type {0})")]
    NotConsumerKey(i16),
    #[error("consumer group record: unknown value version {0}")]
    UnknownVersion(i16),
    #[error("consumer group record has an invalid topic id")]
    BadTopicId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerKey {
    Metadata { group: String },
    MemberMetadata { group: String, member: String },
    TargetMetadata { group: String },
    TargetMember { group: String, member: String },
    CurrentAssignment { group: String, member: String },
    PartitionMetadata { group: String },
    RegularExpression { group: String, regex: String },
}

/// ConsumerGroupRegularExpressionValue: what a regular expression resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegexValue {
    pub topics: Vec<String>,
    pub version: i64,
    pub timestamp: i64,
}

impl RegexValue {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.put_i16(0);
        put_uvarint(&mut b, self.topics.len() as u64 + 1);
        for t in &self.topics {
            put_compact_str(&mut b, Some(t));
        }
        b.put_i64(self.version);
        b.put_i64(self.timestamp);
        put_uvarint(&mut b, 0);
        b
    }

    pub fn decode(buf: &[u8]) -> Result<Self, ConsumerRecordError> {
        let mut r = Reader::new(buf);
        r.version()?;
        let n = r.compact_len()?;
        let mut topics = Vec::with_capacity(n);
        for _ in 0..n {
            topics.push(r.compact_str()?.unwrap_or_default());
        }
        Ok(Self {
            topics,
            version: r.0.i64()?,
            timestamp: r.0.i64()?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberMetadataValue {
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub server_assignor: Option<String>,
    /// Tagged field 0: set when the member uses the classic protocol (JoinGroup/SyncGroup)
    /// inside a consumer group.
    pub classic: Option<ClassicMemberMetadata>,
}

/// ConsumerGroupMemberMetadataValue.ClassicMemberMetadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClassicMemberMetadata {
    pub session_timeout_ms: i32,
    /// (protocol name, metadata) in the member's order of preference.
    pub supported_protocols: Vec<(String, Bytes)>,
}

impl ClassicMemberMetadata {
    fn encode(&self, b: &mut Vec<u8>) {
        b.put_i32(self.session_timeout_ms);
        put_uvarint(b, self.supported_protocols.len() as u64 + 1);
        for (name, metadata) in &self.supported_protocols {
            put_compact_str(b, Some(name));
            put_uvarint(b, metadata.len() as u64 + 1);
            b.put_slice(metadata);
            put_uvarint(b, 0);
        }
        put_uvarint(b, 0);
    }

    fn decode(buf: &[u8]) -> Result<Self, ConsumerRecordError> {
        let mut r = Reader::new(buf);
        let session_timeout_ms = r.i32()?;
        let n = r.compact_len()?;
        let mut supported_protocols = Vec::with_capacity(n);
        for _ in 0..n {
            let name = r.compact_str()?.unwrap_or_default();
            let len = r.0.uvarint()?;
            let len = usize::try_from(len.saturating_sub(1)).unwrap_or(usize::MAX);
            let metadata = Bytes::copy_from_slice(r.0.take(len)?);
            r.skip_tagged()?;
            supported_protocols.push((name, metadata));
        }
        Ok(Self {
            session_timeout_ms,
            supported_protocols,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CurrentAssignmentValue {
    pub member_epoch: i32,
    pub previous_member_epoch: i32,
    pub state: i8,
    pub assigned: Assignment,
    pub pending_revocation: Assignment,
}

/// A `[]TopicPartition(s)` array; with `assignment_epoch`, every partition's AssignmentEpochs
/// entry (tagged field 0 of ConsumerGroupCurrentMemberAssignmentValue's TopicPartitions).
fn put_partitions(b: &mut Vec<u8>, a: &Assignment, assignment_epoch: Option<i32>) {
    put_uvarint(b, a.len() as u64 + 1);
    for (topic, parts) in a {
        b.put_slice(topic.as_bytes());
        put_uvarint(b, parts.len() as u64 + 1);
        for p in parts {
            b.put_i32(*p);
        }
        match assignment_epoch {
            None => put_uvarint(b, 0),
            Some(epoch) => {
                let mut field = Vec::new();
                put_uvarint(&mut field, parts.len() as u64 + 1);
                for _ in parts {
                    field.put_i32(epoch);
                }
                put_uvarint(b, 1);
                put_uvarint(b, 0); // tag 0
                put_uvarint(b, field.len() as u64);
                b.put_slice(&field);
            }
        }
    }
}

impl ConsumerKey {
    pub fn group(&self) -> &str {
        match self {
            ConsumerKey::Metadata { group }
            | ConsumerKey::MemberMetadata { group, .. }
            | ConsumerKey::TargetMetadata { group }
            | ConsumerKey::TargetMember { group, .. }
            | ConsumerKey::CurrentAssignment { group, .. }
            | ConsumerKey::PartitionMetadata { group }
            | ConsumerKey::RegularExpression { group, .. } => group,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        match self {
            ConsumerKey::Metadata { group } => {
                b.put_i16(3);
                put_str(&mut b, group);
            }
            ConsumerKey::MemberMetadata { group, member } => {
                b.put_i16(5);
                put_str(&mut b, group);
                put_str(&mut b, member);
            }
            ConsumerKey::TargetMetadata { group } => {
                b.put_i16(6);
                put_str(&mut b, group);
            }
            ConsumerKey::TargetMember { group, member } => {
                b.put_i16(7);
                put_str(&mut b, group);
                put_str(&mut b, member);
            }
            ConsumerKey::CurrentAssignment { group, member } => {
                b.put_i16(8);
                put_str(&mut b, group);
                put_str(&mut b, member);
            }
            ConsumerKey::PartitionMetadata { group } => {
                b.put_i16(4);
                put_str(&mut b, group);
            }
            ConsumerKey::RegularExpression { group, regex } => {
                b.put_i16(16);
                put_str(&mut b, group);
                put_str(&mut b, regex);
            }
        }
        b
    }

    pub fn decode(buf: &[u8]) -> Result<Self, ConsumerRecordError> {
        let mut r = Reader::new(buf);
        let t = r.i16()?;
        Ok(match t {
            3 => ConsumerKey::Metadata { group: r.string()? },
            5 => ConsumerKey::MemberMetadata {
                group: r.string()?,
                member: r.string()?,
            },
            6 => ConsumerKey::TargetMetadata { group: r.string()? },
            7 => ConsumerKey::TargetMember {
                group: r.string()?,
                member: r.string()?,
            },
            8 => ConsumerKey::CurrentAssignment {
                group: r.string()?,
                member: r.string()?,
            },
            4 => ConsumerKey::PartitionMetadata { group: r.string()? },
            16 => ConsumerKey::RegularExpression {
                group: r.string()?,
                regex: r.string()?,
            },
            other => return Err(ConsumerRecordError::NotConsumerKey(other)),
        })
    }
}

/// ConsumerGroupMetadataValue / ConsumerGroupTargetAssignmentMetadataValue: one epoch.
pub fn encode_epoch(epoch: i32) -> Vec<u8> {
    let mut b = Vec::new();
    b.put_i16(0);
    b.put_i32(epoch);
    put_uvarint(&mut b, 0);
    b
}

pub fn decode_epoch(buf: &[u8]) -> Result<i32, ConsumerRecordError> {
    let mut r = Reader::new(buf);
    r.version()?;
    r.i32()
}

/// ConsumerGroupTargetAssignmentMemberValue.
pub fn encode_target(a: &Assignment) -> Vec<u8> {
    let mut b = Vec::new();
    b.put_i16(0);
    put_partitions(&mut b, a, None);
    put_uvarint(&mut b, 0);
    b
}

pub fn decode_target(buf: &[u8]) -> Result<Assignment, ConsumerRecordError> {
    let mut r = Reader::new(buf);
    r.version()?;
    r.partitions()
}

impl MemberMetadataValue {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.put_i16(0);
        put_compact_str(&mut b, self.instance_id.as_deref());
        put_compact_str(&mut b, self.rack_id.as_deref());
        put_compact_str(&mut b, Some(&self.client_id));
        put_compact_str(&mut b, Some(&self.client_host));
        put_uvarint(&mut b, self.subscribed_topic_names.len() as u64 + 1);
        for t in &self.subscribed_topic_names {
            put_compact_str(&mut b, Some(t));
        }
        put_compact_str(&mut b, self.subscribed_topic_regex.as_deref());
        b.put_i32(self.rebalance_timeout_ms);
        put_compact_str(&mut b, self.server_assignor.as_deref());
        // Tagged field 0, a nullable struct: Kafka's generated code writes it even when null,
        // as a presence varint (0 null, 1 present) before the struct.
        let mut field = Vec::new();
        match &self.classic {
            None => put_uvarint(&mut field, 0),
            Some(c) => {
                put_uvarint(&mut field, 1);
                c.encode(&mut field);
            }
        }
        put_uvarint(&mut b, 1);
        put_uvarint(&mut b, 0); // tag 0
        put_uvarint(&mut b, field.len() as u64);
        b.put_slice(&field);
        b
    }

    pub fn decode(buf: &[u8]) -> Result<Self, ConsumerRecordError> {
        let mut r = Reader::new(buf);
        r.version()?;
        let instance_id = r.compact_str()?;
        let rack_id = r.compact_str()?;
        let client_id = r.compact_str()?.unwrap_or_default();
        let client_host = r.compact_str()?.unwrap_or_default();
        let n = r.compact_len()?;
        let mut subscribed_topic_names = Vec::new();
        for _ in 0..n {
            subscribed_topic_names.push(r.compact_str()?.unwrap_or_default());
        }
        let subscribed_topic_regex = r.compact_str()?;
        let rebalance_timeout_ms = r.i32()?;
        let server_assignor = r.compact_str()?;
        let mut classic = None;
        r.0.tagged_fields(|tag, data| {
            if tag == 0 {
                // A presence varint (0: null), then the struct.
                let mut f = WireReader::new(data);
                if f.uvarint()? > 0 {
                    classic = Some(&data[f.position()..]);
                }
            }
            Ok(())
        })?;
        Ok(Self {
            instance_id,
            rack_id,
            client_id,
            client_host,
            subscribed_topic_names,
            subscribed_topic_regex,
            rebalance_timeout_ms,
            server_assignor,
            classic: classic.map(ClassicMemberMetadata::decode).transpose()?,
        })
    }
}

impl CurrentAssignmentValue {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.put_i16(0);
        b.put_i32(self.member_epoch);
        b.put_i32(self.previous_member_epoch);
        b.put_i8(self.state);
        // Sluice does not keep the epoch each partition was assigned in; it writes the member
        // epoch, which is what Kafka assumes when the field is missing (after logging an error
        // for every partition list without it).
        put_partitions(&mut b, &self.assigned, Some(self.member_epoch));
        put_partitions(&mut b, &self.pending_revocation, Some(self.member_epoch));
        put_uvarint(&mut b, 0);
        b
    }

    pub fn decode(buf: &[u8]) -> Result<Self, ConsumerRecordError> {
        let mut r = Reader::new(buf);
        r.version()?;
        Ok(Self {
            member_epoch: r.i32()?,
            previous_member_epoch: r.i32()?,
            state: r.i8()?,
            assigned: r.partitions()?,
            pending_revocation: r.partitions()?,
        })
    }
}

/// Kafka's wire types over [`WireReader`], plus this schema's value version and partition lists.
struct Reader<'a>(WireReader<'a>);

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self(WireReader::new(buf))
    }
    fn i8(&mut self) -> Result<i8, ConsumerRecordError> {
        Ok(self.0.i8()?)
    }
    fn i16(&mut self) -> Result<i16, ConsumerRecordError> {
        Ok(self.0.i16()?)
    }
    fn i32(&mut self) -> Result<i32, ConsumerRecordError> {
        Ok(self.0.i32()?)
    }
    fn version(&mut self) -> Result<(), ConsumerRecordError> {
        match self.i16()? {
            0 => Ok(()),
            v => Err(ConsumerRecordError::UnknownVersion(v)),
        }
    }
    /// A compact array's element count (each element at least one byte).
    fn compact_len(&mut self) -> Result<usize, ConsumerRecordError> {
        Ok(self.0.compact_array_len(1)?.unwrap_or(0))
    }
    fn string(&mut self) -> Result<String, ConsumerRecordError> {
        Ok(self.0.string()?)
    }
    fn compact_str(&mut self) -> Result<Option<String>, ConsumerRecordError> {
        Ok(self.0.compact_nullable_string()?)
    }
    fn skip_tagged(&mut self) -> Result<(), ConsumerRecordError> {
        Ok(self.0.tagged_fields(|_, _| Ok(()))?)
    }
    fn partitions(&mut self) -> Result<Assignment, ConsumerRecordError> {
        let n = self.0.compact_array_len(17)?.unwrap_or(0);
        let mut out = Assignment::new();
        for _ in 0..n {
            let id =
                Uuid::from_slice(self.0.take(16)?).map_err(|_| ConsumerRecordError::BadTopicId)?;
            let k = self.0.compact_array_len(4)?.unwrap_or(0);
            let set = out.entry(id).or_default();
            for _ in 0..k {
                set.insert(self.i32()?);
            }
            self.skip_tagged()?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn records_round_trip() {
        let t = Uuid::from_u128(42);
        let a: Assignment = [(t, BTreeSet::from([0, 3]))].into_iter().collect();
        let cur = CurrentAssignmentValue {
            member_epoch: 7,
            previous_member_epoch: 6,
            state: 1,
            assigned: a.clone(),
            pending_revocation: Assignment::new(),
        };
        assert_eq!(CurrentAssignmentValue::decode(&cur.encode()).unwrap(), cur);
        let meta = MemberMetadataValue {
            instance_id: Some("i".into()),
            rack_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            subscribed_topic_names: vec!["a".into(), "b".into()],
            subscribed_topic_regex: Some("x.*".into()),
            rebalance_timeout_ms: 300_000,
            server_assignor: None,
            classic: None,
        };
        assert_eq!(MemberMetadataValue::decode(&meta.encode()).unwrap(), meta);
        let classic = MemberMetadataValue {
            classic: Some(ClassicMemberMetadata {
                session_timeout_ms: 45_000,
                supported_protocols: vec![
                    ("range".into(), Bytes::from_static(b"\x00\x01meta")),
                    ("cooperative-sticky".into(), Bytes::new()),
                ],
            }),
            ..meta.clone()
        };
        assert_eq!(
            MemberMetadataValue::decode(&classic.encode()).unwrap(),
            classic
        );
        assert_eq!(decode_target(&encode_target(&a)).unwrap(), a);
        assert_eq!(decode_epoch(&encode_epoch(9)).unwrap(), 9);
        let k = ConsumerKey::CurrentAssignment {
            group: "g".into(),
            member: "m".into(),
        };
        assert_eq!(ConsumerKey::decode(&k.encode()).unwrap(), k);
        assert_eq!(
            ConsumerKey::decode(&[0, 2, 0, 1, b'g']),
            Err(ConsumerRecordError::NotConsumerKey(2))
        );
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Member metadata as Kafka 4.3.1's generated ConsumerGroupMemberMetadataValue writes it:
    /// the classic member metadata (tagged field 0) is a nullable struct with a presence varint,
    /// written even when null. Sluice writes the same bytes and reads Kafka's.
    #[test]
    fn member_metadata_matches_kafka_bytes() {
        let classic = MemberMetadataValue {
            instance_id: Some("i".into()),
            rack_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            subscribed_topic_names: vec!["a".into(), "b".into()],
            subscribed_topic_regex: Some("x.*".into()),
            rebalance_timeout_ms: 300_000,
            server_assignor: None,
            classic: Some(ClassicMemberMetadata {
                session_timeout_ms: 45_000,
                supported_protocols: vec![
                    ("range".into(), Bytes::from_static(b"\x00\x01m")),
                    ("cooperative-sticky".into(), Bytes::new()),
                ],
            }),
        };
        let kafka_classic = hex(
            "000002690002630b2f3132372e302e302e31030261026204782e2a000493e000010027010000afc803\
             0672616e67650400016d0013636f6f70657261746976652d737469636b79010000",
        );
        assert_eq!(classic.encode(), kafka_classic);
        assert_eq!(
            MemberMetadataValue::decode(&kafka_classic).unwrap(),
            classic
        );
        let plain = MemberMetadataValue {
            classic: None,
            ..classic
        };
        let kafka_null =
            hex("000002690002630b2f3132372e302e302e31030261026204782e2a000493e00001000100");
        assert_eq!(plain.encode(), kafka_null);
        assert_eq!(MemberMetadataValue::decode(&kafka_null).unwrap(), plain);
    }

    /// Values Kafka 4.3.1 wrote to `__consumer_offsets` for a KIP-848 group subscribed with a
    /// regular expression (compat-tests/datadir's writer), with the tagged fields Sluice skips:
    /// metadata_hash, assignment_timestamp, assignment_epochs.
    #[test]
    fn reads_the_records_kafka_4_3_writes() {
        let k = ConsumerKey::decode(&hex(
            "0005000864642d726567657800163047415a486f36475467323653554543345356497367",
        ))
        .unwrap();
        assert_eq!(
            k,
            ConsumerKey::MemberMetadata {
                group: "dd-regex".into(),
                member: "0GAZHo6GTg26SUEC4SVIsg".into()
            }
        );
        let m = MemberMetadataValue::decode(&hex(
            "0000000014636f6e73756d65722d64642d72656765782d350b2f3132372e302e302e31011364642d\
             28706c61696e7c636f6d7061637429000493e00001000100",
        ))
        .unwrap();
        assert_eq!(
            m.subscribed_topic_regex.as_deref(),
            Some("dd-(plain|compact)")
        );
        assert_eq!(
            (m.client_id.as_str(), m.classic),
            ("consumer-dd-regex-5", None)
        );
        // Group epoch 2 with a metadata hash; assignment epoch 2 with its timestamp.
        assert_eq!(
            decode_epoch(&hex("00000000000201000863a5d6335afd7bb5")).unwrap(),
            2
        );
        assert_eq!(
            decode_epoch(&hex("000000000002010008000001a25310e608")).unwrap(),
            2
        );
        let plain = Uuid::from_u128(0x1f70a561_cad2_4188_bb9f_354211a7ffa9);
        let compact = Uuid::from_u128(0x43682e42_6210_435f_8b5a_8d48fd307bfb);
        let target = decode_target(&hex(
            "00000343682e426210435f8b5a8d48fd307bfb030000000000000001001f70a561cad24188bb9f3542\
             11a7ffa9040000000000000001000000020000",
        ))
        .unwrap();
        assert_eq!(target[&plain], BTreeSet::from([0, 1, 2]));
        assert_eq!(target[&compact], BTreeSet::from([0, 1]));
        let kafka_current = hex(
            "0000000000020000000100031f70a561cad24188bb9f354211a7ffa904000000000000000100000002\
             01000d0400000002000000020000000243682e426210435f8b5a8d48fd307bfb030000000000000001\
             0100090300000002000000020100",
        );
        let cur = CurrentAssignmentValue::decode(&kafka_current).unwrap();
        assert_eq!(
            (cur.member_epoch, cur.previous_member_epoch, cur.state),
            (2, 1, 0)
        );
        assert_eq!(cur.assigned, target);
        assert!(cur.pending_revocation.is_empty());
        // Every partition was assigned at the member's epoch there: Sluice writes the same
        // bytes, assignment epochs included.
        assert_eq!(cur.encode(), kafka_current);
        // The resolved regular expression, key and value.
        let k = ConsumerKey::decode(&hex(
            "0010000864642d7265676578001264642d28706c61696e7c636f6d7061637429",
        ))
        .unwrap();
        assert_eq!(
            k,
            ConsumerKey::RegularExpression {
                group: "dd-regex".into(),
                regex: "dd-(plain|compact)".into()
            }
        );
        assert_eq!(
            k.encode(),
            hex("0010000864642d7265676578001264642d28706c61696e7c636f6d7061637429")
        );
        let v = RegexValue::decode(&hex(
            "0000030b64642d636f6d706163740964642d706c61696e00000000000000a8000001a25310e5c900",
        ))
        .unwrap();
        assert_eq!(
            v.topics,
            vec!["dd-compact".to_string(), "dd-plain".to_string()]
        );
        assert_eq!((v.version, v.timestamp), (168, 0x1a2_5310_e5c9));
        // Kafka's generated class writes the same bytes.
        let r = RegexValue { timestamp: 7, ..v };
        assert_eq!(
            r.encode(),
            hex("0000030b64642d636f6d706163740964642d706c61696e00000000000000a8000000000000000700")
        );
        assert_eq!(
            ConsumerKey::PartitionMetadata { group: "g".into() }.encode(),
            vec![0, 4, 0, 1, b'g']
        );
    }

    #[test]
    fn hostile_lengths_are_refused_not_allocated() {
        // An array claiming 2^40 elements in a 10-byte value.
        let mut b = vec![0, 0];
        put_uvarint(&mut b, 1 << 40);
        assert!(matches!(
            decode_target(&b),
            Err(ConsumerRecordError::Wire(WireError::BadLength { .. }))
        ));
    }
}
