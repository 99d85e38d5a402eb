//! Scenario tests of Produce, Fetch and ListOffsets against a live broker.

mod common;

use bytes::Bytes;
use common::Client;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::batch::{self, testing::build_batch_with, Compression, RecordBatch};
use sluice_protocol::error::KafkaError;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn batch_at(ts: i64, values: &[&[u8]]) -> Vec<u8> {
    build_batch_with(0, ts, values, 0, -1, -1, -1)
}

/// A batch whose records section is compressed with `codec`.
fn compressed(codec: Compression, ts: i64, values: &[&[u8]]) -> Vec<u8> {
    let plain = batch_at(ts, values);
    let mut out = plain[..batch::HEADER_SIZE].to_vec();
    sluice_protocol::compression::compress_into(
        codec,
        None,
        &plain[batch::HEADER_SIZE..],
        &mut out,
    )
    .unwrap();
    let len = (out.len() - batch::LOG_OVERHEAD) as i32;
    out[batch::LENGTH_OFFSET..batch::LENGTH_OFFSET + 4].copy_from_slice(&len.to_be_bytes());
    out[batch::ATTRIBUTES_OFFSET..batch::ATTRIBUTES_OFFSET + 2]
        .copy_from_slice(&codec.id().to_be_bytes());
    let crc = crc32c::crc32c(&out[batch::ATTRIBUTES_OFFSET..]);
    out[batch::CRC_OFFSET..batch::CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

use common::create_topic as create;

fn produce_req(acks: i16, parts: Vec<(&str, i32, Vec<u8>)>) -> RequestKind {
    let mut topics: Vec<TopicProduceData> = Vec::new();
    for (t, p, bytes) in parts {
        let pd = PartitionProduceData::default()
            .with_index(p)
            .with_records(Some(Bytes::from(bytes)));
        match topics.iter_mut().find(|x| x.name.as_str() == t) {
            Some(x) => x.partition_data.push(pd),
            None => topics.push(
                TopicProduceData::default()
                    .with_name(name(t))
                    .with_partition_data(vec![pd]),
            ),
        }
    }
    RequestKind::Produce(
        ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(5000)
            .with_topic_data(topics),
    )
}

async fn produce(c: &mut Client, parts: Vec<(&str, i32, Vec<u8>)>) -> ProduceResponse {
    match c.call(ApiKey::Produce, 11, produce_req(-1, parts)).await {
        ResponseKind::Produce(r) => r,
        other => panic!("{other:?}"),
    }
}

fn fetch_req(
    parts: &[(&str, i32, i64)],
    max_wait: i32,
    min_bytes: i32,
    partition_max: i32,
) -> FetchRequest {
    let mut topics: Vec<FetchTopic> = Vec::new();
    for (t, p, off) in parts {
        let fp = FetchPartition::default()
            .with_partition(*p)
            .with_fetch_offset(*off)
            .with_partition_max_bytes(partition_max);
        match topics.iter_mut().find(|x| x.topic.as_str() == *t) {
            Some(x) => x.partitions.push(fp),
            None => topics.push(
                FetchTopic::default()
                    .with_topic(name(t))
                    .with_partitions(vec![fp]),
            ),
        }
    }
    FetchRequest::default()
        .with_max_wait_ms(max_wait)
        .with_min_bytes(min_bytes)
        .with_max_bytes(50 * 1024 * 1024)
        .with_session_epoch(-1)
        .with_topics(topics)
}

async fn fetch(c: &mut Client, req: FetchRequest) -> FetchResponse {
    match c.call(ApiKey::Fetch, 12, RequestKind::Fetch(req)).await {
        ResponseKind::Fetch(r) => r,
        other => panic!("{other:?}"),
    }
}

fn batches_of(records: &Bytes) -> Vec<(i64, i32, Vec<u8>)> {
    batch::batches(records)
        .map(|b| {
            let b = b.expect("valid batch");
            b.verify_crc().expect("crc");
            (b.base_offset(), b.records_count(), b.as_bytes().to_vec())
        })
        .collect()
}

async fn list_offset(c: &mut Client, topic: &str, p: i32, ts: i64) -> (i16, i64, i64) {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(p)
                .with_timestamp(ts)])]);
    let ResponseKind::ListOffsets(r) = c
        .call(ApiKey::ListOffsets, 8, RequestKind::ListOffsets(req))
        .await
    else {
        panic!()
    };
    let pr = &r.topics[0].partitions[0];
    (pr.error_code, pr.timestamp, pr.offset)
}

