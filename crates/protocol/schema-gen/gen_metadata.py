#!/usr/bin/env python3
"""Generate crates/protocol/src/metadata/generated.rs from Apache Kafka's KRaft record schemas.

The schemas (JSON with // comments, Apache-2.0) ship inside two jars:
  - org.apache.kafka:kafka-metadata:4.3.1, common/metadata/*.json: the metadata records of the
    __cluster_metadata log (RegisterBrokerRecord, TopicRecord, PartitionRecord, ...);
  - org.apache.kafka:kafka-clients:4.3.1, common/message/: the KRaft control records
    LeaderChangeMessage, SnapshotHeaderRecord, SnapshotFooterRecord, KRaftVersionRecord and
    VotersRecord.
By default both jars are fetched with Maven into a temporary directory:

    mvn dependency:copy -Dartifact=org.apache.kafka:kafka-metadata:4.3.1 -DoutputDirectory=DIR

Usage:
    python3 gen_metadata.py                        # fetch the jars with mvn, write generated.rs
    python3 gen_metadata.py --jar A.jar --jar B.jar  # use jars you already have
    python3 gen_metadata.py --check                # exit 1 if generated.rs is not what this writes

For every record and every nested struct it writes a Rust struct (fields in snake_case, Default
giving each field the schema's default) with `read`/`write` following Kafka's generated
Message.read/write: compact strings, bytes and arrays, tagged fields written only when they
differ from their default (in tag order, unknown ones last), unknown tagged fields kept, and a
non-default value of a field the target version lacks refused on write. Only what these schemas
use is supported (every version flexible; nullableVersions and taggedVersions equal to
versions); anything else stops the script with an error rather than generating wrong code.

Python 3 standard library only. The output depends only on the jars' contents, so running the
script twice gives identical output.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # importing gen.py must not leave a __pycache__ behind
sys.path.insert(0, HERE)
from gen import SchemaError, parse_versions, strip_comments  # noqa: E402

KAFKA_VERSION = "4.3.1"
METADATA_ARTIFACT = "org.apache.kafka:kafka-metadata:" + KAFKA_VERSION
CLIENTS_ARTIFACT = "org.apache.kafka:kafka-clients:" + KAFKA_VERSION
OUT = os.path.normpath(os.path.join(HERE, "..", "src", "metadata", "generated.rs"))

METADATA_DIR = "common/metadata/"
# The KRaft control records, in ControlRecordType order (LEADER_CHANGE 2 ... KRAFT_VOTERS 6).
CONTROL_MESSAGES = [
    "LeaderChangeMessage",
    "SnapshotHeaderRecord",
    "SnapshotFooterRecord",
    "KRaftVersionRecord",
    "VotersRecord",
]
CONTROL_DIR = "common/message/"

# type name -> (Rust type, Reader method / put_ suffix, wire size)
PRIMITIVES = {
    "bool": ("bool", "bool", 1),
    "int8": ("i8", "i8", 1),
    "int16": ("i16", "i16", 2),
    "uint16": ("u16", "u16", 2),
    "int32": ("i32", "i32", 4),
    "uint32": ("u32", "u32", 4),
    "int64": ("i64", "i64", 8),
    "float64": ("f64", "f64", 8),
}
INT_RANGES = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
}
RUST_KEYWORDS = set(
    "as break const continue crate else enum extern false fn for if impl in let loop match mod "
    "move mut pub ref return self static struct super trait true type unsafe use where while "
    "async await dyn abstract become box do final macro override priv typeof unsized virtual "
    "yield try".split()
)
KNOWN_KEYS = {
    "name", "type", "versions", "nullableVersions", "taggedVersions", "tag", "default", "about",
    "fields", "entityType", "mapKey", "ignorable",
}


def snake_case(name):
    """Kafka's MessageGenerator.toSnakeCase: an underscore before an upper-case letter that
    follows a lower-case one (KRaftVersionFeature -> kraft_version_feature)."""
    out = []
    prev_upper = True
    for c in name:
        if c.isupper():
            if not prev_upper:
                out.append("_")
            out.append(c.lower())
            prev_upper = True
        else:
            out.append(c)
            prev_upper = False
    s = "".join(out)
    if s in RUST_KEYWORDS:
        s = "r#" + s
    return s


def rust_str(s):
    return json.dumps(s, ensure_ascii=False)


class Ty:
    """A field type: kind is prim, string, bytes, uuid, array or struct."""

    def __init__(self, kind, prim=None, elem=None, struct=None):
        self.kind = kind
        self.prim = prim
        self.elem = elem
        self.struct = struct  # Struct

    def rust(self):
        if self.kind == "prim":
            return PRIMITIVES[self.prim][0]
        if self.kind == "string":
            return "String"
        if self.kind == "bytes":
            return "Bytes"
        if self.kind == "uuid":
            return "Uuid"
        if self.kind == "array":
            return "Vec<%s>" % self.elem.rust()
        return self.struct.rust_name

    def min_size(self, version):
        if self.kind == "prim":
            return PRIMITIVES[self.prim][2]
        if self.kind == "uuid":
            return 16
        if self.kind in ("string", "bytes", "array"):
            return 1
        return self.struct.min_size(version)

    def has_float(self):
        if self.kind == "prim":
            return self.prim == "float64"
        if self.kind == "array":
            return self.elem.has_float()
        if self.kind == "struct":
            return self.struct.has_float()
        return False


class Field:
    def __init__(self, struct, spec, msg):
        self.spec = spec
        self.name = spec["name"]
        self.label = "%s.%s" % (struct.label, self.name)
        what = self.label
        unknown = set(spec) - KNOWN_KEYS
        if unknown:
            raise SchemaError("%s: unsupported schema keys %s" % (what, sorted(unknown)))
        self.rust = snake_case(self.name)
        self.about = spec.get("about", "")
        self.versions = parse_versions(spec.get("versions"), what)
        if self.versions is None:
            raise SchemaError("%s: field without versions" % what)
        nullable = parse_versions(spec.get("nullableVersions"), what)
        tagged = parse_versions(spec.get("taggedVersions"), what)
        if nullable is not None and nullable != self.versions:
            raise SchemaError("%s: nullableVersions %r differ from versions: not supported" % (what, nullable))
        if tagged is not None and tagged != self.versions:
            raise SchemaError("%s: taggedVersions %r differ from versions: not supported" % (what, tagged))
        self.nullable = nullable is not None
        self.tagged = tagged is not None
        self.tag = spec.get("tag")
        if self.tagged and not isinstance(self.tag, int):
            raise SchemaError("%s: taggedVersions without tag" % what)
        if not self.tagged and self.tag is not None:
            raise SchemaError("%s: tag without taggedVersions" % what)
        self.ignorable = bool(spec.get("ignorable", False))
        self.ty = msg.field_type(struct, spec)
        if self.nullable and self.ty.kind not in ("string", "bytes", "array"):
            raise SchemaError("%s: nullable %s fields are not supported" % (what, self.ty.kind))
        self.default = self.parse_default(spec.get("default"))

    def parse_default(self, d):
        """None for null, else the default's Python value ('' / [] for the empty ones)."""
        what = self.label
        t = self.ty
        if isinstance(d, (bool, int, float)):
            d = json.dumps(d)
        if t.kind == "prim":
            if t.prim == "bool":
                if d in (None, ""):
                    return False
                if d not in ("true", "false"):
                    raise SchemaError("%s: bad bool default %r" % (what, d))
                return d == "true"
            if t.prim == "float64":
                if d in (None, ""):
                    return 0.0
                try:
                    return float(d)
                except ValueError:
                    raise SchemaError("%s: bad float64 default %r" % (what, d))
            if d in (None, ""):
                return 0
            m = re.fullmatch(r"(-?)0[xX]([0-9a-fA-F]+)", d)
            try:
                v = int(m.group(1) + m.group(2), 16) if m else int(d, 10)
            except ValueError:
                raise SchemaError("%s: bad integer default %r" % (what, d))
            lo, hi = INT_RANGES[t.prim]
            if not lo <= v <= hi:
                raise SchemaError("%s: default %d out of range for %s" % (what, v, t.prim))
            return v
        if d == "null":
            if not self.nullable:
                raise SchemaError("%s: null default for a non-nullable field" % what)
            return None
        if t.kind == "string":
            return d or ""
        if t.kind == "uuid":
            if d not in (None, ""):
                raise SchemaError("%s: non-empty uuid defaults are not supported" % what)
            return ""
        if d not in (None, ""):
            raise SchemaError("%s: only null or empty defaults are allowed for %s" % (what, t.kind))
        return ""

    # ---- Rust expressions ----
    def rust_type(self):
        inner = self.ty.rust()
        return "Option<%s>" % inner if self.nullable else inner

    def default_expr(self):
        t = self.ty
        d = self.default
        if t.kind == "prim":
            if t.prim == "bool":
                return "true" if d else "false"
            if t.prim == "float64":
                return repr(float(d))
            return str(d)
        if d is None:
            return "None"
        if t.kind == "string":
            inner = "String::new()" if d == "" else "%s.to_string()" % rust_str(d)
        elif t.kind == "bytes":
            inner = "Bytes::new()"
        elif t.kind == "uuid":
            inner = "Uuid::nil()"
        elif t.kind == "array":
            inner = "Vec::new()"
        else:
            inner = "%s::default()" % t.struct.rust_name
        return "Some(%s)" % inner if self.nullable else inner

    def non_default_expr(self):
        """A Rust bool: the field holds something other than its default."""
        t = self.ty
        f = "self.%s" % self.rust
        d = self.default
        if t.kind == "prim":
            if t.prim == "float64":
                return "%s.to_bits() != %s_f64.to_bits()" % (f, repr(float(d)))
            if t.prim == "bool":
                return f if not d else "!%s" % f
            return "%s != %s" % (f, d)
        if d is None:
            return "%s.is_some()" % f
        if t.kind == "string" and d != "":
            if self.nullable:
                return "%s.as_deref() != Some(%s)" % (f, rust_str(d))
            return "%s != %s" % (f, rust_str(d))
        if t.kind == "struct":
            if self.nullable:
                return "%s.as_ref() != Some(&%s::default())" % (f, t.struct.rust_name)
            return "%s != %s::default()" % (f, t.struct.rust_name)
        test = "is_nil" if t.kind == "uuid" else "is_empty"
        if self.nullable:
            return "%s.as_ref().is_none_or(|v| !v.%s())" % (f, test)
        return "!%s.%s()" % (f, test)


