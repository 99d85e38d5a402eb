//! Kafka's textual form of UUIDs (topic ids, cluster ids, directory ids): URL-safe base64 of the
//! 16 bytes, without padding (22 characters), as `org.apache.kafka.common.Uuid` prints them.

use uuid::Uuid;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Kafka's `Uuid.METADATA_TOPIC_ID` (`AAAAAAAAAAAAAAAAAAAAAQ`): the topic id of the KRaft
/// metadata log `__cluster_metadata`.
pub const METADATA_TOPIC_ID: Uuid = Uuid::from_u128(1);

pub fn to_base64(id: Uuid) -> String {
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize] as char);
        }
    }
    out
}

/// Parse Kafka's form (`Uuid.fromString`): 22 characters of URL-safe base64, or 24 with the
/// `==` padding Java's decoder also accepts.
pub fn from_base64(s: &str) -> Option<Uuid> {
    let s = match s.len() {
        22 => s,
        24 => s.strip_suffix("==")?,
        _ => return None,
    };
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = Vec::with_capacity(16);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Uuid::from_slice(&out).ok()
}

/// A new random id, avoiding the two ids Kafka reserves (all-zero and METADATA_TOPIC_ID
/// `AAAAAAAAAAAAAAAAAAAAAQ`) and ids whose text starts with '-' (Kafka avoids those too).
pub fn random() -> Uuid {
    loop {
        let id = Uuid::new_v4();
        let reserved = id.as_u128() <= 1;
        if !reserved && !to_base64(id).starts_with('-') {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_known_value() {
        assert_eq!(to_base64(METADATA_TOPIC_ID), "AAAAAAAAAAAAAAAAAAAAAQ");
        for _ in 0..100 {
            let id = random();
            assert_eq!(from_base64(&to_base64(id)), Some(id));
        }
        assert_eq!(from_base64("short"), None);
        assert_eq!(from_base64("!AAAAAAAAAAAAAAAAAAAAA"), None);
        assert_eq!(
            from_base64("AAAAAAAAAAAAAAAAAAAAAQ=="),
            Some(METADATA_TOPIC_ID)
        );
        assert_eq!(from_base64("AAAAAAAAAAAAAAAAAAAAAQ=A"), None);
    }
}
