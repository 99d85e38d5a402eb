#!/usr/bin/env bash
# Log compaction (cleanup.policy=compact): keyed records and tombstones produced with kcat to a
# compacted topic whose segments roll every 100 ms, read back until the broker's log cleaner has
# left only the latest record per key, against the reference Kafka and Sluice, compared.
# See README.md (scenarios) and FINDINGS.md (what differs).
#
#   bash compaction/run.sh              every scenario (about a minute)
#   bash compaction/run.sh NAME...      only these scenarios
#   bash compaction/run.sh --list       list the scenarios
#
# Both brokers must run the cleaner often: lib/common.sh starts them with
# log.cleaner.backoff.ms=1000 (COMPAT_BROKER_PROPS). Against brokers started otherwise the
# waits below run into their deadline.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=compaction
source "$HERE/../lib/common.sh"

# How long a scenario waits for the cleaner (seconds).
CLEAN_DEADLINE="${CLEAN_DEADLINE:-60}"

topic() { echo "compact-$RUN_ID-$1"; }

# create BROKER TOPIC DELETE_RETENTION_MS: a compacted topic whose active segment rolls on the
# first append 100 ms after its first batch, cleaned as soon as anything is dirty.
create() {
  kafka_topics "$1" --create --topic "$2" --partitions 1 --replication-factor 1 \
    --config cleanup.policy=compact --config segment.ms=100 \
    --config min.cleanable.dirty.ratio=0.01 --config delete.retention.ms="$3" >&2
}

# produce BROKER TOPIC [CODEC [KCAT OPTIONS...]]: lines "key:value" from stdin; "key:" is a tombstone (kcat -Z:
# empty value sent as null).
produce() {
  local b=$1 t=$2 z=${3:-none}
  shift 3 2>/dev/null || shift $#
  kcat -b "$b" -P -t "$t" -K: -Z -z "$z" -X socket.timeout.ms=10000 "$@"
}

# consume BROKER TOPIC: "offset key=value" of every record from the beginning (NULL: tombstone).
consume() {
  kcat -b "$1" -C -t "$2" -o beginning -e -q -Z -f '%o %k=%s\n' -X socket.timeout.ms=10000
}

# produce_history BROKER TOPIC: k0..k19 = v1 (gzip); then k0..k4 deleted (tombstones) and
# k5..k19 = v2 (zstd); then k5..k9 = v3 (lz4). Three produce calls, each in a segment of its own
# (segment.ms=100); the cleaner rewrites the zstd batch with its codec.
produce_history() {
  local i
  for i in $(seq 0 19); do echo "k$i:v1"; done | produce "$1" "$2" gzip
  sleep 0.3
  { for i in $(seq 0 4); do echo "k$i:"; done
    for i in $(seq 5 19); do echo "k$i:v2"; done; } | produce "$1" "$2" zstd
  sleep 0.3
  for i in $(seq 5 9); do echo "k$i:v3"; done | produce "$1" "$2" lz4
}

# Keys the waits and dumps look at (the scenario's own records, not the ticks).
KEYS_RE='k[0-9]+'

# wait_clean BROKER TOPIC DONE_CMD: append a "tick" record (it rolls the segment before it, so
# everything produced so far becomes cleanable) and read the topic back, every 0.5 s, until
# DONE_CMD (given the k-records on stdin) succeeds or CLEAN_DEADLINE passes. Prints the
# k-records read last (offset order) and whether the wait succeeded.
wait_clean() {
  local broker=$1 t=$2 done_cmd=$3 n=0 start=$SECONDS out krecs
  while :; do
    n=$((n + 1))
    echo "tick:$n" | produce "$broker" "$t"
    out="$(consume "$broker" "$t")"
    krecs="$(grep -E "^[0-9]+ $KEYS_RE=" <<<"$out" || true)"
    log "  $broker $t: poll $n after $((SECONDS - start))s: $(grep -c . <<<"$out") records, $(grep -c . <<<"$krecs") with keys $KEYS_RE"
    if "$done_cmd" <<<"$krecs"; then
      echo "cleaned: yes"
      break
    fi
    if ((SECONDS - start >= CLEAN_DEADLINE)); then
      echo "cleaned: NO (deadline ${CLEAN_DEADLINE}s)"
      break
    fi
    sleep 0.5
  done
  echo "$krecs"
}

