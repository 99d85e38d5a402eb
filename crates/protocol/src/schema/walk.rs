//! The table-driven walk over a message body. See the module docs of [`crate::schema`].
//!
//! Positions are absolute offsets into the body; every step is bounded by an `end` that is
//! either the body length or the end of the enclosing tagged field. No arithmetic on values
//! from the wire can overflow: lengths are compared with the remaining byte count before any
//! position moves.

use super::table::{Field, Message, Ty};
use super::SchemaError;
use crate::ApiKey;
use thiserror::Error;

/// The deepest struct nesting the walker follows. Kafka's message schemas nest at most five
/// levels (tagged fields count as one more); anything deeper is a table error.
pub const MAX_DEPTH: usize = 16;

/// The name used in errors about a struct's tagged-field section.
const TAGGED_SECTION: &str = "<tagged fields>";

/// What was wrong with a field.
#[derive(Debug, Clone, Copy, Error, PartialEq, Eq)]
pub enum Problem {
    #[error("needs {need} bytes but {remaining} remain")]
    Truncated { need: usize, remaining: usize },
    #[error("length {len} exceeds the {remaining} bytes remaining")]
    LengthTooLarge { len: u64, remaining: usize },
    #[error("array count {count} (of {elem_size}-byte elements) exceeds the {remaining} bytes remaining")]
    CountTooLarge {
        count: u64,
        elem_size: usize,
        remaining: usize,
    },
    #[error("negative length {len}")]
    NegativeLength { len: i32 },
    #[error("null, but the field is not nullable in this version")]
    UnexpectedNull,
    #[error("malformed unsigned varint")]
    BadVarint,
    #[error("nullable struct presence marker {marker} (expected 1 or -1)")]
    BadPresenceMarker { marker: i8 },
    #[error("tagged field {tag} declares {declared} bytes but its value takes {used}")]
    TaggedSizeMismatch {
        tag: u32,
        declared: usize,
        used: usize,
    },
    #[error("struct nesting deeper than {max}")]
    TooDeep { max: usize },
}

/// Walk `body` as `message` at `version`; returns the offset after the last field.
pub fn walk_message(
    message: &Message,
    api: ApiKey,
    version: i16,
    body: &[u8],
) -> Result<usize, SchemaError> {
    let walker = Walker {
        buf: body,
        message: message.name,
        api,
        version,
        flexible: message.flexible.contains(version),
        #[cfg(test)]
        trace: None,
    };
    walker.walk_struct(message.fields, 0, body.len(), 0)
}

/// Where the walk read a length or count, for tests that corrupt exactly those bytes.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// A big-endian `int16` length at this offset.
    I16(usize),
    /// A big-endian `int32` length or count at this offset.
    I32(usize),
    /// An unsigned varint (compact length, tagged count or size) at `offset`, `width` bytes.
    Varint { offset: usize, width: usize },
}

/// [`walk_message`], also recording every length and count it read.
#[cfg(test)]
pub fn walk_message_traced(
    message: &Message,
    api: ApiKey,
    version: i16,
    body: &[u8],
    trace: &std::cell::RefCell<Vec<Site>>,
) -> Result<usize, SchemaError> {
    let walker = Walker {
        buf: body,
        message: message.name,
        api,
        version,
        flexible: message.flexible.contains(version),
        trace: Some(trace),
    };
    walker.walk_struct(message.fields, 0, body.len(), 0)
}

struct Walker<'a> {
    buf: &'a [u8],
    /// The schema's name (`FetchRequest`, `FetchResponse`, ...), for errors.
    message: &'static str,
    api: ApiKey,
    version: i16,
    flexible: bool,
    #[cfg(test)]
    trace: Option<&'a std::cell::RefCell<Vec<Site>>>,
}

/// What a length prefix said.
enum Len {
    Null,
    Some(usize),
}