class Struct:
    def __init__(self, msg, name, about):
        self.msg = msg
        self.name = name
        self.rust_name = name
        self.about = about
        self.label = msg.name if name == msg.name else "%s.%s" % (msg.name, name)
        self.fields = []

    def build(self, specs):
        seen = set()
        for spec in specs:
            f = Field(self, spec, self.msg)
            if f.name in seen:
                raise SchemaError("%s: duplicate field" % f.label)
            seen.add(f.name)
            self.fields.append(f)
        tags = [f.tag for f in self.fields if f.tagged]
        if len(tags) != len(set(tags)):
            raise SchemaError("%s: duplicate tags %r" % (self.label, tags))
        return self

    def known_tags(self):
        return sorted(f.tag for f in self.fields if f.tagged)

    def min_size(self, version):
        n = 1  # the tagged-field count
        for f in self.fields:
            if f.tagged or not self.msg.has(f.versions, version):
                continue
            n += f.ty.min_size(version)
        return n

    def min_size_all(self):
        return min(self.min_size(v) for v in self.msg.version_list())

    def has_float(self):
        return any(f.ty.has_float() for f in self.fields)


class Message:
    def __init__(self, schema, source, kind):
        self.schema = schema
        self.source = source
        self.kind = kind  # "metadata" or "control"
        self.name = schema["name"]
        self.api_key = schema.get("apiKey")
        self.valid = parse_versions(schema.get("validVersions"), self.name)
        if self.valid is None or self.valid[1] == "MAX":
            raise SchemaError("%s: unsupported validVersions %r" % (self.name, schema.get("validVersions")))
        flexible = parse_versions(schema.get("flexibleVersions"), self.name)
        if flexible is None or flexible[0] > self.valid[0]:
            raise SchemaError("%s: versions that are not flexible are not supported" % self.name)
        self.common = {cs["name"]: cs for cs in schema.get("commonStructs", [])}
        self.structs = []  # nested structs, in order of first use
        self.struct_by_name = {}
        self.top = None

    def version_list(self):
        return list(range(self.valid[0], self.valid[1] + 1))

    def has(self, versions, v):
        lo, hi = versions
        return v >= lo and (hi == "MAX" or v <= hi)

    def cond(self, versions):
        """A Rust condition on `version` for a version range, or None if it holds for every
        valid version of the message, or 'false' if for none."""
        present = [v for v in self.version_list() if self.has(versions, v)]
        if len(present) == len(self.version_list()):
            return None
        if not present:
            return "false"
        lo, hi = versions
        parts = []
        if lo > self.valid[0]:
            parts.append("version >= %d" % lo)
        if hi != "MAX" and hi < self.valid[1]:
            parts.append("version <= %d" % hi)
        return " && ".join(parts)

    def field_type(self, struct, spec):
        t = spec["type"]
        what = "%s.%s" % (struct.label, spec.get("name"))
        is_array = t.startswith("[]")
        base = t[2:] if is_array else t
        if base in PRIMITIVES:
            inner = Ty("prim", prim=base)
        elif base in ("string", "bytes", "uuid"):
            inner = Ty(base)
        elif base == "records":
            raise SchemaError("%s: records fields are not supported" % what)
        else:
            if "fields" in spec:
                sub = spec["fields"]
                about = spec.get("about", "")
            elif base in self.common:
                sub = self.common[base]["fields"]
                about = self.common[base].get("about", "")
            else:
                raise SchemaError("%s: unknown struct type %r" % (what, base))
            inner = Ty("struct", struct=self.nested(base, sub, about))
        if "fields" in spec and inner.kind != "struct":
            raise SchemaError("%s: primitive type with fields" % what)
        return Ty("array", elem=inner) if is_array else inner

    def nested(self, name, specs, about):
        """The nested struct `name`, built on first use (registered before its own nested
        structs, so they follow it in the output)."""
        if name in self.struct_by_name:
            return self.struct_by_name[name]
        s = Struct(self, name, about)
        self.struct_by_name[name] = s
        self.structs.append(s)
        return s.build(specs)

    def build(self):
        self.top = Struct(self, self.name, "").build(self.schema.get("fields", []))