#[tokio::test]
async fn produce_fetch_round_trip_every_codec_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "t", 2, &[]).await;
    let now = now_ms();
    let mut sent = Vec::new();
    let mut next = 0i64;
    for (i, codec) in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ]
    .into_iter()
    .enumerate()
    {
        let values: Vec<Vec<u8>> = (0..10)
            .map(|j| format!("value-{i}-{j}").into_bytes())
            .collect();
        let refs: Vec<&[u8]> = values.iter().map(|v| v.as_slice()).collect();
        let b = compressed(codec, now, &refs);
        let r = produce(&mut c, vec![("t", 0, b.clone())]).await;
        let pr = &r.responses[0].partition_responses[0];
        assert_eq!(pr.error_code, 0, "{codec:?}: {:?}", pr.error_message);
        assert_eq!(pr.base_offset, next);
        next += 10;
        sent.push(b);
    }
    let r = fetch(&mut c, fetch_req(&[("t", 0, 0)], 0, 1, 1 << 20)).await;
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.high_watermark, 50);
    let got = batches_of(p.records.as_ref().unwrap());
    assert_eq!(got.len(), 5);
    for (i, (base, count, bytes)) in got.iter().enumerate() {
        assert_eq!(*base, i as i64 * 10);
        assert_eq!(*count, 10);
        // Byte-identical apart from baseOffset (and partitionLeaderEpoch, 0 both ways).
        assert_eq!(&bytes[8..], &sent[i][8..]);
    }
    server.shutdown().await;

    // After a clean restart everything is back and offsets continue.
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    let r = produce(&mut c, vec![("t", 0, batch_at(now, &[b"after"]))]).await;
    assert_eq!(r.responses[0].partition_responses[0].base_offset, 50);
    let r = fetch(&mut c, fetch_req(&[("t", 0, 0)], 0, 1, 1 << 20)).await;
    assert_eq!(
        batches_of(r.responses[0].partitions[0].records.as_ref().unwrap()).len(),
        6
    );
    server.shutdown().await;
}

