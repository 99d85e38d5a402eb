//! Kafka's primitive wire types as the generated metadata structs read and write them (Kafka's
//! `Readable` / `Writable` over flexible versions: compact strings, bytes and arrays, unsigned
//! varints, tagged-field sections).
//!
//! Every read checks the bytes present first; a count from the wire is checked against the
//! bytes left (at the element's smallest encoded size) before anything is allocated for it.

use super::MetadataCodecError as E;
use bytes::Bytes;
use uuid::Uuid;

/// Kafka's limit on a serialized string (`0x7fff` bytes).
pub const MAX_STRING_LEN: usize = 0x7fff;
/// The largest count or length that fits a compact (`n + 1`) unsigned varint read into a Java
/// `int`.
pub const MAX_COMPACT_LEN: usize = (i32::MAX - 1) as usize;

/// A tagged field the codec has no definition for (Kafka's `RawTaggedField`): read as bytes,
/// written back unchanged after the known tagged fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawTaggedField {
    pub tag: u32,
    pub data: Bytes,
}

/// A cursor over the bytes of one record value. Offsets in errors are absolute: they count
/// from the start of the value even inside a tagged field's sub-reader.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self::at(buf, 0)
    }

    /// A reader whose offsets in errors start at `base` (`buf` begins at that offset of the
    /// value).
    pub fn at(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    /// The offset of the next byte, from the start of the value.
    pub fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The bytes not read yet (consumed).
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        rest
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], E> {
        let truncated = E::Truncated {
            field,
            offset: self.offset(),
            needed: n,
            remaining: self.remaining(),
        };
        let end = self.pos.checked_add(n).ok_or(truncated.clone())?;
        let s = self.buf.get(self.pos..end).ok_or(truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], E> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, field)?);
        Ok(a)
    }

    pub fn bool(&mut self, field: &'static str) -> Result<bool, E> {
        Ok(self.i8(field)? != 0)
    }
    pub fn i8(&mut self, field: &'static str) -> Result<i8, E> {
        Ok(i8::from_be_bytes(self.array(field)?))
    }
    pub fn i16(&mut self, field: &'static str) -> Result<i16, E> {
        Ok(i16::from_be_bytes(self.array(field)?))
    }
    pub fn u16(&mut self, field: &'static str) -> Result<u16, E> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }
    pub fn i32(&mut self, field: &'static str) -> Result<i32, E> {
        Ok(i32::from_be_bytes(self.array(field)?))
    }
    pub fn u32(&mut self, field: &'static str) -> Result<u32, E> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }
    pub fn i64(&mut self, field: &'static str) -> Result<i64, E> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }
    pub fn f64(&mut self, field: &'static str) -> Result<f64, E> {
        Ok(f64::from_be_bytes(self.array(field)?))
    }
    pub fn uuid(&mut self, field: &'static str) -> Result<Uuid, E> {
        Ok(Uuid::from_u128(u128::from_be_bytes(self.array(field)?)))
    }

    /// An unsigned varint of at most 5 bytes whose value fits 32 bits (Kafka's
    /// `readUnsignedVarint`, which rejects a sixth byte; bits above 32 are refused here too).
    pub fn uvarint(&mut self, field: &'static str) -> Result<u32, E> {
        let offset = self.offset();
        let mut v: u32 = 0;
        for i in 0..5u32 {
            let b = self.take(1, field)?[0];
            let payload = u32::from(b & 0x7f);
            if i == 4 && (b & 0x80 != 0 || payload > 0x0f) {
                return Err(E::BadVarint { field, offset });
            }
            v |= payload << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(E::BadVarint { field, offset })
    }

    /// A compact length (`n + 1`, 0 = null), not yet checked against the bytes left.
    fn compact_len(&mut self, field: &'static str) -> Result<Option<usize>, E> {
        let n = self.uvarint(field)?;
        Ok(n.checked_sub(1).map(|n| n as usize))
    }

    fn checked_bytes(
        &mut self,
        field: &'static str,
        offset: usize,
        len: usize,
    ) -> Result<&'a [u8], E> {
        if len > self.remaining() {
            return Err(E::LengthTooLarge {
                field,
                offset,
                length: len as u64,
                remaining: self.remaining(),
            });
        }
        self.take(len, field)
    }

    /// A compact nullable string.
    pub fn nullable_string(&mut self, field: &'static str) -> Result<Option<String>, E> {
        let offset = self.offset();
        let Some(len) = self.compact_len(field)? else {
            return Ok(None);
        };
        if len > MAX_STRING_LEN {
            return Err(E::StringTooLong {
                field,
                offset,
                length: len as u64,
            });
        }
        let b = self.checked_bytes(field, offset, len)?;
        std::str::from_utf8(b)
            .map(|s| Some(s.to_owned()))
            .map_err(|_| E::InvalidUtf8 { field, offset })
    }

    /// A compact string that may not be null.
    pub fn string(&mut self, field: &'static str) -> Result<String, E> {
        let offset = self.offset();
        self.nullable_string(field)?
            .ok_or(E::UnexpectedNull { field, offset })
    }

    /// Compact nullable bytes.
    pub fn nullable_bytes(&mut self, field: &'static str) -> Result<Option<Bytes>, E> {
        let offset = self.offset();
        let Some(len) = self.compact_len(field)? else {
            return Ok(None);
        };
        let b = self.checked_bytes(field, offset, len)?;
        Ok(Some(Bytes::copy_from_slice(b)))
    }

    /// Compact bytes that may not be null.
    pub fn bytes(&mut self, field: &'static str) -> Result<Bytes, E> {
        let offset = self.offset();
        self.nullable_bytes(field)?
            .ok_or(E::UnexpectedNull { field, offset })
    }

    /// A compact nullable array whose elements take at least `min_element` bytes each; the
    /// count is checked against the bytes left before the vector is allocated.
    pub fn nullable_array<T>(
        &mut self,
        field: &'static str,
        min_element: usize,
        mut element: impl FnMut(&mut Self) -> Result<T, E>,
    ) -> Result<Option<Vec<T>>, E> {
        let offset = self.offset();
        let Some(count) = self.compact_len(field)? else {
            return Ok(None);
        };
        let needed = (count as u64).saturating_mul(min_element.max(1) as u64);
        if needed > self.remaining() as u64 {
            return Err(E::CountTooLarge {
                field,
                offset,
                count: count as u64,
                needed,
                remaining: self.remaining(),
            });
        }
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(element(self)?);
        }
        Ok(Some(out))
    }

    /// A compact array that may not be null.
    pub fn array_of<T>(
        &mut self,
        field: &'static str,
        min_element: usize,
        element: impl FnMut(&mut Self) -> Result<T, E>,
    ) -> Result<Vec<T>, E> {
        let offset = self.offset();
        self.nullable_array(field, min_element, element)?
            .ok_or(E::UnexpectedNull { field, offset })
    }

    /// The next `len` bytes as a reader of their own (a tagged field's value), with offsets
    /// that keep counting from the start of the value.
    pub fn sub(&mut self, len: u32, field: &'static str) -> Result<Reader<'a>, E> {
        let offset = self.offset();
        let b = self.checked_bytes(field, offset, len as usize)?;
        Ok(Reader::at(b, offset))
    }

    /// A tagged field's sub-reader must have been read to its end.
    pub fn finish_tagged(&self, field: &'static str, start: usize) -> Result<(), E> {
        if self.remaining() != 0 {
            return Err(E::TaggedFieldSize {
                field,
                offset: start,
                declared: self.buf.len(),
                used: self.pos,
            });
        }
        Ok(())
    }
}

pub fn put_bool(out: &mut Vec<u8>, v: bool) {
    out.push(u8::from(v));
}
pub fn put_i8(out: &mut Vec<u8>, v: i8) {
    out.extend_from_slice(&v.to_be_bytes());
}
pub fn put_i16(out: &mut Vec<u8>, v: i16) {
    out.extend_from_slice(&v.to_be_bytes());
}
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}
pub fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}
pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}
pub fn put_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_be_bytes());
}
pub fn put_uuid(out: &mut Vec<u8>, v: &Uuid) {
    out.extend_from_slice(&v.as_u128().to_be_bytes());
}