def load(jars):
    """Read the schemas from whichever of the jars holds them."""
    metadata, control = [], {}
    for jar in jars:
        with zipfile.ZipFile(jar) as z:
            for n in sorted(z.namelist()):
                if not n.endswith(".json"):
                    continue
                base = os.path.basename(n)[: -len(".json")]
                if os.path.dirname(n) + "/" == METADATA_DIR:
                    metadata.append((n, z.read(n).decode("utf-8")))
                elif os.path.dirname(n) + "/" == CONTROL_DIR and base in CONTROL_MESSAGES:
                    control[base] = (n, z.read(n).decode("utf-8"))
    if not metadata:
        raise SchemaError("no %s*.json in %s" % (METADATA_DIR, ", ".join(jars)))
    missing = [m for m in CONTROL_MESSAGES if m not in control]
    if missing:
        raise SchemaError("%s not found in %s" % (", ".join(missing), ", ".join(jars)))

    def parse(n, text):
        try:
            return json.loads(strip_comments(text))
        except json.JSONDecodeError as e:
            raise SchemaError("%s: %s" % (n, e))

    msgs = []
    keys = {}
    for n, text in metadata:
        schema = parse(n, text)
        if schema.get("type") != "metadata":
            raise SchemaError("%s: type %r, expected metadata" % (n, schema.get("type")))
        key = schema.get("apiKey")
        if not isinstance(key, int):
            raise SchemaError("%s: no apiKey" % n)
        if key in keys:
            raise SchemaError("api key %d defined by %s and %s" % (key, keys[key], n))
        keys[key] = n
        msgs.append(Message(schema, n, "metadata"))
    msgs.sort(key=lambda m: m.api_key)
    for name in CONTROL_MESSAGES:
        n, text = control[name]
        msgs.append(Message(parse(n, text), n, "control"))
    for m in msgs:
        m.build()
    name_structs(msgs)
    return msgs


