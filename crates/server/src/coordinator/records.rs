//! Records of `__consumer_offsets`, in Apache Kafka's key/value schemas, so the topic's content
//! means the same thing to Kafka tools (kafka-dump-log --offsets-decoder) as to us.
//!
//! Key = record type int16 + struct: 0 LegacyOffsetCommitKey / 1 OffsetCommitKey (group, topic,
//! partition), 2 GroupMetadataKey (group); types 3-8 and 16 are the KIP-848 records
//! ([`super::consumer_records`]); [`record_type`] names every type Kafka 4.3 knows. Value =
//! version int16 + struct; a null value is a tombstone.
//!
//! Read: OffsetCommitValue v0-4 (v1 carries an expireTimestamp; v4, what Kafka 4.3 writes, is
//! flexible: compact metadata and the topic id as tagged field 0) and GroupMetadataValue v0-4
//! (v4 flexible; Kafka 4.3 writes v3). Written: OffsetCommitValue v3 (offset, leaderEpoch,
//! metadata, commitTimestamp) and GroupMetadataValue v3 (protocolType, generation, protocol,
//! leader, currentStateTimestamp, members), which Kafka 4.3 reads.

use bytes::BufMut;
use sluice_protocol::wire::{WireError, WireReader};
use thiserror::Error;
use uuid::Uuid;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("__consumer_offsets record: {0}")]
    Wire(#[from] WireError),
    #[error("__consumer_offsets record has unknown {what} version {version}")]
    UnknownVersion { what: &'static str, version: i16 },
    #[error("__consumer_offsets key of record type {0} is not an offset or group metadata key")]
    OtherType(i16),
}

/// The record type of a `__consumer_offsets` key (its first two bytes) and Kafka 4.3's name for
/// it (group-coordinator's CoordinatorRecordType); `None` for a key too short to have one.
pub fn record_type(key: &[u8]) -> Option<(i16, &'static str)> {
    let t = i16::from_be_bytes([*key.first()?, *key.get(1)?]);
    let name = match t {
        0 => "LegacyOffsetCommit",
        1 => "OffsetCommit",
        2 => "GroupMetadata",
        3 => "ConsumerGroupMetadata",
        4 => "ConsumerGroupPartitionMetadata",
        5 => "ConsumerGroupMemberMetadata",
        6 => "ConsumerGroupTargetAssignmentMetadata",
        7 => "ConsumerGroupTargetAssignmentMember",
        8 => "ConsumerGroupCurrentMemberAssignment",
        10 => "ShareGroupMemberMetadata",
        11 => "ShareGroupMetadata",
        12 => "ShareGroupTargetAssignmentMetadata",
        13 => "ShareGroupTargetAssignmentMember",
        14 => "ShareGroupCurrentMemberAssignment",
        15 => "ShareGroupStatePartitionMetadata",
        16 => "ConsumerGroupRegularExpression",
        17 => "StreamsGroupMetadata",
        19 => "StreamsGroupMemberMetadata",
        20 => "StreamsGroupTargetAssignmentMetadata",
        21 => "StreamsGroupTargetAssignmentMember",
        22 => "StreamsGroupCurrentMemberAssignment",
        23 => "StreamsGroupTopology",
        _ => "unknown",
    };
    Some((t, name))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Offset {
        group: String,
        topic: String,
        partition: i32,
    },
    Group {
        group: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetValue {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
    /// Value version 1 only: when the offset expires (an OffsetCommit v2-4 with a retention
    /// time); Kafka expires such an offset then instead of after offsets.retention.minutes.
    pub expire_timestamp: Option<i64>,
    /// Value version 4+, tagged field 0: the topic's id, when the commit named it.
    pub topic_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberValue {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout: i32,
    pub session_timeout: i32,
    pub subscription: Vec<u8>,
    pub assignment: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupValue {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub current_state_timestamp: i64,
    pub members: Vec<MemberValue>,
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.put_i16(s.len() as i16);
    b.put_slice(s.as_bytes());
}

fn put_nullable_str(b: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_str(b, s),
        None => b.put_i16(-1),
    }
}

fn put_bytes(b: &mut Vec<u8>, v: &[u8]) {
    b.put_i32(v.len() as i32);
    b.put_slice(v);
}

impl Key {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        match self {
            Key::Offset {
                group,
                topic,
                partition,
            } => {
                b.put_i16(1);
                put_str(&mut b, group);
                put_str(&mut b, topic);
                b.put_i32(*partition);
            }
            Key::Group { group } => {
                b.put_i16(2);
                put_str(&mut b, group);
            }
        }
        b
    }

    /// An offset or group metadata key; any other record type is [`RecordError::OtherType`].
    pub fn decode(buf: &[u8]) -> Result<Self, RecordError> {
        let mut r = WireReader::new(buf);
        match r.i16()? {
            0 | 1 => Ok(Key::Offset {
                group: r.string()?,
                topic: r.string()?,
                partition: r.i32()?,
            }),
            2 => Ok(Key::Group { group: r.string()? }),
            other => Err(RecordError::OtherType(other)),
        }
    }

    pub fn group(&self) -> &str {
        match self {
            Key::Offset { group, .. } | Key::Group { group } => group,
        }
    }
}

impl OffsetValue {
    /// Value version 3.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.put_i16(3);
        b.put_i64(self.offset);
        b.put_i32(self.leader_epoch);
        put_str(&mut b, &self.metadata);
        b.put_i64(self.commit_timestamp);
        b
    }

    pub fn decode(buf: &[u8]) -> Result<Self, RecordError> {
        let mut r = WireReader::new(buf);
        let version = r.i16()?;
        if !(0..=4).contains(&version) {
            return Err(RecordError::UnknownVersion {
                what: "offset commit value",
                version,
            });
        }
        let flexible = version >= 4;
        let offset = r.i64()?;
        let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
        let metadata = if flexible {
            r.compact_string()?
        } else {
            r.string()?
        };
        let commit_timestamp = r.i64()?;
        let expire_timestamp = if version == 1 { Some(r.i64()?) } else { None };
        let mut topic_id = None;
        if flexible {
            r.tagged_fields(|tag, data| {
                if tag == 0 {
                    let mut d = WireReader::new(data);
                    let id = d.take(16)?;
                    let mut a = [0u8; 16];
                    a.copy_from_slice(id);
                    topic_id = Some(Uuid::from_bytes(a));
                }
                Ok(())
            })?;
        }
        Ok(Self {
            offset,
            leader_epoch,
            metadata,
            commit_timestamp,
            // -1 (DEFAULT_TIMESTAMP) is "none", as in Kafka's OffsetAndMetadata.fromRecord.
            expire_timestamp: expire_timestamp.filter(|t| *t != -1),
            topic_id,
        })
    }
}

impl GroupValue {
    /// Value version 3.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.put_i16(3);
        put_str(&mut b, &self.protocol_type);
        b.put_i32(self.generation);
        put_nullable_str(&mut b, self.protocol.as_deref());
        put_nullable_str(&mut b, self.leader.as_deref());
        b.put_i64(self.current_state_timestamp);
        b.put_i32(self.members.len() as i32);
        for m in &self.members {
            put_str(&mut b, &m.member_id);
            put_nullable_str(&mut b, m.group_instance_id.as_deref());
            put_str(&mut b, &m.client_id);
            put_str(&mut b, &m.client_host);
            b.put_i32(m.rebalance_timeout);
            b.put_i32(m.session_timeout);
            put_bytes(&mut b, &m.subscription);
            put_bytes(&mut b, &m.assignment);
        }
        b
    }

    pub fn decode(buf: &[u8]) -> Result<Self, RecordError> {
        let mut r = Fields {
            r: WireReader::new(buf),
            flexible: false,
        };
        let version = r.r.i16()?;
        if !(0..=4).contains(&version) {
            return Err(RecordError::UnknownVersion {
                what: "group metadata value",
                version,
            });
        }
        r.flexible = version >= 4;
        let protocol_type = r.string()?;
        let generation = r.r.i32()?;
        let protocol = r.nullable_string()?;
        let leader = r.nullable_string()?;
        let current_state_timestamp = if version >= 2 { r.r.i64()? } else { -1 };
        // A member takes at least 18 bytes (v0, empty strings and bytes).
        let count = r.array_len(18)?;
        let mut members = Vec::with_capacity(count);
        for _ in 0..count {
            let member_id = r.string()?;
            let group_instance_id = if version >= 3 {
                r.nullable_string()?
            } else {
                None
            };
            let client_id = r.string()?;
            let client_host = r.string()?;
            let rebalance_timeout = if version >= 1 { r.r.i32()? } else { -1 };
            let session_timeout = r.r.i32()?;
            let subscription = r.bytes()?;
            let assignment = r.bytes()?;
            r.tagged()?;
            members.push(MemberValue {
                member_id,
                group_instance_id,
                client_id,
                client_host,
                rebalance_timeout,
                session_timeout,
                subscription,
                assignment,
            });
        }
        r.tagged()?;
        Ok(Self {
            protocol_type,
            generation,
            protocol,
            leader,
            current_state_timestamp,
            members,
        })
    }
}

/// The value's fields in the encoding of its version: int16-length strings and int32-length
/// bytes and arrays, or (flexible versions) compact ones and tagged-field sections.
struct Fields<'a> {
    r: WireReader<'a>,
    flexible: bool,
}

