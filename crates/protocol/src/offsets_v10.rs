//! OffsetCommitRequest v10 and OffsetFetchRequest v10 (topics by id), which kafka-protocol
//! 0.18's request decoder stops short of (its response encoders do cover v10). Decoded here
//! into the crate's own request structs (whose topic_id fields exist), only after the schema
//! walker has checked every length against the bytes present.
//!
//! Both are flexible versions: compact strings and arrays (unsigned varint length + 1, 0 =
//! null), tagged fields after every struct.

use bytes::Bytes;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{GroupId, OffsetCommitRequest, OffsetFetchRequest};
use kafka_protocol::protocol::StrBytes;
use thiserror::Error;
use uuid::Uuid;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum V10Error {
    #[error("v10 body truncated")]
    Truncated,
    #[error("v10 body has a string that is not UTF-8")]
    BadString,
    #[error("v10 body has a null where a value is required")]
    UnexpectedNull,
    #[error("v10 body has {0} bytes after its end")]
    Trailing(usize),
}

struct Reader {
    buf: Bytes,
    pos: usize,
}

impl Reader {
    fn take(&mut self, n: usize) -> Result<Bytes, V10Error> {
        let end = self.pos.checked_add(n).ok_or(V10Error::Truncated)?;
        if end > self.buf.len() {
            return Err(V10Error::Truncated);
        }
        let out = self.buf.slice(self.pos..end);
        self.pos = end;
        Ok(out)
    }
    fn i32(&mut self) -> Result<i32, V10Error> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Result<i64, V10Error> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(i64::from_be_bytes(a))
    }
    fn bool(&mut self) -> Result<bool, V10Error> {
        Ok(self.take(1)?[0] != 0)
    }
    fn uuid(&mut self) -> Result<Uuid, V10Error> {
        let b = self.take(16)?;
        Uuid::from_slice(&b).map_err(|_| V10Error::Truncated)
    }
    fn uvarint(&mut self) -> Result<u64, V10Error> {
        let mut v = 0u64;
        for shift in (0..35).step_by(7) {
            let b = self.take(1)?[0];
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(V10Error::Truncated)
    }
    /// A compact array's length (None = null), bounded by the bytes left.
    fn compact_len(&mut self) -> Result<Option<usize>, V10Error> {
        match self.uvarint()? {
            0 => Ok(None),
            n => {
                let n = (n - 1) as usize;
                if n > self.buf.len() - self.pos {
                    return Err(V10Error::Truncated);
                }
                Ok(Some(n))
            }
        }
    }
    fn compact_str(&mut self) -> Result<Option<StrBytes>, V10Error> {
        match self.compact_len()? {
            None => Ok(None),
            Some(n) => StrBytes::from_utf8(self.take(n)?)
                .map(Some)
                .map_err(|_| V10Error::BadString),
        }
    }
    fn str(&mut self) -> Result<StrBytes, V10Error> {
        self.compact_str()?.ok_or(V10Error::UnexpectedNull)
    }
    fn skip_tagged(&mut self) -> Result<(), V10Error> {
        let n = self.uvarint()?;
        for _ in 0..n {
            self.uvarint()?;
            let size = self.uvarint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }
    fn finish(self) -> Result<(), V10Error> {
        match self.buf.len() - self.pos {
            0 => Ok(()),
            n => Err(V10Error::Trailing(n)),
        }
    }
}

/// OffsetCommitRequest v10: group_id, generation_id_or_member_epoch, member_id,
/// group_instance_id, topics [topic_id, partitions [index, offset, leader_epoch, metadata]].
pub fn decode_offset_commit_v10(body: Bytes) -> Result<OffsetCommitRequest, V10Error> {
    let mut r = Reader { buf: body, pos: 0 };
    let group_id = r.str()?;
    let epoch = r.i32()?;
    let member_id = r.str()?;
    let instance = r.compact_str()?;
    let mut topics = Vec::new();
    for _ in 0..r.compact_len()?.ok_or(V10Error::UnexpectedNull)? {
        let topic_id = r.uuid()?;
        let mut partitions = Vec::new();
        for _ in 0..r.compact_len()?.ok_or(V10Error::UnexpectedNull)? {
            let p = OffsetCommitRequestPartition::default()
                .with_partition_index(r.i32()?)
                .with_committed_offset(r.i64()?)
                .with_committed_leader_epoch(r.i32()?)
                .with_committed_metadata(r.compact_str()?);
            r.skip_tagged()?;
            partitions.push(p);
        }
        r.skip_tagged()?;
        topics.push(
            OffsetCommitRequestTopic::default()
                .with_topic_id(topic_id)
                .with_partitions(partitions),
        );
    }
    r.skip_tagged()?;
    r.finish()?;
    Ok(OffsetCommitRequest::default()
        .with_group_id(GroupId(group_id))
        .with_generation_id_or_member_epoch(epoch)
        .with_member_id(member_id)
        .with_group_instance_id(instance)
        .with_topics(topics))
}

/// OffsetFetchRequest v10: groups [group_id, member_id, member_epoch, topics (nullable)
/// [topic_id, partition_indexes]], require_stable.
pub fn decode_offset_fetch_v10(body: Bytes) -> Result<OffsetFetchRequest, V10Error> {
    let mut r = Reader { buf: body, pos: 0 };
    let mut groups = Vec::new();
    for _ in 0..r.compact_len()?.ok_or(V10Error::UnexpectedNull)? {
        let group_id = r.str()?;
        let member_id = r.compact_str()?;
        let member_epoch = r.i32()?;
        let topics = match r.compact_len()? {
            None => None,
            Some(n) => {
                let mut topics = Vec::new();
                for _ in 0..n {
                    let topic_id = r.uuid()?;
                    let mut parts = Vec::new();
                    for _ in 0..r.compact_len()?.ok_or(V10Error::UnexpectedNull)? {
                        parts.push(r.i32()?);
                    }
                    r.skip_tagged()?;
                    topics.push(
                        OffsetFetchRequestTopics::default()
                            .with_topic_id(topic_id)
                            .with_partition_indexes(parts),
                    );
                }
                Some(topics)
            }
        };
        r.skip_tagged()?;
        groups.push(
            OffsetFetchRequestGroup::default()
                .with_group_id(GroupId(group_id))
                .with_member_id(member_id)
                .with_member_epoch(member_epoch)
                .with_topics(topics),
        );
    }
    let require_stable = r.bool()?;
    r.skip_tagged()?;
    r.finish()?;
    Ok(OffsetFetchRequest::default()
        .with_groups(groups)
        .with_require_stable(require_stable))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uv(b: &mut Vec<u8>, v: u64) {
        let mut v = v;
        while v >= 0x80 {
            b.push((v as u8) | 0x80);
            v >>= 7;
        }
        b.push(v as u8);
    }
    fn cs(b: &mut Vec<u8>, s: Option<&str>) {
        match s {
            None => uv(b, 0),
            Some(s) => {
                uv(b, s.len() as u64 + 1);
                b.extend_from_slice(s.as_bytes());
            }
        }
    }

    #[test]
    fn offset_commit_v10_decodes_and_passes_the_schema_walker() {
        let t = Uuid::from_u128(77);
        let mut b = Vec::new();
        cs(&mut b, Some("g"));
        b.extend_from_slice(&5i32.to_be_bytes());
        cs(&mut b, Some("m"));
        cs(&mut b, None);
        uv(&mut b, 2); // one topic
        b.extend_from_slice(t.as_bytes());
        uv(&mut b, 2); // one partition
        b.extend_from_slice(&3i32.to_be_bytes());
        b.extend_from_slice(&42i64.to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        cs(&mut b, Some("meta"));
        uv(&mut b, 0);
        uv(&mut b, 0);
        uv(&mut b, 0);
        crate::schema::validate_request_body(crate::ApiKey::OffsetCommit, 10, &b).unwrap();
        let r = decode_offset_commit_v10(Bytes::from(b.clone())).unwrap();
        assert_eq!(r.group_id.as_str(), "g");
        assert_eq!(r.generation_id_or_member_epoch, 5);
        assert_eq!(r.topics[0].topic_id, t);
        assert_eq!(r.topics[0].partitions[0].committed_offset, 42);
        assert_eq!(
            r.topics[0].partitions[0].committed_metadata.as_deref(),
            Some("meta")
        );
        // Every truncation is an error, never a panic.
        for n in 0..b.len() {
            assert!(decode_offset_commit_v10(Bytes::copy_from_slice(&b[..n])).is_err());
        }
    }

    #[test]
    fn offset_fetch_v10_decodes_all_and_some_topics() {
        let t = Uuid::from_u128(9);
        let mut b = Vec::new();
        uv(&mut b, 3); // two groups
        cs(&mut b, Some("g1"));
        cs(&mut b, Some("m"));
        b.extend_from_slice(&7i32.to_be_bytes());
        uv(&mut b, 0); // all topics
        uv(&mut b, 0);
        cs(&mut b, Some("g2"));
        cs(&mut b, None);
        b.extend_from_slice(&(-1i32).to_be_bytes());
        uv(&mut b, 2);
        b.extend_from_slice(t.as_bytes());
        uv(&mut b, 3);
        b.extend_from_slice(&0i32.to_be_bytes());
        b.extend_from_slice(&1i32.to_be_bytes());
        uv(&mut b, 0);
        uv(&mut b, 0);
        b.push(1); // require_stable
        uv(&mut b, 0);
        crate::schema::validate_request_body(crate::ApiKey::OffsetFetch, 10, &b).unwrap();
        let r = decode_offset_fetch_v10(Bytes::from(b)).unwrap();
        assert_eq!(r.groups.len(), 2);
        assert!(r.groups[0].topics.is_none());
        assert_eq!(r.groups[0].member_epoch, 7);
        let topics = r.groups[1].topics.as_ref().unwrap();
        assert_eq!(topics[0].topic_id, t);
        assert_eq!(topics[0].partition_indexes, vec![0, 1]);
        assert!(r.require_stable);
    }
}
