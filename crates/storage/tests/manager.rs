//! LogManager: partition placement, listener, deletion, reload.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::*;
use sluice_storage::{
    LogConfig, LogManager, StorageError, TopicPartition, Uuid, PARTITION_METADATA_FILE,
};

fn id() -> Uuid {
    sluice_storage::kafka_uuid::random()
}

/// The directories in `dir` whose name ends with `suffix`.
fn dirs_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p.to_string_lossy().ends_with(suffix))
        .collect();
    out.sort();
    out
}

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
    let topic_id = id();
    for tp in &tps {
        let log = mgr.get_or_create_log(tp, topic_id, None).unwrap();
        log.append_as_leader(&mut producer_batch(1, 2, 5), 0)
            .unwrap();
    }
    // Spread over both dirs.
    assert_eq!(std::fs::read_dir(a.path()).unwrap().count(), 2);
    assert_eq!(std::fs::read_dir(b.path()).unwrap().count(), 2);
    assert_eq!(seen.lock().unwrap().len(), 4);
    assert!(seen.lock().unwrap().iter().all(|(_, hw)| *hw == 2));
    assert!(mgr
        .get_or_create_log(&TopicPartition::new("../x", 0), id(), None)
        .is_err());

    // Deleting renames (Kafka's `<topic>-<partition>.<uuid>-delete`) and removes the dir only
    // after file.delete.delay.ms.
    let dir0 = mgr.get_log(&tps[0]).unwrap().dir().to_path_buf();
    let parent = dir0.parent().unwrap().to_path_buf();
    mgr.delete_log(&tps[0]).unwrap();
    assert!(mgr.get_log(&tps[0]).is_none());
    assert!(!dir0.exists());
    let renamed = dirs_ending(&parent, "-delete");
    assert_eq!(renamed.len(), 1);
    let name = renamed[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let unique = name
        .strip_prefix("orders-0.")
        .and_then(|n| n.strip_suffix("-delete"))
        .unwrap();
    assert!(
        unique.len() == 32 && unique.bytes().all(|c| c.is_ascii_hexdigit()),
        "{name}"
    );
    assert_eq!(mgr.pending_log_deletions(), renamed);
    assert!(matches!(
        mgr.delete_log(&tps[0]),
        Err(StorageError::UnknownTopicPartition(_))
    ));
    let delay = LogConfig::default().file_delete_delay_ms;
    time.sleep(delay - 1);
    assert_eq!(mgr.delete_due_logs(), 0);
    assert!(renamed[0].exists());
    time.sleep(1);
    assert_eq!(mgr.delete_due_logs(), 1);
    assert!(!renamed[0].exists());
    assert!(mgr.pending_log_deletions().is_empty());
    mgr.shutdown().unwrap();
    drop(mgr);

    // A deletion interrupted by a crash leaves a -delete dir: queued again at start-up, removed
    // file.delete.delay.ms later, never at once.
    let left = a.path().join("orders-9.abc-delete");
    std::fs::create_dir(&left).unwrap();
    std::fs::write(left.join("00000000000000000000.log"), b"").unwrap();
    let mgr = LogManager::open(dirs, LogConfig::default(), time.clone()).unwrap();
    assert!(left.exists());
    assert_eq!(mgr.load_summary().deletions_queued, 1);
    assert_eq!(mgr.pending_log_deletions(), vec![left.clone()]);
    let mut logs: Vec<_> = mgr
        .all_logs()
        .iter()
        .map(|l| l.topic_partition().clone())
        .collect();
    logs.sort();
    assert_eq!(logs, tps[1..].to_vec());
    for tp in &tps[1..] {
        let log = mgr.get_log(tp).unwrap();
        assert_eq!(log.log_end_offset(), 2);
        assert_eq!(log.topic_id(), Some(topic_id));
    }
    assert_eq!(mgr.delete_due_logs(), 0);
    time.sleep(delay);
    assert_eq!(mgr.delete_due_logs(), 1);
    assert!(!left.exists());
}

