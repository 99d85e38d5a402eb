#!/usr/bin/env bash
# Data directories across brokers: a log.dirs written by one broker, read by another.
#
# A writer broker is filled with every kind of content (src/DataDir.java `write`: topics with
# configs, records with keys/headers/five codecs over several segments, a compacted topic, a
# DeleteRecords'd partition, classic / KIP-848 / regex / static group offsets, committed and
# aborted transactions with a TxnOffsetCommit, an idempotent producer stopped mid-stream) and
# stopped. Its directory is copied twice; each scenario starts the reference Kafka on one copy
# and the system under test on the other and compares what they serve (DataDir `transcript`).
#
#   bash datadir/run.sh              all scenarios
#   bash datadir/run.sh NAME...      some of them
#
# Scenarios (see README.md):
#   kafka-dir        the directory Apache Kafka 4.3.1 wrote, stopped cleanly
#   kafka-dir-kill9  the directory Apache Kafka 4.3.1 wrote, killed with SIGKILL (nightly)
#   sut-dir          the directory the system under test (Sluice) wrote, stopped cleanly
#
# Brokers of its own (NOT the shared harness brokers), one at a time per port:
#   Kafka (writer or reader)  127.0.0.1:DD_KAFKA_PORT (19692, controller +1), instance dd-kafka
#   Sluice (writer or reader) 127.0.0.1:DD_SLUICE_PORT (25692)
#   COMPAT_SELF_CHECK=1: the system under test is a second Kafka, instance dd-self on
#   127.0.0.1:DD_SELF_PORT (29692, controller +1)
# Data: datadir/work/written/<kind>/{data,state} (what a writer left), datadir/work/read/<side>/data
# (the copy a reader runs on). Broker logs: kafka-ref/work/dd-*/kafka.log,
# datadir/work/sluice-<port>.log.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=datadir
source "$HERE/../lib/common.sh"

KAFKA_ADDR="127.0.0.1:${DD_KAFKA_PORT:-19692}"
if [[ "${COMPAT_SELF_CHECK:-0}" == 1 ]]; then
  SLUICE_ADDR="127.0.0.1:${DD_SELF_PORT:-29692}"
else
  SLUICE_ADDR="127.0.0.1:${DD_SLUICE_PORT:-25692}"
fi
export KAFKA_ADDR SLUICE_ADDR
JLIB="$COMPAT_DIR/java/work/lib"
CLASSES="$HERE/work/classes"
WRITTEN="$HERE/work/written"
READ="$HERE/work/read"