#[tokio::test]
async fn produce_validation_errors_are_per_partition() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "v", 6, &[]).await;
    create(&mut c, "compacted", 1, &[("cleanup.policy", "compact")]).await;
    create(&mut c, "small", 1, &[("max.message.bytes", "1000")]).await;
    let now = now_ms();
    let good = batch_at(now, &[b"ok"]);
    let mut bad_crc = good.clone();
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 1;
    let mut two = good.clone();
    two.extend_from_slice(&good);
    let control = build_batch_with(0, now, &[b"x"], 0x20, -1, -1, -1);
    let old = batch_at(now - 10 * 3_600_000 - 1, &[b"old"]);
    let future = batch_at(now + 2 * 3_600_000, &[b"future"]);
    let r = produce(
        &mut c,
        vec![
            ("v", 0, good.clone()),
            ("v", 1, bad_crc),
            ("v", 2, two),
            ("v", 3, control),
            ("v", 4, future),
            ("v", 5, Vec::new()),
            ("nope", 0, good.clone()),
            ("compacted", 0, good.clone()),
            ("small", 0, batch_at(now, &[&[7u8; 2000]])),
        ],
    )
    .await;
    let code = |t: &str, p: i32| {
        let tr = r.responses.iter().find(|x| x.name.as_str() == t).unwrap();
        tr.partition_responses
            .iter()
            .find(|x| x.index == p)
            .unwrap()
            .clone()
    };
    assert_eq!(code("v", 0).error_code, 0);
    assert_eq!(code("v", 1).error_code, KafkaError::CorruptMessage.code());
    assert_eq!(code("v", 2).error_code, KafkaError::InvalidRecord.code());
    assert_eq!(code("v", 3).error_code, KafkaError::InvalidRecord.code());
    let ts = code("v", 4);
    assert_eq!(ts.error_code, KafkaError::InvalidTimestamp.code());
    assert_eq!(ts.record_errors.len(), 1);
    assert_eq!(ts.record_errors[0].batch_index, 0);
    assert_eq!(code("v", 5).error_code, KafkaError::InvalidRecord.code());
    let r = produce(
        &mut c,
        vec![("v", 0, build_batch_with(0, now, &[b"t"], 0x10, 7, 0, 0))],
    )
    .await;
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        KafkaError::TransactionalIdAuthorizationFailed.code(),
        "a transactional batch in a request without a transactional id (as Kafka 4.3)"
    );
    assert_eq!(
        code("nope", 0).error_code,
        KafkaError::UnknownTopicOrPartition.code()
    );
    let ck = code("compacted", 0);
    assert_eq!(ck.error_code, KafkaError::InvalidRecord.code());
    assert_eq!(ck.record_errors.len(), 1);
    assert_eq!(
        code("small", 0).error_code,
        KafkaError::MessageTooLarge.code()
    );
    // The default before.max.ms is unbounded: old records are accepted.
    let r = produce(&mut c, vec![("v", 0, old)]).await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    assert_eq!(r.responses[0].partition_responses[0].base_offset, 1);
    // Nothing was written for the failed partitions.
    assert_eq!(list_offset(&mut c, "v", 1, -1).await.2, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn acks_zero_has_no_response_and_log_append_time_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(
        &mut c,
        "lat",
        1,
        &[("message.timestamp.type", "LogAppendTime")],
    )
    .await;
    let (_, bytes) = c.encode(
        ApiKey::Produce,
        9,
        &produce_req(0, vec![("lat", 0, batch_at(5, &[b"a"]))]),
    );
    c.send_raw(&bytes).await;
    // The next response on the connection belongs to the next request.
    let r = produce(&mut c, vec![("lat", 0, batch_at(5, &[b"b"]))]).await;
    let pr = &r.responses[0].partition_responses[0];
    assert_eq!(pr.base_offset, 1);
    assert!(pr.log_append_time_ms > 5);
    let r = fetch(&mut c, fetch_req(&[("lat", 0, 0)], 0, 1, 1 << 20)).await;
    let data = r.responses[0].partitions[0].records.clone().unwrap();
    for b in batch::batches(&data) {
        let b = b.unwrap();
        b.verify_crc().unwrap();
        assert_eq!(b.timestamp_type(), batch::TimestampType::LogAppendTime);
        assert!(b.max_timestamp() > 5);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn fetch_long_poll_is_woken_by_append_and_honours_max_wait() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let addr = server.addr("PLAINTEXT").unwrap();
    let mut c = Client::connect(addr).await;
    create(&mut c, "lp", 1, &[]).await;
    // Nothing to read and a short max wait: an empty answer.
    let r = fetch(&mut c, fetch_req(&[("lp", 0, 0)], 50, 1, 1 << 20)).await;
    assert!(r.responses[0].partitions[0]
        .records
        .as_ref()
        .unwrap()
        .is_empty());
    // A waiting fetch (max wait far beyond the test deadline) is answered by an append.
    let waiting = tokio::spawn(async move {
        let mut f = Client::connect(addr).await;
        fetch(&mut f, fetch_req(&[("lp", 0, 0)], 600_000, 1, 1 << 20)).await
    });
    // Wait (bounded) until the fetch is parked in the purgatory, so the append below must wake it.
    let parked = async {
        while server.broker.purgatory.watched_partitions() == 0 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(common::DEADLINE, parked)
        .await
        .expect("fetch parked");
    let mut producer = Client::connect(addr).await;
    produce(
        &mut producer,
        vec![("lp", 0, batch_at(now_ms(), &[b"wake"]))],
    )
    .await;
    let r = tokio::time::timeout(common::DEADLINE, waiting)
        .await
        .expect("woken by the append")
        .unwrap();
    assert!(!r.responses[0].partitions[0]
        .records
        .as_ref()
        .unwrap()
        .is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn fetch_errors_kip74_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "f", 2, &[]).await;
    let big = vec![1u8; 5000];
    produce(&mut c, vec![("f", 0, batch_at(now_ms(), &[&big]))]).await;
    // KIP-74: the first batch comes back though it is larger than partition_max_bytes.
    let r = fetch(&mut c, fetch_req(&[("f", 0, 0)], 0, 1, 100)).await;
    assert_eq!(
        batches_of(r.responses[0].partitions[0].records.as_ref().unwrap()).len(),
        1
    );
    // Out of range, unknown topic.
    let r = fetch(
        &mut c,
        fetch_req(&[("f", 0, 99), ("zz", 0, 0)], 0, 1, 1 << 20),
    )
    .await;
    assert_eq!(
        r.responses[0].partitions[0].error_code,
        KafkaError::OffsetOutOfRange.code()
    );
    assert_eq!(
        r.responses[1].partitions[0].error_code,
        KafkaError::UnknownTopicOrPartition.code()
    );

    // Sessions: a full fetch opens one; an incremental fetch returns only what changed.
    let full = fetch_req(&[("f", 0, 1), ("f", 1, 0)], 0, 0, 1 << 20)
        .with_session_id(0)
        .with_session_epoch(0);
    let r = fetch(&mut c, full).await;
    let session = r.session_id;
    assert!(session > 0);
    assert_eq!(r.responses[0].partitions.len(), 2);
    produce(&mut c, vec![("f", 1, batch_at(now_ms(), &[b"new"]))]).await;
    let inc = FetchRequest::default()
        .with_session_id(session)
        .with_session_epoch(1)
        .with_max_bytes(1 << 20);
    let r = fetch(&mut c, inc).await;
    assert_eq!(r.error_code, 0);
    assert_eq!(r.session_id, session);
    let parts: Vec<i32> = r
        .responses
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.partition_index))
        .collect();
    assert_eq!(parts, vec![1], "only the partition with new data");
    let bad = FetchRequest::default()
        .with_session_id(session)
        .with_session_epoch(7);
    assert_eq!(
        fetch(&mut c, bad).await.error_code,
        KafkaError::InvalidFetchSessionEpoch.code()
    );
    let gone = FetchRequest::default()
        .with_session_id(session + 1000)
        .with_session_epoch(1);
    assert_eq!(
        fetch(&mut c, gone).await.error_code,
        KafkaError::FetchSessionIdNotFound.code()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn list_offsets_by_kind_and_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "lo", 1, &[]).await;
    assert_eq!(
        list_offset(&mut c, "lo", 0, 1000).await,
        (0, -1, -1),
        "empty log"
    );
    assert_eq!(list_offset(&mut c, "lo", 0, -3).await, (0, -1, -1));
    let now = now_ms() - 100_000;
    // A batch whose records have increasing timestamps: base now, +10, +20.
    let mut b = build_batch_with(0, now, &[b"a", b"b", b"c"], 0, -1, -1, -1);
    {
        // Rewrite record timestamp deltas (each record: len, attrs, tsDelta=0 at byte 2).
        let mut pos = batch::HEADER_SIZE;
        for i in 0..3 {
            let len = b[pos] as usize / 2; // zig-zag single-byte length
            b[pos + 2] = (i * 10 * 2) as u8; // zig-zag delta
            pos += 1 + len;
        }
        b[batch::MAX_TIMESTAMP_OFFSET..batch::MAX_TIMESTAMP_OFFSET + 8]
            .copy_from_slice(&(now + 20).to_be_bytes());
        let crc = crc32c::crc32c(&b[batch::ATTRIBUTES_OFFSET..]);
        b[batch::CRC_OFFSET..batch::CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        RecordBatch::parse_validated(&b).unwrap();
    }
    produce(&mut c, vec![("lo", 0, b)]).await;
    produce(&mut c, vec![("lo", 0, batch_at(now + 5, &[b"d"]))]).await;
    assert_eq!(list_offset(&mut c, "lo", 0, -2).await, (0, -1, 0));
    assert_eq!(list_offset(&mut c, "lo", 0, -1).await, (0, -1, 4));
    assert_eq!(
        list_offset(&mut c, "lo", 0, now + 10).await,
        (0, now + 10, 1),
        "record inside the batch"
    );
    assert_eq!(
        list_offset(&mut c, "lo", 0, now + 11).await,
        (0, now + 20, 2)
    );
    assert_eq!(
        list_offset(&mut c, "lo", 0, now + 21).await,
        (0, -1, -1),
        "nothing qualifies"
    );
    assert_eq!(
        list_offset(&mut c, "lo", 0, -3).await,
        (0, now + 20, 2),
        "max timestamp"
    );
    assert_eq!(
        list_offset(&mut c, "nope", 0, -1).await.0,
        KafkaError::UnknownTopicOrPartition.code()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn topic_deletion_removes_data() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[("log.segment.delete.delay.ms", "0")]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "gone", 2, &[]).await;
    produce(&mut c, vec![("gone", 0, batch_at(now_ms(), &[b"x"]))]).await;
    assert!(dir.path().join("gone-0").exists());
    let req = DeleteTopicsRequest::default().with_topic_names(vec![name("gone")]);
    let ResponseKind::DeleteTopics(r) = c
        .call(ApiKey::DeleteTopics, 5, RequestKind::DeleteTopics(req))
        .await
    else {
        panic!()
    };
    assert_eq!(r.responses[0].error_code, 0);
    let leftovers = || -> Vec<String> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with("gone"))
            .collect()
    };
    // Renamed at once (Kafka's `<topic>-<partition>.<uuid>-delete`), removed by the
    // maintenance task once file.delete.delay.ms (log.segment.delete.delay.ms) has passed.
    let renamed = leftovers();
    assert!(
        renamed.iter().all(|n| n.ends_with("-delete")),
        "{renamed:?}"
    );
    common::wait_until("the deleted partition dirs are removed", || {
        let left = leftovers();
        async move { left.is_empty() }
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn idempotent_producer_duplicates_and_sequence_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "idem", 1, &[]).await;
    let ResponseKind::InitProducerId(ip) = c
        .call(
            ApiKey::InitProducerId,
            4,
            RequestKind::InitProducerId(
                InitProducerIdRequest::default()
                    .with_transactional_id(None)
                    .with_transaction_timeout_ms(60_000)
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1),
            ),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(ip.error_code, 0);
    let pid = ip.producer_id.0;
    assert!(pid >= 0);
    let now = now_ms();
    let b0 = build_batch_with(0, now, &[b"a", b"b"], 0, pid, 0, 0);
    let b1 = build_batch_with(0, now, &[b"c"], 0, pid, 0, 2);
    let off = |r: &ProduceResponse| {
        (
            r.responses[0].partition_responses[0].error_code,
            r.responses[0].partition_responses[0].base_offset,
        )
    };
    assert_eq!(
        off(&produce(&mut c, vec![("idem", 0, b0.clone())]).await),
        (0, 0)
    );
    assert_eq!(
        off(&produce(&mut c, vec![("idem", 0, b1.clone())]).await),
        (0, 2)
    );
    // Retries of either batch: acknowledged with the original offsets, not appended.
    assert_eq!(off(&produce(&mut c, vec![("idem", 0, b0)]).await), (0, 0));
    assert_eq!(off(&produce(&mut c, vec![("idem", 0, b1)]).await), (0, 2));
    assert_eq!(list_offset(&mut c, "idem", 0, -1).await.2, 3);
    // A gap in the sequence.
    let gap = build_batch_with(0, now, &[b"d"], 0, pid, 0, 7);
    assert_eq!(
        off(&produce(&mut c, vec![("idem", 0, gap)]).await).0,
        KafkaError::OutOfOrderSequenceNumber.code()
    );
    // Dedup survives a restart.
    server.shutdown().await;
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    let b1 = build_batch_with(0, now, &[b"c"], 0, pid, 0, 2);
    assert_eq!(off(&produce(&mut c, vec![("idem", 0, b1)]).await), (0, 2));
    let next = build_batch_with(0, now, &[b"e"], 0, pid, 0, 3);
    assert_eq!(off(&produce(&mut c, vec![("idem", 0, next)]).await), (0, 3));
    // New producer ids never repeat after a restart.
    let ResponseKind::InitProducerId(ip2) = c
        .call(
            ApiKey::InitProducerId,
            4,
            RequestKind::InitProducerId(
                InitProducerIdRequest::default()
                    .with_transactional_id(None)
                    .with_transaction_timeout_ms(60_000)
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1),
            ),
        )
        .await
    else {
        panic!()
    };
    assert!(ip2.producer_id.0 > pid);
    server.shutdown().await;
}

