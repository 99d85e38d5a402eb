//! Fetch responses encoded without copying record data.
//!
//! The record bytes a fetch returns were read from segment files into `Bytes`; encoding them
//! through `kafka-protocol` would copy them into the response buffer. [`encode`] writes every
//! other field into a small buffer and returns the frame as a list of chunks in which record
//! data appears as the very `Bytes` the log read, ready for a vectored write. The output is
//! byte-identical to `kafka-protocol`'s encoding of the same response (tested for v4-18).

use bytes::{BufMut, Bytes, BytesMut};
use uuid::Uuid;

/// One aborted transaction in a read_committed fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
}

/// A leader epoch and the offset where it ended (the FetchResponse's EpochEndOffset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEndOffset {
    pub epoch: i32,
    pub end_offset: i64,
}

/// A partition's leader as the responding broker knows it (LeaderIdAndEpoch, KIP-951).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderIdAndEpoch {
    pub leader_id: i32,
    pub leader_epoch: i32,
}

/// A broker named by a [`LeaderIdAndEpoch`] (v16+ node_endpoints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEndpoint {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PartitionPart {
    pub partition_index: i32,
    pub error_code: i16,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    /// None encodes null (read_uncommitted); Some(list) for read_committed.
    pub aborted_transactions: Option<Vec<AbortedTxn>>,
    pub preferred_read_replica: i32,
    /// Record data, in order; concatenated they form the records field.
    pub records: Vec<Bytes>,
    /// v12+ (tagged): where a follower's log diverges from the leader's.
    pub diverging_epoch: Option<EpochEndOffset>,
    /// v12+ (tagged): the current leader, for NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH.
    pub current_leader: Option<LeaderIdAndEpoch>,
}

#[derive(Debug, Clone, Default)]
pub struct TopicPart {
    pub topic: String,
    pub topic_id: Uuid,
    pub partitions: Vec<PartitionPart>,
}

#[derive(Debug, Clone, Default)]
pub struct FetchResponseParts {
    pub throttle_time_ms: i32,
    pub error_code: i16,
    pub session_id: i32,
    pub responses: Vec<TopicPart>,
    /// v16+ (tagged): the endpoints of the leaders named in `current_leader`.
    pub node_endpoints: Vec<NodeEndpoint>,
}

fn put_uvarint(b: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        b.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    b.put_u8(v as u8);
}

fn put_array_len(b: &mut BytesMut, flexible: bool, len: usize) {
    if flexible {
        put_uvarint(b, len as u64 + 1);
    } else {
        b.put_i32(len as i32);
    }
}

fn put_compact_string(b: &mut BytesMut, s: Option<&str>) {
    match s {
        None => b.put_u8(0),
        Some(s) => {
            put_uvarint(b, s.len() as u64 + 1);
            b.put_slice(s.as_bytes());
        }
    }
}

/// A partition's tagged fields, in tag order: 0 diverging_epoch, 1 current_leader (2,
/// snapshot_id, is KRaft's and never set here). Each is written only when set, as Kafka
/// writes a tagged field only when it differs from its default.
fn put_partition_tags(b: &mut BytesMut, p: &PartitionPart) {
    let count = usize::from(p.diverging_epoch.is_some()) + usize::from(p.current_leader.is_some());
    put_uvarint(b, count as u64);
    if let Some(d) = p.diverging_epoch {
        put_uvarint(b, 0);
        put_uvarint(b, 4 + 8 + 1);
        b.put_i32(d.epoch);
        b.put_i64(d.end_offset);
        b.put_u8(0);
    }
    if let Some(l) = p.current_leader {
        put_uvarint(b, 1);
        put_uvarint(b, 4 + 4 + 1);
        b.put_i32(l.leader_id);
        b.put_i32(l.leader_epoch);
        b.put_u8(0);
    }
}

