//! LogManager: partition placement, listener, deletion, reload.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use sluice_storage::{LogConfig, LogManager, StorageError, TopicPartition};

#[test]
fn creates_loads_notifies_and_deletes_partitions() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let dirs = vec![a.path().to_path_buf(), b.path().to_path_buf()];
    let time = clock();
    let mgr = LogManager::open(dirs.clone(), LogConfig::default(), time.clone()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    mgr.set_high_watermark_listener(move |tp, hw| s2.lock().unwrap().push((tp.clone(), hw)));
    let tps: Vec<_> = (0..4).map(|p| TopicPartition::new("orders", p)).collect();
    for tp in &tps {
        let log = mgr.get_or_create_log(tp, None).unwrap();
        log.append_as_leader(&mut producer_batch(1, 2, 5), 0)
            .unwrap();
    }
    // Spread over both dirs.
    assert_eq!(std::fs::read_dir(a.path()).unwrap().count(), 2);
    assert_eq!(std::fs::read_dir(b.path()).unwrap().count(), 2);
    assert_eq!(seen.lock().unwrap().len(), 4);
    assert!(seen.lock().unwrap().iter().all(|(_, hw)| *hw == 2));
    assert!(mgr
        .get_or_create_log(&TopicPartition::new("../x", 0), None)
        .is_err());

    mgr.delete_log(&tps[0]).unwrap();
    assert!(mgr.get_log(&tps[0]).is_none());
    assert!(matches!(
        mgr.delete_log(&tps[0]),
        Err(StorageError::UnknownTopicPartition(_))
    ));
    mgr.shutdown().unwrap();
    drop(mgr);

    // A deletion interrupted by a crash leaves a -delete dir: removed at start-up.
    std::fs::create_dir(a.path().join("orders-9.abc-delete")).unwrap();
    let mgr = LogManager::open(dirs, LogConfig::default(), time).unwrap();
    assert!(!a.path().join("orders-9.abc-delete").exists());
    let mut logs: Vec<_> = mgr
        .all_logs()
        .iter()
        .map(|l| l.topic_partition().clone())
        .collect();
    logs.sort();
    assert_eq!(logs, tps[1..].to_vec());
    for tp in &tps[1..] {
        assert_eq!(mgr.get_log(tp).unwrap().log_end_offset(), 2);
    }
}

/// fsync-before-ack: one group-commit round per log dir covers every log of a request, with
/// either flush method; requests that need no round are answered at once, in item order.
#[test]
fn group_commit_covers_a_request_in_one_round_per_log_dir() {
    use sluice_storage::group_commit::FlushMethod;
    use sluice_storage::PartitionLog;
    use std::time::Duration;

    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let dirs = vec![a.path().to_path_buf(), b.path().to_path_buf()];
    let mgr = LogManager::open(dirs, LogConfig::default(), clock()).unwrap();
    let config = LogConfig {
        fsync_before_ack: true,
        ..LogConfig::default()
    };
    let logs: Vec<_> = (0..6)
        .map(|p| {
            mgr.get_or_create_log(&TopicPartition::new("durable", p), Some(config.clone()))
                .unwrap()
        })
        .collect();
    let sync = |items: Vec<(Arc<PartitionLog>, i64)>| {
        let (tx, rx) = std::sync::mpsc::channel();
        PartitionLog::sync_many(
            items,
            Box::new(move |r| {
                tx.send(r).unwrap();
            }),
        );
        rx.recv_timeout(Duration::from_secs(60))
            .expect("group commit answered")
    };
    for (round, method) in [FlushMethod::Syncfs, FlushMethod::Fdatasync]
        .into_iter()
        .enumerate()
    {
        mgr.set_flush_method(method);
        let mut items = Vec::new();
        for (i, log) in logs.iter().enumerate() {
            let info = log
                .append_as_leader(&mut producer_batch(i as u64, 3, 5), 0)
                .unwrap();
            assert_eq!(log.high_watermark(), info.first_offset, "{method:?}");
            items.push((log.clone(), info.last_offset));
        }
        let before = mgr.group_commit_rounds();
        let results = sync(items);
        assert_eq!(results.len(), 6);
        assert!(results.iter().all(|r| r.is_ok()), "{method:?}: {results:?}");
        assert_eq!(
            mgr.group_commit_rounds() - before,
            2,
            "{method:?}: one round per log dir"
        );
        for log in &logs {
            assert_eq!(log.high_watermark(), 3 * (round as i64 + 1), "{method:?}");
        }
    }
    // Covered already, beyond the log end: answered without a round, in order.
    let before = mgr.group_commit_rounds();
    let results = sync(vec![(logs[0].clone(), 0), (logs[1].clone(), 6)]);
    assert!(results[0].is_ok());
    assert!(matches!(
        results[1],
        Err(StorageError::SyncBeyondLogEnd {
            offset: 6,
            log_end_offset: 6,
            ..
        })
    ));
    assert_eq!(mgr.group_commit_rounds(), before);
    assert!(sync(Vec::new()).is_empty());
}
