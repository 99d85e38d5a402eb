#!/usr/bin/env python3
"""Generate crates/protocol/src/schema/generated.rs from Apache Kafka's request schemas.

The schemas (JSON with // comments, Apache-2.0) ship inside the kafka-clients jar under
common/message/. By default the jar is fetched with Maven into a temporary directory:

    mvn dependency:copy -Dartifact=org.apache.kafka:kafka-clients:4.1.0 -DoutputDirectory=DIR

Usage:
    python3 gen.py                 # fetch the jar with mvn, write generated.rs
    python3 gen.py --jar PATH.jar  # use a jar you already have
    python3 gen.py --check         # exit 1 if generated.rs is not what this script writes

Python 3 standard library only. The output depends only on the jar's contents, so running the
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

KAFKA_VERSION = "4.1.0"
ARTIFACT = "org.apache.kafka:kafka-clients:" + KAFKA_VERSION
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "src", "schema", "generated.rs"))

PRIMITIVES = {
    "bool": "Bool",
    "int8": "Int8",
    "int16": "Int16",
    "uint16": "UInt16",
    "int32": "Int32",
    "uint32": "UInt32",
    "int64": "Int64",
    "float64": "Float64",
    "uuid": "Uuid",
    "string": "String",
    "bytes": "Bytes",
    "records": "Records",
}


class SchemaError(Exception):
    pass


def strip_comments(text):
    """Remove // line comments that are outside JSON strings."""
    out = []
    i = 0
    n = len(text)
    in_str = False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_str = False
            i += 1
            continue
        if c == '"':
            in_str = True
            out.append(c)
            i += 1
            continue
        if c == "/" and i + 1 < n and text[i + 1] == "/":
            while i < n and text[i] != "\n":
                i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def parse_versions(spec, what):
    """'none' -> None; '3' -> (3, 3); '3-7' -> (3, 7); '3+' -> (3, MAX)."""
    if spec is None:
        return None
    spec = spec.strip()
    if spec == "none":
        return None
    m = re.fullmatch(r"(\d+)\+", spec)
    if m:
        return (int(m.group(1)), "MAX")
    m = re.fullmatch(r"(\d+)-(\d+)", spec)
    if m:
        return (int(m.group(1)), int(m.group(2)))
    m = re.fullmatch(r"\d+", spec)
    if m:
        return (int(spec), int(spec))
    raise SchemaError("%s: bad version spec %r" % (what, spec))


def rust_versions(v):
    if v is None:
        return "NONE"
    lo, hi = v
    return "V(%d, %s)" % (lo, hi)


def upper_snake(name):
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s)
    return s.upper()


class Generator:
    def __init__(self):
        self.consts = []  # (const name, rust text), in emission order

    def struct_const(self, msg_name, struct_name, fields, common, seen):
        const = "%s__%s" % (upper_snake(msg_name), upper_snake(struct_name))
        if const in seen:
            return const
        seen.add(const)
        body = self.fields(msg_name, fields, common, seen)
        self.consts.append((const, body))
        return const

    def ty(self, msg_name, field, common, seen):
        t = field["type"]
        what = "%s.%s" % (msg_name, field.get("name"))
        is_array = t.startswith("[]")
        base = t[2:] if is_array else t
        if base in PRIMITIVES:
            if "fields" in field:
                raise SchemaError("%s: primitive type with fields" % what)
            inner = "Ty::%s" % PRIMITIVES[base]
        else:
            if "fields" in field:
                sub = field["fields"]
            elif base in common:
                sub = common[base]
            else:
                raise SchemaError("%s: unknown struct type %r" % (what, base))
            inner = "Ty::Struct(%s)" % self.struct_const(msg_name, base, sub, common, seen)
        if is_array:
            return "Ty::Array(&%s)" % inner
        return inner

    def fields(self, msg_name, fields, common, seen):
        lines = []
        for f in fields:
            what = "%s.%s" % (msg_name, f.get("name"))
            versions = parse_versions(f.get("versions"), what)
            nullable = parse_versions(f.get("nullableVersions"), what)
            tagged = parse_versions(f.get("taggedVersions"), what)
            tag = f.get("tag")
            if tagged is not None and not isinstance(tag, int):
                raise SchemaError("%s: taggedVersions without tag" % what)
            if tagged is None and tag is not None:
                raise SchemaError("%s: tag without taggedVersions" % what)
            ty = self.ty(msg_name, f, common, seen)
            flex = None
            if "flexibleVersions" in f:
                flex = rust_versions(parse_versions(f["flexibleVersions"], what))
            text = "    Field::new(%s, %s, %s)" % (json.dumps(f["name"]), ty, rust_versions(versions))
            if nullable is not None:
                text += ".nullable(%s)" % rust_versions(nullable)
            if tagged is not None:
                text += ".tagged(%s, %d)" % (rust_versions(tagged), tag)
            if flex is not None:
                text += ".flexible(%s)" % flex
            lines.append(text + ",")
        return "\n".join(lines)

    def message(self, schema):
        name = schema["name"]
        common = {}
        for cs in schema.get("commonStructs", []):
            common[cs["name"]] = cs["fields"]
        seen = set()
        top = self.fields(name, schema.get("fields", []), common, seen)
        const = upper_snake(name) + "_FIELDS"
        self.consts.append((const, top))
        return const


