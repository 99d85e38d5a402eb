//! Reading and writing Kafka's primitive wire types in a byte slice, for the record schemas the
//! coordinators keep in internal topics (`__consumer_offsets`, `__transaction_state`) and for
//! request versions the codec crate does not know. Every length read from the input is checked
//! against the bytes actually present before anything is allocated.

use bytes::BufMut;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WireError {
    #[error("truncated: needed {needed} more bytes at position {pos}")]
    Truncated { pos: usize, needed: usize },
    #[error("invalid length {len} at position {pos}")]
    BadLength { pos: usize, len: i64 },
    #[error("string at position {pos} is not UTF-8")]
    BadString { pos: usize },
    #[error("unsigned varint at position {pos} is longer than 10 bytes")]
    BadVarint { pos: usize },
}

/// A cursor over a byte slice reading big-endian integers, (compact) strings and arrays and
/// tagged-field sections.
pub struct WireReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> WireReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated {
            pos: self.pos,
            needed: n,
        })?;
        let s = self.buf.get(self.pos..end).ok_or(WireError::Truncated {
            pos: self.pos,
            needed: end - self.buf.len().min(end),
        })?;
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub fn i8(&mut self) -> Result<i8, WireError> {
        Ok(i8::from_be_bytes(self.array()?))
    }
    pub fn i16(&mut self) -> Result<i16, WireError> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    pub fn i32(&mut self) -> Result<i32, WireError> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64, WireError> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    pub fn uvarint(&mut self) -> Result<u64, WireError> {
        let start = self.pos;
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.take(1)?[0];
            v |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(WireError::BadVarint { pos: start })
    }
    fn utf8(&self, pos: usize, b: &[u8]) -> Result<String, WireError> {
        std::str::from_utf8(b)
            .map(str::to_string)
            .map_err(|_| WireError::BadString { pos })
    }
    /// An int16-length string; -1 is null.
    pub fn nullable_string(&mut self) -> Result<Option<String>, WireError> {
        let pos = self.pos;
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let b = self.take(len as usize)?;
        self.utf8(pos, b).map(Some)
    }
    /// An int16-length string that may not be null.
    pub fn string(&mut self) -> Result<String, WireError> {
        let pos = self.pos;
        self.nullable_string()?
            .ok_or(WireError::BadLength { pos, len: -1 })
    }
    /// A compact (uvarint length + 1) string; 0 is null.
    pub fn compact_nullable_string(&mut self) -> Result<Option<String>, WireError> {
        let pos = self.pos;
        let n = self.uvarint()?;
        if n == 0 {
            return Ok(None);
        }
        let len =
            usize::try_from(n - 1).map_err(|_| WireError::BadLength { pos, len: n as i64 })?;
        let b = self.take(len)?;
        self.utf8(pos, b).map(Some)
    }
    pub fn compact_string(&mut self) -> Result<String, WireError> {
        let pos = self.pos;
        self.compact_nullable_string()?
            .ok_or(WireError::BadLength { pos, len: -1 })
    }
    /// An int32 array count; -1 is null. Bounded by the bytes left at `min_element` bytes per
    /// element.
    pub fn array_len(&mut self, min_element: usize) -> Result<Option<usize>, WireError> {
        let pos = self.pos;
        let n = self.i32()?;
        if n < 0 {
            return Ok(None);
        }
        self.bounded(pos, n as u64, min_element).map(Some)
    }
    /// A compact array count (uvarint count + 1); 0 is null. Bounded as [`array_len`](Self::array_len).
    pub fn compact_array_len(&mut self, min_element: usize) -> Result<Option<usize>, WireError> {
        let pos = self.pos;
        let n = self.uvarint()?;
        if n == 0 {
            return Ok(None);
        }
        self.bounded(pos, n - 1, min_element).map(Some)
    }
    fn bounded(&self, pos: usize, n: u64, min_element: usize) -> Result<usize, WireError> {
        let need = n.saturating_mul(min_element.max(1) as u64);
        if need > self.remaining() as u64 {
            return Err(WireError::BadLength { pos, len: n as i64 });
        }
        Ok(n as usize)
    }
    /// Skip a tagged-field section, calling `f(tag, data)` for each field.
    pub fn tagged_fields(
        &mut self,
        mut f: impl FnMut(u64, &'a [u8]) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        let n = self.uvarint()?;
        for _ in 0..n {
            let tag = self.uvarint()?;
            let pos = self.pos;
            let size = self.uvarint()?;
            let size = usize::try_from(size).map_err(|_| WireError::BadLength {
                pos,
                len: size as i64,
            })?;
            let data = self.take(size)?;
            f(tag, data)?;
        }
        Ok(())
    }
}

pub fn put_uvarint(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    b.put_u8(v as u8);
}

/// An int16-length string (`None`: -1).
pub fn put_nullable_string(b: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => b.put_i16(-1),
        Some(s) => {
            let s = &s.as_bytes()[..s.len().min(i16::MAX as usize)];
            b.put_i16(s.len() as i16);
            b.put_slice(s);
        }
    }
}

pub fn put_string(b: &mut Vec<u8>, s: &str) {
    put_nullable_string(b, Some(s));
}

/// A compact string (`None`: 0).
pub fn put_compact_nullable_string(b: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => put_uvarint(b, 0),
        Some(s) => {
            put_uvarint(b, s.len() as u64 + 1);
            b.put_slice(s.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_bounds() {
        let mut b = Vec::new();
        b.put_i16(7);
        put_string(&mut b, "abc");
        put_nullable_string(&mut b, None);
        put_compact_nullable_string(&mut b, Some("xyz"));
        put_uvarint(&mut b, 300);
        b.put_i32(2);
        b.put_i32(5);
        b.put_i32(6);
        put_uvarint(&mut b, 1); // one tagged field
        put_uvarint(&mut b, 3);
        put_uvarint(&mut b, 2);
        b.put_i16(9);
        let mut r = WireReader::new(&b);
        assert_eq!(r.i16().unwrap(), 7);
        assert_eq!(r.string().unwrap(), "abc");
        assert_eq!(r.nullable_string().unwrap(), None);
        assert_eq!(r.compact_string().unwrap(), "xyz");
        assert_eq!(r.uvarint().unwrap(), 300);
        assert_eq!(r.array_len(4).unwrap(), Some(2));
        assert_eq!((r.i32().unwrap(), r.i32().unwrap()), (5, 6));
        let mut seen = Vec::new();
        r.tagged_fields(|t, d| {
            seen.push((t, d.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![(3, vec![0, 9])]);
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn hostile_counts_are_refused_before_allocation() {
        let mut b = Vec::new();
        b.put_i32(i32::MAX);
        assert!(matches!(
            WireReader::new(&b).array_len(1),
            Err(WireError::BadLength { .. })
        ));
        let mut b = Vec::new();
        put_uvarint(&mut b, u64::MAX);
        assert!(WireReader::new(&b).compact_array_len(1).is_err());
        assert!(WireReader::new(&b).compact_nullable_string().is_err());
        assert!(WireReader::new(&[0xff; 11]).uvarint().is_err());
        assert!(WireReader::new(&[0, 5, b'a']).string().is_err());
    }
}