impl Fields<'_> {
    fn nullable_string(&mut self) -> Result<Option<String>, RecordError> {
        Ok(if self.flexible {
            self.r.compact_nullable_string()?
        } else {
            self.r.nullable_string()?
        })
    }
    fn string(&mut self) -> Result<String, RecordError> {
        Ok(if self.flexible {
            self.r.compact_string()?
        } else {
            self.r.string()?
        })
    }
    fn array_len(&mut self, min_element: usize) -> Result<usize, RecordError> {
        Ok(if self.flexible {
            self.r.compact_array_len(min_element)?
        } else {
            self.r.array_len(min_element)?
        }
        .unwrap_or(0))
    }
    /// Non-nullable bytes; a null (negative) length reads as empty, as before.
    fn bytes(&mut self) -> Result<Vec<u8>, RecordError> {
        let len = if self.flexible {
            let n = self.r.uvarint()?;
            usize::try_from(n.saturating_sub(1)).unwrap_or(usize::MAX)
        } else {
            let n = self.r.i32()?;
            if n < 0 {
                return Ok(Vec::new());
            }
            n as usize
        };
        Ok(self.r.take(len)?.to_vec())
    }
    fn tagged(&mut self) -> Result<(), RecordError> {
        if self.flexible {
            self.r.tagged_fields(|_, _| Ok(()))?;
        }
        Ok(())
    }
}