def load_schemas(jar):
    requests = []
    header = None
    with zipfile.ZipFile(jar) as z:
        names = sorted(
            n
            for n in z.namelist()
            if n.startswith("common/message/") and n.endswith(".json")
        )
        for n in names:
            base = n[len("common/message/") :]
            if not (base.endswith("Request.json") or base == "RequestHeader.json"):
                continue
            text = z.read(n).decode("utf-8")
            try:
                schema = json.loads(strip_comments(text))
            except json.JSONDecodeError as e:
                raise SchemaError("%s: %s" % (n, e))
            if base == "RequestHeader.json":
                header = schema
            elif schema.get("type") == "request":
                requests.append(schema)
    if header is None:
        raise SchemaError("RequestHeader.json not found in %s" % jar)
    if not requests:
        raise SchemaError("no request schemas found in %s" % jar)
    return header, requests


def render(header, requests):
    gen = Generator()
    entries = []
    by_key = {}
    for schema in sorted(requests, key=lambda s: (s["apiKey"], s["name"])):
        key = schema["apiKey"]
        if key in by_key:
            raise SchemaError("api key %d defined twice" % key)
        valid = parse_versions(schema.get("validVersions"), schema["name"])
        flexible = parse_versions(schema.get("flexibleVersions"), schema["name"])
        # A request Kafka no longer accepts in any version gets no field tables.
        const = gen.message(schema) if valid is not None else "&[]"
        by_key[key] = schema["name"]
        entries.append((key, schema["name"], valid, flexible, const))
    hconst = gen.message(header)
    hvalid = parse_versions(header.get("validVersions"), "RequestHeader")
    hflex = parse_versions(header.get("flexibleVersions"), "RequestHeader")

    out = []
    out.append(
        "// Generated by crates/protocol/schema-gen/gen.py from Apache Kafka %s message schemas\n"
        "// (%s, common/message/*Request.json and RequestHeader.json; Apache-2.0).\n"
        "// Do not edit: change gen.py and run it again.\n" % (KAFKA_VERSION, ARTIFACT)
    )
    out.append("use super::table::{Field, Message, Ty, MAX, NONE, V};\n")
    for const, body in gen.consts:
        out.append("const %s: &[Field] = &[\n%s\n];\n" % (const, body))
    out.append(
        "/// The request header (versions 1-2).\n"
        "pub static REQUEST_HEADER: Message = Message { api_key: -1, name: \"RequestHeader\", "
        "valid: %s, flexible: %s, fields: %s };\n"
        % (rust_versions(hvalid), rust_versions(hflex), hconst)
    )
    max_key = max(by_key)
    out.append(
        "/// Every request schema, indexed by API key (`None` where Kafka %s has no request).\n"
        "pub static REQUESTS: [Option<Message>; %d] = [" % (KAFKA_VERSION, max_key + 1)
    )
    ent = {e[0]: e for e in entries}
    for key in range(max_key + 1):
        if key not in ent:
            out.append("    None,")
            continue
        _, name, valid, flexible, const = ent[key]
        out.append(
            "    Some(Message { api_key: %d, name: %s, valid: %s, flexible: %s, fields: %s }),"
            % (key, json.dumps(name), rust_versions(valid), rust_versions(flexible), const)
        )
    out.append("];\n")
    return "\n".join(out)


def fetch_jar(tmp):
    cmd = [
        "mvn",
        "-q",
        "-B",
        "-Dstyle.color=never",
        "dependency:copy",
        "-Dartifact=" + ARTIFACT,
        "-DoutputDirectory=" + tmp,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SchemaError("%s failed with exit code %d" % (" ".join(cmd), done.returncode))
    jar = os.path.join(tmp, "kafka-clients-%s.jar" % KAFKA_VERSION)
    if not os.path.isfile(jar):
        raise SchemaError("mvn did not produce %s" % jar)
    return jar


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jar", help="kafka-clients-%s.jar to read instead of fetching it" % KAFKA_VERSION)
    ap.add_argument("--out", default=OUT, help="output file (default: %(default)s)")
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    args = ap.parse_args()
    try:
        if args.jar:
            header, requests = load_schemas(args.jar)
        else:
            with tempfile.TemporaryDirectory(prefix="sluice-schema-gen-") as tmp:
                header, requests = load_schemas(fetch_jar(tmp))
        text = render(header, requests)
    except (SchemaError, subprocess.CalledProcessError, OSError, zipfile.BadZipFile) as e:
        print("gen.py: %s" % e, file=sys.stderr)
        return 2
    if args.check:
        try:
            with open(args.out, encoding="utf-8") as f:
                current = f.read()
        except OSError:
            current = None
        if current != text:
            print("gen.py: %s is out of date" % args.out, file=sys.stderr)
            return 1
        print("gen.py: %s is up to date (%d requests)" % (args.out, len(requests)))
        return 0
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print("gen.py: wrote %s (%d requests)" % (args.out, len(requests)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