pub fn put_uvarint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A compact length `len + 1`, refused above what Kafka can read back.
fn put_compact_len(
    out: &mut Vec<u8>,
    field: &'static str,
    len: usize,
    unit: &'static str,
    max: usize,
) -> Result<(), E> {
    if len > max {
        return Err(E::TooLongToEncode {
            field,
            length: len,
            unit,
            max,
        });
    }
    // len <= MAX_COMPACT_LEN < u32::MAX.
    put_uvarint(out, len as u32 + 1);
    Ok(())
}

pub fn put_string(out: &mut Vec<u8>, field: &'static str, s: &str) -> Result<(), E> {
    put_compact_len(out, field, s.len(), "bytes", MAX_STRING_LEN)?;
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

pub fn put_nullable_string(
    out: &mut Vec<u8>,
    field: &'static str,
    s: Option<&str>,
) -> Result<(), E> {
    match s {
        None => {
            put_uvarint(out, 0);
            Ok(())
        }
        Some(s) => put_string(out, field, s),
    }
}

pub fn put_bytes(out: &mut Vec<u8>, field: &'static str, b: &[u8]) -> Result<(), E> {
    put_compact_len(out, field, b.len(), "bytes", MAX_COMPACT_LEN)?;
    out.extend_from_slice(b);
    Ok(())
}

pub fn put_nullable_bytes(
    out: &mut Vec<u8>,
    field: &'static str,
    b: Option<&[u8]>,
) -> Result<(), E> {
    match b {
        None => {
            put_uvarint(out, 0);
            Ok(())
        }
        Some(b) => put_bytes(out, field, b),
    }
}

pub fn put_array<T>(
    out: &mut Vec<u8>,
    field: &'static str,
    items: &[T],
    mut element: impl FnMut(&mut Vec<u8>, &T) -> Result<(), E>,
) -> Result<(), E> {
    put_compact_len(out, field, items.len(), "elements", MAX_COMPACT_LEN)?;
    for item in items {
        element(out, item)?;
    }
    Ok(())
}

pub fn put_nullable_array<T>(
    out: &mut Vec<u8>,
    field: &'static str,
    items: Option<&[T]>,
    element: impl FnMut(&mut Vec<u8>, &T) -> Result<(), E>,
) -> Result<(), E> {
    match items {
        None => {
            put_uvarint(out, 0);
            Ok(())
        }
        Some(items) => put_array(out, field, items, element),
    }
}

/// One known tagged field: its tag, its size, then its value as `value` writes it.
pub fn put_tagged(
    out: &mut Vec<u8>,
    field: &'static str,
    tag: u32,
    value: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    let mut buf = Vec::new();
    value(&mut buf)?;
    if buf.len() > MAX_COMPACT_LEN {
        return Err(E::TooLongToEncode {
            field,
            length: buf.len(),
            unit: "bytes",
            max: MAX_COMPACT_LEN,
        });
    }
    put_uvarint(out, tag);
    put_uvarint(out, buf.len() as u32);
    out.extend_from_slice(&buf);
    Ok(())
}

#[cfg(test)]
fn varint_len(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

/// The number of tagged fields to announce: the known ones present plus the unknown ones.
pub fn tagged_count(
    record: &'static str,
    known: u32,
    unknown: &[RawTaggedField],
) -> Result<u32, E> {
    u32::try_from(unknown.len())
        .ok()
        .and_then(|n| n.checked_add(known))
        .ok_or(E::TooLongToEncode {
            field: record,
            length: unknown.len(),
            unit: "tagged fields",
            max: u32::MAX as usize,
        })
}

/// Unknown tagged fields must come in increasing tag order without duplicates (Kafka's
/// `RawTaggedFieldWriter` refuses others) and may not reuse the tag of a field the struct
/// defines in any version (which a reader would decode as that field, or refuse).
pub fn check_unknown_tagged(
    record: &'static str,
    known_tags: &[u32],
    unknown: &[RawTaggedField],
) -> Result<(), E> {
    let mut prev: Option<u32> = None;
    for f in unknown {
        if known_tags.contains(&f.tag) {
            return Err(E::BadUnknownTaggedField {
                record,
                tag: f.tag,
                problem: "is the tag of a field the schema defines".to_string(),
            });
        }
        if let Some(p) = prev {
            if f.tag <= p {
                return Err(E::BadUnknownTaggedField {
                    record,
                    tag: f.tag,
                    problem: format!("comes after tag {p} but is not higher than it"),
                });
            }
        }
        prev = Some(f.tag);
    }
    Ok(())
}

/// The unknown tagged fields, after the known ones (Kafka writes them last).
pub fn put_unknown_tagged(
    out: &mut Vec<u8>,
    record: &'static str,
    unknown: &[RawTaggedField],
) -> Result<(), E> {
    for f in unknown {
        put_uvarint(out, f.tag);
        if f.data.len() > MAX_COMPACT_LEN {
            return Err(E::TooLongToEncode {
                field: record,
                length: f.data.len(),
                unit: "bytes in an unknown tagged field",
                max: MAX_COMPACT_LEN,
            });
        }
        put_uvarint(out, f.data.len() as u32);
        out.extend_from_slice(&f.data);
    }
    Ok(())
}

/// Refuses a version outside `lowest..=highest`.
pub fn check_version(
    record: &'static str,
    version: i16,
    lowest: i16,
    highest: i16,
) -> Result<(), E> {
    if version < lowest || version > highest {
        return Err(E::UnsupportedVersion {
            record,
            version,
            lowest,
            highest,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uvarint_round_trips_and_refuses_overlong() {
        for v in [
            0u32,
            1,
            127,
            128,
            300,
            16383,
            16384,
            u32::MAX >> 1,
            u32::MAX,
        ] {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            assert_eq!(b.len(), varint_len(v));
            let mut r = Reader::new(&b);
            assert_eq!(r.uvarint("t").unwrap(), v);
            assert_eq!(r.remaining(), 0);
        }
        // Six bytes, and a fifth byte carrying bits above 32.
        assert!(matches!(
            Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).uvarint("t"),
            Err(E::BadVarint { .. })
        ));
        assert!(matches!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x1f]).uvarint("t"),
            Err(E::BadVarint { .. })
        ));
        assert!(matches!(
            Reader::new(&[0x80]).uvarint("t"),
            Err(E::Truncated { .. })
        ));
    }

    #[test]
    fn tagged_size_is_the_plain_length() {
        let mut b = Vec::new();
        put_tagged(&mut b, "t", 3, |b| {
            put_i32(b, 7);
            Ok(())
        })
        .unwrap();
        assert_eq!(b, [3, 4, 0, 0, 0, 7]);
        let mut b = Vec::new();
        put_tagged(&mut b, "t", 300, |b| {
            b.extend_from_slice(&[0u8; 200]);
            Ok(())
        })
        .unwrap();
        assert_eq!(&b[..4], &[0xac, 0x02, 0xc8, 0x01]);
        assert_eq!(b.len(), 204);
    }

    #[test]
    fn counts_are_checked_before_allocation() {
        // 2^31 - 2 int32 elements announced, 3 bytes present.
        let mut b = Vec::new();
        put_uvarint(&mut b, i32::MAX as u32);
        b.extend_from_slice(&[0, 0, 0]);
        let err = Reader::new(&b)
            .array_of("R.F", 4, |r| r.i32("R.F"))
            .unwrap_err();
        assert!(
            matches!(
                err,
                E::CountTooLarge {
                    count: 2147483646,
                    remaining: 3,
                    ..
                }
            ),
            "{err}"
        );
        // A string longer than Kafka allows, and one longer than the bytes left.
        let mut b = Vec::new();
        put_uvarint(&mut b, 0x8001);
        assert!(matches!(
            Reader::new(&b).string("R.S"),
            Err(E::StringTooLong { .. })
        ));
        let mut b = Vec::new();
        put_uvarint(&mut b, 10);
        b.extend_from_slice(b"abc");
        assert!(matches!(
            Reader::new(&b).string("R.S"),
            Err(E::LengthTooLarge { .. })
        ));
        assert!(matches!(
            Reader::new(&[0]).string("R.S"),
            Err(E::UnexpectedNull { .. })
        ));
        assert!(matches!(
            Reader::new(&[3, 0xff, 0xfe]).string("R.S"),
            Err(E::InvalidUtf8 { .. })
        ));
    }

    #[test]
    fn unknown_tags_must_ascend_and_not_reuse_known_tags() {
        let f = |tag| RawTaggedField {
            tag,
            data: Bytes::new(),
        };
        assert!(check_unknown_tagged("R", &[0, 1], &[f(2), f(5)]).is_ok());
        assert!(check_unknown_tagged("R", &[0, 1], &[f(5), f(2)]).is_err());
        assert!(check_unknown_tagged("R", &[0, 1], &[f(2), f(2)]).is_err());
        assert!(check_unknown_tagged("R", &[0, 1], &[f(1)]).is_err());
    }

    #[test]
    fn sub_reader_offsets_are_absolute() {
        let b = [9u8, 9, 0, 0];
        let mut r = Reader::new(&b);
        r.i16("x").unwrap();
        let mut t = r.sub(2, "x").unwrap();
        assert_eq!(t.offset(), 2);
        let err = t.i32("R.F").unwrap_err();
        assert_eq!(
            err,
            E::Truncated {
                field: "R.F",
                offset: 2,
                needed: 4,
                remaining: 2
            }
        );
    }
}
