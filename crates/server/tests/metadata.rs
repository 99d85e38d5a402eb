//! The cluster metadata across restarts: what the metadata log keeps, the one-time migration of
//! the files Sluice kept before it, and the rule that nothing on disk is removed that the broker
//! did not itself decide to remove — a partition directory the metadata does not account for,
//! or a data dir without metadata, stops the start-up and is left as it was.

mod common;

use common::*;
use sluice_protocol::batch::testing::build_batch;
use sluice_server::broker::{Broker, StartError};
use sluice_server::controller::replication;
use sluice_server::server::ServerError;
use sluice_storage::{LogConfig, LogManager, SystemTime, TopicPartition};
use std::path::Path;
use std::sync::Arc;

fn append(broker: &Broker, topic: &str, partition: i32, values: &[&[u8]]) {
    let log = broker.log(topic, partition).expect("partition");
    let mut batch = build_batch(0, 1_700_000_000_000, values);
    log.append_as_leader(&mut batch, log.leader_epoch())
        .unwrap();
}

fn start_error(dir: &Path) -> StartError {
    match Broker::open(config(dir, &[])) {
        Ok(_) => panic!("start-up should fail"),
        Err(e) => e,
    }
}

/// Every directory under `root` (relative), sorted.
fn dirs(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_configs_and_producer_ids_survive_restarts_in_the_metadata_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create_topic(&mut c, "a", 3, &[("retention.ms", "12345")]).await;
    append(&server.broker, "a", 1, &[b"x", b"y"]);
    let id = server.broker.image().topics.get("a").unwrap().id;
    let first_pid = server.broker.producer_ids.generate().unwrap();
    server.shutdown().await;
    assert!(dir.path().join("__cluster_metadata-0").is_dir());
    assert!(!dir.path().join("sluice-topics.toml").exists());

    let server = start(dir.path(), &[]).await;
    let image = server.broker.image();
    let a = image.topics.get("a").unwrap();
    assert_eq!((a.id, a.partition_count()), (id, 3));
    assert_eq!(
        image
            .configs
            .topic("a")
            .get("retention.ms")
            .map(String::as_str),
        Some("12345")
    );
    assert_eq!(server.broker.log("a", 1).unwrap().log_end_offset(), 2);
    // The next id comes from a new block: never one handed out before the restart.
    let next_pid = server.broker.producer_ids.generate().unwrap();
    assert!(next_pid >= first_pid + 1000, "{first_pid} then {next_pid}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_from_before_the_metadata_log_is_migrated_once() {
    let dir = tempfile::tempdir().unwrap();
    // What Sluice wrote before: a partition log without partition.metadata, and the registry,
    // dynamic configs and producer-id block in their own files.
    {
        let logs = LogManager::open(
            vec![dir.path().to_path_buf()],
            LogConfig::default(),
            Arc::new(SystemTime),
        )
        .unwrap();
        let tp = TopicPartition::new("old", 1);
        let log = logs
            .get_or_create_log(&tp, sluice_storage::kafka_uuid::random(), None)
            .unwrap();
        log.maybe_assign_epoch_start_offset(0).unwrap();
        log.append_as_leader(&mut build_batch(0, 1_700_000_000_000, &[b"v"]), 0)
            .unwrap();
        logs.shutdown().unwrap();
        std::fs::remove_file(dir.path().join("old-1/partition.metadata")).unwrap();
    }
    std::fs::write(
        dir.path().join("sluice-topics.toml"),
        "version = 1\n[[topic]]\nname = \"old\"\nid = \"AAAAAAAAAAAAAAAAAAAABw\"\npartitions = 2\nreplication_factor = 1\n[topic.configs]\n\"cleanup.policy\" = \"compact\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sluice-broker-configs.toml"),
        "version = 1\n[cluster_default]\n\"log.retention.ms\" = \"7200000\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("sluice-producer-id-block"), "5000").unwrap();
    std::fs::write(
        dir.path().join("meta.properties"),
        "#\n#Written by Sluice\nnode.id=1\ndirectory.id=7ZwbIb0dQlaDFsB1vxw_8g\nversion=1\ncluster.id=vNdu4pD9SAypHqL6BxCk1Q\n",
    )
    .unwrap();

    let server = start(dir.path(), &[]).await;
    let image = server.broker.image();
    let old = image.topics.get("old").unwrap();
    assert_eq!(
        sluice_storage::kafka_uuid::to_base64(old.id),
        "AAAAAAAAAAAAAAAAAAAABw"
    );
    assert_eq!(old.partition_count(), 2);
    assert_eq!(old.partition(1).unwrap().leader_epoch, 0);
    assert_eq!(server.broker.log("old", 1).unwrap().log_end_offset(), 1);
    assert_eq!(
        server.broker.log("old", 1).unwrap().topic_id(),
        Some(old.id)
    );
    assert!(
        server.broker.log("old", 0).is_some(),
        "the missing partition is created"
    );
    assert_eq!(
        image
            .configs
            .topic("old")
            .get("cleanup.policy")
            .map(String::as_str),
        Some("compact")
    );
    assert_eq!(
        server
            .broker
            .dynamic()
            .cluster_default
            .get("log.retention.ms")
            .map(String::as_str),
        Some("7200000")
    );
    assert!(server.broker.producer_ids.generate().unwrap() >= 5000);
    for f in [
        "sluice-topics.toml",
        "sluice-broker-configs.toml",
        "sluice-producer-id-block",
    ] {
        assert!(!dir.path().join(f).exists(), "{f} no longer used");
        assert!(
            dir.path().join(format!("{f}.migrated")).exists(),
            "{f} kept"
        );
    }
    server.shutdown().await;
    // Once only: the next start reads the metadata log.
    let server = start(dir.path(), &[]).await;
    assert_eq!(server.broker.image().topics.get("old").unwrap().id, old.id);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_directory_the_metadata_does_not_know_stops_the_start_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create_topic(&mut c, "known", 1, &[]).await;
    server.shutdown().await;
    // A partition of a topic the metadata never had (copied in, or from another cluster).
    {
        let logs = LogManager::open(
            vec![dir.path().to_path_buf()],
            LogConfig::default(),
            Arc::new(SystemTime),
        )
        .unwrap();
        let log = logs
            .get_or_create_log(
                &TopicPartition::new("ghost", 0),
                sluice_storage::kafka_uuid::random(),
                None,
            )
            .unwrap();
        log.maybe_assign_epoch_start_offset(0).unwrap();
        log.append_as_leader(&mut build_batch(0, 1_700_000_000_000, &[b"keep me"]), 0)
            .unwrap();
        logs.shutdown().unwrap();
    }
    let ghost = std::fs::read(dir.path().join("ghost-0/00000000000000000000.log")).unwrap();
    let err = start_error(dir.path());
    assert!(
        matches!(err, StartError::UnknownPartitionDirs { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("ghost-0") && text.contains("move"), "{text}");
    assert_eq!(
        std::fs::read(dir.path().join("ghost-0/00000000000000000000.log")).unwrap(),
        ghost,
        "left as it was"
    );
    // A directory of a known topic whose partition.metadata names another topic (a topic of
    // the same name deleted and created again elsewhere) is unknown too.
    std::fs::remove_dir_all(dir.path().join("ghost-0")).unwrap();
    sluice_storage::PartitionMetadataFile::new(&dir.path().join("known-0"))
        .write(sluice_storage::kafka_uuid::random())
        .unwrap();
    let err = start_error(dir.path());
    assert!(err.to_string().contains("known-0"), "{err}");
    assert!(dir.path().join("known-0").is_dir());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_directories_without_any_metadata_stop_the_start_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    // (The records are stamped 2023: no retention may remove them while the broker runs.)
    create_topic(&mut c, "data", 2, &[("retention.ms", "-1")]).await;
    append(&server.broker, "data", 0, &[b"v"]);
    server.shutdown().await;
    // The metadata log is lost (moved away, a volume mounted without it).
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::rename(
        dir.path().join("__cluster_metadata-0"),
        elsewhere.path().join("__cluster_metadata-0"),
    )
    .unwrap();
    let before = dirs(dir.path());
    let err = start_error(dir.path());
    assert!(matches!(err, StartError::MissingMetadata { .. }), "{err}");
    assert!(err.to_string().contains("data-"), "{err}");
    let mut after = dirs(dir.path());
    after.retain(|d| d != "__cluster_metadata-0");
    assert_eq!(after, before, "no partition directory removed");
    assert!(
        std::fs::metadata(dir.path().join("data-0/00000000000000000000.log"))
            .unwrap()
            .len()
            > 0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_the_metadata_log_records_is_finished_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create_topic(&mut c, "gone", 2, &[]).await;
    create_topic(&mut c, "kept", 1, &[]).await;
    // The broker stops between the RemoveTopicRecord and the directories' `-delete` rename.
    let id = server.broker.image().topics.get("gone").unwrap().id;
    server
        .broker
        .controller()
        .unwrap()
        .commit_records(vec![replication::remove_topic_record(id)])
        .unwrap();
    server.shutdown().await;
    assert!(dir.path().join("gone-0").is_dir());

    let server = start(dir.path(), &[]).await;
    assert!(server.broker.image().topics.get("gone").is_none());
    let names = dirs(dir.path());
    assert!(
        !names.iter().any(|d| d == "gone-0" || d == "gone-1"),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .filter(|d| d.starts_with("gone-") && d.ends_with("-delete"))
            .count()
            == 2,
        "renamed for deletion: {names:?}"
    );
    assert!(server.broker.log("kept", 0).is_some());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_that_fails_on_the_metadata_is_reported_by_the_server() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("orphan-0")).unwrap();
    std::fs::write(dir.path().join("orphan-0/00000000000000000000.log"), b"").unwrap();
    let err = sluice_server::server::RunningServer::start(config(dir.path(), &[]))
        .await
        .err()
        .expect("start-up fails");
    assert!(matches!(err, ServerError::Start(_)), "{err}");
    assert!(err.to_string().contains("orphan-0"), "{err}");
    assert!(dir.path().join("orphan-0").is_dir());
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Every file under `root` (absolute paths), sorted.
fn files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// Each file the broker keeps, deleted, corrupted in its middle, or cut in half, in turn: the
/// broker either starts with every partition and every acknowledged record (whatever it
/// rebuilt) or stops with an error that names what is wrong; no partition directory is ever
/// removed. (A topic's own segment files are left out: damage there is truncated by recovery,
/// as Kafka does, which tests/recovery.rs covers.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_of_the_broker_deleted_or_damaged_in_turn() {
    let pristine = tempfile::tempdir().unwrap();
    {
        let server = start(pristine.path(), &[]).await;
        let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
        create_topic(&mut c, "a", 2, &[("retention.ms", "-1")]).await;
        create_topic(&mut c, "b", 1, &[("cleanup.policy", "compact")]).await;
        append(&server.broker, "a", 0, &[b"1", b"2", b"3"]);
        append(&server.broker, "a", 1, &[b"4"]);
        append(&server.broker, "b", 0, &[b"5", b"6"]);
        server.broker.producer_ids.generate().unwrap();
        server.broker.controller().unwrap().snapshot().unwrap();
        // One more change after the snapshot.
        create_topic(&mut c, "c", 1, &[]).await;
        append(&server.broker, "c", 0, &[b"7"]);
        server.shutdown().await;
    }
    let ends = [("a", 0, 3), ("a", 1, 1), ("b", 0, 2), ("c", 0, 1)];
    let partition_dirs = ["a-0", "a-1", "b-0", "c-0"];
    let is_topic_segment = |p: &Path| {
        let parent = p
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        partition_dirs.contains(&parent.as_str()) && p.extension().is_some_and(|e| e == "log")
    };
    let mut started = 0;
    let mut refused = 0;
    for file in files(pristine.path()) {
        if is_topic_segment(&file) {
            continue;
        }
        let rel = file.strip_prefix(pristine.path()).unwrap().to_path_buf();
        for action in ["delete", "corrupt", "truncate"] {
            let work = tempfile::tempdir().unwrap();
            copy_tree(pristine.path(), work.path());
            let target = work.path().join(&rel);
            let bytes = std::fs::read(&target).unwrap();
            match action {
                "delete" => std::fs::remove_file(&target).unwrap(),
                "corrupt" if !bytes.is_empty() => {
                    let mut b = bytes.clone();
                    let mid = b.len() / 2;
                    for x in &mut b[mid..(mid + 8).min(bytes.len())] {
                        *x ^= 0x5a;
                    }
                    std::fs::write(&target, &b).unwrap();
                }
                "truncate" if !bytes.is_empty() => {
                    std::fs::write(&target, &bytes[..bytes.len() / 2]).unwrap()
                }
                _ => continue,
            }
            let what = format!("{action} {}", rel.display());
            match Broker::open(config(work.path(), &[])) {
                Ok(broker) => {
                    started += 1;
                    for (t, p, end) in ends {
                        let log = broker
                            .log(t, p)
                            .unwrap_or_else(|| panic!("{what}: {t}-{p} missing"));
                        assert_eq!(log.log_end_offset(), end, "{what}: {t}-{p}");
                    }
                    broker.shutdown().unwrap();
                }
                Err(e) => {
                    refused += 1;
                    let text = e.to_string();
                    let name = rel.file_name().unwrap().to_string_lossy().into_owned();
                    let parent = rel
                        .parent()
                        .and_then(|p| p.file_name())
                        .map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    assert!(
                        text.contains(&name)
                            || (!parent.is_empty() && text.contains(&parent))
                            || partition_dirs.iter().any(|d| text.contains(d)),
                        "{what}: the error names nothing relevant: {text}"
                    );
                }
            }
            for d in partition_dirs {
                assert!(work.path().join(d).is_dir(), "{what}: {d} removed");
            }
        }
    }
    assert!(
        started > 0 && refused > 0,
        "started {started}, refused {refused}"
    );
}