def name_structs(msgs):
    """Nested structs keep Kafka's names unless two messages define one of the same name (or it
    is a message's name): then every one of them is prefixed with its message's name
    (LeaderChangeMessage's Voter -> LeaderChangeMessageVoter)."""
    uses = {}
    for m in msgs:
        for s in m.structs:
            uses.setdefault(s.name, []).append(s)
    top = {m.name for m in msgs}
    for name, structs in uses.items():
        if len(structs) > 1 or name in top:
            for s in structs:
                s.rust_name = s.msg.name + s.name
    names = [m.name for m in msgs] + [s.rust_name for m in msgs for s in m.structs]
    if len(names) != len(set(names)):
        raise SchemaError("struct names collide: %r" % sorted(names))


# ---------------------------------------------------------------------------------------------
# Rust emission


def doc(lines, text, indent):
    text = " ".join(text.split())
    if text:
        lines.append("%s/// %s" % (indent, text))


def uses_version(expr):
    """Whether generated code passes `version` on (nested struct reads and writes)."""
    return "(version" in expr or ", version)" in expr


def min_element_size(ty):
    if ty.kind == "struct":
        return ty.struct.min_size_all()
    return ty.min_size(0)


def read_expr(ty, field, r, nullable=False):
    """A Rust expression (a Result, without ?) reading one value of `ty` from reader `r`."""
    label = rust_str(field.label)
    if ty.kind == "prim":
        return "%s.%s(%s)" % (r, PRIMITIVES[ty.prim][1], label)
    if ty.kind == "uuid":
        return "%s.uuid(%s)" % (r, label)
    if ty.kind == "string":
        return "%s.%s(%s)" % (r, "nullable_string" if nullable else "string", label)
    if ty.kind == "bytes":
        return "%s.%s(%s)" % (r, "nullable_bytes" if nullable else "bytes", label)
    if ty.kind == "struct":
        return "%s::read(%s, version)" % (ty.struct.rust_name, r)
    elem = read_expr(ty.elem, field, "e")
    return "%s.%s(%s, %d, |e| %s)" % (
        r, "nullable_array" if nullable else "array_of", label, min_element_size(ty.elem), elem)