# Each key once and no tombstone left.
only_latest_no_tombstones() {
  local recs
  recs="$(cat)"
  [[ -z "$(awk '{ split($2, kv, "="); print kv[1] }' <<<"$recs" | sort | uniq -d)" ]] &&
    ! grep -q '=NULL$' <<<"$recs"
}

# Each key once (tombstones may stay).
only_latest() {
  local recs
  recs="$(cat)"
  [[ -z "$(awk '{ split($2, kv, "="); print kv[1] }' <<<"$recs" | sort | uniq -d)" ]]
}

# The log start offset (earliest offset) of partition 0: ListOffsets with timestamp -2
# (EARLIEST) through kcat -Q.
earliest() {
  echo "earliest offset: $(kcat -b "$1" -Q -t "$2:0:-2" | sed -E 's/^.* offset //')"
}

# dump BROKER TOPIC: Apache Kafka's DumpLogSegments --deep-iteration --print-data-log over the
# partition's .log files on the broker's disk (it re-checks every batch: CRC, sizes, records):
# how many batches are not valid, the codecs, and the keyed k* records it finds.
dump() {
  local b=$1 t=$2 dir out rc=0 try
  dir="$(broker_log_dir "$b")/$t-0"
  for try in 1 2; do
    # Let a cleaning round started by the last tick finish (the cleaner runs every second).
    sleep 2
    rc=0
    out="$(kafka_java org.apache.kafka.tools.DumpLogSegments --deep-iteration --print-data-log \
      --files "$(ls "$dir"/*.log | paste -sd,)" 2>&1)" || rc=$?
    ((rc == 0)) && break
  done
  echo "\$ DumpLogSegments --deep-iteration --print-data-log (rc=$rc)"
  echo "  batches with isvalid: false: $(grep -c 'isvalid: false' <<<"$out" || true)"
  echo "  codecs: $(grep -oE 'compresscodec: [a-z0-9]+' <<<"$out" | sort -u | cut -d' ' -f2 | paste -sd' ')"
  grep -E '^\| offset: ' <<<"$out" | sed -nE "s/^\\| offset: ([0-9]+) .* key: ($KEYS_RE) payload: ?(.*)\$/  \\1 \\2=\\3/p"
}

# The transactions/ folder's Txn program (Kafka 4.3.1 clients), compiled into our work dir.
JLIB="$COMPAT_DIR/java/work/lib"
TXN_CLASSES="$HERE/work/txn-classes"
tx() {
  java -Xmx192m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Duser.timezone=UTC \
    -Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties" \
    -cp "$JLIB/*:$TXN_CLASSES" Txn "$@"
}

# markers BROKER TOPIC PARTITION: DumpLogSegments of the partition: its non-tick records and
# transaction markers in offset order ("offset key=value" / "offset MARKER"), empty batches
# counted.
partition_dump() {
  local b=$1 t=$2 p=$3 dir
  dir="$(broker_log_dir "$b")/$t-$p"
  kafka_java org.apache.kafka.tools.DumpLogSegments --deep-iteration --print-data-log \
    --files "$(ls "$dir"/*.log | paste -sd,)" 2>&1
}
summarize_dump() {
  local p=$1
  awk -v p="$p" '
    /^baseOffset: / { for (i = 1; i <= NF; i++) if ($i == "count:") c = $(i + 1); if (c == 0) empty++ }
    /^\| offset: / {
      off = $3
      if (match($0, /endTxnMarker: [A-Z]+/)) { print "  p" p " " off " " substr($0, RSTART + 14, RLENGTH - 14); next }
      if (match($0, /key: [^ ]+ payload: [^ ]*/)) {
        split(substr($0, RSTART, RLENGTH), kv, " ")
        if (kv[2] != "tick") print "  p" p " " off " " kv[2] "=" kv[4]
      }
    }
    END { print "  p" p " empty batches: " empty + 0 }'
}

