#!/usr/bin/env bash
# kcat (librdkafka) metadata scenarios: `kcat -L` against the reference Kafka and Sluice after
# creating the same topics on both, normalized and compared. See README.md.
#
#   bash kcat/run.sh            run all scenarios (starts brokers that are not already running)
#   bash kcat/run.sh NAME...    run only the named scenarios
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=kcat
source "$HERE/../lib/common.sh"

PREFIX="c-$RUN_ID-kcat-"
# Bounded librdkafka timeouts so a silent broker fails the scenario instead of hanging.
KCAT_OPTS=(-m 15 -X socket.timeout.ms=10000 -X topic.metadata.refresh.interval.ms=-1)

# filter_topics: keep only this run's topic blocks of `kcat -L` text output, sorted by name
# (the order is the broker's choice); the "N topics:" count is dropped because the broker may
# hold topics of other runs.
# An optional argument narrows it to topics whose name matches that awk regex.
filter_topics() {
  awk -v prefix="$PREFIX" -v only="${1:-}" '
    function flush() { if (block != "") print block | "sort"; block = "" }
    /^ [0-9]+ topics:$/ { print " topics:"; fflush(); next }
    /^  topic "/ { flush(); keep = (index($0, "topic \"" prefix) == 3) && (only == "" || $0 ~ only); if (keep) block = $0; next }
    /^    partition / { if (keep) block = block "\001" $0; next }
    { flush(); keep = 0; print; fflush() }
    END { flush(); close("sort") }' | tr '\001' '\n'
}

sc_metadata_all() {
  echo "\$ kcat -L"
  kcat -L -b "$1" "${KCAT_OPTS[@]}" | filter_topics
}

sc_metadata_topic() {
  echo "\$ kcat -L -t ${PREFIX}three"
  kcat -L -b "$1" "${KCAT_OPTS[@]}" -t "${PREFIX}three"
}

sc_metadata_json() {
  echo "\$ kcat -L -J | jq (this run's topics, sorted)"
  kcat -L -J -b "$1" "${KCAT_OPTS[@]}" | jq -S --arg p "$PREFIX" '
    .topics |= (map(select(.topic | startswith($p))) | sort_by(.topic)
                | map(.partitions |= sort_by(.partition)))
    | .brokers |= sort_by(.id)'
}

# kcat -L -t T sends Metadata v4 with allow_auto_topic_creation=true. Apache Kafka answers the
# first request with UNKNOWN_TOPIC_OR_PARTITION and creates the topic in the background; the
# first answer is therefore compared informationally only (FINDINGS.md K1).
sc_auto_create_first_answer() {
  echo "\$ kcat -L -t ${PREFIX}auto1"
  kcat -L -b "$1" "${KCAT_OPTS[@]}" -t "${PREFIX}auto1"
}

# ... and the topic must exist with num.partitions=1 partitions once creation has settled.
sc_auto_create() {
  local t="${PREFIX}auto2" end=$((SECONDS + 60)) out
  while :; do
    out="$(kcat -L -b "$1" "${KCAT_OPTS[@]}" -t "$t" 2>&1 || true)"
    grep -q 'partition 0,' <<<"$out" && break
    if ((SECONDS >= end)); then echo "(auto-creation NOT visible within deadline)"; break; fi
    sleep 0.2
  done
  echo "\$ kcat -L -t $t (repeated until it has partitions)"
  echo "$out"
  echo "\$ kcat -L (topic auto2 only)"
  kcat -L -b "$1" "${KCAT_OPTS[@]}" | filter_topics 'auto2"'

}