def write_expr(ty, field, place, out, nullable=False, elem=False):
    """Rust code writing a value to `out`: (code, fallible). `place` is the value's place
    (`self.x`), or a reference to it when `elem` (an array element `e`). Infallible code is a
    statement without its semicolon; fallible code is a Result expression."""
    label = rust_str(field.label)
    if ty.kind == "prim":
        return "put_%s(%s, %s)" % (PRIMITIVES[ty.prim][1], out, "*" + place if elem else place), False
    if ty.kind == "uuid":
        return "put_uuid(%s, %s)" % (out, place if elem else "&" + place), False
    if ty.kind in ("string", "bytes"):
        if nullable:
            return "put_nullable_%s(%s, %s, %s.as_deref())" % (ty.kind, out, label, place), True
        return "put_%s(%s, %s, %s)" % (ty.kind, out, label, place if elem else "&" + place), True
    if ty.kind == "struct":
        return "%s.write(version, %s)" % (place, out), True
    code, fallible = write_expr(ty.elem, field, "e", "o", elem=True)
    if not fallible:
        code = "{ %s; Ok(()) }" % code
    if nullable:
        return "put_nullable_array(%s, %s, %s.as_deref(), |o, e| %s)" % (out, label, place, code), True
    return "put_array(%s, %s, &%s, |o, e| %s)" % (out, label, place, code), True


def write_stmt(field, out):
    code, fallible = write_expr(field.ty, field, "self." + field.rust, out, field.nullable)
    return code + ("?;" if fallible else ";")


def write_closure(field):
    code, fallible = write_expr(field.ty, field, "self." + field.rust, "o", field.nullable)
    return code if fallible else "{ %s; Ok(()) }" % code


def arbitrary_expr(ty, nullable):
    if ty.kind == "prim":
        e = "g.%s()" % PRIMITIVES[ty.prim][1]
    elif ty.kind == "uuid":
        e = "g.uuid()"
    elif ty.kind == "string":
        e = "g.string()"
    elif ty.kind == "bytes":
        e = "g.bytes()"
    elif ty.kind == "struct":
        e = "%s::arbitrary(g, version)" % ty.struct.rust_name
    else:
        e = "g.vec(|g| %s)" % arbitrary_expr(ty.elem, False)
    if nullable:
        return "g.option(|g| %s)" % e
    return e


