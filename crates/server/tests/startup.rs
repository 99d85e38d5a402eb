//! Start-up and shutdown: a start that fails touches no file; long-polling fetches do not hold
//! a shutdown up.

mod common;

use common::*;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{ApiKey, FetchRequest, RequestKind, ResponseKind, TopicName};
use kafka_protocol::protocol::StrBytes;
use sluice_server::network::NetworkError;
use sluice_server::server::{RunningServer, ServerError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Every file and dir under `root`: size, modification time and contents.
fn listing(root: &Path) -> BTreeMap<PathBuf, (u64, SystemTime, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::metadata(&path).unwrap();
            let contents = if meta.is_dir() {
                stack.push(path.clone());
                Vec::new()
            } else {
                std::fs::read(&path).unwrap()
            };
            out.insert(path, (meta.len(), meta.modified().unwrap(), contents));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_fails_start_up_before_any_file_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    // A data dir from an earlier run: topics with logs, checkpoints, the clean-shutdown marker.
    let server = start(dir.path(), &[]).await;
    let mut c = Client::connect(server.addr("PLAINTEXT").unwrap()).await;
    create_topic(&mut c, "kept", 3, &[]).await;
    drop(c);
    server.shutdown().await;
    let before = listing(dir.path());
    assert!(before.keys().any(|p| p.ends_with("kept-2")), "{before:?}");
    assert!(before.keys().any(|p| p.ends_with(".kafka_cleanshutdown")));

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let listeners = format!("PLAINTEXT://127.0.0.1:{port}");
    let err = RunningServer::start(config(dir.path(), &[("listeners", &listeners)]))
        .await
        .err()
        .expect("start-up fails");
    assert!(
        matches!(err, ServerError::Network(NetworkError::Bind { .. })),
        "{err}"
    );
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    let after = listing(dir.path());
    let changed: Vec<&PathBuf> = before
        .keys()
        .chain(after.keys())
        .filter(|p| before.get(*p) != after.get(*p))
        .collect();
    assert!(
        changed.is_empty(),
        "created, changed or removed: {changed:?}"
    );

    // A log dir that does not exist yet is not even created.
    let fresh = dir.path().join("fresh");
    let err = RunningServer::start(config(&fresh, &[("listeners", &listeners)])).await;
    assert!(err.is_err());
    assert!(!fresh.exists());
    drop(taken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_long_polling_fetches() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]).await;
    let addr = server.addr("PLAINTEXT").unwrap();
    let mut admin = Client::connect(addr).await;
    create_topic(&mut admin, "quiet", 1, &[]).await;
    drop(admin);
    // A fetch that would wait ten minutes for data that never comes.
    let mut c = Client::connect(addr).await;
    let req = FetchRequest::default()
        .with_max_wait_ms(600_000)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_static_str("quiet")))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    let (correlation, frame) = c.encode(ApiKey::Fetch, 12, &RequestKind::Fetch(req));
    c.send_raw(&frame).await;
    wait_until("the fetch waits in the purgatory", || {
        let watched = server.broker.purgatory.watched_partitions();
        async move { watched == 1 }
    })
    .await;
    let shutdown = tokio::spawn(server.shutdown());
    let reply = tokio::time::timeout(DEADLINE, c.read_frame())
        .await
        .expect("the long poll is answered at shutdown")
        .expect("a response");
    let (got, response) = Client::decode(ApiKey::Fetch, 12, reply);
    assert_eq!(got, correlation);
    let ResponseKind::Fetch(r) = response else {
        panic!("{response:?}")
    };
    assert_eq!(r.error_code, 0);
    assert_eq!(r.responses[0].partitions[0].error_code, 0);
    drop(c);
    tokio::time::timeout(DEADLINE, shutdown)
        .await
        .expect("shutdown ends")
        .unwrap();
}
