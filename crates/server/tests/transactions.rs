//! Scenario tests of the transaction APIs against a live broker: a transaction committed through
//! EndTxn v5 (transactions v2), its state after a restart, and WriteTxnMarkers v2 (decoded by our
//! own decoder, beyond the codec crate).

mod common;

use bytes::BufMut;
use common::Client;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::batch::testing::build_batch_with;
use sluice_protocol::wire::{put_compact_nullable_string, put_uvarint};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

async fn create(c: &mut Client, topic: &str) {
    let req = CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(s(topic)))
            .with_num_partitions(1)
            .with_replication_factor(1)])
        .with_timeout_ms(10_000);
    match c
        .call(ApiKey::CreateTopics, 7, RequestKind::CreateTopics(req))
        .await
    {
        ResponseKind::CreateTopics(r) => assert_eq!(r.topics[0].error_code, 0),
        other => panic!("unexpected {other:?}"),
    }
}

async fn init(c: &mut Client, txn: Option<&str>) -> (i64, i16) {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(txn.map(|t| TransactionalId(s(t))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    match c
        .call(ApiKey::InitProducerId, 5, RequestKind::InitProducerId(req))
        .await
    {
        ResponseKind::InitProducerId(r) => {
            assert_eq!(r.error_code, 0);
            (r.producer_id.0, r.producer_epoch)
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Produce v12 of one transactional record (the partition joins the transaction implicitly).
async fn produce_txn(
    c: &mut Client,
    txn: &str,
    topic: &str,
    pid: i64,
    epoch: i16,
    seq: i32,
) -> i16 {
    let records = build_batch_with(0, 1_700_000_000_000, &[b"v"], 0x10, pid, epoch, seq);
    let req = ProduceRequest::default()
        .with_transactional_id(Some(TransactionalId(s(txn))))
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records.into()))])]);
    match c.call(ApiKey::Produce, 12, RequestKind::Produce(req)).await {
        ResponseKind::Produce(r) => r.responses[0].partition_responses[0].error_code,
        other => panic!("unexpected {other:?}"),
    }
}

/// The latest offset of partition 0 under read_committed: the last stable offset.
async fn lso(c: &mut Client, topic: &str) -> i64 {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(1)
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-1)])]);
    match c
        .call(ApiKey::ListOffsets, 5, RequestKind::ListOffsets(req))
        .await
    {
        ResponseKind::ListOffsets(r) => r.topics[0].partitions[0].offset,
        other => panic!("unexpected {other:?}"),
    }
}

async fn describe(c: &mut Client, txn: &str) -> (String, i16) {
    let req = DescribeTransactionsRequest::default()
        .with_transactional_ids(vec![TransactionalId(s(txn))]);
    match c
        .call(
            ApiKey::DescribeTransactions,
            0,
            RequestKind::DescribeTransactions(req),
        )
        .await
    {
        ResponseKind::DescribeTransactions(r) => {
            let t = &r.transaction_states[0];
            (t.transaction_state.to_string(), t.producer_epoch)
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_v2_transaction_commits_bumps_the_epoch_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "t").await;
    let (pid, epoch) = init(&mut c, Some("tx")).await;
    assert_eq!(produce_txn(&mut c, "tx", "t", pid, epoch, 0).await, 0);
    assert_eq!(lso(&mut c, "t").await, 0);
    assert_eq!(describe(&mut c, "tx").await, ("Ongoing".to_string(), epoch));
    let end = EndTxnRequest::default()
        .with_transactional_id(TransactionalId(s("tx")))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(true);
    match c.call(ApiKey::EndTxn, 5, RequestKind::EndTxn(end)).await {
        ResponseKind::EndTxn(r) => {
            assert_eq!(r.error_code, 0);
            assert_eq!((r.producer_id.0, r.producer_epoch), (pid, epoch + 1));
        }
        other => panic!("unexpected {other:?}"),
    }
    // The record and its COMMIT marker are stable.
    assert_eq!(lso(&mut c, "t").await, 2);
    server.shutdown().await;

    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    assert_eq!(
        describe(&mut c, "tx").await,
        ("CompleteCommit".to_string(), epoch + 1)
    );
    assert_eq!(lso(&mut c, "t").await, 2);
    // The old epoch is fenced; the bumped one starts the next transaction.
    assert_ne!(produce_txn(&mut c, "tx", "t", pid, epoch, 1).await, 0);
    assert_eq!(produce_txn(&mut c, "tx", "t", pid, epoch + 1, 0).await, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn write_txn_markers_v2_ends_a_partitions_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create(&mut c, "m").await;
    let (pid, epoch) = init(&mut c, Some("tm")).await;
    assert_eq!(produce_txn(&mut c, "tm", "m", pid, epoch, 0).await, 0);
    assert_eq!(lso(&mut c, "m").await, 0);

    // WriteTxnMarkers v2 by hand: one ABORT marker, transaction version 2 (bumped epoch).
    let mut body = Vec::new();
    put_uvarint(&mut body, 2);
    body.put_i64(pid);
    body.put_i16(epoch + 1);
    body.put_i8(0);
    put_uvarint(&mut body, 2);
    put_compact_nullable_string(&mut body, Some("m"));
    put_uvarint(&mut body, 2);
    body.put_i32(0);
    put_uvarint(&mut body, 0);
    body.put_i32(0);
    body.put_i8(2);
    put_uvarint(&mut body, 0);
    put_uvarint(&mut body, 0);
    let mut frame = Vec::new();
    frame.put_i32(0);
    frame.put_i16(ApiKey::WriteTxnMarkers as i16);
    frame.put_i16(2);
    frame.put_i32(77);
    frame.put_i16(-1); // no client id
    put_uvarint(&mut frame, 0); // header tags
    frame.extend_from_slice(&body);
    let size = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    c.send_raw(&frame).await;
    let resp = c.read_frame().await.expect("an answer");
    // The v2 response has v1's layout.
    let (correlation, resp) = Client::decode(ApiKey::WriteTxnMarkers, 1, resp);
    assert_eq!(correlation, 77);
    match resp {
        ResponseKind::WriteTxnMarkers(r) => {
            assert_eq!(r.markers[0].topics[0].partitions[0].error_code, 0)
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(lso(&mut c, "m").await, 2);

    // The same marker again: with transaction version 2 its epoch no longer bumps, but a
    // retry of a written marker is accepted (and appended, as Kafka does: markers are not
    // deduplicated).
    c.send_raw(&frame).await;
    let resp = c.read_frame().await.expect("an answer");
    let (_, resp) = Client::decode(ApiKey::WriteTxnMarkers, 1, resp);
    match resp {
        ResponseKind::WriteTxnMarkers(r) => {
            assert_eq!(r.markers[0].topics[0].partitions[0].error_code, 0)
        }
        other => panic!("unexpected {other:?}"),
    }
    // A truncated v2 body closes only the connection that sent it.
    let mut bad = frame[..frame.len() - 3].to_vec();
    let size = (bad.len() - 4) as i32;
    bad[..4].copy_from_slice(&size.to_be_bytes());
    let mut c2 = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    c2.send_raw(&bad).await;
    assert!(c2.is_closed_by_broker().await);
    let mut c3 = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    assert_eq!(lso(&mut c3, "m").await, 3);
    server.shutdown().await;
}
