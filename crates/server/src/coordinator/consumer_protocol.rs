//! The consumer's embedded protocol inside classic JoinGroup / SyncGroup (protocol type
//! `consumer`): Kafka's ConsumerProtocolSubscription (v0-3) and ConsumerProtocolAssignment
//! (v0-3). Needed where the coordinator itself reads or writes them: a classic member inside a
//! KIP-848 group (its subscription drives the server-side assignor, its assignment is served in
//! SyncGroup) and the conversions between the two group types.
//!
//! - Subscription: version int16, topics [string], user_data nullable bytes; v1+
//!   owned_partitions [topic string, partitions [int32]]; v2+ generation_id int32; v3+ rack_id
//!   nullable string. Not flexible; later versions keep the prefix, so unknown trailing fields
//!   are ignored.
//! - Assignment: version int16, assigned_partitions [topic string, partitions [int32]],
//!   user_data nullable bytes (the same layout in every version).
//!
//! Every length is checked against the bytes present (the input comes from clients).

use bytes::{BufMut, Bytes};
use sluice_protocol::wire::{WireError, WireReader};

/// Topic name -> partitions, in the order the bytes carry them.
pub type TopicPartitions = Vec<(String, Vec<i32>)>;

/// The highest version of either structure Kafka 4.3 writes.
pub const MAX_VERSION: i16 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscription {
    pub version: i16,
    pub topics: Vec<String>,
    pub owned: TopicPartitions,
    pub rack_id: Option<String>,
}

fn topic_partitions(r: &mut WireReader<'_>) -> Result<TopicPartitions, WireError> {
    let n = r.array_len(6)?.unwrap_or(0);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let topic = r.string()?;
        let k = r.array_len(4)?.unwrap_or(0);
        let mut parts = Vec::with_capacity(k);
        for _ in 0..k {
            parts.push(r.i32()?);
        }
        out.push((topic, parts));
    }
    Ok(out)
}

fn nullable_bytes(r: &mut WireReader<'_>) -> Result<(), WireError> {
    let pos = r.position();
    let n = r.i32()?;
    if n >= 0 {
        r.take(n as usize)?;
    } else if n != -1 {
        return Err(WireError::BadLength {
            pos,
            len: i64::from(n),
        });
    }
    Ok(())
}

/// Parses a ConsumerProtocolSubscription.
pub fn parse_subscription(b: &[u8]) -> Result<Subscription, WireError> {
    let mut r = WireReader::new(b);
    let version = r.i16()?;
    let n = r.array_len(2)?.unwrap_or(0);
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        topics.push(r.string()?);
    }
    nullable_bytes(&mut r)?;
    let mut s = Subscription {
        version,
        topics,
        ..Default::default()
    };
    if version >= 1 {
        s.owned = topic_partitions(&mut r)?;
    }
    if version >= 2 {
        r.i32()?;
    }
    if version >= 3 {
        s.rack_id = r.nullable_string()?;
    }
    Ok(s)
}

/// The version a protocol's metadata starts with (0 when too short to tell).
pub fn version_of(metadata: &[u8]) -> i16 {
    WireReader::new(metadata).i16().unwrap_or(0)
}

/// Parses a ConsumerProtocolAssignment's partitions.
pub fn parse_assignment(b: &[u8]) -> Result<TopicPartitions, WireError> {
    let mut r = WireReader::new(b);
    r.i16()?;
    topic_partitions(&mut r)
}

/// A ConsumerProtocolAssignment of `version` (clamped to 0..=3) without user data.
pub fn encode_assignment(version: i16, partitions: &TopicPartitions) -> Bytes {
    let mut b = Vec::new();
    b.put_i16(version.clamp(0, MAX_VERSION));
    b.put_i32(partitions.len() as i32);
    for (topic, parts) in partitions {
        b.put_i16(topic.len() as i16);
        b.put_slice(topic.as_bytes());
        b.put_i32(parts.len() as i32);
        for p in parts {
            b.put_i32(*p);
        }
    }
    b.put_i32(-1);
    Bytes::from(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription_v3(topics: &[&str], owned: &[(&str, &[i32])], rack: Option<&str>) -> Vec<u8> {
        let mut b = Vec::new();
        b.put_i16(3);
        b.put_i32(topics.len() as i32);
        for t in topics {
            b.put_i16(t.len() as i16);
            b.put_slice(t.as_bytes());
        }
        b.put_i32(2);
        b.put_slice(b"ud");
        b.put_i32(owned.len() as i32);
        for (t, ps) in owned {
            b.put_i16(t.len() as i16);
            b.put_slice(t.as_bytes());
            b.put_i32(ps.len() as i32);
            for p in *ps {
                b.put_i32(*p);
            }
        }
        b.put_i32(7);
        match rack {
            Some(r) => {
                b.put_i16(r.len() as i16);
                b.put_slice(r.as_bytes());
            }
            None => b.put_i16(-1),
        }
        b
    }

    #[test]
    fn subscriptions_of_every_version_parse() {
        let b = subscription_v3(&["a", "bb"], &[("a", &[0, 2])], Some("r1"));
        let s = parse_subscription(&b).unwrap();
        assert_eq!(s.version, 3);
        assert_eq!(s.topics, vec!["a".to_string(), "bb".to_string()]);
        assert_eq!(s.owned, vec![("a".to_string(), vec![0, 2])]);
        assert_eq!(s.rack_id.as_deref(), Some("r1"));
        // v0: topics and user data only.
        let mut v0 = Vec::new();
        v0.put_i16(0);
        v0.put_i32(1);
        v0.put_i16(1);
        v0.put_slice(b"t");
        v0.put_i32(-1);
        let s = parse_subscription(&v0).unwrap();
        assert_eq!(s.topics, vec!["t".to_string()]);
        assert!(s.owned.is_empty());
        assert_eq!(version_of(&v0), 0);
    }

    #[test]
    fn hostile_subscriptions_are_errors_not_allocations() {
        let b = subscription_v3(&["a"], &[("a", &[1])], None);
        for cut in 0..b.len() {
            assert!(parse_subscription(&b[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge = Vec::new();
        huge.put_i16(0);
        huge.put_i32(i32::MAX);
        assert!(parse_subscription(&huge).is_err());
        let mut neg = Vec::new();
        neg.put_i16(0);
        neg.put_i32(0);
        neg.put_i32(-5);
        assert!(parse_subscription(&neg).is_err());
    }

    proptest::proptest! {
        /// Whatever a client sends as protocol metadata: an answer or an error, never a panic,
        /// and nothing allocated beyond what the bytes can hold.
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = parse_subscription(&b);
            let _ = parse_assignment(&b);
            let _ = version_of(&b);
        }

        #[test]
        fn encoded_assignments_parse_back(
            parts in proptest::collection::vec(("[a-z]{1,12}", proptest::collection::vec(0i32..1000, 0..8)), 0..6),
            version in -2i16..6,
        ) {
            let b = encode_assignment(version, &parts);
            proptest::prop_assert_eq!(parse_assignment(&b).unwrap(), parts);
        }
    }

    #[test]
    fn assignments_round_trip() {
        let a: TopicPartitions = vec![("x".into(), vec![0, 3]), ("y".into(), vec![])];
        let b = encode_assignment(1, &a);
        assert_eq!(version_of(&b), 1);
        assert_eq!(parse_assignment(&b).unwrap(), a);
        assert_eq!(version_of(&encode_assignment(9, &a)), MAX_VERSION);
    }
}
