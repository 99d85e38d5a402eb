//! Random values for the round-trip tests: the generated `arbitrary(g, version)` of every struct
//! draws its fields from a [`Gen`] seeded by proptest, so a failing case is reproducible from
//! its seed.

use super::codec::RawTaggedField;
use bytes::Bytes;
use uuid::Uuid;

/// A small deterministic generator (splitmix64).
pub struct Gen {
    state: u64,
}

impl Gen {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Mostly the values codecs get wrong (0, -1, the extremes), otherwise anything.
    fn edgy(&mut self, edges: &[i64]) -> i64 {
        if self.below(3) == 0 {
            edges[self.below(edges.len() as u64) as usize]
        } else {
            self.next() as i64
        }
    }

    pub fn bool(&mut self) -> bool {
        self.below(2) == 1
    }
    pub fn i8(&mut self) -> i8 {
        self.edgy(&[0, -1, 1, i8::MIN.into(), i8::MAX.into()]) as i8
    }
    pub fn i16(&mut self) -> i16 {
        self.edgy(&[0, -1, 1, i16::MIN.into(), i16::MAX.into()]) as i16
    }
    pub fn u16(&mut self) -> u16 {
        self.edgy(&[0, 1, u16::MAX.into()]) as u16
    }
    pub fn i32(&mut self) -> i32 {
        self.edgy(&[0, -1, -2, 1, i32::MIN.into(), i32::MAX.into()]) as i32
    }
    #[allow(dead_code)] // no schema has a uint32 field today
    pub fn u32(&mut self) -> u32 {
        self.edgy(&[0, 1, u32::MAX.into()]) as u32
    }
    pub fn i64(&mut self) -> i64 {
        self.edgy(&[0, -1, 1, i64::MIN, i64::MAX])
    }
    /// Finite, so that equality holds after a round trip.
    pub fn f64(&mut self) -> f64 {
        match self.below(4) {
            0 => 0.0,
            1 => -1.5,
            2 => f64::MAX,
            _ => (self.next() as i64 as f64) / 1024.0,
        }
    }
    pub fn uuid(&mut self) -> Uuid {
        if self.below(4) == 0 {
            Uuid::nil()
        } else {
            Uuid::from_u64_pair(self.next(), self.next())
        }
    }
    pub fn string(&mut self) -> String {
        const CHARS: &[char] = &['a', 'Z', '0', '.', '-', '_', ' ', 'é', '✓', '𝄞'];
        let len = self.below(10);
        (0..len)
            .map(|_| CHARS[self.below(CHARS.len() as u64) as usize])
            .collect()
    }
    pub fn bytes(&mut self) -> Bytes {
        let len = self.below(9);
        (0..len).map(|_| self.next() as u8).collect()
    }
    pub fn vec<T>(&mut self, mut f: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let len = self.below(4);
        (0..len).map(|_| f(self)).collect()
    }
    pub fn option<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.below(4) == 0 {
            None
        } else {
            Some(f(self))
        }
    }
    /// Zero to two unknown tagged fields: increasing tags, none a tag the struct defines.
    pub fn unknown_tagged_fields(&mut self, known: &[u32]) -> Vec<RawTaggedField> {
        let mut tags: Vec<u32> = (0..self.below(3))
            .map(|_| {
                if self.below(8) == 0 {
                    // A tag that needs a multi-byte varint.
                    200 + self.below(100_000) as u32
                } else {
                    self.below(40) as u32
                }
            })
            .filter(|t| !known.contains(t))
            .collect();
        tags.sort_unstable();
        tags.dedup();
        tags.into_iter()
            .map(|tag| RawTaggedField {
                tag,
                data: self.bytes(),
            })
            .collect()
    }
}
