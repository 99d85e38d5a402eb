//! Arbitrary bytes as a produce payload or a segment slice: batch iteration, header parsing,
//! CRC, record-count checks, capped decompression and record iteration. Any panic, abort or
//! oversized allocation is a finding.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_protocol::{batch, records};

/// Decompressed records may not exceed this (the broker's cap is configurable; 1 MiB keeps the
/// fuzzer fast while still exercising the limit).
const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut scratch = Vec::new();
    for b in batch::batches(data) {
        let Ok(b) = b else { break };
        let _ = b.verify_crc();
        let _ = (b.base_offset(), b.last_offset(), b.timestamp_type(), b.is_control());
        // Validation runs on any batch that parses, even with a wrong CRC: it must be safe
        // on arbitrary record bytes.
        let _ = records::validate_records(&b, &mut scratch, LIMIT);
        for r in records::records(b.records()).take(10_000) {
            if r.is_err() {
                break;
            }
        }
    }
    let _ = batch::RecordBatch::parse_validated(data);
});
