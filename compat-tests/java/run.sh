#!/usr/bin/env bash
# Apache Kafka 4.3.1 Java tools and client scenarios, each run against the reference Kafka and
# against Sluice, normalized transcripts compared. See README.md.
#
#   bash java/run.sh            run all scenarios (starts brokers that are not already running)
#   bash java/run.sh NAME...    run only the named scenarios
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=java
source "$HERE/../lib/common.sh"

LIB="$HERE/work/lib"
CLASSES="$HERE/work/classes"
CLIENT_PROPS="$HERE/work/client.properties"

# java_run CLASS ARGS...: run a class with the Kafka 4.3.1 client/tools jars and our classes.
java_run() {
  java -Xmx512m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" \
    -cp "$LIB/*:$CLASSES" "$@"
}

# Topic names of this run: c-<run id>-<suffix>; transcripts show RUNID instead of the id.
topic() { echo "c-$RUN_ID-$1"; }

# tool NAME CLASS ARGS...: run a Kafka CLI tool against $BROKER and print a transcript block:
# the command, its stdout (broker error messages masked, see FINDINGS.md), the exception class
# that the tool logged, and its exit status.
tool() {
  local name=$1 cls=$2
  shift 2
  local out err rc=0
  out="$(mktemp)"
  err="$(mktemp)"
  echo "\$ $name $*"
  java_run "$cls" --bootstrap-server "$BROKER" --command-config "$CLIENT_PROPS" "$@" \
    >"$out" 2>"$err" || rc=$?
  sed -E 's/^(Error while executing topic command : ).*/\1<message>/' "$out"
  grep -oE '^\[[^]]*\] ERROR ([A-Za-z0-9_.$]+(Exception|Error))' "$err" |
    awk '{print "  logged: " $NF}' || true
  echo "  rc=$rc"
  cat "$err" >&2
  rm -f "$out" "$err"
}
topics() { tool kafka-topics org.apache.kafka.tools.TopicCommand "$@"; }

# await_topics present|absent TOPIC...: poll `--list` until all topics are present/absent
# (bounded); prints one line with the outcome.
await_topics() {
  local want=$1
  shift
  local end=$((SECONDS + 60)) listed t ok
  while :; do
    listed="$(java_run org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKER" \
      --command-config "$CLIENT_PROPS" --list 2>/dev/null || true)"
    ok=1
    for t in "$@"; do
      if grep -qxF "$t" <<<"$listed"; then [[ $want == absent ]] && ok=0; else [[ $want == present ]] && ok=0; fi
    done
    if ((ok)); then echo "(await $want: settled)"; return 0; fi
    if ((SECONDS >= end)); then echo "(await $want: NOT settled within deadline)"; return 0; fi
  done
}

# ------------------------------------------------------------------------------------------
# Scenarios: each gets the broker address as $1 and prints its transcript on stdout.

sc_broker_api_versions() {
  BROKER=$1
  tool kafka-broker-api-versions org.apache.kafka.tools.BrokerApiVersionsCommand
}

sc_topic_create() {
  BROKER=$1
  local t1 t2
  t1="$(topic tc-create)"
  t2="$(topic tc-create-default)"
  topics --create --topic "$t1" --partitions 3 --replication-factor 1 \
    --config cleanup.policy=compact --config retention.ms=3600000
  topics --create --topic "$t2"
  topics --create --topic "$t1" --partitions 3 --replication-factor 1
  topics --create --topic "$t1" --partitions 1 --if-not-exists
  topics --create --topic "$(topic tc-create-rf)" --replication-factor 2
  topics --create --topic "$(topic tc-create-p0)" --partitions 0
  topics --create --topic "$(topic tc-create-cfg)" --config cleanup.policy=bogus
  topics --create --topic "$(topic tc-create-cfg2)" --config no.such.config=1
  topics --create --topic "$(topic 'tc-create-bad/name')"
  topics --create --topic "$(topic tc-create-assign)" --replica-assignment 1,1
  await_topics present "$t1" "$t2" "$(topic tc-create-assign)"
  topics --delete --topic "$t1"
  topics --delete --topic "$t2"
  topics --delete --topic "$(topic tc-create-assign)"
}