impl Walker<'_> {
    #[cfg(test)]
    fn record(&self, site: Site) {
        if let Some(trace) = self.trace {
            trace.borrow_mut().push(site);
        }
    }

    #[cfg(test)]
    fn unrecord(&self) {
        if let Some(trace) = self.trace {
            trace.borrow_mut().pop();
        }
    }

    fn err(&self, field: &'static str, offset: usize, problem: Problem) -> SchemaError {
        SchemaError::Field {
            message: self.message,
            api: self.api,
            version: self.version,
            field,
            offset,
            problem,
        }
    }

    /// `n` bytes at `pos`, which must end by `end`.
    fn take<const N: usize>(
        &self,
        field: &'static str,
        pos: usize,
        end: usize,
    ) -> Result<[u8; N], SchemaError> {
        let remaining = end.saturating_sub(pos);
        let truncated = || self.err(field, pos, Problem::Truncated { need: N, remaining });
        if remaining < N {
            return Err(truncated());
        }
        self.buf
            .get(pos..pos + N)
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .ok_or_else(truncated)
    }

    /// An unsigned varint of at most 5 bytes whose value fits in 32 bits.
    fn uvarint(
        &self,
        field: &'static str,
        pos: usize,
        end: usize,
    ) -> Result<(u32, usize), SchemaError> {
        let mut value: u32 = 0;
        let mut p = pos;
        for i in 0..5u32 {
            let [b] = self.take::<1>(field, p, end)?;
            p += 1;
            if i == 4 && b > 0x0f {
                return Err(self.err(field, pos, Problem::BadVarint));
            }
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                #[cfg(test)]
                self.record(Site::Varint {
                    offset: pos,
                    width: p - pos,
                });
                return Ok((value, p));
            }
        }
        Err(self.err(field, pos, Problem::BadVarint))
    }

    /// A length prefix: compact (uvarint, 0 = null, else n - 1) or `int16` / `int32` (-1 = null).
    fn length(
        &self,
        field: &'static str,
        compact: bool,
        wide: bool,
        nullable: bool,
        pos: usize,
        end: usize,
    ) -> Result<(Len, usize), SchemaError> {
        let (len, next) = if compact {
            let (n, next) = self.uvarint(field, pos, end)?;
            match n.checked_sub(1) {
                None => (Len::Null, next),
                Some(len) => (Len::Some(len as usize), next),
            }
        } else {
            #[cfg(test)]
            self.record(if wide { Site::I32(pos) } else { Site::I16(pos) });
            let (n, next) = if wide {
                (
                    i32::from_be_bytes(self.take::<4>(field, pos, end)?),
                    pos + 4,
                )
            } else {
                (
                    i32::from(i16::from_be_bytes(self.take::<2>(field, pos, end)?)),
                    pos + 2,
                )
            };
            match n {
                -1 => (Len::Null, next),
                n if n < -1 => {
                    return Err(self.err(field, pos, Problem::NegativeLength { len: n }))
                }
                n => (Len::Some(n as usize), next),
            }
        };
        if matches!(len, Len::Null) && !nullable {
            return Err(self.err(field, pos, Problem::UnexpectedNull));
        }
        Ok((len, next))
    }

    /// Walk the fields of a struct (not tagged ones), then its tagged-field section in flexible
    /// versions.
    fn walk_struct(
        &self,
        fields: &'static [Field],
        mut pos: usize,
        end: usize,
        depth: usize,
    ) -> Result<usize, SchemaError> {
        if depth > MAX_DEPTH {
            let name = fields.first().map_or("<struct>", |f| f.name);
            return Err(self.err(name, pos, Problem::TooDeep { max: MAX_DEPTH }));
        }
        let v = self.version;
        for f in fields {
            if !f.versions.contains(v) || (self.flexible && f.tagged.contains(v)) {
                continue;
            }
            let compact = f.flexible.map_or(self.flexible, |fv| fv.contains(v));
            pos = self.walk_value(
                f.name,
                f.ty,
                f.nullable.contains(v),
                compact,
                pos,
                end,
                depth,
            )?;
        }
        if self.flexible {
            pos = self.walk_tagged(fields, pos, end, depth)?;
        }
        Ok(pos)
    }

    /// The tagged-field section: count, then per field tag, size and `size` bytes.
    fn walk_tagged(
        &self,
        fields: &'static [Field],
        pos: usize,
        end: usize,
        depth: usize,
    ) -> Result<usize, SchemaError> {
        let v = self.version;
        let (count, mut pos) = self.uvarint(TAGGED_SECTION, pos, end)?;
        let remaining = end.saturating_sub(pos);
        // Each tagged field takes at least two bytes (tag and size).
        if u64::from(count) * 2 > remaining as u64 {
            return Err(self.err(
                TAGGED_SECTION,
                pos,
                Problem::CountTooLarge {
                    count: u64::from(count),
                    elem_size: 2,
                    remaining,
                },
            ));
        }
        for _ in 0..count {
            let (tag, p) = self.uvarint(TAGGED_SECTION, pos, end)?;
            // A tag is a name, not a length: corrupting it is not a length test.
            #[cfg(test)]
            self.unrecord();
            let (size, p) = self.uvarint(TAGGED_SECTION, p, end)?;
            let remaining = end.saturating_sub(p);
            let size = size as usize;
            if size > remaining {
                return Err(self.err(
                    TAGGED_SECTION,
                    p,
                    Problem::LengthTooLarge {
                        len: size as u64,
                        remaining,
                    },
                ));
            }
            let field_end = p + size;
            let known = fields
                .iter()
                .find(|f| f.tag == tag && f.tagged.contains(v) && f.versions.contains(v));
            if let Some(f) = known {
                let used_end = self.walk_value(
                    f.name,
                    f.ty,
                    f.nullable.contains(v),
                    true,
                    p,
                    field_end,
                    depth,
                )?;
                if used_end != field_end {
                    return Err(self.err(
                        f.name,
                        p,
                        Problem::TaggedSizeMismatch {
                            tag,
                            declared: size,
                            used: used_end - p,
                        },
                    ));
                }
            }
            pos = field_end;
        }
        Ok(pos)
    }

    /// Walk one value of type `ty`; returns the position after it.
    #[allow(clippy::too_many_arguments)]
    fn walk_value(
        &self,
        name: &'static str,
        ty: Ty,
        nullable: bool,
        compact: bool,
        pos: usize,
        end: usize,
        depth: usize,
    ) -> Result<usize, SchemaError> {
        if let Some(size) = ty.fixed_size() {
            let remaining = end.saturating_sub(pos);
            if size > remaining {
                return Err(self.err(
                    name,
                    pos,
                    Problem::Truncated {
                        need: size,
                        remaining,
                    },
                ));
            }
            return Ok(pos + size);
        }
        match ty {
            Ty::String | Ty::Bytes | Ty::Records => {
                let wide = !matches!(ty, Ty::String);
                let (len, next) = self.length(name, compact, wide, nullable, pos, end)?;
                match len {
                    Len::Null => Ok(next),
                    Len::Some(len) => {
                        let remaining = end.saturating_sub(next);
                        if len > remaining {
                            return Err(self.err(
                                name,
                                pos,
                                Problem::LengthTooLarge {
                                    len: len as u64,
                                    remaining,
                                },
                            ));
                        }
                        Ok(next + len)
                    }
                }
            }
            Ty::Struct(fields) => {
                if nullable {
                    let [marker] = self.take::<1>(name, pos, end)?;
                    match marker as i8 {
                        1 => self.walk_struct(fields, pos + 1, end, depth + 1),
                        -1 => Ok(pos + 1),
                        marker => Err(self.err(name, pos, Problem::BadPresenceMarker { marker })),
                    }
                } else {
                    self.walk_struct(fields, pos, end, depth + 1)
                }
            }
            Ty::Array(elem) => {
                let start = pos;
                let (len, mut pos) = self.length(name, compact, true, nullable, pos, end)?;
                let Len::Some(count) = len else {
                    return Ok(pos);
                };
                let remaining = end.saturating_sub(pos);
                let elem_size = elem.fixed_size().unwrap_or(1);
                if (count as u64).saturating_mul(elem_size as u64) > remaining as u64 {
                    return Err(self.err(
                        name,
                        start,
                        Problem::CountTooLarge {
                            count: count as u64,
                            elem_size,
                            remaining,
                        },
                    ));
                }
                if elem.fixed_size().is_some() {
                    return Ok(pos + count * elem_size);
                }
                for _ in 0..count {
                    pos = self.walk_value(name, *elem, false, compact, pos, end, depth)?;
                }
                Ok(pos)
            }
            // Fixed-size types returned above.
            _ => Ok(pos),
        }
    }
}
