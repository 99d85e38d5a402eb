//! Model-based test of transactions: interleaved producers, markers, rolls, restarts and
//! crashes; the LSO, the open transactions and the `.txnindex` entries must match a model, and
//! recovery must rebuild the `.txnindex` files byte for byte.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use proptest::prelude::*;
use sluice_protocol::batch::{testing::build_batch_with, TRANSACTIONAL_BIT};
use sluice_storage::{AbortedTxn, LoadParams, LogConfig, PartitionLog, TxnMarker};

const PRODUCERS: usize = 3;
const TS: i64 = 1_700_000_000_000;

#[derive(Debug, Clone)]
enum Op {
    Data { p: usize, n: usize },
    Plain { n: usize },
    Marker { p: usize, commit: bool },
    Roll,
    Reopen,
    Crash { full: bool },
    ReadCommitted { at: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..PRODUCERS, 1usize..4).prop_map(|(p, n)| Op::Data { p, n }),
        2 => (1usize..4).prop_map(|n| Op::Plain { n }),
        4 => (0..PRODUCERS, any::<bool>()).prop_map(|(p, commit)| Op::Marker { p, commit }),
        1 => Just(Op::Roll),
        1 => Just(Op::Reopen),
        1 => any::<bool>().prop_map(|full| Op::Crash { full }),
        2 => any::<usize>().prop_map(|at| Op::ReadCommitted { at }),
    ]
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1200,
        index_interval_bytes: 128,
        segment_index_bytes: 96,
        ..LogConfig::default()
    }
}

#[derive(Default)]
struct Model {
    next: i64,
    seq: [i32; PRODUCERS],
    /// producer -> first offset of its open transaction
    open: [Option<i64>; PRODUCERS],
    aborted: Vec<AbortedTxn>,
}

impl Model {
    fn lso(&self) -> i64 {
        self.open
            .iter()
            .flatten()
            .copied()
            .min()
            .unwrap_or(self.next)
    }
    fn ongoing(&self) -> Vec<(i64, i64)> {
        let m: BTreeMap<i64, i64> = self
            .open
            .iter()
            .enumerate()
            .filter_map(|(p, f)| f.map(|f| (f, pid(p))))
            .collect();
        m.into_iter().map(|(f, p)| (p, f)).collect()
    }
}

fn pid(p: usize) -> i64 {
    1000 + p as i64
}

fn txn_index_bytes(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    files(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "txnindex"))
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

fn check(log: &PartitionLog, m: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(log.log_end_offset(), m.next);
    prop_assert_eq!(log.high_watermark(), m.next);
    prop_assert_eq!(log.last_stable_offset(), m.lso());
    prop_assert_eq!(log.ongoing_transactions(), m.ongoing());
    prop_assert_eq!(
        log.collect_aborted_transactions(0, m.next.max(1)).unwrap(),
        m.aborted.clone()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn transactions_match_model(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let reopen = |params| open(dir.path(), config(), clock(), params);
        let mut log = reopen(LoadParams::after_crash());
        let mut m = Model::default();
        for op in ops {
            match op {
                Op::Data { p, n } => {
                    let v = [b'd'; 40];
                    let values: Vec<&[u8]> = (0..n).map(|_| &v[..]).collect();
                    let mut b = build_batch_with(0, TS, &values, TRANSACTIONAL_BIT, pid(p), 0, m.seq[p]);
                    let info = log.append_as_leader(&mut b, 0).unwrap();
                    prop_assert_eq!(info.first_offset, m.next);
                    m.open[p].get_or_insert(m.next);
                    m.seq[p] += n as i32;
                    m.next += n as i64;
                }
                Op::Plain { n } => {
                    let mut b = producer_batch(n as u64, n, TS).to_vec();
                    log.append_as_leader(&mut b, 0).unwrap();
                    m.next += n as i64;
                }
                Op::Marker { p, commit } => {
                    let marker = TxnMarker {
                        producer_id: pid(p),
                        producer_epoch: 0,
                        coordinator_epoch: 1,
                        commit,
                        transaction_version: 0,
                    };
                    let at = log.append_control_marker(&marker, 0).unwrap().first_offset;
                    prop_assert_eq!(at, m.next);
                    if let Some(first) = m.open[p].take() {
                        if !commit {
                            let lso = m.open.iter().flatten().copied().min().unwrap_or(at + 1);
                            m.aborted.push(AbortedTxn {
                                producer_id: pid(p),
                                first_offset: first,
                                last_offset: at,
                                last_stable_offset: lso,
                            });
                        }
                    }
                    m.next += 1;
                }
                Op::Roll => log.roll_now().unwrap(),
                Op::Reopen => {
                    log.close().unwrap();
                    drop(log);
                    log = reopen(LoadParams { had_clean_shutdown: true, recovery_point: m.next, log_start_offset: 0 });
                }
                Op::Crash { full } => {
                    let before = txn_index_bytes(dir.path());
                    let rp = if full { 0 } else { log.recovery_point() };
                    drop(log);
                    log = reopen(LoadParams { had_clean_shutdown: false, recovery_point: rp, log_start_offset: 0 });
                    // Compare contents only (an active segment's files may be re-created).
                    prop_assert_eq!(txn_index_bytes(dir.path()), before);
                }
                Op::ReadCommitted { at } => {
                    let fetch = if m.next == 0 { 0 } else { (at % (m.next as usize + 1)) as i64 };
                    let r = log.read_committed(fetch, 1 << 20, true).unwrap();
                    prop_assert_eq!(r.last_stable_offset, m.lso());
                    let aborted = r.aborted_transactions.clone().unwrap();
                    if r.is_empty() {
                        prop_assert!(aborted.is_empty());
                    } else {
                        // Every aborted transaction with data in the range read is listed.
                        let bytes = r.clone().into_bytes();
                        let end = sluice_protocol::batch::batches(&bytes)
                            .map(|b| b.unwrap().next_offset())
                            .last()
                            .unwrap();
                        prop_assert!(end <= m.lso());
                        for t in &m.aborted {
                            if t.last_offset >= fetch && t.first_offset < end {
                                prop_assert!(aborted.contains(t), "{:?} missing from {:?}", t, aborted);
                            }
                        }
                        for t in &aborted {
                            prop_assert!(t.last_offset >= fetch);
                        }
                    }
                }
            }
            check(&log, &m)?;
        }
        // Once more after a full crash recovery, with every .txnindex deleted.
        let before = txn_index_bytes(dir.path());
        drop(log);
        for (p, _) in &before {
            std::fs::remove_file(p).unwrap();
        }
        let log = reopen(LoadParams::after_crash());
        prop_assert_eq!(txn_index_bytes(dir.path()), before);
        check(&log, &m)?;
    }
}