sc_topic_list() {
  BROKER=$1
  local a b
  a="$(topic tc-list-a)"
  b="$(topic tc-list-b)"
  topics --create --topic "$a" --partitions 2 --replication-factor 1
  topics --create --topic "$b" --partitions 1 --replication-factor 1
  await_topics present "$a" "$b"
  # Only this run's topics: the broker may hold topics of other runs or scenarios.
  echo "\$ kafka-topics --list | grep this-run"
  java_run org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKER" \
    --command-config "$CLIENT_PROPS" --list | grep -F "c-$RUN_ID-tc-list-" | sort
  echo "\$ kafka-topics --list --exclude-internal --topic 'c-RUNID-tc-list-.*'"
  java_run org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKER" \
    --command-config "$CLIENT_PROPS" --list --exclude-internal --topic "c-$RUN_ID-tc-list-.*" | sort
  topics --delete --topic "c-$RUN_ID-tc-list-.*"
  await_topics absent "$a" "$b"
}

# sort_configs: sort the comma-separated list after "Configs: " (order is the broker's choice).
sort_configs() {
  local line head cfgs
  while IFS= read -r line; do
    if [[ "$line" == *"Configs: "* ]]; then
      head="${line%%Configs: *}"
      cfgs="${line#*Configs: }"
      echo "${head}Configs: $(tr ',' '\n' <<<"$cfgs" | sort | paste -sd, -)"
    else
      echo "$line"
    fi
  done
}

sc_topic_describe() {
  BROKER=$1
  local d
  d="$(topic tc-describe)"
  topics --create --topic "$d" --partitions 3 --replication-factor 1 \
    --config cleanup.policy=compact --config retention.ms=3600000
  await_topics present "$d"
  # TopicId differs per broker; config order is the broker's (sorted here).
  topics --describe --topic "$d" |
    sed -E 's/TopicId: [^[:space:]]+/TopicId: ID/' |
    sort_configs
  topics --describe --topic "$d" --under-replicated-partitions
  topics --describe --topic "$d" --unavailable-partitions
  topics --describe --topic "$(topic tc-describe-missing)"
  topics --delete --topic "$d"
}

sc_topic_delete() {
  BROKER=$1
  local d
  d="$(topic tc-delete)"
  topics --create --topic "$d" --partitions 2 --replication-factor 1
  await_topics present "$d"
  topics --delete --topic "$d"
  await_topics absent "$d"
  topics --delete --topic "$d"
  topics --delete --topic "$d" --if-exists
  topics --delete --topic "$(topic tc-delete-never)"
}

sc_admin_client() {
  java_run Compat admin "$1" "c-$RUN_ID-adm-"
}

sc_admin_client_verbose() {
  java_run Compat admin "$1" "c-$RUN_ID-admv-" --verbose
}

# Kafka's ClientCompatibilityTest (the system tests' client/broker compatibility probe) with
# every feature it probes expected to work: offsetsForTimes, cluster id, no RecordTooLarge on
# fetch (KIP-74), one node, createTopics, describeAcls (no authorizer: SECURITY_DISABLED counts
# as supported, on both brokers), describeConfigs, the idempotent producer.
sc_client_compatibility() {
  local rc=0
  java_run org.apache.kafka.tools.ClientCompatibilityTest --topic "$(topic compat)" \
    --bootstrap-server "$1" --offsets-for-times-supported true --cluster-id-supported true \
    --expect-record-too-large-exception false --num-cluster-nodes 1 \
    --create-topics-supported true --describe-acls-supported true \
    --describe-configs-supported true --idempotent-producer-supported true \
    2>&1 | grep -E '^(SUCCESS|FAIL|java\.|Caused by|Exception)' || true
  echo "done"
}

sc_auto_create_metadata() {
  java_run Compat autocreate "$1" "c-$RUN_ID-auto-"
}

# ------------------------------------------------------------------------------------------
# Data path (no consumer groups: consumers use assign()/seek(); see src/DataPath.java).