def emit_struct(lines, msg, s, top):
    derives = "Debug, Clone, PartialEq" if s.has_float() else "Debug, Clone, PartialEq, Eq"
    if top:
        lo, hi = msg.valid
        doc(lines, "Kafka's `%s` (`%s`, %s)." % (
            msg.name, msg.source, "version %d" % lo if lo == hi else "versions %d-%d" % (lo, hi)), "")
    else:
        doc(lines, "`%s.%s` in Kafka%s" % (msg.name, s.name, (": " + s.about) if s.about else "."), "")
    lines.append("#[derive(%s)]" % derives)
    lines.append("pub struct %s {" % s.rust_name)
    for f in s.fields:
        lo, hi = f.versions
        notes = ["versions %d+" % lo if hi == "MAX" else "versions %d-%d" % (lo, hi)]
        if f.tagged:
            notes.append("tag %d" % f.tag)
        if f.nullable:
            notes.append("nullable")
        doc(lines, "`%s` (%s, %s).%s" % (f.name, f.spec["type"], ", ".join(notes),
                                        (" " + f.about) if f.about else ""), "    ")
        lines.append("    pub %s: %s," % (f.rust, f.rust_type()))
    lines.append("    /// Tagged fields the schema does not define, kept as read and written back last.")
    lines.append("    pub unknown_tagged_fields: Vec<RawTaggedField>,")
    lines.append("}")
    lines.append("")

    lines.append("impl Default for %s {" % s.rust_name)
    lines.append("    fn default() -> Self {")
    lines.append("        Self {")
    for f in s.fields:
        lines.append("            %s: %s," % (f.rust, f.default_expr()))
    lines.append("            unknown_tagged_fields: Vec::new(),")
    lines.append("        }")
    lines.append("    }")
    lines.append("}")
    lines.append("")

    lines.append("impl %s {" % s.rust_name)
    lines.append("    /// The name errors give this struct.")
    lines.append("    pub const NAME: &'static str = %s;" % rust_str(s.label))
    lines.append("    /// The tags of the tagged fields the schema defines (in any version).")
    lines.append("    pub const KNOWN_TAGS: &'static [u32] = &[%s];" % ", ".join(str(t) for t in s.known_tags()))
    if top:
        if msg.api_key is not None:
            lines.append("    pub const API_KEY: i16 = %d;" % msg.api_key)
        lines.append("    pub const LOWEST_VERSION: i16 = %d;" % msg.valid[0])
        lines.append("    pub const HIGHEST_VERSION: i16 = %d;" % msg.valid[1])
        lines.append("")
        lines.append("    /// Reads the record at `version` (refused outside %d-%d)." % tuple(msg.valid))
        lines.append("    pub fn decode(r: &mut Reader<'_>, version: i16) -> Result<Self, MetadataCodecError> {")
        lines.append("        check_version(Self::NAME, version, Self::LOWEST_VERSION, Self::HIGHEST_VERSION)?;")
        lines.append("        Self::read(r, version)")
        lines.append("    }")
        lines.append("")
        lines.append("    /// Appends the record at `version` to `out`; refused outside %d-%d, or when a field" % msg.valid)
        lines.append("    /// `version` lacks holds a non-default value.")
        lines.append("    pub fn encode(&self, version: i16, out: &mut Vec<u8>) -> Result<(), MetadataCodecError> {")
        lines.append("        check_version(Self::NAME, version, Self::LOWEST_VERSION, Self::HIGHEST_VERSION)?;")
        lines.append("        self.write(version, out)")
        lines.append("    }")
        lines.append("")

    tagged = sorted((f for f in s.fields if f.tagged), key=lambda f: f.tag)
    refuse = lambda f: "return Err(MetadataCodecError::NonDefaultField { field: %s, version })" % rust_str(f.label)

    # ---- read ----
    body = []
    used = False
    body.append("let mut this = Self::default();")
    for f in s.fields:
        if f.tagged:
            continue
        c = msg.cond(f.versions)
        stmt = "this.%s = %s?;" % (f.rust, read_expr(f.ty, f, "r", f.nullable))
        used |= uses_version(stmt)
        if c is None:
            body.append(stmt)
        elif c != "false":
            used = True
            body += ["if %s {" % c, "    " + stmt, "}"]
    label = rust_str(s.label + " tagged fields")
    body.append("let count = r.uvarint(%s)?;" % label)
    body.append("for _ in 0..count {")
    if tagged:
        body.append("    let start = r.offset();")
    body.append("    let tag = r.uvarint(%s)?;" % label)
    body.append("    let size = r.uvarint(%s)?;" % label)
    body.append("    let mut t = r.sub(size, %s)?;" % label)
    unknown = "RawTaggedField { tag, data: Bytes::copy_from_slice(t.rest()) }"
    if tagged:
        body.append("    match tag {")
        for f in tagged:
            c = msg.cond(f.versions)
            read = "this.%s = %s?;" % (f.rust, read_expr(f.ty, f, "t", f.nullable))
            used |= uses_version(read)
            arm = "%s t.finish_tagged(%s, start)?;" % (read, rust_str(f.label))
            if c is None:
                body.append("        %d => { %s }" % (f.tag, arm))
            else:
                used = True
                if c != "false":
                    body.append("        %d if %s => { %s }" % (f.tag, c, arm))
                body.append(
                    "        %d => return Err(MetadataCodecError::TagNotValidForVersion "
                    "{ record: Self::NAME, tag, version, offset: start })," % f.tag)
        body.append("        _ => this.unknown_tagged_fields.push(%s)," % unknown)
        body.append("    }")
    else:
        body.append("    this.unknown_tagged_fields.push(%s);" % unknown)
    body.append("}")
    if not used:
        body.append("let _ = version;")
    body.append("Ok(this)")
    lines.append("    pub(crate) fn read(r: &mut Reader<'_>, version: i16) -> Result<Self, MetadataCodecError> {")
    lines += ["        " + b for b in body]
    lines.append("    }")
    lines.append("")

    # ---- write ----
    body = []
    used = False
    for f in s.fields:
        if f.tagged:
            continue
        c = msg.cond(f.versions)
        stmt = write_stmt(f, "out")
        used |= uses_version(stmt)
        if c is None:
            body.append(stmt)
            continue
        used = True
        if c == "false":
            if not f.ignorable:
                body.append("if %s { %s; }" % (f.non_default_expr(), refuse(f)))
            continue
        body += ["if %s {" % c, "    " + stmt]
        if not f.ignorable:
            body += ["} else if %s {" % f.non_default_expr(), "    %s;" % refuse(f)]
        body.append("}")
    body.append("let %sknown: u32 = 0;" % ("mut " if tagged else ""))
    for f in tagged:
        c = msg.cond(f.versions)
        has = "has_" + f.rust.replace("r#", "")
        nd = f.non_default_expr()
        if c is None:
            body.append("let %s = %s;" % (has, nd))
        else:
            used = True
            if f.ignorable:
                body.append("let %s = %s && %s;" % (has, c, nd))
            else:
                body.append("let %s = if %s { %s } else if %s { %s } else { false };"
                            % (has, c, nd, nd, refuse(f)))
        body.append("known += u32::from(%s);" % has)
    body.append("check_unknown_tagged(Self::NAME, Self::KNOWN_TAGS, &self.unknown_tagged_fields)?;")
    body.append("put_uvarint(out, tagged_count(Self::NAME, known, &self.unknown_tagged_fields)?);")
    for f in tagged:
        has = "has_" + f.rust.replace("r#", "")
        closure = write_closure(f)
        used |= uses_version(closure)
        body += ["if %s {" % has,
                 "    put_tagged(out, %s, %d, |o| %s)?;" % (rust_str(f.label), f.tag, closure),
                 "}"]
    if not used:
        body.append("let _ = version;")
    body.append("put_unknown_tagged(out, Self::NAME, &self.unknown_tagged_fields)")
    lines.append("    pub(crate) fn write(&self, version: i16, out: &mut Vec<u8>) -> Result<(), MetadataCodecError> {")
    lines += ["        " + b for b in body]
    lines.append("    }")
    lines.append("")

    # ---- arbitrary (tests) ----
    body = []
    used = False
    body.append("let mut this = Self::default();")
    for f in s.fields:
        c = msg.cond(f.versions)
        stmt = "this.%s = %s;" % (f.rust, arbitrary_expr(f.ty, f.nullable))
        used |= uses_version(stmt)
        if c is None:
            body.append(stmt)
        elif c != "false":
            used = True
            body += ["if %s {" % c, "    " + stmt, "}"]
    body.append("this.unknown_tagged_fields = g.unknown_tagged_fields(Self::KNOWN_TAGS);")
    if not used:
        body.append("let _ = version;")
    body.append("this")
    lines.append("    /// A random value `version` can hold (fields it lacks keep their defaults).")
    lines.append("    #[cfg(test)]")
    lines.append("    pub(crate) fn arbitrary(g: &mut Gen, version: i16) -> Self {")
    lines += ["        " + b for b in body]
    lines.append("    }")
    lines.append("}")
    lines.append("")