/// Directories that are not the broker's to load or remove survive start-up untouched: Kafka's
/// `-stray` and `-future` dirs, the KRaft metadata log, names that are no partition (and a
/// `-delete` name that does not parse as Kafka's).
#[test]
fn leaves_dirs_it_does_not_own_alone() {
    let root = tempfile::tempdir().unwrap();
    let names = [
        "t-0.4f1c2a-stray",
        "t-1.4f1c2a-future",
        "__cluster_metadata-0",
        "lost+found",
        "not_a_partition",
        "t-x",
        "orders-delete",
    ];
    for n in names {
        let d = root.path().join(n);
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("00000000000000000000.log"), b"keep me").unwrap();
    }
    let time = clock();
    let mgr = LogManager::open(
        vec![root.path().to_path_buf()],
        small_config(),
        time.clone(),
    )
    .unwrap();
    assert!(mgr.all_logs().is_empty());
    let summary = mgr.load_summary().clone();
    assert_eq!(summary.partitions, 0);
    assert_eq!(summary.left_alone.len(), names.len());
    assert_eq!(summary.deletions_queued, 0);
    time.sleep(1 << 40);
    assert_eq!(mgr.delete_due_logs(), 0);
    mgr.checkpoint().unwrap();
    mgr.shutdown().unwrap();
    drop(mgr);
    for n in names {
        let d = root.path().join(n);
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "{n}: nothing added or removed"
        );
        assert_eq!(
            std::fs::read(d.join("00000000000000000000.log")).unwrap(),
            b"keep me"
        );
    }
    // The checkpoints name no such partition.
    let rp = std::fs::read_to_string(root.path().join("recovery-point-offset-checkpoint")).unwrap();
    assert_eq!(rp, "0\n0\n");
}