# mk_topic NAME PARTITIONS [CONFIG...]: create quietly (kafka-topics), wait until listed.
mk_topic() {
  local t=$1 n=$2
  shift 2
  local cfg=() c
  for c in "$@"; do cfg+=(--config "$c"); done
  java_run org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKER" --command-config "$CLIENT_PROPS" \
    --create --topic "$t" --partitions "$n" --replication-factor 1 "${cfg[@]}" >&2
  await_topics present "$t" >/dev/null
}

JAVA_RECORDS="${JAVA_RECORDS:-3000}"

# sc_produce_codec BROKER CODEC: DataPath produce with compression.type=CODEC (headers with
# duplicate keys, null/empty header values, null keys, tombstones, explicit timestamps), read
# back byte-exact by kcat and by a Java consumer with assign()/seekToBeginning().
sc_produce_codec() {
  BROKER=$1
  local z=$2 t exp got
  t="$(topic "jp-$z")"
  mk_topic "$t" 2
  exp="$(mktemp)"
  got="$(mktemp)"
  java_run DataPath produce "$BROKER" "$t" "$z" "$JAVA_RECORDS" "$exp"
  echo "\$ kcat -C -e -f '%p %o %T %k %s [%h]'"
  local rc=0
  kcat -C -b "$BROKER" -m 15 -X socket.timeout.ms=10000 -t "$t" -e -q -f '%p %o %T %k %s [%h]\n' >"$got" || rc=$?
  echo "  rc=$rc records=$(wc -l <"$got")"
  echo "  every record equals what was sent (sorted, byte for byte): $(cmp -s <(sort "$exp") <(sort "$got") && echo yes || echo NO)"
  echo "  sha256 of the sent records: $(sort "$exp" | sha256sum | cut -c1-16)"
  diff <(sort "$exp") <(sort "$got") | head -6 | sed 's/^/  /' || true
  java_run DataPath consume "$BROKER" "$t" "$exp"
  rm -f "$exp" "$got"
}

# sc_console BROKER: kafka-console-producer (keys and headers parsed) -> kafka-console-consumer
# with --partition and --offset / --from-beginning (assign(), no group).
sc_console() {
  BROKER=$1
  local t
  t="$(topic console)"
  mk_topic "$t" 2
  echo "\$ kafka-console-producer --reader-property parse.key=true --reader-property parse.headers=true (5 lines, partition by key)"
  local rc=0
  printf 'h1:a,h2:b,h1:c\tk1\tv1\nh1:x\tk2\tv2\nh3:\tk3\tv3\nh4:z\tk4\tv4\nh1:a\tk1\tv5\n' |
    java_run org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$BROKER" --topic "$t" \
      --reader-property parse.key=true --reader-property parse.headers=true --reader-property key.separator=$'\t' \
      --reader-property headers.delimiter=$'\t' --reader-property headers.separator=, --reader-property headers.key.separator=: \
      --command-property acks=all || rc=$?
  echo "  rc=$rc"
  local p off
  for p in 0 1; do
    for off in earliest 1 latest; do
      echo "\$ kafka-console-consumer --partition $p --offset $off --timeout-ms 1500 (print partition/offset/key/headers)"
      java_run org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$BROKER" --topic "$t" \
        --partition "$p" --offset "$off" --timeout-ms 1500 \
        --formatter-property print.partition=true --formatter-property print.offset=true --formatter-property print.key=true \
        --formatter-property print.headers=true --formatter-property print.timestamp=false 2>"$OUT_DIR/console.last.err" |
        sed 's/^/  /' || true
      grep -oE 'Processed a total of [0-9]+ messages' "$OUT_DIR/console.last.err" | sed 's/^/  /' || true
    done
    echo "\$ kafka-console-consumer --partition $p --from-beginning --max-messages 2"
    java_run org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$BROKER" --topic "$t" \
      --partition "$p" --from-beginning --max-messages 2 --timeout-ms 10000 \
      --formatter-property print.key=true 2>"$OUT_DIR/console.last.err" | sed 's/^/  /' || true
    grep -oE 'Processed a total of [0-9]+ messages' "$OUT_DIR/console.last.err" | sed 's/^/  /' || true
  done
}