dd_java() {
  java -Xmx384m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties" -cp "$JLIB/*:$CLASSES" DataDir "$@"
}

# ------------------------------------------------------------------------------------------
# Brokers by address: the reference Kafka (instance dd-kafka), and the system under test
# (Sluice, or a Kafka instance dd-self with COMPAT_SELF_CHECK=1). Each starts on a given data dir.

kind_of() {
  if [[ $1 == "$KAFKA_ADDR" ]]; then echo kafka-dd-kafka
  elif [[ "${COMPAT_SELF_CHECK:-0}" == 1 ]]; then echo kafka-dd-self
  else echo sluice; fi
}

sluice_log() { echo "$HERE/work/sluice-$(port_of "$1").log"; }
sluice_pidfile() { echo "$HERE/work/sluice-$(port_of "$1").pid"; }

# broker_start ADDR DATA_DIR: start the broker of ADDR on DATA_DIR (an empty dir: a fresh broker;
# a dir with a meta.properties: started on what is there, not formatted). Fails if it does not
# come up; the reason is the tail of its log.
broker_start() {
  local addr=$1 data=$2 kind port
  kind="$(kind_of "$addr")"
  port="$(port_of "$addr")"
  port_open 127.0.0.1 "$port" && die "port $port already in use: $(describe_listener "$addr")"
  case "$kind" in
    kafka-*)
      # run.sh dies on failure; keep its reason on stderr, return non-zero.
      KAFKA_DATA_DIR="$data" KAFKA_INSTANCE="${kind#kafka-}" KAFKA_PORT="$port" \
        KAFKA_CONTROLLER_PORT="$((port + 1))" KAFKA_EXTRA_PROPS="$COMPAT_BROKER_PROPS" \
        bash "$COMPAT_DIR/kafka-ref/run.sh" start >&2
      ;;
    sluice)
      local bin logf extra=() kv
      bin="$(sluice_bin)"
      logf="$(sluice_log "$addr")"
      [[ -f "$logf" ]] && mv "$logf" "$logf.previous"
      for kv in $COMPAT_BROKER_PROPS; do extra+=(--override "$kv"); done
      # The KRaft settings a Kafka node of this scenario has (kafka-ref/run.sh): Sluice does not
      # open the CONTROLLER listener, but a cluster it creates gets the same dynamic quorum
      # (kraft.version 1, this node its voter), so Kafka started on the dir with the same
      # settings finds its voter set.
      "$bin" --override "listeners=PLAINTEXT://$addr,CONTROLLER://127.0.0.1:$((port + 1))" \
        --override "advertised.listeners=PLAINTEXT://$addr" \
        --override controller.listener.names=CONTROLLER \
        --override listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT \
        --override "controller.quorum.bootstrap.servers=127.0.0.1:$((port + 1))" \
        --override metadata.log.max.record.bytes.between.snapshots=4096 \
        --override "log.dirs=$data" --override node.id=1 --override num.partitions=1 \
        --override auto.create.topics.enable=true --override group.initial.rebalance.delay.ms=0 \
        "${extra[@]}" >"$logf" 2>&1 </dev/null &
      echo $! >"$(sluice_pidfile "$addr")"
      if ! wait_for_port 127.0.0.1 "$port" 60 "$(cat "$(sluice_pidfile "$addr")")"; then
        tail -20 "$logf" >&2
        log "sluice did not start on $addr (log: $logf)"
        return 1
      fi
      log "sluice up on $addr (pid $(cat "$(sluice_pidfile "$addr")"), data $data)"
      ;;
  esac
}

# broker_stop ADDR term|kill
broker_stop() {
  local addr=$1 how=$2 kind
  kind="$(kind_of "$addr")"
  case "$kind" in
    kafka-*)
      KAFKA_INSTANCE="${kind#kafka-}" bash "$COMPAT_DIR/kafka-ref/run.sh" "$([[ $how == term ]] && echo stop || echo kill9)" >&2
      ;;
    sluice)
      local pidf pid end
      pidf="$(sluice_pidfile "$addr")"
      [[ -f "$pidf" ]] || return 0
      pid="$(cat "$pidf")"
      rm -f "$pidf"
      kill -0 "$pid" 2>/dev/null || return 0
      log "sluice on $addr: $([[ $how == term ]] && echo SIGTERM || echo 'kill -9') (pid $pid)"
      kill "$([[ $how == term ]] && echo -TERM || echo -KILL)" "$pid" 2>/dev/null || true
      end=$((SECONDS + 30))
      while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then
        log "sluice did not stop within 30s; kill -9"
        kill -KILL "$pid" 2>/dev/null || true
      fi
      ;;
  esac
}

# ------------------------------------------------------------------------------------------
# Writers

# wait_compacted DATA_DIR: until the log cleaner has cleaned dd-compact up to its active segment
# on every partition (cleaner-offset-checkpoint = base offset of the newest segment), bounded.
wait_compacted() {
  local data=$1 end=$((SECONDS + 60)) p done newest cleaned
  while ((SECONDS < end)); do
    done=1
    for p in 0 1; do
      newest="$(find "$data/dd-compact-$p" -maxdepth 1 -name '*.log' -printf '%f\n' 2>/dev/null | sort | tail -1)"
      newest=$((10#${newest%.log}))
      cleaned="$(awk -v p="$p" '$1 == "dd-compact" && $2 == p { print $3 }' "$data/cleaner-offset-checkpoint" 2>/dev/null)"
      if [[ -z "$cleaned" || "$cleaned" != "$newest" ]]; then done=0; fi
    done
    ((done)) && return 0
    sleep 0.2 # poll interval while the cleaner works
  done
  log "dd-compact was not cleaned up to its active segment within 60s"
  return 1
}

# write_dir KIND ADDR HOW: the broker of ADDR writes WRITTEN/KIND/data from scratch, then is
# stopped with HOW (term|kill). Done once per run.sh call.
write_dir() {
  local kind=$1 addr=$2 how=$3 dir="$WRITTEN/$1"
  log "== writing the $kind directory ($(kind_of "$addr") on $addr, then $how)"
  rm -rf "$dir"
  mkdir -p "$dir/data" "$dir/state"
  broker_start "$addr" "$dir/data" || return 1
  local rc=0
  dd_java write "$addr" "$dir/state" >"$dir/write.out" 2>"$dir/write.err" || rc=$?
  if ((rc == 0)); then wait_compacted "$dir/data" || rc=$?; fi
  broker_stop "$addr" "$how"
  if ((rc != 0)); then
    tail -20 "$dir/write.err" >&2
    log "writing the $kind directory failed (see ${dir#"$COMPAT_DIR/"}/write.{out,err})"
    rm -rf "$dir/data"
    return 1
  fi
  # What the writer left: every file under the directory (sizes vary, names must not).
  (cd "$dir/data" && find . -type f | LC_ALL=C sort) >"$dir/files.txt"
}

# ------------------------------------------------------------------------------------------
# Readers: both brokers start on their own copy of WRITTEN/KIND/data at the same time (before
# run_scenario, which runs the transcripts one after the other), and stop together after it.

copy_of() { echo "$READ/$1-$(kind_of "$2")"; }

# start_readers KIND: copies the directory for each side and starts both brokers in parallel;
# each side's outcome goes to <copy>/started (ok, or the reason) for the scenario to print.
start_readers() {
  local kind=$1 addr pids=()
  for addr in "$KAFKA_ADDR" "$SLUICE_ADDR"; do
    local copy
    copy="$(copy_of "$kind" "$addr")"
    rm -rf "$copy"
    mkdir -p "$copy"
    if [[ ! -d "$WRITTEN/$kind/data" ]]; then
      echo "no $kind directory was written" >"$copy/started"
      continue
    fi
    cp -a "$WRITTEN/$kind/data" "$copy/data"
    (
      if broker_start "$addr" "$copy/data" 2>"$copy/start.err"; then
        echo ok >"$copy/started"
      else
        echo "the broker did not start on the directory" >"$copy/started"
      fi
      cat "$copy/start.err" >&2
    ) &
    pids+=($!)
  done
  local pid
  for pid in "${pids[@]}"; do wait "$pid" || true; done
}

stop_readers() {
  broker_stop "$KAFKA_ADDR" term &
  broker_stop "$SLUICE_ADDR" term &
  wait
}

# dump_check DATA: Kafka's DumpLogSegments --deep-iteration --index-sanity-check over every
# .log/.index/.timeindex/.txnindex/.snapshot file of the dd-* partitions (after a clean stop,
# so the active segments' indexes are trimmed too): whether Kafka's tool reads them all. Facts
# only (which files exist differs: Kafka creates a .txnindex only for a segment with an aborted
# transaction, Sluice for every segment).
dump_check() {
  local data=$1 files dump rc=0 nidx nok
  files="$(find "$data" -path '*/dd-*' -type f \( -name '*.log' -o -name '*.index' -o -name '*.timeindex' \
    -o -name '*.txnindex' -o -name '*.snapshot' \) | LC_ALL=C sort | paste -sd,)"
  dump="$(mktemp)"
  kafka_java org.apache.kafka.tools.DumpLogSegments --deep-iteration --index-sanity-check \
    --files "$files" >"$dump" 2>&1 || rc=$?
  nidx=$(tr ',' '\n' <<<"$files" | grep -cE '\.(time)?index$' || true)
  nok=$(grep -cE '(passed sanity check|is empty)\.$' "$dump" || true)
  echo "  DumpLogSegments exit $rc; .index/.timeindex files passing the sanity check:" \
    "$( ((nok == nidx)) && echo all || echo "$nok of $nidx")"
  echo "  batches DumpLogSegments finds invalid: $(grep -ciE 'isvalid: false' "$dump" || true)"
  # Gaps in offsets are expected (compaction, DeleteRecords); anything else is a problem.
  grep -iE 'mismatch|corrupt|exception|error|out of order' "$dump" | sed "s|$data/||; s/^/  problem: /" | head -10 || true
  rm -f "$dump"
}

