//! The records of `__transaction_state`, in Apache Kafka 4.3's schemas (transaction-coordinator's
//! TransactionLogKey / TransactionLogValue, checked against the generated classes of
//! kafka-transaction-coordinator-4.3.1.jar).
//!
//! - Key: version int16 = 0, transactional_id (int16-length string).
//! - Value v0 (Kafka writes it while transaction.version < 2): producer_id int64,
//!   producer_epoch int16, transaction_timeout_ms int32, transaction_status int8,
//!   transaction_partitions (nullable int32-count array of {topic string, partition_ids
//!   []int32}; null in state Empty), transaction_last_update_timestamp_ms int64,
//!   transaction_start_timestamp_ms int64.
//! - Value v1 (flexible; Kafka writes it with transaction.version 2): the same fields with compact
//!   strings and arrays, plus tagged fields 0 previous_producer_id, 1 next_producer_id (int64,
//!   default -1) and 2 client_transaction_version (int16, default 0). Kafka writes it once
//!   transaction.version 2 is finalized, and so does Sluice, which advertises it (tagged fields
//!   are written only when they differ from their defaults, as Kafka's generated code does).
//! - A null value is a tombstone: the transactional id expired.

use bytes::BufMut;
use sluice_protocol::wire::{self, WireError, WireReader};
use std::collections::{BTreeMap, BTreeSet};

/// Kafka's TransactionState, with its ids in the log and its names in
/// DescribeTransactions / ListTransactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    Dead,
    PrepareEpochFence,
}