# sc_large_records BROKER: a 900 KB record is accepted, a 2 MB record rejected by the broker
# (message.max.bytes default 1048588; the producer's max.request.size is 8 MB).
sc_large_records() {
  BROKER=$1
  local t
  t="$(topic large)"
  mk_topic "$t" 1
  java_run DataPath large "$BROKER" "$t"
}

# sc_offsets_for_times BROKER: KafkaConsumer.offsetsForTimes over batches with out-of-order
# timestamps; beginningOffsets/endOffsets.
sc_offsets_for_times() {
  BROKER=$1
  local t
  t="$(topic oft)"
  mk_topic "$t" 1
  java_run DataPath oft "$BROKER" "$t"
}

# sc_get_offsets BROKER: kafka-get-offsets (GetOffsetShell) with --time -1, -2 and timestamps,
# over the topic of the offsets-for-times layout (explicit timestamps).
sc_get_offsets() {
  BROKER=$1
  local t q
  t="$(topic getoff)"
  mk_topic "$t" 1
  java_run DataPath oft "$BROKER" "$t" >/dev/null
  for q in -1 -2 1700000000000 1700000001006 1700000002101 1700000003000 1700000003001; do
    echo "\$ kafka-get-offsets --topic $t --time $q"
    java_run org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$BROKER" \
      --command-config "$CLIENT_PROPS" --topic "$t" --time "$q" | sed 's/^/  /'
  done
  echo "\$ kafka-get-offsets --topic-partitions '$t:0,$t:5' --time -1"
  java_run org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$BROKER" \
    --command-config "$CLIENT_PROPS" --topic-partitions "$t:0,$t:5" --time -1 | sed 's/^/  /'
}

# sc_get_offsets_max_timestamp BROKER: --time -3 (ListOffsets v7+ MAX_TIMESTAMP: offset of the
# record with the highest timestamp).
sc_get_offsets_max_timestamp() {
  BROKER=$1
  local t rc=0
  t="$(topic getoffmax)"
  mk_topic "$t" 1
  java_run DataPath oft "$BROKER" "$t" >/dev/null
  echo "\$ kafka-get-offsets --topic $t --time -3"
  java_run org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$BROKER" \
    --command-config "$CLIENT_PROPS" --topic "$t" --time -3 2>&1 | grep -vE '^\[' | sed 's/^/  /' || rc=$?
}

scenario_dispatch "$@"

# ------------------------------------------------------------------------------------------
# Main

need_java
command -v kcat >/dev/null || apt_install kcat
maven_libs "$HERE" >/dev/null
printf 'request.timeout.ms=10000\ndefault.api.timeout.ms=30000\n' >"$CLIENT_PROPS"
# Compile our scenario program when its source changed.
compile_java "$HERE/src" "$CLASSES" "$LIB"

trap cleanup_brokers EXIT
ensure_kafka
ensure_sut

# The CI tier. produce-none/-gzip/-snappy/-lz4 run in nightly.sh (with 50k records); kcat/
# covers every codec in CI.
ALL=(broker-api-versions topic-create topic-list topic-describe topic-delete admin-client
  admin-client-verbose auto-create-metadata produce-zstd console large-records offsets-for-times
  get-offsets get-offsets-max-timestamp client-compatibility)
EXTRA=(produce-none produce-gzip produce-snappy produce-lz4)
INFORMATIONAL=" broker-api-versions admin-client-verbose "
selected=("$@")
((${#selected[@]})) || selected=("${ALL[@]}")
for name in "${selected[@]}"; do
  func="sc_${name//-/_}"
  args=()
  if [[ $name == produce-* ]]; then func=sc_produce_codec; args=("${name#produce-}"); fi
  declare -F "$func" >/dev/null || die "unknown scenario $name (known: ${ALL[*]} ${EXTRA[*]})"
  if [[ "$INFORMATIONAL" == *" $name "* ]]; then
    run_scenario_informational "$name" "$func" "${args[@]}"
  else
    run_scenario "$name" "$func" "${args[@]}"
  fi
done

if [[ -z "${COMPAT_NO_SUMMARY:-}" ]]; then
  print_summary
fi