/// compression.type other than `producer`: every batch is stored with that codec (Kafka's
/// LogValidator recompresses), records unchanged; `producer` keeps the producer's codec.
#[tokio::test]
async fn topic_compression_type_recompresses_on_append() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "gz", 1, &[("compression.type", "gzip")]).await;
    create(&mut c, "plain", 1, &[("compression.type", "uncompressed")]).await;
    create(&mut c, "keep", 1, &[]).await;
    let now = now_ms();
    let values: Vec<&[u8]> = vec![b"alpha", b"beta", b"gamma"];
    for (topic, sent) in [
        ("gz", batch_at(now, &values)),
        ("gz", compressed(Compression::Lz4, now, &values)),
        ("plain", compressed(Compression::Zstd, now, &values)),
        ("keep", compressed(Compression::Snappy, now, &values)),
    ] {
        let r = produce(&mut c, vec![(topic, 0, sent)]).await;
        let pr = &r.responses[0].partition_responses[0];
        assert_eq!(pr.error_code, 0, "{topic}: {:?}", pr.error_message);
    }
    let want = |topic: &str| match topic {
        "gz" => Compression::Gzip,
        "plain" => Compression::None,
        _ => Compression::Snappy,
    };
    for topic in ["gz", "plain", "keep"] {
        let r = fetch(&mut c, fetch_req(&[(topic, 0, 0)], 0, 1, 1 << 20)).await;
        let records = r.responses[0].partitions[0].records.clone().unwrap();
        let mut n = 0;
        for b in batch::batches(&records) {
            let b = b.expect("valid batch");
            b.verify_crc().expect("crc");
            assert_eq!(b.compression().unwrap(), want(topic), "{topic}");
            assert_eq!(b.records_count(), 3);
            let mut scratch = Vec::new();
            let summary =
                sluice_protocol::records::validate_records(&b, &mut scratch, 1 << 20).unwrap();
            assert_eq!(summary.count, 3);
            n += 1;
        }
        assert!(n >= 1, "{topic}");
    }
    server.shutdown().await;
}

