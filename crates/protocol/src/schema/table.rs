//! The shapes of the generated schema tables (see `generated.rs`, written by
//! `crates/protocol/schema-gen/gen.py`).

/// Open upper bound of a version range (`"3+"` in the JSON schemas).
pub const MAX: i16 = i16::MAX;

/// An inclusive version range. [`NONE`] contains no version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V(pub i16, pub i16);

/// The empty version range (`"none"`, or an absent `nullableVersions` / `taggedVersions`).
pub const NONE: V = V(1, 0);

impl V {
    /// Whether `version` is in this range.
    pub const fn contains(self, version: i16) -> bool {
        self.0 <= version && version <= self.1
    }

    /// Whether the range has no version at all.
    pub const fn is_empty(self) -> bool {
        self.0 > self.1
    }
}

/// A field type as the schemas name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Bool,
    Int8,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    Float64,
    Uuid,
    String,
    Bytes,
    /// A record set; in requests and responses alike it is carried (and decoded by
    /// `kafka-protocol`) as nullable bytes.
    Records,
    /// A nested struct (inline or from `commonStructs`), with its own fields.
    Struct(&'static [Field]),
    /// `[]T`.
    Array(&'static Ty),
}

impl Ty {
    /// The wire size of a fixed-size type, `None` for variable-size ones.
    pub const fn fixed_size(self) -> Option<usize> {
        match self {
            Ty::Bool | Ty::Int8 => Some(1),
            Ty::Int16 | Ty::UInt16 => Some(2),
            Ty::Int32 | Ty::UInt32 => Some(4),
            Ty::Int64 | Ty::Float64 => Some(8),
            Ty::Uuid => Some(16),
            Ty::String | Ty::Bytes | Ty::Records | Ty::Struct(_) | Ty::Array(_) => None,
        }
    }
}

/// One field of a struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The schema's name for the field, used in error messages.
    pub name: &'static str,
    pub ty: Ty,
    /// Versions in which the field exists.
    pub versions: V,
    /// Versions in which it may be null.
    pub nullable: V,
    /// Versions in which it is a tagged field (then it lives in the tagged-field section).
    pub tagged: V,
    /// Its tag, meaningful only where `tagged` is not empty.
    pub tag: u32,
    /// A field-level override of the message's flexible versions (the header's ClientId).
    pub flexible: Option<V>,
}

impl Field {
    pub const fn new(name: &'static str, ty: Ty, versions: V) -> Field {
        Field {
            name,
            ty,
            versions,
            nullable: NONE,
            tagged: NONE,
            tag: 0,
            flexible: None,
        }
    }

    pub const fn nullable(mut self, versions: V) -> Field {
        self.nullable = versions;
        self
    }

    pub const fn tagged(mut self, versions: V, tag: u32) -> Field {
        self.tagged = versions;
        self.tag = tag;
        self
    }

    pub const fn flexible(mut self, versions: V) -> Field {
        self.flexible = Some(versions);
        self
    }
}

/// One message schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// The API key (-1 for the request and response headers).
    pub api_key: i16,
    pub name: &'static str,
    /// `validVersions`; [`NONE`] for messages Kafka no longer accepts.
    pub valid: V,
    /// `flexibleVersions`.
    pub flexible: V,
    pub fields: &'static [Field],
}
