#!/usr/bin/env bash
# Durability scenarios: a broker stopped cleanly or killed with SIGKILL during a produce stream,
# then started again on the same log directory. Each scenario runs against a broker of its own
# (NOT the shared harness brokers, which other folders use): a reference Kafka instance "dur"
# (kafka-ref/run.sh, 127.0.0.1:19192, controller 19193) and a Sluice on 127.0.0.1:25192 with its
# data in durability/work/sluice-25192/. Both are started fresh by each scenario and stopped
# afterwards. See README.md.
#
#   bash durability/run.sh            all scenarios
#   bash durability/run.sh NAME...    only the named scenarios
#
# Environment: DUR_KAFKA_PORT (19192), DUR_SLUICE_PORT (25192), DUR_RECORDS (records of the
# kill -9 produce stream, default 300000), VERIFIABLE_RECORDS (VerifiableProducer records,
# default 60000), COMPAT_SELF_CHECK=1 (the second side is another Kafka instance "dur-self" on
# 29192).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=durability
source "$HERE/../lib/common.sh"

# This folder's own brokers (the scenario functions get one of these addresses as $1).
KAFKA_ADDR="127.0.0.1:${DUR_KAFKA_PORT:-19192}"
if [[ "${COMPAT_SELF_CHECK:-0}" == 1 ]]; then
  SLUICE_ADDR="127.0.0.1:${DUR_SELF_PORT:-29192}"
else
  SLUICE_ADDR="127.0.0.1:${DUR_SLUICE_PORT:-25192}"