/// fsync-before-ack (flush.messages=1): produces pipelined on one connection — acks=all and
/// acks=0 to two partitions, with a Metadata request in between — are answered in request
/// order with consecutive offsets (the deferred replies wait for their group commit while the
/// connection serves the next requests), and a fetch then reads every record; with either
/// group-commit flush method.
#[tokio::test]
async fn fsync_mode_pipelined_produces_answer_in_order() {
    pipelined_fsync_produces("syncfs").await;
}

#[tokio::test]
async fn fsync_mode_pipelined_produces_answer_in_order_with_fdatasync() {
    pipelined_fsync_produces("fdatasync").await;
}

async fn pipelined_fsync_produces(flush_method: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[("sluice.log.flush.method", flush_method)]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "fs", 2, &[("flush.messages", "1")]).await;
    let now = now_ms();
    let mut sent = Vec::new(); // (correlation id, api, version) of requests expecting a reply
    let mut wire = Vec::new();
    for i in 0..12u8 {
        let acks = if i % 4 == 3 { 0 } else { -1 };
        let req = produce_req(
            acks,
            vec![
                ("fs", 0, batch_at(now, &[&[i], &[i]])),
                ("fs", 1, batch_at(now, &[&[i]])),
            ],
        );
        let (corr, bytes) = c.encode(ApiKey::Produce, 11, &req);
        wire.extend_from_slice(&bytes);
        if acks != 0 {
            sent.push((corr, ApiKey::Produce, 11));
        }
        if i == 5 {
            let (corr, bytes) = c.encode(
                ApiKey::Metadata,
                12,
                &RequestKind::Metadata(MetadataRequest::default().with_topics(None)),
            );
            wire.extend_from_slice(&bytes);
            sent.push((corr, ApiKey::Metadata, 12));
        }
    }
    c.send_raw(&wire).await;
    let mut next_base = [0i64, 0i64];
    for (i, (corr, api, version)) in sent.iter().enumerate() {
        let frame = c.read_frame().await.expect("a response");
        let (got, resp) = Client::decode(*api, *version, frame);
        assert_eq!(got, *corr, "response {i} out of order");
        if let ResponseKind::Produce(r) = resp {
            for pr in &r.responses[0].partition_responses {
                assert_eq!(pr.error_code, 0);
                let p = pr.index as usize;
                // Offsets are consecutive per partition, acks=0 requests included.
                assert!(pr.base_offset >= next_base[p], "{pr:?}");
                next_base[p] = pr.base_offset + if p == 0 { 2 } else { 1 };
            }
        }
    }
    // The last request was acks=0: nothing answers it, its group commit may still be running.
    let broker = server.broker.clone();
    common::wait_until("the acks=0 tail made durable", || {
        let broker = broker.clone();
        async move {
            [(0, 24), (1, 12)]
                .iter()
                .all(|(p, end)| broker.log("fs", *p).unwrap().high_watermark() == *end)
        }
    })
    .await;
    let r = fetch(
        &mut c,
        fetch_req(&[("fs", 0, 0), ("fs", 1, 0)], 0, 1, 1 << 20),
    )
    .await;
    for (p, per_batch) in [(0usize, 2), (1, 1)] {
        let part = &r.responses[0].partitions[p];
        assert_eq!(part.high_watermark, 12 * per_batch as i64, "partition {p}");
        let batches = batches_of(part.records.as_ref().unwrap());
        let records: i32 = batches.iter().map(|b| b.1).sum();
        assert_eq!(records, 12 * per_batch);
    }
    server.shutdown().await;
}

