//! Scenario test of log compaction against a live broker: keyed records and tombstones to a
//! `cleanup.policy=compact` topic, cleaning passes run directly (no waiting on the cleaner's
//! backoff), read back through Fetch.

mod common;

use bytes::Bytes;
use common::Client;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::batch::{self, RecordBatch};
use sluice_protocol::error::KafkaError;
use sluice_protocol::records;

const TOPIC: &str = "compacted";

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn create(c: &mut Client, configs: &[(&str, &str)]) {
    common::create_topic(c, TOPIC, 1, configs).await;
}

/// Produce one batch of (key, value) records stamped `ts`; returns the error code.
async fn produce(c: &mut Client, entries: &[(Option<&str>, Option<&str>)], ts: i64) -> i16 {
    let kv: Vec<batch::KeyValue<'_>> = entries
        .iter()
        .map(|(k, v)| (k.map(str::as_bytes), v.map(str::as_bytes)))
        .collect();
    let bytes = batch::encode_batch(&kv, ts);
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(TOPIC))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(Bytes::from(bytes)))])]);
    match c.call(ApiKey::Produce, 11, RequestKind::Produce(req)).await {
        ResponseKind::Produce(r) => r.responses[0].partition_responses[0].error_code,
        other => panic!("{other:?}"),
    }
}

/// Every record from offset 0 as "offset:key=value" (value "null" for a tombstone), checking
/// every batch's CRC.
async fn read_all(c: &mut Client) -> Vec<String> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let req = FetchRequest::default()
            .with_max_wait_ms(0)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(name(TOPIC))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(1 << 20)])]);
        let ResponseKind::Fetch(r) = c.call(ApiKey::Fetch, 12, RequestKind::Fetch(req)).await
        else {
            panic!()
        };
        let p = &r.responses[0].partitions[0];
        assert_eq!(p.error_code, 0);
        let data = p.records.clone().unwrap_or_default();
        if data.is_empty() {
            return out;
        }
        for b in batch::batches(&data) {
            let b = b.expect("whole batch");
            let b = RecordBatch::parse_stored(b.as_bytes()).expect("valid batch, CRC ok");
            for r in records::records(b.records()) {
                let r = r.expect("record");
                let s = |x: Option<&[u8]>| {
                    x.map_or("null".to_string(), |v| String::from_utf8_lossy(v).into())
                };
                out.push(format!(
                    "{}:{}={}",
                    b.base_offset() + i64::from(r.offset_delta),
                    s(r.key),
                    s(r.value)
                ));
            }
            offset = b.next_offset();
        }
    }
}

#[tokio::test]
async fn a_compacted_topic_keeps_the_latest_record_per_key() {
    let dir = tempfile::tempdir().unwrap();
    // The maintenance loop's cleaner runs once at start and then not for an hour: the test
    // runs the passes itself.
    let server = common::start(dir.path(), &[("log.cleaner.backoff.ms", "3600000")]).await;
    let mut c = Client::connect(server.addrs[0].1).await;
    create(
        &mut c,
        &[
            ("cleanup.policy", "compact"),
            ("segment.ms", "1"),
            ("min.cleanable.dirty.ratio", "0.01"),
            ("delete.retention.ms", "0"),
        ],
    )
    .await;
    // Records without a key are refused on a compacted topic.
    let t0 = now_ms();
    assert_eq!(
        produce(&mut c, &[(None, Some("nokey"))], t0).await,
        KafkaError::InvalidRecord.code()
    );
    // Each batch is 10 ms after the previous one: with segment.ms=1 every append rolls.
    let mut ts = t0;
    let mut next = || {
        ts += 10;
        ts
    };
    for round in 0..3 {
        for k in 0..4 {
            let (key, value) = (format!("k{k}"), format!("v{round}"));
            assert_eq!(
                produce(&mut c, &[(Some(&key), Some(&value))], next()).await,
                0
            );
        }
    }
    assert_eq!(produce(&mut c, &[(Some("k1"), None)], next()).await, 0); // 12: tombstone
    assert_eq!(
        produce(&mut c, &[(Some("k4"), Some("v0"))], next()).await,
        0
    ); // 13
    assert_eq!(read_all(&mut c).await.len(), 14);

    let pass = server.broker.clean_logs();
    assert_eq!(pass.cleaned.len(), 1, "{pass:?}");
    assert_eq!(
        pass.cleaned[0].1.end_offset, 13,
        "the active segment is not cleaned"
    );
    // Latest per key, offsets unchanged; the tombstone stays for one round (its delete
    // horizon is set now: now + delete.retention.ms).
    assert_eq!(
        read_all(&mut c).await,
        ["8:k0=v2", "10:k2=v2", "11:k3=v2", "12:k1=null", "13:k4=v0"]
    );

    // More data rolls the active segment; the next pass removes the tombstone.
    assert_eq!(
        produce(&mut c, &[(Some("k0"), Some("v3"))], next()).await,
        0
    ); // 14
    assert_eq!(
        produce(&mut c, &[(Some("k5"), Some("v0"))], next()).await,
        0
    ); // 15
    let pass = server.broker.clean_logs();
    assert_eq!(pass.cleaned.len(), 1, "{pass:?}");
    assert_eq!(
        read_all(&mut c).await,
        ["10:k2=v2", "11:k3=v2", "13:k4=v0", "14:k0=v3", "15:k5=v0"]
    );
    // The checkpoint file is Kafka's.
    let cp = std::fs::read_to_string(dir.path().join("cleaner-offset-checkpoint")).unwrap();
    assert!(cp.contains(&format!("{TOPIC} 0 15\n")), "{cp}");
    server.shutdown().await;
}