sc_metadata_after_delete() {
  local t="${PREFIX}deleted" end=$((SECONDS + 60)) out
  kafka_topics "$1" --delete --topic "$t" >&2
  # Poll (bounded) until the deletion is visible in an all-topics Metadata request (a request
  # naming the topic would auto-create it again).
  while :; do
    out="$(kcat -L -b "$1" "${KCAT_OPTS[@]}" | filter_topics '(one|three|deleted)"')"
    grep -qF "\"$t\"" <<<"$out" || break
    if ((SECONDS >= end)); then echo "(deletion NOT visible within deadline)"; break; fi
    sleep 0.2
  done
  echo "\$ kcat -L (after deleting $t)"
  echo "$out"
}

# ------------------------------------------------------------------------------------------
# Data path: produce / consume / headers / offsets for times / segment files.

KCAT_RECORDS="${KCAT_RECORDS:-100000}"
INPUT="$HERE/work/input-$KCAT_RECORDS.txt"

# make_input: KCAT_RECORDS keyed lines "key:value" (997 distinct keys, values of varying size).
make_input() {
  [[ -s "$INPUT" ]] && return 0
  mkdir -p "$HERE/work"
  awk -v n="$KCAT_RECORDS" 'BEGIN {
    for (i = 1; i <= n; i++) {
      pad = substr("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1, i % 61)
      printf "k%04d:value-%07d-%s\n", i % 997, i, pad
    }
  }' >"$INPUT.tmp"
  mv "$INPUT.tmp" "$INPUT"
}

# create_topic BROKER TOPIC PARTITIONS [CONFIG...]: kafka-topics --create, then wait (bounded) until
# librdkafka sees every partition of it.
create_topic() {
  local b=$1 t=$2 n=$3
  shift 3
  local cfg=() c
  for c in "$@"; do cfg+=(--config "$c"); done
  kafka_topics "$b" --create --topic "$t" --partitions "$n" --replication-factor 1 "${cfg[@]}" >&2
  local end=$((SECONDS + 60))
  until [[ "$(kcat -L -b "$b" "${KCAT_OPTS[@]}" -t "$t" 2>/dev/null | grep -c '^    partition ')" == "$n" ]]; do
    ((SECONDS < end)) || { echo "(topic $t not visible with $n partitions)"; return 1; }
    sleep 0.2
  done
}

# sc_roundtrip BROKER CODEC: KCAT_RECORDS keyed records produced with `kcat -P -K: -z CODEC`
# (acks=all) into a 3-partition topic, consumed back with `kcat -C -e`, compared with the input
# (sorted, hashed), per-partition counts and offsets, and the end offsets from ListOffsets.
sc_roundtrip() {
  local b=$1 z=$2 t="${PREFIX}rt-$2" out rc=0
  make_input
  create_topic "$b" "$t" 3
  echo "\$ kcat -P -K: -z $z -X acks=all -l input ($KCAT_RECORDS keyed records) -t ${t}"
  kcat -P -b "$b" "${KCAT_OPTS[@]}" -t "$t" -K: -z "$z" -X acks=all -l "$INPUT" || rc=$?
  echo "  rc=$rc"
  out="$(mktemp)"
  echo "\$ kcat -C -e -f '%p %o %k:%s'"
  rc=0
  kcat -C -b "$b" "${KCAT_OPTS[@]}" -t "$t" -e -q -f '%p %o %k:%s\n' >"$out" || rc=$?
  echo "  rc=$rc records=$(wc -l <"$out")"
  local want got
  want="$(sort "$INPUT" | sha256sum | cut -c1-16)"
  got="$(cut -d' ' -f3- "$out" | sort | sha256sum | cut -c1-16)"
  echo "  content (key:value, sorted) equals the input: $([[ $want == "$got" ]] && echo yes || echo "NO ($got)")"
  echo "  partition+key:value hash: $(cut -d' ' -f1,3- "$out" | sort | sha256sum | cut -c1-16)"
  # Per partition: record count, first/last offset, whether offsets are 0..n-1 in order.
  awk '{ p = $1; o = $2; if (!(p in n)) { first[p] = o; nxt[p] = 0; ok[p] = 1 }
         if (o != nxt[p]) ok[p] = 0; nxt[p] = o + 1; n[p]++; last[p] = o }
       END { for (p in n) printf "  partition %s: records=%d offsets %d..%d contiguous=%s\n",
               p, n[p], first[p], last[p], (ok[p] ? "yes" : "no") }' "$out" | sort
  rm -f "$out"
  local p
  for p in 0 1 2; do
    echo "\$ kcat -Q -t $t:$p:-1 / -2"
    kcat -Q -b "$b" "${KCAT_OPTS[@]}" -t "$t:$p:-1" 2>&1 | sed 's/^/  /'
    kcat -Q -b "$b" "${KCAT_OPTS[@]}" -t "$t:$p:-2" 2>&1 | sed 's/^/  /'
  done
}