def render(msgs):
    lines = []
    lines.append("// Generated by crates/protocol/schema-gen/gen_metadata.py from Apache Kafka %s schemas" % KAFKA_VERSION)
    lines.append("// (%s, %s*.json; %s, %s{%s}.json; Apache-2.0)."
                 % (METADATA_ARTIFACT, METADATA_DIR, CLIENTS_ARTIFACT, CONTROL_DIR, ",".join(CONTROL_MESSAGES)))
    lines.append("// Do not edit: change gen_metadata.py and run it again.")
    lines.append("")
    lines.append("#![allow(clippy::derivable_impls, clippy::field_reassign_with_default)]")
    lines.append("")
    lines.append("use super::codec::*;")
    lines.append("use super::MetadataCodecError;")
    lines.append("#[cfg(test)]")
    lines.append("use super::test_gen::Gen;")
    lines.append("use bytes::Bytes;")
    lines.append("use uuid::Uuid;")
    lines.append("")
    for m in msgs:
        lines.append("// ---- %s (%s) ----" % (m.name, m.source))
        lines.append("")
        emit_struct(lines, m, m.top, True)
        for s in m.structs:
            emit_struct(lines, m, s, False)
    lines.append("/// Every metadata record type: (api key, name, lowest version, highest version).")
    meta = [m for m in msgs if m.kind == "metadata"]
    lines.append("pub const METADATA_RECORD_SCHEMAS: [(i16, &str, i16, i16); %d] = [" % len(meta))
    for m in meta:
        lines.append("    (%d, %s, %d, %d)," % (m.api_key, rust_str(m.name), m.valid[0], m.valid[1]))
    lines.append("];")
    return "\n".join(lines) + "\n"