# ------------------------------------------------------------------------------------------
# Scenarios. Each gets the broker address as $1.

# delete.retention.ms=1000: the cleaner keeps the latest value per key and, once their delete
# horizon has passed, removes the tombstones too; offsets never change and the log start
# offset stays 0.
sc_latest_per_key() {
  local b=$1 t
  t="$(topic latest)"
  create "$b" "$t" 1000
  produce_history "$b" "$t"
  wait_clean "$b" "$t" only_latest_no_tombstones
  earliest "$b" "$t"
  dump "$b" "$t"
}

# delete.retention.ms of a day: superseded values go, the tombstones of k0..k4 stay.
sc_tombstones_retained() {
  local b=$1 t
  t="$(topic tombstones)"
  create "$b" "$t" 86400000
  produce_history "$b" "$t"
  wait_clean "$b" "$t" only_latest
}

# A batch of each codec (gzip, snappy, lz4, zstd; compressible values) whose even keys are
# then overwritten: the cleaner rewrites every one of them with half its records, recompressed
# with its codec. kcat (librdkafka) reads them back, and DumpLogSegments decompresses them with
# Kafka's own codecs.
sc_codecs() {
  local b=$1 t z i pad
  t="$(topic codecs)"
  KEYS_RE='[a-z0-9]+-[0-9]'
  pad="$(printf 'x%.0s' $(seq 1 100))"
  create "$b" "$t" 86400000
  for z in gzip snappy lz4 zstd; do
    for i in $(seq 0 9); do echo "$z-$i:$z-$i-$pad"; done | produce "$b" "$t" "$z"
    sleep 0.3
  done
  for z in gzip snappy lz4 zstd; do
    for i in 0 2 4 6 8; do echo "$z-$i:new"; done
  done | produce "$b" "$t"
  wait_clean "$b" "$t" only_latest | sed -E "s/-$pad/-PAD/"
  dump "$b" "$t" | sed -E "s/-$pad/-PAD/"
}

# Two idempotent producers (kcat -X enable.idempotence=true) write k0..k4 one after the other:
# the first one's batch loses all its records, but the batch stays, empty, with its offsets and
# sequences, because it holds the last sequence of a producer still active (Kafka's rule for
# producer state). Prints the batches of producers (producer ids masked) DumpLogSegments finds.
sc_idempotent() {
  local b=$1 t i dir
  t="$(topic idem)"
  create "$b" "$t" 1000
  for i in $(seq 0 4); do echo "k$i:first"; done | produce "$b" "$t" none -X enable.idempotence=true
  sleep 0.3
  for i in $(seq 0 4); do echo "k$i:second"; done | produce "$b" "$t" none -X enable.idempotence=true
  wait_clean "$b" "$t" only_latest
  sleep 2
  dir="$(broker_log_dir "$b")/$t-0"
  echo "batches with a producer id (DumpLogSegments):"
  kafka_java org.apache.kafka.tools.DumpLogSegments --deep-iteration \
    --files "$(ls "$dir"/*.log | paste -sd,)" 2>&1 |
    awk '/^baseOffset: / {
      for (i = 1; i < NF; i++) v[$i] = $(i + 1)
      if (v["producerId:"] != "-1")
        print "  offsets " v["baseOffset:"] "-" v["lastOffset:"] " count " v["count:"] " sequences " v["baseSequence:"] "-" v["lastSequence:"] " isvalid " v["isvalid:"]
    }'
}

# A record without a key is refused on a compacted topic (INVALID_RECORD).
sc_null_key_refused() {
  local b=$1 t out rc=0
  t="$(topic nokey)"
  create "$b" "$t" 1000
  out="$(echo "nokey" | produce "$b" "$t" 2>&1)" || rc=$?
  echo "kcat rc=$rc: ${out#% }"
  echo "k:with-key" | produce "$b" "$t"
  consume "$b" "$t"
}