# sc_headers BROKER: record headers with duplicate keys, an empty and a null value, produced by
# kcat -H and read back with %h and -J (order and duplicates must be kept).
sc_headers() {
  local b=$1 t="${PREFIX}headers"
  create_topic "$b" "$t" 1
  echo "\$ kcat -P -K: -H dup=1 -H dup=2 -H other=x -H dup=3 -H empty= -H nullv -H 'utf8=ä€' (3 records)"
  local rc=0
  printf 'k1:v1\nk2:\n:v3\n' | kcat -P -b "$b" "${KCAT_OPTS[@]}" -t "$t" -K: \
    -H dup=1 -H dup=2 -H other=x -H dup=3 -H empty= -H nullv -H 'utf8=ä€' || rc=$?
  echo "  rc=$rc"
  echo "\$ kcat -C -e -f '%o key=%k value=%s headers=[%h]'"
  kcat -C -b "$b" "${KCAT_OPTS[@]}" -t "$t" -e -q -f '%o key=%k value=%s headers=[%h]\n'
  echo "\$ kcat -C -e -J | jq (without ts/broker)"
  kcat -C -b "$b" "${KCAT_OPTS[@]}" -t "$t" -e -q -J | jq -c 'del(.ts, .broker)'
  echo "\$ kcat -P -z gzip, 2 headers (compressed batch)"
  printf 'g1\n' | kcat -P -b "$b" "${KCAT_OPTS[@]}" -t "$t" -z gzip -H dup=a -H dup=b
  kcat -C -b "$b" "${KCAT_OPTS[@]}" -t "$t" -o 3 -e -q -f '%o value=%s headers=[%h]\n'
}

# sc_offsets_for_times BROKER: `kcat -Q` (ListOffsets by timestamp) for 0, the timestamp of the
# first record of a second produce call (every record before it is older), past the last
# record (-1), and -1 / -2 (latest / earliest).
sc_offsets_for_times() {
  local b=$1 t="${PREFIX}oft" m t1 mx
  create_topic "$b" "$t" 1
  seq 0 9 | kcat -P -b "$b" "${KCAT_OPTS[@]}" -t "$t"
  m="$(kcat -C -b "$b" "${KCAT_OPTS[@]}" -t "$t" -e -q -f '%T\n' | sort -n | tail -1)"
  # Bounded: the clock passes m within milliseconds.
  while (($(date +%s%3N) <= m)); do :; done
  seq 10 19 | kcat -P -b "$b" "${KCAT_OPTS[@]}" -t "$t"
  t1="$(kcat -C -b "$b" "${KCAT_OPTS[@]}" -t "$t" -o 10 -c 1 -e -q -f '%T')"
  mx="$(kcat -C -b "$b" "${KCAT_OPTS[@]}" -t "$t" -e -q -f '%T\n' | sort -n | tail -1)"
  echo "records: 20 (offsets 0-9 first produce, 10-19 second produce)"
  local q
  for q in "0:0" "T1:$t1" "MAXTS+1:$((mx + 1))" "-1:-1" "-2:-2"; do
    echo "\$ kcat -Q -t $t:0:${q%%:*}"
    kcat -Q -b "$b" "${KCAT_OPTS[@]}" -t "$t:0:${q#*:}" 2>&1 | sed 's/^/  /'
  done
}

