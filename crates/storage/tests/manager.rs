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
