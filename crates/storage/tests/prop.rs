//! Property test: random sequences of append / read / roll / close+reopen / crash keep offsets
//! dense and contents byte-identical to what was acknowledged.

mod common;

use std::path::Path;

use common::*;
use proptest::prelude::*;
use sluice_protocol::batch::{self, RecordBatch};
use sluice_storage::{LoadParams, LogConfig, PartitionLog};

#[derive(Debug, Clone)]
enum Op {
    /// Batches of (records, tag) in one produce payload.
    Append(Vec<(usize, u64)>),
    Read {
        at: usize,
        max_bytes: usize,
        min_one: bool,
    },
    Roll,
    Reopen,
    Crash {
        from_recovery_point: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec((1usize..6, any::<u64>()), 1..4).prop_map(Op::Append),
        3 => (any::<usize>(), 0usize..2000, any::<bool>())
            .prop_map(|(at, max_bytes, min_one)| Op::Read { at, max_bytes, min_one }),
        1 => Just(Op::Roll),
        1 => Just(Op::Reopen),
        1 => any::<bool>().prop_map(|from_recovery_point| Op::Crash { from_recovery_point }),
    ]
}

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 1500,
        index_interval_bytes: 128,
        segment_index_bytes: 64,
        ..LogConfig::default()
    }
}

fn reopen(dir: &Path, params: LoadParams) -> PartitionLog {
    open(dir, config(), clock(), params)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn log_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = reopen(dir.path(), LoadParams::after_crash());
        // The model: every acknowledged batch as stored (offsets assigned), in order.
        let mut model: Vec<Vec<u8>> = Vec::new();
        let mut next = 0i64;
        for op in ops {
            match op {
                Op::Append(batches) => {
                    let mut payload = bytes::BytesMut::new();
                    for (n, tag) in &batches {
                        payload.extend_from_slice(&producer_batch(*tag, *n, 1000 + (*tag % 100) as i64));
                    }
                    let info = log.append_as_leader(&mut payload, 1).unwrap();
                    prop_assert_eq!(info.first_offset, next);
                    for b in batch::batches(&payload) {
                        let b = b.unwrap();
                        prop_assert_eq!(b.base_offset(), next);
                        next = b.next_offset();
                        model.push(b.as_bytes().to_vec());
                    }
                    prop_assert_eq!(info.last_offset, next - 1);
                }
                Op::Read { at, max_bytes, min_one } => {
                    let offset = if next == 0 { 0 } else { (at % (next as usize + 1)) as i64 };
                    let info = log.read(offset, max_bytes, min_one, None).unwrap();
                    prop_assert_eq!(info.log_end_offset, next);
                    let got = info.into_bytes();
                    if offset == next {
                        prop_assert!(got.is_empty());
                        continue;
                    }
                    // The model batch holding `offset`, then its successors.
                    let i = model.iter().position(|b| RecordBatch::parse(b).unwrap().last_offset() >= offset).unwrap();
                    let mut expected = Vec::new();
                    for b in &model[i..] {
                        if expected.len() + b.len() > max_bytes && !(expected.is_empty() && min_one) {
                            break;
                        }
                        expected.extend_from_slice(b);
                    }
                    // Reads may stop early at a segment boundary but always return a prefix of
                    // whole batches, and at least the first one when min_one.
                    prop_assert!(expected.starts_with(&got), "read is a prefix of the model");
                    if min_one {
                        prop_assert!(got.len() >= model[i].len());
                    }
                }
                Op::Roll => log.roll_now().unwrap(),
                Op::Reopen => {
                    log.close().unwrap();
                    drop(log);
                    log = reopen(dir.path(), LoadParams { had_clean_shutdown: true, recovery_point: next, log_start_offset: 0 });
                }
                Op::Crash { from_recovery_point } => {
                    let rp = if from_recovery_point { log.recovery_point() } else { 0 };
                    drop(log);
                    log = reopen(dir.path(), LoadParams { had_clean_shutdown: false, recovery_point: rp, log_start_offset: 0 });
                }
            }
            prop_assert_eq!(log.log_end_offset(), next);
        }
        prop_assert_eq!(read_all(&log), model.clone());
        // And once more from disk after a crash.
        drop(log);
        let log = reopen(dir.path(), LoadParams::after_crash());
        prop_assert_eq!(read_all(&log), model);
    }
}