/// queued.max.request.bytes: a client that pipelines large requests and does not read its
/// responses holds back only the bytes it reads ahead; the broker stops reading from it at the
/// budget, keeps serving other connections, and serves the rest once it reads again.
#[tokio::test]
async fn read_ahead_budget_holds_back_a_client_that_does_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[("queued.max.request.bytes", "65536")]).await;
    let addr = server.addr("PLAINTEXT").unwrap();
    let mut c = Client::connect(addr).await;
    create(&mut c, "rb", 1, &[]).await;
    let now = now_ms();
    let big = vec![7u8; 100 * 1024];
    for _ in 0..20 {
        let r = produce(&mut c, vec![("rb", 0, batch_at(now, &[&big]))]).await;
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    }

    // The hog: two fetches of 2 MB (the first blocks the broker's writes to it) and then
    // produces of 100 KB each, read ahead behind them.
    let mut hog = Client::connect_small_receive_buffer(addr).await;
    let mut sent = Vec::new();
    let mut wire = Vec::new();
    for _ in 0..2 {
        let req = RequestKind::Fetch(fetch_req(&[("rb", 0, 0)], 0, 1, 4 << 20));
        let (corr, bytes) = hog.encode(ApiKey::Fetch, 12, &req);
        sent.push((corr, ApiKey::Fetch));
        wire.extend_from_slice(&bytes);
    }
    for _ in 0..4 {
        let req = produce_req(-1, vec![("rb", 0, batch_at(now, &[&big]))]);
        let (corr, bytes) = hog.encode(ApiKey::Produce, 11, &req);
        sent.push((corr, ApiKey::Produce));
        wire.extend_from_slice(&bytes);
    }
    let writer = {
        let (rd, mut wr) = hog.stream.into_split();
        let task = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            wr.write_all(&wire).await.expect("hog writes");
            wr
        });
        (rd, task)
    };
    let budget = &server.broker.request_budget;
    common::wait_until("the hog's read-ahead to spend the budget", || async {
        budget.waiting() == 1 && budget.available() == Some(0)
    })
    .await;

    // Everyone else is still served, pipelined requests included.
    let mut other = Client::connect(addr).await;
    let mut wire = Vec::new();
    let mut expect = Vec::new();
    for _ in 0..3 {
        let req = produce_req(-1, vec![("rb", 0, batch_at(now, &[&big]))]);
        let (corr, bytes) = other.encode(ApiKey::Produce, 11, &req);
        expect.push(corr);
        wire.extend_from_slice(&bytes);
    }
    other.send_raw(&wire).await;
    for corr in expect {
        let frame = other.read_frame().await.expect("a produce response");
        let (got, resp) = Client::decode(ApiKey::Produce, 11, frame);
        assert_eq!(got, corr);
        let ResponseKind::Produce(r) = resp else {
            panic!("not a produce response")
        };
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    }

    // The hog reads again: every response arrives, in order.
    let (mut rd, task) = writer;
    for (corr, api) in sent {
        let version = if api == ApiKey::Fetch { 12 } else { 11 };
        let frame = common::read_frame_from(&mut rd)
            .await
            .expect("the hog's response");
        let (got, resp) = Client::decode(api, version, frame);
        assert_eq!(got, corr);
        match resp {
            ResponseKind::Fetch(r) => assert_eq!(r.responses[0].partitions[0].error_code, 0),
            ResponseKind::Produce(r) => {
                assert_eq!(r.responses[0].partition_responses[0].error_code, 0)
            }
            other => panic!("{other:?}"),
        }
    }
    let _wr = tokio::time::timeout(common::DEADLINE, task)
        .await
        .expect("hog's write finishes")
        .unwrap();
    // Served requests give their bytes back.
    common::wait_until("the whole budget back", || async {
        budget.available() == Some(65536)
    })
    .await;
    server.shutdown().await;
}
