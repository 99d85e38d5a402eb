//! Arbitrary bytes as a KRaft metadata record value or a KRaft control record: the value frame
//! (frame version, api key, version), every generated record decoder, control record keys and
//! values. Any panic, abort or oversized allocation is a finding, and so is a decoded record
//! that does not survive encode -> decode -> encode unchanged.
//!
//! The first input byte picks the decoder: even, `decode_metadata_value` on the rest; odd, a
//! control record whose key is the next 4 bytes and whose value is the rest.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_protocol::metadata::{decode_metadata_value, encode_metadata_value, ControlRecord};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let Ok(rec) = decode_metadata_value(rest) else {
            return;
        };
        // Compared as bytes: a float field may hold NaN, which is not equal to itself.
        let Ok(once) = encode_metadata_value(&rec) else {
            return;
        };
        let again = decode_metadata_value(&once).expect("an encoded record decodes");
        assert_eq!(
            encode_metadata_value(&again).expect("and encodes again"),
            once
        );
    } else {
        let (key, value) = rest.split_at(rest.len().min(4));
        let Ok(rec) = ControlRecord::decode(key, value) else {
            return;
        };
        let Ok(once) = rec.encode() else {
            return;
        };
        let again =
            ControlRecord::decode(&once.key, &once.value).expect("an encoded record decodes");
        assert_eq!(again, rec);
        assert_eq!(again.encode().expect("and encodes again"), once);
    }
});