def fetch_jars(tmp):
    jars = []
    for artifact in (METADATA_ARTIFACT, CLIENTS_ARTIFACT):
        cmd = ["mvn", "-q", "-B", "-Dstyle.color=never", "dependency:copy",
               "-Dartifact=" + artifact, "-DoutputDirectory=" + tmp]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            raise SchemaError("%s failed with exit code %d" % (" ".join(cmd), done.returncode))
        jar = os.path.join(tmp, "%s-%s.jar" % (artifact.split(":")[1], KAFKA_VERSION))
        if not os.path.isfile(jar):
            raise SchemaError("mvn did not produce %s" % jar)
        jars.append(jar)
    return jars


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jar", action="append",
                    help="kafka-metadata-%s.jar and kafka-clients-%s.jar (give --jar twice) to read "
                         "instead of fetching them" % (KAFKA_VERSION, KAFKA_VERSION))
    ap.add_argument("--out", default=OUT, help="output file (default: %(default)s)")
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    args = ap.parse_args()
    try:
        if args.jar:
            msgs = load(args.jar)
        else:
            with tempfile.TemporaryDirectory(prefix="sluice-schema-gen-") as tmp:
                msgs = load(fetch_jars(tmp))
        text = render(msgs)
    except (SchemaError, subprocess.CalledProcessError, OSError, zipfile.BadZipFile) as e:
        print("gen_metadata.py: %s" % e, file=sys.stderr)
        return 2
    n_meta = sum(1 for m in msgs if m.kind == "metadata")
    n_ctl = len(msgs) - n_meta
    if args.check:
        try:
            with open(args.out, encoding="utf-8") as f:
                current = f.read()
        except OSError:
            current = None
        if current != text:
            print("gen_metadata.py: %s is out of date" % args.out, file=sys.stderr)
            return 1
        print("gen_metadata.py: %s is up to date (%d metadata records, %d control records)"
              % (args.out, n_meta, n_ctl))
        return 0
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print("gen_metadata.py: wrote %s (%d metadata records, %d control records)" % (args.out, n_meta, n_ctl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