# metadata_check DATA: Kafka's own tools over the KRaft metadata log the broker left
# (`__cluster_metadata-0`: its segments and snapshots): DumpLogSegments --cluster-metadata-decoder
# decodes every record, and kafka-metadata-shell replays it (the newest snapshot, then the log)
# into the topics it lists. Which records there are differs between brokers; that Kafka's tools
# read them all, and the topics they make, do not.
metadata_check() {
  local dir=$1/__cluster_metadata-0 files dump rc=0 shell_rc=0 lib
  files="$(find "$dir" -type f \( -name '*.log' -o -name '*.checkpoint' \) | LC_ALL=C sort | paste -sd,)"
  dump="$(mktemp)"
  kafka_java org.apache.kafka.tools.DumpLogSegments --cluster-metadata-decoder \
    --files "$files" >"$dump" 2>&1 || rc=$?
  local nsnap nread
  nsnap=$(tr ',' '\n' <<<"$files" | grep -c '\.checkpoint$' || true)
  nread=$(grep -c '^Snapshot end offset' "$dump" || true)
  echo "  DumpLogSegments --cluster-metadata-decoder exit $rc; snapshots read:" \
    "$( ((nread == nsnap)) && echo all || echo "$nread of $nsnap")"
  echo "  batches invalid: $(grep -ciE 'isvalid: false' "$dump" || true);" \
    "records it could not decode: $(grep -ciE 'exception|error|could not' "$dump" || true)"
  rm -f "$dump"
  lib="$(maven_libs "$COMPAT_DIR/kafka-ref")"
  echo "  kafka-metadata-shell: topics of the metadata image"
  # Kafka 4.3.1's shell runs its command once the first batch is applied, not the whole file
  # (MetadataShell.waitUntilCaughtUp: lastAppliedOffset > 0), so a run can list an image without
  # the topics yet (FINDINGS D14): a few bounded tries, until the topics of the scenario show.
  local out attempt
  for attempt in 1 2 3 4 5; do
    shell_rc=0
    out="$(java -Xmx256m -Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties" -cp "$lib/*" \
      org.apache.kafka.shell.MetadataShell --snapshot "$dir/00000000000000000000.log" \
      ls /image/topics/byName 2>&1)" || shell_rc=$?
    grep -q '^dd-plain$' <<<"$out" && break
    echo "kafka-metadata-shell attempt $attempt (exit $shell_rc): $(tail -3 <<<"$out")" >&2
  done
  grep -v 'Ignoring control record' <<<"$out" | sed 's/^/    /' || true
  echo "  kafka-metadata-shell exit $shell_rc"
}