/// Encode `parts` as a Fetch response frame of `version` (size prefix and response header
/// included). Concatenating the chunks gives the frame.
pub fn encode(version: i16, correlation_id: i32, parts: &FetchResponseParts) -> Vec<Bytes> {
    let flexible = version >= 12;
    let mut chunks = Vec::new();
    let mut b = BytesMut::with_capacity(256);
    b.put_i32(0); // size, patched below
    b.put_i32(correlation_id);
    if flexible {
        b.put_u8(0); // response header tagged fields
    }
    b.put_i32(parts.throttle_time_ms);
    if version >= 7 {
        b.put_i16(parts.error_code);
        b.put_i32(parts.session_id);
    }
    put_array_len(&mut b, flexible, parts.responses.len());
    for t in &parts.responses {
        if version >= 13 {
            b.put_slice(t.topic_id.as_bytes());
        } else if flexible {
            put_uvarint(&mut b, t.topic.len() as u64 + 1);
            b.put_slice(t.topic.as_bytes());
        } else {
            b.put_i16(t.topic.len() as i16);
            b.put_slice(t.topic.as_bytes());
        }
        put_array_len(&mut b, flexible, t.partitions.len());
        for p in &t.partitions {
            b.put_i32(p.partition_index);
            b.put_i16(p.error_code);
            b.put_i64(p.high_watermark);
            b.put_i64(p.last_stable_offset);
            if version >= 5 {
                b.put_i64(p.log_start_offset);
            }
            match &p.aborted_transactions {
                None => {
                    if flexible {
                        b.put_u8(0);
                    } else {
                        b.put_i32(-1);
                    }
                }
                Some(list) => {
                    put_array_len(&mut b, flexible, list.len());
                    for a in list {
                        b.put_i64(a.producer_id);
                        b.put_i64(a.first_offset);
                        if flexible {
                            b.put_u8(0);
                        }
                    }
                }
            }
            if version >= 11 {
                b.put_i32(p.preferred_read_replica);
            }
            let len: usize = p.records.iter().map(Bytes::len).sum();
            if flexible {
                put_uvarint(&mut b, len as u64 + 1);
            } else {
                b.put_i32(len as i32);
            }
            for r in p.records.iter().filter(|r| !r.is_empty()) {
                chunks.push(b.split().freeze());
                chunks.push(r.clone());
            }
            if flexible {
                put_partition_tags(&mut b, p);
            }
        }
        if flexible {
            b.put_u8(0); // topic tagged fields
        }
    }
    if flexible {
        if version >= 16 && !parts.node_endpoints.is_empty() {
            let mut f = BytesMut::new();
            put_uvarint(&mut f, parts.node_endpoints.len() as u64 + 1);
            for n in &parts.node_endpoints {
                f.put_i32(n.node_id);
                put_compact_string(&mut f, Some(&n.host));
                f.put_i32(n.port);
                put_compact_string(&mut f, n.rack.as_deref());
                f.put_u8(0);
            }
            put_uvarint(&mut b, 1);
            put_uvarint(&mut b, 0);
            put_uvarint(&mut b, f.len() as u64);
            b.put_slice(&f);
        } else {
            b.put_u8(0); // top-level tagged fields
        }
    }
    chunks.push(b.freeze());
    let total: usize = chunks.iter().map(Bytes::len).sum();
    // Patch the size prefix in the first chunk.
    let first = chunks[0].clone();
    let mut head = BytesMut::from(&first[..]);
    head[..4].copy_from_slice(&((total - 4) as i32).to_be_bytes());
    chunks[0] = head.freeze();
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::fetch_response::{
        AbortedTransaction, EpochEndOffset, FetchableTopicResponse, LeaderIdAndEpoch, NodeEndpoint,
        PartitionData,
    };
    use kafka_protocol::messages::{
        ApiKey, BrokerId, FetchResponse, ProducerId, ResponseKind, TopicName,
    };
    use kafka_protocol::protocol::StrBytes;

    fn sample() -> FetchResponseParts {
        FetchResponseParts {
            throttle_time_ms: 3,
            error_code: 0,
            session_id: 77,
            responses: vec![
                TopicPart {
                    topic: "alpha".into(),
                    topic_id: Uuid::from_u128(0x1234),
                    partitions: vec![
                        PartitionPart {
                            partition_index: 0,
                            high_watermark: 10,
                            last_stable_offset: 10,
                            log_start_offset: 2,
                            aborted_transactions: Some(vec![AbortedTxn {
                                producer_id: 5,
                                first_offset: 6,
                            }]),
                            preferred_read_replica: -1,
                            records: vec![Bytes::from_static(b"abc"), Bytes::from_static(b"defg")],
                            ..Default::default()
                        },
                        PartitionPart {
                            partition_index: 1,
                            error_code: 1,
                            high_watermark: -1,
                            last_stable_offset: -1,
                            log_start_offset: -1,
                            preferred_read_replica: -1,
                            ..Default::default()
                        },
                        PartitionPart {
                            partition_index: 2,
                            error_code: 6,
                            high_watermark: -1,
                            last_stable_offset: -1,
                            log_start_offset: -1,
                            preferred_read_replica: -1,
                            current_leader: Some(super::LeaderIdAndEpoch {
                                leader_id: 3,
                                leader_epoch: 7,
                            }),
                            ..Default::default()
                        },
                        PartitionPart {
                            partition_index: 3,
                            high_watermark: 10,
                            last_stable_offset: 10,
                            log_start_offset: 0,
                            preferred_read_replica: -1,
                            diverging_epoch: Some(super::EpochEndOffset {
                                epoch: 2,
                                end_offset: 8,
                            }),
                            ..Default::default()
                        },
                    ],
                },
                TopicPart {
                    topic: "b".into(),
                    topic_id: Uuid::from_u128(9),
                    partitions: vec![],
                },
            ],
            node_endpoints: vec![super::NodeEndpoint {
                node_id: 3,
                host: "broker3".into(),
                port: 9092,
                rack: Some("r1".into()),
            }],
        }
    }

    fn via_crate(version: i16, parts: &FetchResponseParts) -> Vec<u8> {
        let mut resp = FetchResponse::default().with_throttle_time_ms(parts.throttle_time_ms);
        if version >= 7 {
            resp.error_code = parts.error_code;
            resp.session_id = parts.session_id;
        }
        for t in &parts.responses {
            let mut tr = FetchableTopicResponse::default();
            if version >= 13 {
                tr.topic_id = t.topic_id;
            } else {
                tr.topic = TopicName(StrBytes::from_string(t.topic.clone()));
            }
            for p in &t.partitions {
                let mut pd = PartitionData::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(p.error_code)
                    .with_high_watermark(p.high_watermark)
                    .with_last_stable_offset(p.last_stable_offset)
                    .with_aborted_transactions(p.aborted_transactions.as_ref().map(|l| {
                        l.iter()
                            .map(|a| {
                                AbortedTransaction::default()
                                    .with_producer_id(ProducerId(a.producer_id))
                                    .with_first_offset(a.first_offset)
                            })
                            .collect()
                    }))
                    .with_records(Some(Bytes::from(p.records.concat())));
                if version >= 5 {
                    pd.log_start_offset = p.log_start_offset;
                }
                if version >= 11 {
                    pd.preferred_read_replica = BrokerId(p.preferred_read_replica);
                }
                if version >= 12 {
                    if let Some(d) = p.diverging_epoch {
                        pd.diverging_epoch = EpochEndOffset::default()
                            .with_epoch(d.epoch)
                            .with_end_offset(d.end_offset);
                    }
                    if let Some(l) = p.current_leader {
                        pd.current_leader = LeaderIdAndEpoch::default()
                            .with_leader_id(BrokerId(l.leader_id))
                            .with_leader_epoch(l.leader_epoch);
                    }
                }
                tr.partitions.push(pd);
            }
            resp.responses.push(tr);
        }
        if version >= 16 {
            resp.node_endpoints = parts
                .node_endpoints
                .iter()
                .map(|n| {
                    NodeEndpoint::default()
                        .with_node_id(BrokerId(n.node_id))
                        .with_host(StrBytes::from_string(n.host.clone()))
                        .with_port(n.port)
                        .with_rack(n.rack.clone().map(StrBytes::from_string))
                })
                .collect();
        }
        let mut out = BytesMut::new();
        crate::response::encode_response(
            &mut out,
            ApiKey::Fetch,
            version,
            42,
            &ResponseKind::Fetch(resp),
        )
        .expect("crate encodes");
        out.to_vec()
    }

    #[test]
    fn byte_identical_to_kafka_protocol_for_every_version() {
        let parts = sample();
        for version in 4..=18 {
            let ours: Vec<u8> = encode(version, 42, &parts).concat();
            assert_eq!(ours, via_crate(version, &parts), "v{version}");
        }
        let empty = FetchResponseParts::default();
        for version in 4..=18 {
            assert_eq!(encode(version, 1, &empty).concat(), {
                let mut out = BytesMut::new();
                crate::response::encode_response(
                    &mut out,
                    ApiKey::Fetch,
                    version,
                    1,
                    &ResponseKind::Fetch(FetchResponse::default()),
                )
                .unwrap();
                out.to_vec()
            });
        }
    }

    #[test]
    fn record_chunks_are_not_copied() {
        let parts = sample();
        let rec = &parts.responses[0].partitions[0].records[0];
        let chunks = encode(12, 1, &parts);
        assert!(
            chunks.iter().any(|c| c.as_ptr() == rec.as_ptr()),
            "the records Bytes is passed through"
        );
    }
}