# sc_dump_log BROKER: 100k keyed records (20k each with none/gzip/snappy/lz4/zstd, idempotent
# producer) into a topic with segment.bytes=1 MiB, then Apache Kafka's DumpLogSegments
# --deep-iteration --index-sanity-check over the broker's segment files of that topic: every
# .log (incl. the active segment), and the .index/.timeindex/.snapshot files of the rolled
# segments (an active segment's preallocated index fails the sanity check on Kafka too).
sc_dump_log() {
  local b=$1 t="${PREFIX}dump" dir z i=0 per
  make_input
  create_topic "$b" "$t" 1 segment.bytes=1048576
  per=$((KCAT_RECORDS / 5))
  for z in none gzip snappy lz4 zstd; do
    awk -v a="$((i * per))" -v z="$(((i + 1) * per))" 'NR > a && NR <= z' "$INPUT" |
      kcat -P -b "$b" "${KCAT_OPTS[@]}" -t "$t" -K: -z "$z" -X enable.idempotence=true
    i=$((i + 1))
  done
  echo "produced $((per * 5)) records, $per each with none gzip snappy lz4 zstd (idempotent)"
  dir="$(broker_log_dir "$b")/$t-0"
  [[ -d "$dir" ]] || { echo "partition directory not found"; return 1; }
  local logs=() rolled=() f last
  mapfile -t logs < <(find "$dir" -name '*.log' | sort)
  last="${logs[-1]}"
  for f in "${logs[@]}"; do
    [[ "$f" == "$last" ]] && continue
    rolled+=("${f%.log}.index" "${f%.log}.timeindex")
    [[ -f "${f%.log}.snapshot" ]] && rolled+=("${f%.log}.snapshot")
  done
  echo "segments: more than one: $( ((${#logs[@]} > 1)) && echo yes || echo no)"
  local dump rc=0
  dump="$(mktemp)"
  kafka_java org.apache.kafka.tools.DumpLogSegments --deep-iteration --index-sanity-check \
    --files "$(printf '%s\n' "${logs[@]}" "${rolled[@]}" | paste -sd,)" >"$dump" 2>&1 || rc=$?
  cp "$dump" "$OUT_DIR/dump-log.$([[ $b == "$KAFKA_ADDR" ]] && echo kafka || echo sut).dump"
  echo "\$ DumpLogSegments --deep-iteration --index-sanity-check --files <every .log, rolled .index/.timeindex/.snapshot>"
  echo "  rc=$rc"
  local n_idx n_ok
  n_idx=$(( (${#logs[@]} - 1) * 2 ))
  n_ok=$(grep -cE '(passed sanity check|is empty)\.$' "$dump" || true)
  echo "  rolled .index/.timeindex files that passed the sanity check (or are empty): $( ((n_ok == n_idx)) && echo all || echo "$n_ok of $n_idx")"
  echo "  batches with isvalid: false: $(grep -c 'isvalid: false' "$dump" || true)"
  echo "  codecs: $(grep -oE 'compresscodec: [a-z0-9]+' "$dump" | sort -u | cut -d' ' -f2 | paste -sd' ')"
  # Per producer id: its batches' sequences continue where the previous batch ended.
  grep -E '^baseOffset' "$dump" | sed -E 's/.*baseSequence: (-?[0-9]+) lastSequence: (-?[0-9]+) producerId: (-?[0-9]+).*/\3 \1 \2/' |
    awk '{ if (($1 in nxt) && $2 != nxt[$1]) bad = 1; if (!($1 in nxt) && $2 != 0) bad = 1; nxt[$1] = $3 + 1 }
      END { printf "  producer ids: %d, sequences per producer id 0.. contiguous: %s\n", length(nxt), (bad ? "no" : "yes") }'
  grep -oE '^\| offset: [0-9]+' "$dump" | awk '{ if ($3 != NR - 1) bad = 1 } END {
    printf "  records (deep iteration): %d, offsets 0..%d contiguous: %s\n", NR, NR - 1, (bad ? "no" : "yes") }'
  # DumpLogSegments reports the first batch of every segment but the first as "-1 is followed by
  # <segment base offset>" when several .log files are dumped (against Kafka's files too): an
  # artifact of the tool, dropped here. Any other report is printed.
  echo "  problems reported (mismatch/corrupt/exception/non-consecutive/out of order):"
  awk '/^Non-consecutive offsets in / { f = $NF; sub(/.*\//, "", f); sub(/\.log$/, "", f); base = f + 0; pending = $0; next }
       pending != "" { if ($0 ~ /^  -1 is followed by / && $NF + 0 == base) { pending = ""; next }
                       print pending; pending = "" }
       tolower($0) ~ /mismatch|corrupt|exception|non-consecutive|out of order|error/ { print }
       END { if (pending != "") print pending }' "$dump" | sed "s|$dir/||; s/^/    /" | head -20
  rm -f "$dump"
}

scenario_dispatch "$@"

# ------------------------------------------------------------------------------------------
# Main

command -v kcat >/dev/null || apt_install kcat
command -v jq >/dev/null || apt_install jq
need_java
log "$(kcat -V 2>&1 | grep -m1 Version)"

trap cleanup_brokers EXIT
ensure_kafka
ensure_sut

# The same topics on both brokers (created with Apache Kafka's kafka-topics tool).
setup_topics() {
  local b=$1 t
  kafka_topics "$b" --create --topic "${PREFIX}three" --partitions 3 --replication-factor 1 >&2
  kafka_topics "$b" --create --topic "${PREFIX}one" --partitions 1 --replication-factor 1 \
    --config cleanup.policy=compact >&2
  kafka_topics "$b" --create --topic "${PREFIX}deleted" --partitions 2 --replication-factor 1 >&2
  # Wait (bounded) until librdkafka sees all of them with their partitions.
  local end=$((SECONDS + 60))
  for t in three one deleted; do
    until kcat -L -b "$b" "${KCAT_OPTS[@]}" -t "${PREFIX}$t" 2>/dev/null | grep -q 'partition 0,'; do
      ((SECONDS < end)) || die "topic ${PREFIX}$t not visible on $b"
      sleep 0.2
    done
  done
}
teardown_topics() {
  kafka_topics "$1" --delete --topic "${PREFIX}.*" --if-exists >&2 || true
}

log "creating topics on kafka ($KAFKA_ADDR) and $SUT_NAME ($SLUICE_ADDR)"
setup_topics "$KAFKA_ADDR"
setup_topics "$SLUICE_ADDR"

ALL=(metadata-all metadata-topic metadata-json auto-create-first-answer auto-create
  metadata-after-delete roundtrip-none roundtrip-gzip roundtrip-snappy roundtrip-lz4
  roundtrip-zstd headers offsets-for-times dump-log)
INFORMATIONAL=" auto-create-first-answer "
selected=("$@")
((${#selected[@]})) || selected=("${ALL[@]}")
for name in "${selected[@]}"; do
  func="sc_${name//-/_}"
  args=()
  if [[ $name == roundtrip-* ]]; then func=sc_roundtrip; args=("${name#roundtrip-}"); fi
  declare -F "$func" >/dev/null || die "unknown scenario $name (known: ${ALL[*]})"
  if [[ "$INFORMATIONAL" == *" $name "* ]]; then
    run_scenario_informational "$name" "$func" "${args[@]}"
  else
    run_scenario "$name" "$func" "${args[@]}"
  fi
done

teardown_topics "$KAFKA_ADDR"
teardown_topics "$SLUICE_ADDR"

if [[ -z "${COMPAT_NO_SUMMARY:-}" ]]; then
  print_summary
fi