fi
export KAFKA_ADDR SLUICE_ADDR
DUR_RECORDS="${DUR_RECORDS:-300000}"
JLIB="$COMPAT_DIR/java/work/lib"
JCLASSES="$COMPAT_DIR/java/work/classes"
TXN_CLASSES="$HERE/work/txn-classes"   # transactions/src/Txn.java, compiled here
GROUPS_CLASSES="$HERE/work/groups-classes"   # groups/src/Groups.java, compiled here
grp() { java -Xmx192m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$JLIB/*:$GROUPS_CLASSES" Groups "$@" 2>/dev/null; }
tx() { java -Xmx192m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$JLIB/*:$TXN_CLASSES" Txn "$@" 2>/dev/null; }
KCAT_OPTS=(-m 15 -X socket.timeout.ms=10000 -X topic.metadata.refresh.interval.ms=-1)

# ------------------------------------------------------------------------------------------
# Broker control by address: kafka (instance dur / dur-self) or sluice (own data dir).

kind_of() {
  if [[ $1 == "$KAFKA_ADDR" ]]; then echo kafka-dur
  elif [[ "${COMPAT_SELF_CHECK:-0}" == 1 ]]; then echo kafka-dur-self
  else echo sluice; fi
}

sluice_dir() { echo "$HERE/work/sluice-$(port_of "$1")"; }

# broker_start ADDR fresh|resume
broker_start() {
  local addr=$1 mode=$2 kind port
  kind="$(kind_of "$addr")"
  port="$(port_of "$addr")"
  case "$kind" in
    kafka-*)
      KAFKA_INSTANCE="${kind#kafka-}" KAFKA_PORT="$port" KAFKA_CONTROLLER_PORT="$((port + 1))" \
        bash "$COMPAT_DIR/kafka-ref/run.sh" "$([[ $mode == fresh ]] && echo start || echo resume)" >&2
      ;;
    sluice)
      local dir bin
      dir="$(sluice_dir "$addr")"
      bin="$(sluice_bin)"
      if [[ $mode == fresh ]]; then rm -rf "$dir"; fi
      mkdir -p "$dir/data"
      [[ -f "$dir/sluice.log" ]] && mv "$dir/sluice.log" "$dir/sluice.log.previous"
      port_open 127.0.0.1 "$port" && die "port $port already in use: $(ss -ltnpH "sport = :$port" 2>/dev/null | head -2)"
      "$bin" --override "listeners=PLAINTEXT://$addr" --override "advertised.listeners=PLAINTEXT://$addr" \
        --override "log.dirs=$dir/data" --override node.id=1 --override num.partitions=1 \
        --override auto.create.topics.enable=true --override group.initial.rebalance.delay.ms=0 \
        >"$dir/sluice.log" 2>&1 </dev/null &
      echo $! >"$dir/pid"
      if ! wait_for_port 127.0.0.1 "$port" 60 "$(cat "$dir/pid")"; then
        tail -20 "$dir/sluice.log" >&2
        die "sluice did not start on $addr (log above: $dir/sluice.log)"
      fi
      log "sluice $mode on $addr (pid $(cat "$dir/pid"), data $dir/data)"
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
      local dir pid end
      dir="$(sluice_dir "$addr")"
      [[ -f "$dir/pid" ]] || return 0
      pid="$(cat "$dir/pid")"
      rm -f "$dir/pid"
      kill -0 "$pid" 2>/dev/null || return 0
      log "sluice on $addr: $([[ $how == term ]] && echo 'SIGTERM' || echo 'kill -9') (pid $pid)"
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

broker_data_dir() {
  case "$(kind_of "$1")" in
    kafka-*) echo "$COMPAT_DIR/kafka-ref/work/$(kind_of "$1" | sed 's/^kafka-//')/data" ;;
    sluice) echo "$(sluice_dir "$1")/data" ;;
  esac
}

java_run() {
  java -Xmx512m -XX:+UseSerialGC -Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties" \
    -cp "$JLIB/*:$JCLASSES" "$@"
}

topic() { echo "c-$RUN_ID-dur-$1"; }

# end_offsets ADDR TOPIC PARTITIONS: "p:offset" per partition (kcat -Q -1).
end_offsets() {
  local p out=()
  for ((p = 0; p < $3; p++)); do
    out+=("$p:$(kcat -Q -b "$1" "${KCAT_OPTS[@]}" -t "$2:$p:-1" | awk '{print $NF}')")
  done
  echo "${out[*]}"
}

# dump_check DIR LABEL: DumpLogSegments --deep-iteration --index-sanity-check over every
# .log/.index/.timeindex/.snapshot file of the partition directory DIR (after a clean stop the
# active segment's indexes are trimmed too, so every file must pass).
dump_check() {
  local dir=$1 files dump rc=0
  files="$(find "$dir" -maxdepth 1 \( -name '*.log' -o -name '*.index' -o -name '*.timeindex' -o -name '*.snapshot' \) | sort | paste -sd,)"
  dump="$(mktemp)"
  java_run org.apache.kafka.tools.DumpLogSegments --deep-iteration --index-sanity-check --files "$files" >"$dump" 2>&1 || rc=$?
  local nidx nok
  nidx=$(find "$dir" -maxdepth 1 \( -name '*.index' -o -name '*.timeindex' \) | wc -l)
  nok=$(grep -cE '(passed sanity check|is empty)\.$' "$dump" || true)
  echo "  DumpLogSegments rc=$rc; .index/.timeindex passing the sanity check: $( ((nok == nidx)) && echo all || echo "$nok of $nidx");" \
    "invalid batches: $(grep -c 'isvalid: false' "$dump" || true);" \
    "records: $(grep -c '^| offset:' "$dump" || true)"
  awk '/^Non-consecutive offsets in / { f = $NF; sub(/.*\//, "", f); sub(/\.log$/, "", f); base = f + 0; pending = $0; next }
       pending != "" { if ($0 ~ /^  -1 is followed by / && $NF + 0 == base) { pending = ""; next }
                       print pending; pending = "" }
       tolower($0) ~ /mismatch|corrupt|exception|non-consecutive|out of order|error/ { print }
       END { if (pending != "") print pending }' "$dump" | sed "s|$dir/||; s/^/    problem: /" | head -10
  rm -f "$dump"
}

# ------------------------------------------------------------------------------------------
# Scenarios

INPUT="$HERE/work/input-50000.txt"
make_input() {
  [[ -s "$INPUT" ]] && return 0
  mkdir -p "$HERE/work"
  awk 'BEGIN { for (i = 1; i <= 50000; i++) printf "k%03d:value-%06d-%s\n", i % 211, i, substr("0123456789abcdefghij", 1, i % 21) }' >"$INPUT.tmp"
  mv "$INPUT.tmp" "$INPUT"
}

# sc_restart_clean ADDR: 50k keyed records (kcat, idempotent, acks=all) into 2 partitions of a
# flush.messages=1 topic (fsync before every acknowledgement: Sluice's group commit); clean stop
# (SIGTERM); start on the same log dir; everything is read back, the end offsets are the same,
# new records continue at the old end offsets; after a second clean stop every segment file
# passes DumpLogSegments' sanity checks.
sc_restart_clean() { restart_after "$1" term; }

# sc_kill9_after_ack ADDR: the same, but the broker is killed with SIGKILL (no clean shutdown:
# preallocated indexes, no final producer snapshot) after kcat got every acknowledgement.
sc_kill9_after_ack() { restart_after "$1" kill; }

restart_after() {
  local b=$1 how=$2 t
  t="$(topic "restart-$how")"
  make_input
  broker_start "$b" fresh
  local fsync=()
  [[ $how == term ]] && fsync=(--config flush.messages=1)
  kafka_topics "$b" --create --topic "$t" --partitions 2 --replication-factor 1 "${fsync[@]}" >&2
  # Idempotent: a retried batch (e.g. while the new topic's leader is being set up) can neither
  # duplicate nor reorder records, so the transcript is deterministic.
  kcat -P -b "$b" "${KCAT_OPTS[@]}" -t "$t" -K: -X acks=all -X enable.idempotence=true -l "$INPUT"
  echo "produced 50000 keyed records (kcat, idempotent, acks=all) into 2 partitions"
  local before after
  before="$(end_offsets "$b" "$t" 2)"
  echo "end offsets before the restart: $before"
  broker_stop "$b" "$how"
  echo "broker stopped with $([[ $how == term ]] && echo SIGTERM || echo SIGKILL), started again on the same log dir"
  broker_start "$b" resume
  after="$(end_offsets "$b" "$t" 2)"
  echo "end offsets after the restart:  $after (same: $([[ $before == "$after" ]] && echo yes || echo NO))"
  echo "read back (kcat -C -e): content equals the input: $(
    kcat -C -b "$b" "${KCAT_OPTS[@]}" -t "$t" -e -q -f '%k:%s\n' | sort | cmp -s - <(sort "$INPUT") && echo yes || echo NO)"
  printf 'new1\nnew2\n' | kcat -P -b "$b" "${KCAT_OPTS[@]}" -t "$t" -p 0 -X acks=all
  printf 'new3\n' | kcat -P -b "$b" "${KCAT_OPTS[@]}" -t "$t" -p 1 -X acks=all
  echo "after 2 more records to partition 0 and 1 to partition 1, from the old end offsets on:"
  local p_end
  for p_end in $after; do
    kcat -C -b "$b" "${KCAT_OPTS[@]}" -t "$t" -e -q -f '  partition %p offset %o %s\n' \
      -p "${p_end%%:*}" -o "${p_end#*:}"
  done
  echo "end offsets: $(end_offsets "$b" "$t" 2)"
  broker_stop "$b" term
  local p
  for p in 0 1; do
    echo "segment files of partition $p after a clean stop:"
    dump_check "$(broker_data_dir "$b")/$t-$p"
  done
}

# sc_kill9_idempotent ADDR: the Java idempotent producer (acks=all, retries) streams DUR_RECORDS
# values to one partition; the broker is killed with SIGKILL once 10% are acknowledged and
# started again on the same log dir while the producer keeps retrying. Then: every acknowledged
# record is in the log at the acknowledged offset, offsets are contiguous, and a new record gets
# the next offset. Duplicates are reported on stderr only: whether in-flight batches are
# duplicated depends on whether the producer had to bump its epoch (KIP-360), which depends on
# timing — the reference Kafka once duplicated 2340 values here while Sluice had none
# (FINDINGS.md D3). Sluice's deduplication across a kill -9 is asserted by its own tests
# (crates/storage/tests/kill9.rs, idempotence.rs).
sc_kill9_idempotent() {
  local b=$1 t acks prod_pid n=$DUR_RECORDS
  t="$(topic kill9)"
  acks="$(mktemp)"
  broker_start "$b" fresh
  kafka_topics "$b" --create --topic "$t" --partitions 1 --replication-factor 1 >&2
  java_run DataPath idem "$b" "$t" "$n" "$acks" >"$acks.out" 2>"$acks.err" &
  prod_pid=$!
  # Bounded poll: until 10% are acknowledged (or the producer ended).
  local end=$((SECONDS + 120)) killed_mid=no
  while ((SECONDS < end)) && kill -0 "$prod_pid" 2>/dev/null; do
    (($(wc -l <"$acks") >= n / 10)) && break
    sleep 0.05
  done
  if kill -0 "$prod_pid" 2>/dev/null && (($(wc -l <"$acks") < n)); then killed_mid=yes; fi
  broker_stop "$b" kill
  echo "broker killed with SIGKILL while the producer was streaming: $killed_mid"
  broker_start "$b" resume
  local prc=0
  wait "$prod_pid" || prc=$?
  sed 's/^/  /' "$acks.out"
  echo "  producer exit $prc"
  java_run DataPath dump "$b" "$t" >"$acks.log"
  local nacked nlog
  nacked=$(wc -l <"$acks")
  nlog=$(wc -l <"$acks.log")
  echo "acknowledged: $( ((nacked == n)) && echo "all $n" || echo "$nacked of $n")"
  echo "records in the log: $nlog (sent $n)" >&2
  echo "offsets in the log contiguous from 0: $(awk '$1 != NR - 1 { bad = 1 } END { print (bad ? "NO" : "yes") }' "$acks.log")"
  echo "duplicated values in the log: $(awk '{print $2}' "$acks.log" | sort | uniq -d | wc -l)" >&2
  # every "value offset" acknowledged is in the log as "offset v<value>"
  echo "acknowledged records missing or at another offset: $(
    awk '{ print $2 " v" $1 }' "$acks" | sort >"$acks.want"
    sort "$acks.log" >"$acks.have"
    comm -23 "$acks.want" "$acks.have" | wc -l)"
  printf 'after\n' | kcat -P -b "$b" "${KCAT_OPTS[@]}" -t "$t" -p 0 -X acks=all
  local next
  next=$(kcat -C -b "$b" "${KCAT_OPTS[@]}" -t "$t" -p 0 -o -1 -e -q -f '%o')
  echo "a new record after the restart gets the next offset: $( ((next == nlog)) && echo yes || echo "NO ($next, log had $nlog records)")"
  cp "$acks.err" "$OUT_DIR/kill9-idempotent.$(kind_of "$b").producer.err" || true
  rm -f "$acks" "$acks".*
  broker_stop "$b" term
}

# sc_kill9_transactions ADDR: committed, aborted and committed-with-offsets transactions
# (transactions/src/Txn.java), then a producer whose JVM halts with its transaction open; the
# broker is killed with SIGKILL and started again. The transaction coordinator's state and the
# transactional offsets come back from the log: read_committed shows the committed records only
# (the open transaction holds the last stable offset), the group's offset is there, and a new
# producer with the open transaction's id fences it (its ABORT marker moves the LSO on).
sc_kill9_transactions() {
  local b=$1 t id
  t="$(topic kill9-txn)"
  id="t-$RUN_ID-kill9"
  broker_start "$b" fresh
  tx create-topic "$b" "$t" 2
  tx pattern "$b" "$t" "$id"
  tx hang "$b" "$t" "$id-open"
  broker_stop "$b" kill
  echo "broker killed with SIGKILL with a transaction open, started again on the same log dir"
  broker_start "$b" resume
  tx group-offsets "$b" "$id-g" "$t"
  tx read "$b" "$t" read_committed
  tx init "$b" "$id-open"
  tx read "$b" "$t" read_committed
  tx read "$b" "$t" read_uncommitted
  broker_stop "$b" term
}

# sc_kill9_groups ADDR: a classic and a KIP-848 consumer group each consume a topic and commit;
# 20 more records; the broker is killed with SIGKILL and started again. The committed offsets
# come back from __consumer_offsets (kafka-consumer-groups --describe --offsets), and each group
# then consumes exactly the 20 new records.
sc_kill9_groups() {
  local b=$1 t g g848
  t="$(topic kill9-groups)"
  g="g-$RUN_ID-kill9"
  g848="g-$RUN_ID-kill9-848"
  broker_start "$b" fresh
  kafka_topics "$b" --create --topic "$t" --partitions 2 --replication-factor 1 >&2
  # Keyed records: librdkafka's partitioner puts each key on the same partition on both brokers.
  seq 1 100 | awk '{ print "k" $1 ":v" $1 }' | kcat -P -b "$b" "${KCAT_OPTS[@]}" -t "$t" -K: -X acks=all
  echo "classic group: $(grp consume-all "$b" "$t" "$g" 100)"
  echo "consumer group (KIP-848): $(grp consume-all "$b" "$t" "$g848" 100 group.protocol=consumer)"
  seq 101 120 | awk '{ print "k" $1 ":v" $1 }' | kcat -P -b "$b" "${KCAT_OPTS[@]}" -t "$t" -K: -X acks=all
  echo "20 more records"
  broker_stop "$b" kill
  echo "broker killed with SIGKILL, started again on the same log dir"
  broker_start "$b" resume
  local group
  for group in "$g" "$g848"; do
    echo "\$ kafka-consumer-groups --describe --offsets --group ${group/$RUN_ID/RUNID}"
    kafka_java org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$b" \
      --describe --offsets --group "$group" 2>/dev/null | awk 'NF { $1 = $1; print }' | LC_ALL=C sort
  done
  echo "classic group after the restart: $(grp consume-all "$b" "$t" "$g" 20)"
  echo "consumer group after the restart: $(grp consume-all "$b" "$t" "$g848" 20 group.protocol=consumer)"
  broker_stop "$b" term
}

# sc_verifiable / sc_verifiable_kill9 ADDR: Kafka's VerifiableProducer (idempotent, acks=all,
# VERIFIABLE_RECORDS values at 20000/s into 3 partitions) and then VerifiableConsumer (a group,
# --verbose) reading the whole topic; verifiable_check.py compares the two runs' JSON events
# (every acknowledged record consumed at its offset, no duplicates, per-partition order,
# committed = last consumed + 1). The kill9 variant kills the broker with SIGKILL once 10% are
# acknowledged and starts it again while the producer keeps retrying.
sc_verifiable() { verifiable_run "$1" none; }
sc_verifiable_kill9() { verifiable_run "$1" kill; }

verifiable_run() {
  local b=$1 how=$2 t g n=${VERIFIABLE_RECORDS:-60000} dir pid total
  t="$(topic "verifiable-$how")"
  g="g-$RUN_ID-verifiable-$how"
  dir="$(mktemp -d)"
  broker_start "$b" fresh
  kafka_topics "$b" --create --topic "$t" --partitions 3 --replication-factor 1 >&2
  # VerifiableProducer sets retries=0 unless told otherwise (idempotence needs retries).
  printf 'enable.idempotence=true\nacks=all\nretries=2147483647\ndelivery.timeout.ms=150000\n' \
    >"$dir/producer.properties"
  kafka_java org.apache.kafka.tools.VerifiableProducer --bootstrap-server "$b" --topic "$t" \
    --max-messages "$n" --throughput 20000 --command-config "$dir/producer.properties" \
    >"$dir/producer.jsonl" 2>"$dir/producer.err" &
  pid=$!
  if [[ $how == kill ]]; then
    local end=$((SECONDS + 120))
    while ((SECONDS < end)) && kill -0 "$pid" 2>/dev/null; do
      (($(grep -c producer_send_success "$dir/producer.jsonl" || true) >= n / 10)) && break
      sleep 0.05 # poll interval while the producer streams
    done
    broker_stop "$b" kill
    echo "broker killed with SIGKILL while VerifiableProducer was streaming, started again"
    broker_start "$b" resume
  fi
  local prc=0
  wait "$pid" || prc=$?
  echo "VerifiableProducer exit $prc"
  total=0
  local e
  for e in $(end_offsets "$b" "$t" 3); do total=$((total + ${e#*:})); done
  timeout 180 "${JAVA_BIN:-java}" -Xmx256m -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties" -cp "$JLIB/*" \
    org.apache.kafka.tools.VerifiableConsumer --bootstrap-server "$b" --topic "$t" \
    --group-id "$g" --max-messages "$total" --verbose --reset-policy earliest \
    >"$dir/consumer.jsonl" 2>"$dir/consumer.err" || true
  echo "VerifiableConsumer read the topic"
  python3 "$HERE/verifiable_check.py" "$n" "$dir/producer.jsonl" "$dir/consumer.jsonl"
  rm -rf "$dir"
  broker_stop "$b" term
}

scenario_dispatch "$@"

# ------------------------------------------------------------------------------------------
# Main

need_java
command -v kcat >/dev/null || apt_install kcat
# The Java programs (DataPath) and jars of the java/ folder.
maven_libs "$COMPAT_DIR/java" >/dev/null
compile_java "$COMPAT_DIR/java/src" "$JCLASSES" "$JLIB"
compile_java "$COMPAT_DIR/transactions/src" "$TXN_CLASSES" "$JLIB"
compile_java "$COMPAT_DIR/groups/src" "$GROUPS_CLASSES" "$JLIB"
[[ "${COMPAT_SELF_CHECK:-0}" == 1 ]] || sluice_bin >/dev/null

cleanup_dur() {
  broker_stop "$KAFKA_ADDR" term || true
  broker_stop "$SLUICE_ADDR" term || true
}
trap cleanup_dur EXIT

# The CI tier; nightly.sh adds kill9-after-ack (kill9-idempotent kills after acks too) and
# verifiable without a kill.
ALL=(restart-clean kill9-idempotent kill9-transactions kill9-groups verifiable-kill9)
EXTRA=(kill9-after-ack verifiable)
selected=("$@")
((${#selected[@]})) || selected=("${ALL[@]}")
for name in "${selected[@]}"; do
  func="sc_${name//-/_}"
  declare -F "$func" >/dev/null || die "unknown scenario $name (known: ${ALL[*]})"
  run_scenario "$name" "$func"
  # A scenario that timed out may have left its broker running.
  cleanup_dur
done

if [[ -z "${COMPAT_NO_SUMMARY:-}" ]]; then
  print_summary
fi
