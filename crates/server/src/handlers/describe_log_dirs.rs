//! DescribeLogDirs (API key 35), v1-4 (Kafka 4 removed v0; v2 flexible; v3 adds the top-level
//! error_code; v4 adds total_bytes / usable_bytes per log dir).
//!
//! - One result per log dir (its absolute path), listing the partitions it holds: size (bytes
//!   of all segments), offset_lag 0 (no replica movement), is_future_key false.
//! - topics null: every partition; otherwise only those named (unknown ones are left out, as
//!   Kafka does).
//! - v4: total_bytes / usable_bytes of the file system (statvfs: blocks x fragment size,
//!   available blocks for unprivileged users x fragment size); -1 if it cannot be read.

use super::{Reply, RequestContext};
use crate::broker::Broker;
use sluice_protocol::kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use sluice_protocol::kafka_protocol::messages::{
    DescribeLogDirsRequest, DescribeLogDirsResponse, ResponseKind, TopicName,
};
use sluice_protocol::kafka_protocol::protocol::StrBytes;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

pub async fn handle(
    broker: &Broker,
    ctx: &RequestContext<'_>,
    req: DescribeLogDirsRequest,
) -> Reply {
    let v = ctx.version;
    let wanted: Option<HashSet<(String, i32)>> = req.topics.as_ref().map(|ts| {
        ts.iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic.to_string(), *p)))
            .collect()
    });
    let logs = broker.logs.all_logs();
    let mut resp = DescribeLogDirsResponse::default();
    for dir in broker.logs.log_dirs() {
        let mut topics: BTreeMap<String, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
        for log in logs
            .iter()
            .filter(|l| l.dir().parent() == Some(dir.as_path()))
        {
            let tp = log.topic_partition();
            if let Some(w) = &wanted {
                if !w.contains(&(tp.topic.clone(), tp.partition)) {
                    continue;
                }
            }
            topics.entry(tp.topic.clone()).or_default().push(
                DescribeLogDirsPartition::default()
                    .with_partition_index(tp.partition)
                    .with_partition_size(i64::try_from(log.size_in_bytes()).unwrap_or(i64::MAX))
                    .with_offset_lag(0)
                    .with_is_future_key(false),
            );
        }
        let path = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        let mut r = DescribeLogDirsResult::default()
            .with_log_dir(StrBytes::from_string(path.to_string_lossy().into_owned()))
            .with_topics(
                topics
                    .into_iter()
                    .map(|(name, mut partitions)| {
                        partitions.sort_by_key(|p| p.partition_index);
                        DescribeLogDirsTopic::default()
                            .with_name(TopicName(StrBytes::from_string(name)))
                            .with_partitions(partitions)
                    })
                    .collect(),
            );
        if v >= 4 {
            let (total, usable) = space(dir).unwrap_or((-1, -1));
            r.total_bytes = total;
            r.usable_bytes = usable;
        }
        resp.results.push(r);
    }
    Reply::Response(ResponseKind::DescribeLogDirs(resp))
}

/// (total, usable) bytes of the file system holding `dir`, as Java's
/// FileStore.getTotalSpace / getUsableSpace.
fn space(dir: &Path) -> Option<(i64, i64)> {
    let st = rustix::fs::statvfs(dir).ok()?;
    let total = st.f_blocks.checked_mul(st.f_frsize)?;
    let usable = st.f_bavail.checked_mul(st.f_frsize)?;
    Some((
        i64::try_from(total).unwrap_or(i64::MAX),
        i64::try_from(usable).unwrap_or(i64::MAX),
    ))
}
