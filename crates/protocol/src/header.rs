//! The request header, decoded by our own code.
//!
//! Layout (v1): api_key int16, api_version int16, correlation_id int32, client_id nullable
//! string (int16 length). v2 adds a tagged-field section. Which header version a request uses
//! depends on its API key and version (flexible versions use v2).
//!
//! Every length is checked against the bytes present; nothing here panics or allocates by a
//! length read from the wire.

use crate::ApiKey;
use thiserror::Error;

/// The decoded header of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
}

/// A header that cannot be read. Without a header there is nothing to answer; the connection
/// is closed.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("request header is truncated: {len} bytes, need at least {need}")]
    Truncated { len: usize, need: usize },
    #[error("request header client_id length {len} is invalid")]
    BadClientIdLength { len: i16 },
    #[error("request header tagged fields are malformed")]
    BadTaggedFields,
}

/// Only the fixed 8-byte prefix: enough to route an error response (api key, version,
/// correlation id) even when the rest of the header is malformed.
pub fn peek_prefix(frame: &[u8]) -> Option<(i16, i16, i32)> {
    let b = frame.get(..8)?;
    Some((
        i16::from_be_bytes([b[0], b[1]]),
        i16::from_be_bytes([b[2], b[3]]),
        i32::from_be_bytes([b[4], b[5], b[6], b[7]]),
    ))
}

/// The request header version for `api_key` at `api_version`, as Kafka defines it.
pub fn request_header_version(api_key: ApiKey, api_version: i16) -> i16 {
    api_key.request_header_version(api_version)
}

/// Decode the header at the start of `frame`. Returns the header and the offset where the body
/// starts. `header_version` is 1 or 2 (0 has no client id; no API we serve uses it).
pub fn decode(frame: &[u8], header_version: i16) -> Result<(RequestHeader, usize), HeaderError> {
    let (api_key, api_version, correlation_id) =
        peek_prefix(frame).ok_or(HeaderError::Truncated {
            len: frame.len(),
            need: 8,
        })?;
    let mut pos = 8;
    let mut client_id = None;
    if header_version >= 1 {
        let len_bytes = frame.get(pos..pos + 2).ok_or(HeaderError::Truncated {
            len: frame.len(),
            need: pos + 2,
        })?;
        let len = i16::from_be_bytes([len_bytes[0], len_bytes[1]]);
        pos += 2;
        if len < -1 {
            return Err(HeaderError::BadClientIdLength { len });
        }
        if len >= 0 {
            let end = pos + len as usize;
            let s = frame.get(pos..end).ok_or(HeaderError::Truncated {
                len: frame.len(),
                need: end,
            })?;
            client_id = Some(String::from_utf8_lossy(s).into_owned());
            pos = end;
        }
    }
    if header_version >= 2 {
        pos = skip_tagged_fields(frame, pos).ok_or(HeaderError::BadTaggedFields)?;
    }
    Ok((
        RequestHeader {
            api_key,
            api_version,
            correlation_id,
            client_id,
        },
        pos,
    ))
}

/// Read an unsigned varint at `pos`; returns (value, new position).
pub fn read_uvarint(buf: &[u8], mut pos: usize) -> Option<(u32, usize)> {
    let mut value: u32 = 0;
    for shift in (0..35).step_by(7) {
        let b = *buf.get(pos)?;
        pos += 1;
        value |= u32::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some((value, pos));
        }
    }
    None
}

/// Skip a tagged-field section (count, then tag/size/bytes per field) starting at `pos`.
pub fn skip_tagged_fields(buf: &[u8], pos: usize) -> Option<usize> {
    let (count, mut pos) = read_uvarint(buf, pos)?;
    for _ in 0..count {
        let (_tag, p) = read_uvarint(buf, pos)?;
        let (size, p) = read_uvarint(buf, p)?;
        let end = p.checked_add(size as usize)?;
        if end > buf.len() {
            return None;
        }
        pos = end;
    }
    Some(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_v1(client: Option<&str>) -> Vec<u8> {
        let mut v = vec![0, 3, 0, 12, 0, 0, 0, 7];
        match client {
            Some(c) => {
                v.extend_from_slice(&(c.len() as i16).to_be_bytes());
                v.extend_from_slice(c.as_bytes());
            }
            None => v.extend_from_slice(&(-1i16).to_be_bytes()),
        }
        v
    }

    #[test]
    fn decodes_v1_and_v2() {
        let mut f = header_v1(Some("rdkafka"));
        let (h, pos) = decode(&f, 1).unwrap();
        assert_eq!(h.api_key, 3);
        assert_eq!(h.api_version, 12);
        assert_eq!(h.correlation_id, 7);
        assert_eq!(h.client_id.as_deref(), Some("rdkafka"));
        assert_eq!(pos, f.len());
        f.extend_from_slice(&[1, 5, 2, 0xaa, 0xbb]);
        let (_, pos) = decode(&f, 2).unwrap();
        assert_eq!(pos, f.len());
        let (h, _) = decode(&header_v1(None), 1).unwrap();
        assert_eq!(h.client_id, None);
    }

    #[test]
    fn rejects_short_and_bad_lengths() {
        for n in 0..8 {
            assert!(matches!(
                decode(&[0u8; 8][..n], 1),
                Err(HeaderError::Truncated { .. })
            ));
        }
        let mut f = header_v1(None);
        f[8..10].copy_from_slice(&i16::MIN.to_be_bytes());
        assert_eq!(
            decode(&f, 1),
            Err(HeaderError::BadClientIdLength { len: -32768 })
        );
        let mut f = header_v1(Some("ab"));
        f.truncate(f.len() - 1);
        assert!(matches!(decode(&f, 1), Err(HeaderError::Truncated { .. })));
        let mut f = header_v1(Some("ab"));
        f.extend_from_slice(&[1, 5, 200]); // tagged field claims 200 bytes
        assert_eq!(decode(&f, 2), Err(HeaderError::BadTaggedFields));
    }

    #[test]
    fn uvarint_rejects_overlong() {
        assert_eq!(read_uvarint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01], 0), None);
        assert_eq!(read_uvarint(&[0xff, 0x01], 0), Some((255, 2)));
    }
}