impl TxnState {
    pub fn id(self) -> i8 {
        match self {
            Self::Empty => 0,
            Self::Ongoing => 1,
            Self::PrepareCommit => 2,
            Self::PrepareAbort => 3,
            Self::CompleteCommit => 4,
            Self::CompleteAbort => 5,
            Self::Dead => 6,
            Self::PrepareEpochFence => 7,
        }
    }
    pub fn from_id(id: i8) -> Option<Self> {
        Some(match id {
            0 => Self::Empty,
            1 => Self::Ongoing,
            2 => Self::PrepareCommit,
            3 => Self::PrepareAbort,
            4 => Self::CompleteCommit,
            5 => Self::CompleteAbort,
            6 => Self::Dead,
            7 => Self::PrepareEpochFence,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::Ongoing => "Ongoing",
            Self::PrepareCommit => "PrepareCommit",
            Self::PrepareAbort => "PrepareAbort",
            Self::CompleteCommit => "CompleteCommit",
            Self::CompleteAbort => "CompleteAbort",
            Self::Dead => "Dead",
            Self::PrepareEpochFence => "PrepareEpochFence",
        }
    }
    pub fn from_name(name: &str) -> Option<Self> {
        (0..=7)
            .filter_map(Self::from_id)
            .find(|s| s.name().eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TxnRecordError {
    #[error("__transaction_state record: {0}")]
    Wire(#[from] WireError),
    #[error("__transaction_state key version {0} is not a transaction log key")]
    UnknownKeyVersion(i16),
    #[error("__transaction_state value version {0} is unknown")]
    UnknownValueVersion(i16),
    #[error("__transaction_state value has unknown transaction status {0}")]
    UnknownState(i8),
}

/// The partitions of a transaction, by topic.
pub type TxnPartitions = BTreeMap<String, BTreeSet<i32>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnLogValue {
    pub producer_id: i64,
    pub previous_producer_id: i64,
    pub next_producer_id: i64,
    pub producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: TxnPartitions,
    pub last_update_ms: i64,
    pub start_ms: i64,
    pub client_transaction_version: i16,
}

pub fn encode_key(transactional_id: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(4 + transactional_id.len());
    b.put_i16(0);
    wire::put_string(&mut b, transactional_id);
    b
}

pub fn decode_key(buf: &[u8]) -> Result<String, TxnRecordError> {
    let mut r = WireReader::new(buf);
    match r.i16()? {
        0 => Ok(r.string()?),
        v => Err(TxnRecordError::UnknownKeyVersion(v)),
    }
}

impl TxnLogValue {
    /// Value version 1 (flexible), as Kafka 4.3 writes it with transaction.version 2.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(64);
        b.put_i16(1);
        b.put_i64(self.producer_id);
        b.put_i16(self.producer_epoch);
        b.put_i32(self.timeout_ms);
        b.put_i8(self.state.id());
        if self.state == TxnState::Empty {
            wire::put_uvarint(&mut b, 0);
        } else {
            wire::put_uvarint(&mut b, self.partitions.len() as u64 + 1);
            for (topic, parts) in &self.partitions {
                wire::put_compact_nullable_string(&mut b, Some(topic));
                wire::put_uvarint(&mut b, parts.len() as u64 + 1);
                for p in parts {
                    b.put_i32(*p);
                }
                wire::put_uvarint(&mut b, 0);
            }
        }
        b.put_i64(self.last_update_ms);
        b.put_i64(self.start_ms);
        let mut tags: Vec<(u64, Vec<u8>)> = Vec::new();
        if self.previous_producer_id != -1 {
            tags.push((0, self.previous_producer_id.to_be_bytes().to_vec()));
        }
        if self.next_producer_id != -1 {
            tags.push((1, self.next_producer_id.to_be_bytes().to_vec()));
        }
        if self.client_transaction_version != 0 {
            tags.push((2, self.client_transaction_version.to_be_bytes().to_vec()));
        }
        wire::put_uvarint(&mut b, tags.len() as u64);
        for (tag, data) in tags {
            wire::put_uvarint(&mut b, tag);
            wire::put_uvarint(&mut b, data.len() as u64);
            b.put_slice(&data);
        }
        b
    }

    /// Value version 0, as Kafka writes it before transaction.version 2 (tests read it back).
    #[cfg(test)]
    pub fn encode_v0(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(64);
        b.put_i16(0);
        b.put_i64(self.producer_id);
        b.put_i16(self.producer_epoch);
        b.put_i32(self.timeout_ms);
        b.put_i8(self.state.id());
        if self.state == TxnState::Empty {
            b.put_i32(-1);
        } else {
            b.put_i32(self.partitions.len() as i32);
            for (topic, parts) in &self.partitions {
                wire::put_string(&mut b, topic);
                b.put_i32(parts.len() as i32);
                for p in parts {
                    b.put_i32(*p);
                }
            }
        }
        b.put_i64(self.last_update_ms);
        b.put_i64(self.start_ms);
        b
    }

    pub fn decode(buf: &[u8]) -> Result<Self, TxnRecordError> {
        let mut r = WireReader::new(buf);
        let version = r.i16()?;
        if !(0..=1).contains(&version) {
            return Err(TxnRecordError::UnknownValueVersion(version));
        }
        let flexible = version >= 1;
        let producer_id = r.i64()?;
        let producer_epoch = r.i16()?;
        let timeout_ms = r.i32()?;
        let status = r.i8()?;
        let state = TxnState::from_id(status).ok_or(TxnRecordError::UnknownState(status))?;
        let mut partitions = TxnPartitions::new();
        let topics = if flexible {
            r.compact_array_len(3)?
        } else {
            r.array_len(6)?
        };
        for _ in 0..topics.unwrap_or(0) {
            let topic = if flexible {
                r.compact_string()?
            } else {
                r.string()?
            };
            let n = if flexible {
                r.compact_array_len(4)?
            } else {
                r.array_len(4)?
            };
            let set = partitions.entry(topic).or_default();
            for _ in 0..n.unwrap_or(0) {
                set.insert(r.i32()?);
            }
            if flexible {
                r.tagged_fields(|_, _| Ok(()))?;
            }
        }
        let last_update_ms = r.i64()?;
        let start_ms = r.i64()?;
        let mut v = Self {
            producer_id,
            previous_producer_id: -1,
            next_producer_id: -1,
            producer_epoch,
            timeout_ms,
            state,
            partitions,
            last_update_ms,
            start_ms,
            client_transaction_version: 0,
        };
        if flexible {
            r.tagged_fields(|tag, data| {
                let mut d = WireReader::new(data);
                match tag {
                    0 => v.previous_producer_id = d.i64()?,
                    1 => v.next_producer_id = d.i64()?,
                    2 => v.client_transaction_version = d.i16()?,
                    _ => {}
                }
                Ok(())
            })?;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(state: TxnState) -> TxnLogValue {
        let mut partitions = TxnPartitions::new();
        partitions.entry("t".into()).or_default().extend([0, 2]);
        partitions
            .entry("__consumer_offsets".into())
            .or_default()
            .insert(17);
        TxnLogValue {
            producer_id: 4000,
            previous_producer_id: -1,
            next_producer_id: -1,
            producer_epoch: 3,
            timeout_ms: 60_000,
            state,
            partitions: if state == TxnState::Empty {
                TxnPartitions::new()
            } else {
                partitions
            },
            last_update_ms: 1_700_000_000_123,
            start_ms: 1_700_000_000_000,
            client_transaction_version: 0,
        }
    }

    #[test]
    fn values_round_trip_in_every_state() {
        for id in 0..=7 {
            let mut v = value(TxnState::from_id(id).unwrap());
            assert_eq!(TxnLogValue::decode(&v.encode_v0()).unwrap(), v);
            assert_eq!(TxnLogValue::decode(&v.encode()).unwrap(), v);
            v.previous_producer_id = 17;
            v.next_producer_id = 19;
            v.client_transaction_version = 2;
            assert_eq!(TxnLogValue::decode(&v.encode()).unwrap(), v);
        }
        assert_eq!(decode_key(&encode_key("my-txn")).unwrap(), "my-txn");
    }

    #[test]
    fn v0_layout_matches_kafka() {
        // Empty: partitions are written as a null array.
        let b = value(TxnState::Empty).encode_v0();
        assert_eq!(&b[..2], &[0, 0]);
        assert_eq!(&b[2..10], &4000i64.to_be_bytes());
        assert_eq!(&b[10..12], &3i16.to_be_bytes());
        assert_eq!(&b[12..16], &60_000i32.to_be_bytes());
        assert_eq!(b[16], 0);
        assert_eq!(&b[17..21], &(-1i32).to_be_bytes());
        assert_eq!(b.len(), 21 + 16);
        assert_eq!(encode_key("ab"), vec![0, 0, 0, 2, b'a', b'b']);
    }

    #[test]
    fn v1_with_tagged_fields_decodes() {
        let mut b = Vec::new();
        b.put_i16(1);
        b.put_i64(7);
        b.put_i16(2);
        b.put_i32(1000);
        b.put_i8(1);
        wire::put_uvarint(&mut b, 2); // one topic
        wire::put_compact_nullable_string(&mut b, Some("t"));
        wire::put_uvarint(&mut b, 2); // one partition
        b.put_i32(5);
        wire::put_uvarint(&mut b, 0);
        b.put_i64(11);
        b.put_i64(10);
        wire::put_uvarint(&mut b, 3);
        for (tag, data) in [
            (0u64, 6i64.to_be_bytes().to_vec()),
            (1, 8i64.to_be_bytes().to_vec()),
            (2, 2i16.to_be_bytes().to_vec()),
        ] {
            wire::put_uvarint(&mut b, tag);
            wire::put_uvarint(&mut b, data.len() as u64);
            b.extend_from_slice(&data);
        }
        let v = TxnLogValue::decode(&b).unwrap();
        assert_eq!(v.producer_id, 7);
        assert_eq!(v.previous_producer_id, 6);
        assert_eq!(v.next_producer_id, 8);
        assert_eq!(v.client_transaction_version, 2);
        assert_eq!(v.state, TxnState::Ongoing);
        assert_eq!(v.partitions["t"], BTreeSet::from([5]));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The records Apache Kafka 4.3.1 (transaction.version 2) wrote to `__transaction_state`
    /// for a transactional id whose first transaction committed and second aborted
    /// (compat-tests/datadir's writer): value v1 with tagged fields previous_producer_id (0)
    /// and client_transaction_version (2); the epoch bumped at each Prepare.
    #[test]
    fn reads_what_kafka_4_3_writes() {
        assert_eq!(
            decode_key(&hex("0000000c64642d74786e2d61626f7274")).unwrap(),
            "dd-txn-abort"
        );
        let values = [
            "0001000000000000000800000000ea600000000001a25310e126ffffffffffffffff0100080000000000000008",
            "0001000000000000000800000000ea6001020764642d74786e03000000010000000000000001a25310e136\
             000001a25310e136020008000000000000000802020002",
            "0001000000000000000800010000ea6002020764642d74786e03000000010000000000000001a25310e13f\
             000001a25310e136020008000000000000000802020002",
            "0001000000000000000800010000ea600401000001a25310e141000001a25310e136020008000000000000\
             000802020002",
            "0001000000000000000800010000ea6001020764642d74786e03000000010000000000000001a25310e149\
             000001a25310e149020008000000000000000802020002",
            "0001000000000000000800020000ea6003020764642d74786e03000000010000000000000001a25310e14f\
             000001a25310e149020008000000000000000802020002",
            "0001000000000000000800020000ea600501000001a25310e150000001a25310e149020008000000000000\
             000802020002",
        ];
        let decoded: Vec<TxnLogValue> = values
            .iter()
            .map(|v| TxnLogValue::decode(&hex(v)).unwrap())
            .collect();
        let states: Vec<(TxnState, i16, usize)> = decoded
            .iter()
            .map(|v| (v.state, v.producer_epoch, v.partitions.len()))
            .collect();
        use TxnState::*;
        assert_eq!(
            states,
            vec![
                (Empty, 0, 0),
                (Ongoing, 0, 1),
                (PrepareCommit, 1, 1),
                (CompleteCommit, 1, 0),
                (Ongoing, 1, 1),
                (PrepareAbort, 2, 1),
                (CompleteAbort, 2, 0),
            ]
        );
        for v in &decoded {
            assert_eq!((v.producer_id, v.previous_producer_id), (8, 8));
            assert_eq!((v.next_producer_id, v.timeout_ms), (-1, 60_000));
        }
        assert_eq!(decoded[0].client_transaction_version, 0);
        assert!(decoded[1..]
            .iter()
            .all(|v| v.client_transaction_version == 2));
        assert_eq!(decoded[1].partitions["dd-txn"], BTreeSet::from([0, 1]));
        assert_eq!(
            (decoded[1].start_ms, decoded[0].start_ms),
            (0x1a2_5310_e136, -1)
        );
        // Sluice writes the same bytes for the same state (Kafka lists a transaction's partitions
        // in its set's order, here 1 then 0, Sluice sorted).
        for (v, kafka) in decoded.iter().zip(values) {
            assert_eq!(TxnLogValue::decode(&v.encode()).unwrap(), *v);
            if v.partitions.is_empty() {
                assert_eq!(v.encode(), hex(kafka), "{:?}", v.state);
            }
        }
    }

    #[test]
    fn hostile_values_are_errors() {
        assert!(TxnLogValue::decode(&[0, 9]).is_err());
        let mut b = value(TxnState::Ongoing).encode_v0();
        b[17..21].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(TxnLogValue::decode(&b).is_err());
        assert!(decode_key(&[0, 1, 0, 2]).is_err());
    }
}