# The scenario (one side): what the broker of ADDR, started on its copy of the KIND directory,
# serves (DataDir transcript), or that it did not start; then, stopped cleanly, whether Kafka's
# DumpLogSegments reads the partition files it left.
read_dir() {
  local b=$1 kind=$2 copy started rc=0
  copy="$(copy_of "$kind" "$b")"
  started="$(cat "$copy/started" 2>/dev/null || echo "not started")"
  if [[ $started != ok ]]; then
    echo "$started"
    # That Kafka does not start on a directory the system under test wrote is a finding of the
    # scenario (a transcript that differs), not a broken scenario; on a directory Kafka wrote it
    # is, and so is the system under test not starting on its own.
    [[ $kind == sut-clean && $b == "$KAFKA_ADDR" ]] && return 0
    return 1
  fi
  echo "started on a copy of the $kind directory"
  dd_java transcript "$b" "$WRITTEN/$kind/state" || rc=$?
  broker_stop "$b" term
  echo ""
  echo "== stopped; the dd-* partition files it left, through Kafka's DumpLogSegments"
  dump_check "$copy/data"
  echo "== its metadata log, through Kafka's tools"
  metadata_check "$copy/data"
  return "$rc"
}

sc_kafka_dir() { read_dir "$1" kafka-clean; }
sc_kafka_dir_kill9() { read_dir "$1" kafka-kill9; }
sc_sut_dir() { read_dir "$1" sut-clean; }

scenario_dispatch "$@"

# ------------------------------------------------------------------------------------------
# Main

need_java
maven_libs "$COMPAT_DIR/java" >/dev/null
compile_java "$HERE/src" "$CLASSES" "$JLIB"
[[ "${COMPAT_SELF_CHECK:-0}" == 1 ]] || sluice_bin >/dev/null

cleanup_dd() {
  broker_stop "$KAFKA_ADDR" term || true
  broker_stop "$SLUICE_ADDR" term || true
}
trap cleanup_dd EXIT

# The CI tier; nightly.sh adds kafka-dir-kill9.
ALL=(kafka-dir sut-dir)
EXTRA=(kafka-dir-kill9)
selected=("$@")
((${#selected[@]})) || selected=("${ALL[@]}")
kind_for() {
  case "$1" in
    kafka-dir) echo kafka-clean ;;
    kafka-dir-kill9) echo kafka-kill9 ;;
    sut-dir) echo sut-clean ;;
    *) die "unknown scenario $1 (known: ${ALL[*]} ${EXTRA[*]})" ;;
  esac
}
for name in "${selected[@]}"; do kind_for "$name" >/dev/null; done

# The writers: the Kafka-written and the SUT-written directories at the same time (their brokers
# listen on different ports); the killed variant after the clean one (same port).
t0=$SECONDS
kinds=" $(for name in "${selected[@]}"; do kind_for "$name"; done | tr '\n' ' ')"
pids=()
if [[ $kinds == *" kafka-clean "* || $kinds == *" kafka-kill9 "* ]]; then
  (
    [[ $kinds != *" kafka-clean "* ]] || write_dir kafka-clean "$KAFKA_ADDR" term || true
    [[ $kinds != *" kafka-kill9 "* ]] || write_dir kafka-kill9 "$KAFKA_ADDR" kill || true
  ) &
  pids+=($!)
fi
if [[ $kinds == *" sut-clean "* ]]; then
  (write_dir sut-clean "$SLUICE_ADDR" term || true) &
  pids+=($!)
fi
for pid in "${pids[@]}"; do wait "$pid" || true; done
log "directories written in $((SECONDS - t0))s"

for name in "${selected[@]}"; do
  t0=$SECONDS
  start_readers "$(kind_for "$name")"
  run_scenario "$name" "sc_${name//-/_}"
  stop_readers
  log "$name: $((SECONDS - t0))s"
done

if [[ -z "${COMPAT_NO_SUMMARY:-}" ]]; then
  print_summary
fi