/// partition.metadata: written (Kafka's bytes) when a log is created with its topic id, read
/// at load; another id for the same partition is refused; a log without the file gets it
/// from the next get_or_create_log (or assign_topic_id); a damaged file stops the load with
/// an error naming it.
#[test]
fn partition_metadata_names_the_topic_id() {
    let root = tempfile::tempdir().unwrap();
    let dirs = vec![root.path().to_path_buf()];
    let time = clock();
    let tp = TopicPartition::new("orders", 0);
    let topic_id = id();
    let mgr = LogManager::open(dirs.clone(), small_config(), time.clone()).unwrap();
    let log = mgr.get_or_create_log(&tp, topic_id, None).unwrap();
    log.append_as_leader(&mut producer_batch(1, 2, 5), 0)
        .unwrap();
    let file = root.path().join("orders-0").join(PARTITION_METADATA_FILE);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!(
            "version: 0\ntopic_id: {}",
            sluice_storage::kafka_uuid::to_base64(topic_id)
        )
    );
    assert_eq!(log.topic_id(), Some(topic_id));
    // The same id again is the same log; another is an older or newer topic of that name.
    assert!(Arc::ptr_eq(
        &mgr.get_or_create_log(&tp, topic_id, None).unwrap(),
        &log
    ));
    let err = mgr.get_or_create_log(&tp, id(), None).unwrap_err();
    assert!(
        matches!(err, StorageError::InconsistentTopicId { .. }),
        "{err}"
    );
    assert_eq!(err.kafka_error_code(), 103);
    assert!(err.to_string().contains("partition.metadata"), "{err}");
    mgr.shutdown().unwrap();
    drop((log, mgr));

    let mgr = LogManager::open(dirs.clone(), small_config(), time.clone()).unwrap();
    assert_eq!(mgr.get_log(&tp).unwrap().topic_id(), Some(topic_id));
    mgr.shutdown().unwrap();
    drop(mgr);

    // An old Sluice dir: no file. Loaded without an id; the first caller that knows it writes it.
    std::fs::remove_file(&file).unwrap();
    let mgr = LogManager::open(dirs.clone(), small_config(), time.clone()).unwrap();
    let log = mgr.get_log(&tp).unwrap();
    assert_eq!(log.topic_id(), None);
    let other = id();
    log.assign_topic_id(other).unwrap();
    assert_eq!(log.topic_id(), Some(other));
    assert!(log.assign_topic_id(topic_id).is_err());
    assert_eq!(log.log_end_offset(), 2);
    mgr.shutdown().unwrap();
    drop((log, mgr));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.ends_with(&sluice_storage::kafka_uuid::to_base64(other)));

    // A damaged file: an error naming it, and nothing removed.
    std::fs::write(&file, "version: 0\ntopic_id: ???").unwrap();
    let err = LogManager::open(dirs, small_config(), time).unwrap_err();
    assert!(
        matches!(err, StorageError::CorruptPartitionMetadata { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
    assert!(root
        .path()
        .join("orders-0/00000000000000000000.log")
        .exists());
}

/// The KRaft metadata log: opened on request in the first log dir (or metadata.log.dir), with
/// Kafka's metadata topic id; not a topic partition (not in all_logs, no checkpoints); closed
/// by shutdown; left alone by a plain open.
#[test]
fn metadata_log_is_opened_apart_from_topic_partitions() {
    let root = tempfile::tempdir().unwrap();
    let dirs = vec![root.path().to_path_buf()];
    let time = clock();
    let mgr = LogManager::open(dirs.clone(), small_config(), time.clone()).unwrap();
    let meta = mgr.open_metadata_log(small_config(), None).unwrap();
    assert_eq!(meta.dir(), root.path().join("__cluster_metadata-0"));
    assert_eq!(
        meta.topic_id(),
        Some(sluice_storage::kafka_uuid::METADATA_TOPIC_ID)
    );
    assert_eq!(
        std::fs::read_to_string(meta.dir().join(PARTITION_METADATA_FILE)).unwrap(),
        "version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ"
    );
    for i in 0..20 {
        meta.append_as_leader(&mut producer_batch(i, 2, 5), 1)
            .unwrap();
    }
    assert!(Arc::ptr_eq(
        &mgr.open_metadata_log(small_config(), None).unwrap(),
        &meta
    ));
    assert!(mgr.all_logs().is_empty());
    assert!(mgr
        .get_or_create_log(&TopicPartition::new("__cluster_metadata", 0), id(), None)
        .is_err());
    let topic = mgr
        .get_or_create_log(&TopicPartition::new("orders", 0), id(), None)
        .unwrap();
    topic
        .append_as_leader(&mut producer_batch(1, 2, 5), 0)
        .unwrap();
    mgr.shutdown().unwrap();
    drop((meta, topic, mgr));
    for file in [
        "recovery-point-offset-checkpoint",
        "log-start-offset-checkpoint",
        "replication-offset-checkpoint",
    ] {
        let text = std::fs::read_to_string(root.path().join(file)).unwrap();
        assert_eq!(text.lines().nth(1), Some("1"), "{file}: {text}");
        assert!(text.contains("orders 0 "), "{file}: {text}");
    }

    let mgr = LogManager::open(dirs, small_config(), time).unwrap();
    assert_eq!(mgr.all_logs().len(), 1);
    assert_eq!(
        mgr.load_summary().left_alone,
        vec![root.path().join("__cluster_metadata-0")]
    );
    let meta = mgr.open_metadata_log(small_config(), None).unwrap();
    assert_eq!(meta.log_end_offset(), 40);
    assert_eq!(read_all(&meta).len(), 20);

    // metadata.log.dir elsewhere.
    let other = tempfile::tempdir().unwrap();
    let mgr2 = LogManager::open(vec![other.path().join("data")], small_config(), clock()).unwrap();
    let meta2 = mgr2
        .open_metadata_log(small_config(), Some(&other.path().join("meta")))
        .unwrap();
    assert_eq!(meta2.dir(), other.path().join("meta/__cluster_metadata-0"));
}

/// replication-offset-checkpoint holds each log's high watermark (what Kafka reads at start).
#[test]
fn high_watermarks_are_checkpointed() {
    let root = tempfile::tempdir().unwrap();
    let mgr = LogManager::open(vec![root.path().to_path_buf()], small_config(), clock()).unwrap();
    for p in 0..2 {
        let log = mgr
            .get_or_create_log(&TopicPartition::new("hw", p), id(), None)
            .unwrap();
        for i in 0..=p as u64 {
            log.append_as_leader(&mut producer_batch(i, 3, 5), 0)
                .unwrap();
        }
    }
    mgr.checkpoint().unwrap();
    let text = std::fs::read_to_string(root.path().join("replication-offset-checkpoint")).unwrap();
    assert_eq!(text, "0\n2\nhw 0 3\nhw 1 6\n");
}

/// A LogManager dropped without shutdown (a start-up that failed after opening the logs) leaves
/// no index at its pre-allocated size: the next start finds every index valid.
#[test]
fn dropped_manager_leaves_indexes_at_their_real_size() {
    let root = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_index_bytes: 64 * 1024,
        ..small_config()
    };
    let dirs = vec![root.path().to_path_buf()];
    let mgr = LogManager::open(dirs.clone(), config.clone(), clock()).unwrap();
    for p in 0..3 {
        let log = mgr
            .get_or_create_log(&TopicPartition::new("idx", p), id(), None)
            .unwrap();
        for i in 0..30 {
            log.append_as_leader(&mut producer_batch(i, 2, 5), 0)
                .unwrap();
        }
    }
    drop(mgr);
    let mut checked = 0;
    for p in 0..3 {
        for entry in std::fs::read_dir(root.path().join(format!("idx-{p}"))).unwrap() {
            let path = entry.unwrap().path();
            let ext = path.extension().map(|e| e.to_string_lossy().to_string());
            let entry_size = match ext.as_deref().unwrap_or("") {
                "index" => 8,
                "timeindex" => 12,
                _ => continue,
            };
            let len = std::fs::metadata(&path).unwrap().len();
            assert!(len < 4096, "{} is {len} bytes", path.display());
            assert_eq!(len % entry_size, 0, "{}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 6);
    // No marker: recovered as after a crash, but no index needed rebuilding.
    let mgr = LogManager::open(dirs, config, clock()).unwrap();
    let s = mgr.load_summary();
    assert_eq!(s.unclean_dirs.len(), 1);
    assert_eq!(s.indexes_rebuilt, 0, "{s:?}");
    assert_eq!(s.partitions, 3);
    for log in mgr.all_logs() {
        assert_eq!(read_all(&log).len(), 30);
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
            mgr.get_or_create_log(
                &TopicPartition::new("durable", p),
                id(),
                Some(config.clone()),
            )
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

#[test]
fn a_stray_log_is_set_aside_and_never_deleted() {
    let d = tempfile::tempdir().unwrap();
    let time = clock();
    let mgr = LogManager::open(
        vec![d.path().to_path_buf()],
        LogConfig::default(),
        time.clone(),
    )
    .unwrap();
    let tp = TopicPartition::new("old", 0);
    let log = mgr.get_or_create_log_in(&tp, id(), None, None).unwrap();
    log.append_as_leader(&mut producer_batch(1, 3, 1_000), 0)
        .unwrap();
    let renamed = mgr.mark_stray(&tp).unwrap();
    assert!(mgr.get_log(&tp).is_none());
    assert_eq!(dirs_ending(d.path(), "-stray"), vec![renamed.clone()]);
    assert!(!d.path().join("old-0").exists());
    // Nothing removes it, and a new start leaves it where it is.
    time.sleep(365 * 24 * 3_600_000);
    assert_eq!(mgr.delete_due_logs(), 0);
    drop(mgr);
    let mgr = LogManager::open(vec![d.path().to_path_buf()], LogConfig::default(), time).unwrap();
    assert!(mgr.get_log(&tp).is_none());
    assert_eq!(dirs_ending(d.path(), "-stray"), vec![renamed.clone()]);
    assert!(renamed.join("00000000000000000000.log").is_file());
}
