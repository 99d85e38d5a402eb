#!/usr/bin/env python3
"""Generate crates/protocol/src/schema/generated.rs from Apache Kafka's request and response schemas.

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
    """The request header, request schemas, response header and response schemas of the jar."""
    headers = {}
    messages = {"request": [], "response": []}
    with zipfile.ZipFile(jar) as z:
        names = sorted(
            n
            for n in z.namelist()
            if n.startswith("common/message/") and n.endswith(".json")
        )
        for n in names:
            base = n[len("common/message/") :]
            is_header = base in ("RequestHeader.json", "ResponseHeader.json")
            if not (base.endswith("Request.json") or base.endswith("Response.json") or is_header):
                continue
            text = z.read(n).decode("utf-8")
            try:
                schema = json.loads(strip_comments(text))
            except json.JSONDecodeError as e:
                raise SchemaError("%s: %s" % (n, e))
            if is_header:
                headers[base[: -len(".json")]] = schema
            elif schema.get("type") in messages:
                messages[schema["type"]].append(schema)
    for name in ("RequestHeader", "ResponseHeader"):
        if name not in headers:
            raise SchemaError("%s.json not found in %s" % (name, jar))
    for kind in ("request", "response"):
        if not messages[kind]:
            raise SchemaError("no %s schemas found in %s" % (kind, jar))
    return Schemas(
        headers["RequestHeader"],
        messages["request"],
        headers["ResponseHeader"],
        messages["response"],
    )


class Schemas:
    def __init__(self, request_header, requests, response_header, responses):
        self.request_header = request_header
        self.requests = requests
        self.response_header = response_header
        self.responses = responses


def entries_of(gen, messages, kind):
    """(api key, name, valid, flexible, fields const) per schema, sorted by API key."""
    entries = {}
    for schema in sorted(messages, key=lambda s: (s["apiKey"], s["name"])):
        key = schema["apiKey"]
        if key in entries:
            raise SchemaError("%s api key %d defined twice" % (kind, key))
        valid = parse_versions(schema.get("validVersions"), schema["name"])
        flexible = parse_versions(schema.get("flexibleVersions"), schema["name"])
        # A message Kafka no longer accepts in any version gets no field tables.
        const = gen.message(schema) if valid is not None else "&[]"
        entries[key] = (key, schema["name"], valid, flexible, const)
    return entries


def render_header(gen, header, static, doc):
    const = gen.message(header)
    valid = parse_versions(header.get("validVersions"), header["name"])
    flex = parse_versions(header.get("flexibleVersions"), header["name"])
    return (
        "/// %s\n"
        "pub static %s: Message = Message { api_key: -1, name: %s, "
        "valid: %s, flexible: %s, fields: %s };\n"
        % (doc, static, json.dumps(header["name"]), rust_versions(valid), rust_versions(flex), const)
    )


def render_table(out, entries, static, kind):
    max_key = max(entries)
    out.append(
        "/// Every %s schema, indexed by API key (`None` where Kafka %s has no %s).\n"
        "pub static %s: [Option<Message>; %d] = [" % (kind, KAFKA_VERSION, kind, static, max_key + 1)
    )
    for key in range(max_key + 1):
        if key not in entries:
            out.append("    None,")
            continue
        _, name, valid, flexible, const = entries[key]
        out.append(
            "    Some(Message { api_key: %d, name: %s, valid: %s, flexible: %s, fields: %s }),"
            % (key, json.dumps(name), rust_versions(valid), rust_versions(flexible), const)
        )
    out.append("];\n")


def render(schemas):
    gen = Generator()
    requests = entries_of(gen, schemas.requests, "request")
    request_header = render_header(
        gen, schemas.request_header, "REQUEST_HEADER", "The request header (versions 1-2)."
    )
    responses = entries_of(gen, schemas.responses, "response")
    response_header = render_header(
        gen, schemas.response_header, "RESPONSE_HEADER", "The response header (versions 0-1)."
    )

    out = []
    out.append(
        "// Generated by crates/protocol/schema-gen/gen.py from Apache Kafka %s message schemas\n"
        "// (%s, common/message/*Request.json, *Response.json,\n"
        "// RequestHeader.json and ResponseHeader.json; Apache-2.0).\n"
        "// Do not edit: change gen.py and run it again.\n" % (KAFKA_VERSION, ARTIFACT)
    )
    out.append("use super::table::{Field, Message, Ty, MAX, NONE, V};\n")
    for const, body in gen.consts:
        out.append("const %s: &[Field] = &[\n%s\n];\n" % (const, body))
    out.append(request_header)
    render_table(out, requests, "REQUESTS", "request")
    out.append(response_header)
    render_table(out, responses, "RESPONSES", "response")
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
            schemas = load_schemas(args.jar)
        else:
            with tempfile.TemporaryDirectory(prefix="sluice-schema-gen-") as tmp:
                schemas = load_schemas(fetch_jar(tmp))
        text = render(schemas)
    except (SchemaError, subprocess.CalledProcessError, OSError, zipfile.BadZipFile) as e:
        print("gen.py: %s" % e, file=sys.stderr)
        return 2
    counts = "%d requests, %d responses" % (len(schemas.requests), len(schemas.responses))
    if args.check:
        try:
            with open(args.out, encoding="utf-8") as f:
                current = f.read()
        except OSError:
            current = None
        if current != text:
            print("gen.py: %s is out of date" % args.out, file=sys.stderr)
            return 1
        print("gen.py: %s is up to date (%s)" % (args.out, counts))
        return 0
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print("gen.py: wrote %s (%s)" % (args.out, counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