/// Kafka's partition for a group or transactional id: `Utils.abs(id.hashCode()) % partitions`
/// (GroupCoordinatorService.partitionFor, TransactionStateManager.partitionFor), with Java's
/// String.hashCode over UTF-16 code units and Utils.abs (Math.abs, 0 for Integer.MIN_VALUE).
pub fn partition_for(id: &str, partitions: i32) -> i32 {
    let h = java_hash(id);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}

/// The partition Sluice used for `id` before it used Kafka's function: `(hash & 0x7fffffff) %
/// partitions`, which differs from Kafka's for every id with a negative hash code. Only for
/// replaying logs written then ([`super::Placement`]).
pub fn legacy_partition_for(id: &str, partitions: i32) -> i32 {
    (java_hash(id) & 0x7fff_ffff) % partitions.max(1)
}

fn java_hash(s: &str) -> i32 {
    let mut h: i32 = 0;
    for unit in s.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let k = Key::Offset {
            group: "g".into(),
            topic: "t".into(),
            partition: 3,
        };
        assert_eq!(Key::decode(&k.encode()).unwrap(), k);
        let k = Key::Group { group: "g".into() };
        assert_eq!(Key::decode(&k.encode()).unwrap(), k);
        let v = OffsetValue {
            offset: 42,
            leader_epoch: 0,
            metadata: "m".into(),
            commit_timestamp: 1000,
            expire_timestamp: None,
            topic_id: None,
        };
        assert_eq!(OffsetValue::decode(&v.encode()).unwrap(), v);
        let g = GroupValue {
            protocol_type: "consumer".into(),
            generation: 3,
            protocol: Some("range".into()),
            leader: Some("a".into()),
            current_state_timestamp: 5,
            members: vec![MemberValue {
                member_id: "a".into(),
                group_instance_id: Some("i".into()),
                client_id: "c".into(),
                client_host: "/1.2.3.4".into(),
                rebalance_timeout: 1,
                session_timeout: 2,
                subscription: vec![1, 2],
                assignment: vec![3],
            }],
        };
        assert_eq!(GroupValue::decode(&g.encode()).unwrap(), g);
        assert!(GroupValue::decode(&g.encode()[..10]).is_err());
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Records Apache Kafka 4.3.1 wrote to `__consumer_offsets` (compat-tests/datadir's writer,
    /// read out of the segment files).
    #[test]
    fn reads_what_kafka_4_3_writes() {
        // OffsetCommit v4 (flexible) of group dd-static, with the topic id as tagged field 0.
        let key = hex("0001000964642d737461746963000764642d6964656d00000000");
        assert_eq!(
            Key::decode(&key).unwrap(),
            Key::Offset {
                group: "dd-static".into(),
                topic: "dd-idem".into(),
                partition: 0
            }
        );
        let v = OffsetValue::decode(&hex(
            "00040000000000000014000000001164642d7374617469632d6d6574612d30000001a25310e791\
             01001096a80406fe3e4ce4b06f06d0728d4ec1",
        ))
        .unwrap();
        assert_eq!(
            v,
            OffsetValue {
                offset: 20,
                leader_epoch: 0,
                metadata: "dd-static-meta-0".into(),
                commit_timestamp: 0x1a2_5310_e791,
                expire_timestamp: None,
                topic_id: Some(Uuid::from_u128(0x96a80406_fe3e_4ce4_b06f_06d0728d4ec1)),
            }
        );
        // A transactional offset commit (TxnOffsetCommit): v4 without a topic id.
        let v = OffsetValue::decode(&hex(
            "00040000000000000007ffffffff0966726f6d2d74786e000001a25310e00400",
        ))
        .unwrap();
        assert_eq!(
            (v.offset, v.leader_epoch, v.metadata.as_str(), v.topic_id),
            (7, -1, "from-txn", None)
        );
        // GroupMetadata v3: the empty group Kafka writes first, then one static member.
        let g =
            GroupValue::decode(&hex("0003000000000000ffffffff000001a25310e76c00000000")).unwrap();
        assert_eq!(
            (g.protocol_type.as_str(), g.generation, g.members.len()),
            ("", 0, 0)
        );
        let g = GroupValue::decode(&hex(
            "00030008636f6e73756d657200000001000572616e6765003564642d7374617469632d6d656d6265\
             722d30373630373333612d613038362d343931352d626132392d383363646662303139333335000001\
             a25310e77200000001003564642d7374617469632d6d656d6265722d30373630373333612d61303836\
             2d343931352d626132392d383363646662303139333335001064642d7374617469632d6d656d626572\
             0023636f6e73756d65722d64642d7374617469632d64642d7374617469632d6d656d626572000a2f31\
             32372e302e302e31000493e0000927c00000001d000300000001000764642d6964656dffffffff0000\
             0000ffffffffffff0000001b000300000001000764642d6964656d0000000100000000ffffffff",
        ))
        .unwrap();
        assert_eq!(g.protocol.as_deref(), Some("range"));
        let m = &g.members[0];
        assert_eq!(m.group_instance_id.as_deref(), Some("dd-static-member"));
        assert_eq!(m.client_host, "/127.0.0.1");
        assert_eq!((m.rebalance_timeout, m.session_timeout), (300_000, 600_000));
        assert_eq!((m.subscription.len(), m.assignment.len()), (29, 27));
    }

    /// Versions Kafka 4.3.1 reads but did not write in the scenario, serialized by its own
    /// generated classes (OffsetCommitValue v1, GroupMetadataValue v4).
    #[test]
    fn reads_the_other_versions_kafka_knows() {
        let v = OffsetValue::decode(&hex(
            "0001000000000000002a00016d00000000000003e80000000000001388",
        ))
        .unwrap();
        assert_eq!(
            (
                v.offset,
                v.leader_epoch,
                v.commit_timestamp,
                v.expire_timestamp
            ),
            (42, -1, 1000, Some(5000))
        );
        let v4 = GroupValue::decode(&hex(
            "000409636f6e73756d6572000000030672616e6765036d31000000000000004d02036d310369310263\
             032f68000493e00000afc803010202030000",
        ))
        .unwrap();
        let v3 = GroupValue::decode(&hex(
            "00030008636f6e73756d657200000003000572616e676500026d31000000000000004d0000000100026d\
             310002693100016300022f68000493e00000afc80000000201020000000103",
        ))
        .unwrap();
        assert_eq!(v4, v3);
        assert_eq!(v4.members[0].subscription, vec![1, 2]);
        assert_eq!(GroupValue::decode(&v4.encode()).unwrap(), v4);
        assert_eq!(v4.encode(), v3.encode());
    }

    #[test]
    fn other_record_types_are_named_not_misread() {
        let regex_key = hex("0010000864642d7265676578001264642d28706c61696e7c636f6d7061637429");
        assert_eq!(
            record_type(&regex_key),
            Some((16, "ConsumerGroupRegularExpression"))
        );
        assert_eq!(Key::decode(&regex_key), Err(RecordError::OtherType(16)));
        assert_eq!(record_type(&[0, 18]), Some((18, "unknown")));
        assert_eq!(record_type(&[0]), None);
        assert!(OffsetValue::decode(&[0, 5, 0, 0, 0, 0, 0, 0, 0, 1]).is_err());
    }

    #[test]
    fn partition_matches_kafka() {
        // Kafka 4.3.1's Utils.abs(id.hashCode()) % 50, computed with Kafka's classes.
        for (id, kafka) in [
            ("my-group", 12), // hashCode -1906497762
            ("dd-txn-id", 23),
            ("dd-classic", 5),
            ("dd-848", 17),
            ("dd-regex", 38),
            ("dd-static", 11),
            ("dd-txn-abort", 26), // a positive hashCode: 158290176
            ("dd-txn-id-g", 31),
            ("polygenelubricants", 0), // hashCode Integer.MIN_VALUE: abs gives 0
            ("", 0),
        ] {
            assert_eq!(partition_for(id, 50), kafka, "{id}");
        }
        // What Sluice used before: the same for positive hash codes only.
        assert_eq!(legacy_partition_for("my-group", 50), 36);
        assert_eq!(legacy_partition_for("dd-txn-abort", 50), 26);
    }
}