# A Java transactional producer (Txn pattern: a0..a5 committed, b0..b5 aborted, c0..c5
# committed with offsets, over partitions 0 and 1) into a compacted topic with
# delete.retention.ms=1000: the cleaner drops the aborted records (read_uncommitted no longer
# sees b*), then removes the ABORT markers once no record of their transaction is left and their
# delete horizon has passed; COMMIT markers stay while their transaction's records do.
sc_transactions() {
  local b=$1 t n=0 start=$SECONDS out p dumps aborts
  t="$(topic txn)"
  kafka_topics "$b" --create --topic "$t" --partitions 2 --replication-factor 1 \
    --config cleanup.policy=compact --config segment.ms=100 \
    --config min.cleanable.dirty.ratio=0.01 --config delete.retention.ms=1000 >&2
  tx pattern "$b" "$t" "txn-$RUN_ID-compact" | grep -v '^offset'
  # Ticks roll both partitions; wait until the aborted records are gone and so are the ABORT
  # markers (DumpLogSegments, every few polls: it starts a JVM).
  while :; do
    n=$((n + 1))
    for p in 0 1; do echo "tick:$n" | kcat -b "$b" -P -t "$t" -p "$p" -K: -X socket.timeout.ms=10000; done
    out="$(kcat -b "$b" -C -t "$t" -o beginning -e -q -X isolation.level=read_uncommitted \
      -f '%p %k=%s\n' -X socket.timeout.ms=10000 | grep -v ' tick=' | LC_ALL=C sort)"
    aborts=unknown
    if ! grep -q ' b[0-9]=' <<<"$out" && ((n % 3 == 0)); then
      # A segment the cleaner replaces between `ls` and DumpLogSegments' read fails the dump
      # (seen on Kafka: segment.ms=100 rolls and cleans all the time): then poll again.
      if dumps="$(for p in 0 1; do partition_dump "$b" "$t" "$p" | summarize_dump "$p" || exit 1; done)"; then
        aborts="$(grep -c ' ABORT$' <<<"$dumps" || true)"
      else
        log "  $b $t: DumpLogSegments failed (segments replaced while it read), polling again"
        dumps=""
      fi
    fi
    log "  $b $t: poll $n after $((SECONDS - start))s: $(grep -c . <<<"$out") records read_uncommitted, ABORT markers left: $aborts"
    if [[ "$aborts" == 0 ]]; then
      echo "cleaned: yes"
      break
    fi
    if ((SECONDS - start >= CLEAN_DEADLINE)); then
      echo "cleaned: NO (deadline ${CLEAN_DEADLINE}s)"
      break
    fi
    sleep 0.5
  done
  echo "read_uncommitted (partition key=value, sorted, ticks left out):"
  echo "$out"
  echo "DumpLogSegments (ticks left out):"
  echo "${dumps:-}"
}

scenario_dispatch "$@"

# ------------------------------------------------------------------------------------------
# Main

ALL=(latest-per-key tombstones-retained codecs idempotent null-key-refused transactions)
if [[ "${1:-}" == --list ]]; then printf '%s\n' "${ALL[@]}"; exit 0; fi

need_java
maven_libs "$COMPAT_DIR/java" >/dev/null
command -v kcat >/dev/null || apt_install kcat
mkdir -p "$HERE/work"
compile_java "$COMPAT_DIR/transactions/src" "$TXN_CLASSES" "$JLIB"

trap cleanup_brokers EXIT
ensure_kafka
ensure_sut

selected=("$@")
((${#selected[@]})) || selected=("${ALL[@]}")
for name in "${selected[@]}"; do
  func="sc_${name//-/_}"
  declare -F "$func" >/dev/null || die "unknown scenario $name (known: ${ALL[*]})"
  run_scenario "$name" "$func"
done

if [[ -z "${COMPAT_NO_SUMMARY:-}" ]]; then
  print_summary
fi
