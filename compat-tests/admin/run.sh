#!/usr/bin/env bash
# Admin tools and AdminClient calls, each run against the reference Kafka and against Sluice,
# normalized transcripts compared. See README.md.
#
#   bash admin/run.sh            run all scenarios (starts brokers that are not already running)
#   bash admin/run.sh NAME...    run only the named scenarios
#
# The `retention` scenario needs brokers whose log.retention.check.interval.ms is short, so it
# runs against a pair of its own (Kafka instance `adm` on ADMIN_KAFKA_PORT, default 19592 with
# controller +1; Sluice on ADMIN_SLUICE_PORT, default 25592), started and stopped here. On the
# shared brokers a short interval would delete the 2023-stamped records other suites read back.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=admin
source "$HERE/../lib/common.sh"

JLIB="$COMPAT_DIR/java/work/lib"         # kafka-clients / kafka-tools 4.3.1 (java/pom.xml)
RLIB="$COMPAT_DIR/kafka-ref/work/lib"    # the broker's jars: kafka.admin.ConfigCommand lives there
CLASSES="$HERE/work/classes"
CLIENT_PROPS="$HERE/work/client.properties"
RET_CHECK_MS=1000
ADMIN_KAFKA_ADDR="127.0.0.1:${ADMIN_KAFKA_PORT:-19592}"
if [[ "${COMPAT_SELF_CHECK:-0}" == 1 ]]; then
  ADMIN_SUT_ADDR="127.0.0.1:${ADMIN_SELF_PORT:-29592}"
else
  ADMIN_SUT_ADDR="127.0.0.1:${ADMIN_SLUICE_PORT:-25592}"
fi

jrun() {
  local lib=$1
  shift
  java -Xmx384m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties" -cp "$lib/*:$CLASSES" "$@"
}

# Topic names of this run: a-<run id>-<suffix>; transcripts show RUNID instead of the id.
topic() { echo "a-$RUN_ID-$1"; }

# normalize_tool: what legitimately differs between two brokers in tool output — log dir
# paths, segment sizes, timestamps and the AdminClient's call deadlines in messages.
normalize_tool() {
  sed -E \
    -e 's#"logDir":"[^"]*"#"logDir":"DIR"#g; s#"log_dirs":\["[^"]*"\]#"log_dirs":["DIR"]#g' \
    -e 's/"size":[1-9][0-9]*/"size":N/g' \
    -e 's/^(Error while executing topic command : ).*/\1<message>/' \
    -e 's#[^ ]*/tmp\.[A-Za-z0-9]{6,}#FILE#g'
}

# tool NAME LIB CLASS CONFIG-FLAG ARGS...: run a Kafka CLI tool against $BROKER (client
# properties given with CONFIG-FLAG) and print a transcript block: the command, its stdout
# (normalized, lines sorted when SORT=1), the exception classes it printed or logged (not the
# stack traces), and its exit status.
tool() {
  local name=$1 lib=$2 cls=$3 cfg=$4
  shift 4
  local out err rc=0
  out="$(mktemp)"
  err="$(mktemp)"
  echo "\$ $name $*" | normalize_tool
  jrun "$lib" "$cls" --bootstrap-server "$BROKER" "$cfg" "$CLIENT_PROPS" "$@" >"$out" 2>"$err" || rc=$?
  if [[ "${SORT:-0}" == 1 ]]; then
    normalize_tool <"$out" | { grep -vE '^[[:space:]]+at ' || true; } | sort
  else
    normalize_tool <"$out" | { grep -vE '^[[:space:]]+at ' || true; }
  fi
  grep -ohE '(^|Caused by: |ERROR )[A-Za-z0-9_.$]+(Exception|Error)\b' "$err" "$out" |
    sed -E 's/^(Caused by: |ERROR )//' | sort -u | awk '{print "  exception: " $0}' || true
  echo "  rc=$rc"
  cat "$err" >&2
  rm -f "$out" "$err"
}
topics() { tool kafka-topics "$JLIB" org.apache.kafka.tools.TopicCommand --command-config "$@"; }
configs() { tool kafka-configs "$RLIB" kafka.admin.ConfigCommand --command-config "$@"; }
get_offsets() { tool kafka-get-offsets "$JLIB" org.apache.kafka.tools.GetOffsetShell --command-config "$@"; }
delete_records() { tool kafka-delete-records "$JLIB" org.apache.kafka.tools.DeleteRecordsCommand --command-config "$@"; }
log_dirs() { tool kafka-log-dirs "$JLIB" org.apache.kafka.tools.LogDirsCommand --command-config "$@"; }
leader_election() { tool kafka-leader-election "$JLIB" org.apache.kafka.tools.LeaderElectionCommand --command-config "$@"; }
reassign() { tool kafka-reassign-partitions "$JLIB" org.apache.kafka.tools.reassign.ReassignPartitionsCommand --command-config "$@"; }

# mk_topic NAME PARTITIONS [CONFIG...]: create quietly and wait until it answers.
mk_topic() {
  local t=$1 n=$2
  shift 2
  local cfg=() c
  for c in "$@"; do cfg+=(--config "$c"); done
  jrun "$JLIB" org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKER" \
    --command-config "$CLIENT_PROPS" --create --topic "$t" --partitions "$n" \
    --replication-factor 1 "${cfg[@]}" >&2
  await_offsets "$t" 0 >/dev/null
}

# await_offsets TOPIC PARTITION: poll (bounded) until the partition answers ListOffsets.
await_offsets() {
  local end=$((SECONDS + 60))
  while ((SECONDS < end)); do
    if jrun "$JLIB" org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$BROKER" \
      --command-config "$CLIENT_PROPS" --topic-partitions "$1:$2" --time -1 2>/dev/null |
      grep -q "^$1:$2:"; then
      return 0
    fi
  done
  echo "(partition $1-$2 not ready within 60 s)"
}

# produce TOPIC LINES...: keyed records ("key<TAB>value") with the console producer, acks=all.
produce() {
  local t=$1
  shift
  printf '%s\n' "$@" | jrun "$JLIB" org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$BROKER" \
    --topic "$t" --reader-property parse.key=true --reader-property key.separator=$'\t' \
    --command-property acks=all >&2
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

# ------------------------------------------------------------------------------------------
# Scenarios: each gets the broker address as $1 and prints its transcript on stdout.

# kafka-topics --create with --config, --describe, --alter --partitions (java/ covers plain
# create/list/describe/delete).
sc_topics_alter() {
  BROKER=$1
  local t
  t="$(topic talter)"
  topics --create --topic "$t" --partitions 1 --replication-factor 1 \
    --config retention.ms=7200000 --config max.message.bytes=20000 --config cleanup.policy=delete
  await_offsets "$t" 0
  topics --describe --topic "$t" | sed -E 's/TopicId: [^[:space:]]+/TopicId: ID/' | sort_configs
  topics --alter --topic "$t" --partitions 3
  await_offsets "$t" 2
  topics --describe --topic "$t" | sed -E 's/TopicId: [^[:space:]]+/TopicId: ID/' | sort_configs
  topics --alter --topic "$t" --partitions 2
  topics --alter --topic "$t" --partitions 3
  topics --alter --topic "$(topic talter-missing)" --partitions 2
  topics --alter --topic "$t" --partitions 4 --replica-assignment 1,1,1,2
  topics --alter --topic "$t" --partitions 4 --replica-assignment 1,1,1,1
  await_offsets "$t" 3
  topics --describe --topic "$t" | sed -E 's/TopicId: [^[:space:]]+/TopicId: ID/' | sort_configs
  topics --delete --topic "$t"
}

# kafka-configs for a topic: describe (dynamic, --all), --add-config incl. a list value,
# --delete-config, invalid values and keys, a missing topic.
sc_configs_topic() {
  BROKER=$1
  local t
  t="$(topic tcfg)"
  mk_topic "$t" 1 retention.ms=7200000
  configs --entity-type topics --entity-name "$t" --describe
  configs --entity-type topics --entity-name "$t" --alter \
    --add-config 'segment.ms=3600000,cleanup.policy=[delete,compact],max.message.bytes=30000'
  configs --entity-type topics --entity-name "$t" --alter --delete-config retention.ms
  configs --entity-type topics --entity-name "$t" --describe
  SORT=1 configs --entity-type topics --entity-name "$t" --describe --all
  configs --entity-type topics --entity-name "$t" --alter --add-config retention.ms=soon
  configs --entity-type topics --entity-name "$t" --alter --add-config no.such.config=1
  configs --entity-type topics --entity-name "$t" --alter --delete-config segment.bytes
  configs --entity-type topics --entity-name "$(topic tcfg-missing)" --alter --add-config retention.ms=1
  configs --entity-type topics --entity-name "$(topic tcfg-missing)" --describe
  topics --delete --topic "$t"
}

# The broker keys whose values and synonyms both brokers must show alike in `--describe --all`
# (Sluice lists fewer keys than Kafka, FINDINGS.md A1; keys that come from how each broker is
# started — listeners, log dirs — are left out).
BROKER_KEYS='^  (log\.retention\.(ms|hours|minutes|bytes)|log\.segment\.bytes|log\.roll\.(ms|hours)|log\.cleanup\.policy|message\.max\.bytes|num\.partitions|default\.replication\.factor|min\.insync\.replicas|compression\.type|log\.flush\.interval\.(ms|messages)|node\.id|broker\.id|log\.message\.timestamp\.type|auto\.create\.topics\.enable|delete\.topic\.enable|offsets\.topic\.num\.partitions|log\.index\.interval\.bytes|log\.segment\.delete\.delay\.ms|unclean\.leader\.election\.enable)='

# kafka-configs for brokers: the cluster default (--entity-default) and broker 1: add,
# describe, delete; a static key; --describe --all for the keys above.
# reset_broker_configs KEY...: delete these dynamic configs of broker 1 and of the cluster
# default, quietly (a run that failed half-way must not leave them on a shared broker).
reset_broker_configs() {
  local keys entity
  keys="$(IFS=,; echo "$*")"
  for entity in "--entity-name 1" "--entity-default"; do
    # shellcheck disable=SC2086
    jrun "$RLIB" kafka.admin.ConfigCommand --bootstrap-server "$BROKER" --command-config "$CLIENT_PROPS" \
      --entity-type brokers $entity --alter --delete-config "$keys" >/dev/null 2>&1 || true
  done
}

sc_configs_broker() {
  BROKER=$1
  reset_broker_configs log.retention.ms log.segment.bytes
  configs --entity-type brokers --entity-default --describe
  configs --entity-type brokers --entity-default --alter \
    --add-config log.retention.ms=86400000,log.segment.bytes=50000000
  configs --entity-type brokers --entity-name 1 --alter --add-config log.segment.bytes=20000000
  configs --entity-type brokers --entity-default --describe
  configs --entity-type brokers --entity-name 1 --describe
  echo "\$ kafka-configs --entity-type brokers --entity-name 1 --describe --all | keys of interest"
  jrun "$RLIB" kafka.admin.ConfigCommand --bootstrap-server "$BROKER" --command-config "$CLIENT_PROPS" \
    --entity-type brokers --entity-name 1 --describe --all 2>/dev/null | grep -E "$BROKER_KEYS" | sort
  local t
  t="$(topic bcfg)"
  mk_topic "$t" 1
  echo "\$ kafka-configs --entity-type topics --entity-name $t --describe --all | retention.ms, segment.bytes"
  jrun "$RLIB" kafka.admin.ConfigCommand --bootstrap-server "$BROKER" --command-config "$CLIENT_PROPS" \
    --entity-type topics --entity-name "$t" --describe --all 2>/dev/null |
    grep -E '^  (retention\.ms|segment\.bytes)=' | sort
  configs --entity-type brokers --entity-name 1 --alter --add-config log.dirs=/elsewhere
  configs --entity-type brokers --entity-name 1 --alter --add-config log.retention.ms=-5x
  configs --entity-type brokers --entity-name 1 --alter --delete-config log.segment.bytes
  configs --entity-type brokers --entity-default --alter --delete-config log.retention.ms,log.segment.bytes
  configs --entity-type brokers --entity-default --describe
  configs --entity-type brokers --entity-name 1 --describe
  topics --delete --topic "$t"
}

# Dynamic broker keys other than topic defaults, and custom (unknown) keys.
sc_configs_broker_other() {
  BROKER=$1
  reset_broker_configs log.cleaner.threads custom.key.of.mine
  configs --entity-type brokers --entity-name 1 --alter --add-config log.cleaner.threads=2
  configs --entity-type brokers --entity-name 1 --alter --add-config custom.key.of.mine=1
  configs --entity-type brokers --entity-name 1 --describe
  configs --entity-type brokers --entity-name 1 --alter --delete-config log.cleaner.threads,custom.key.of.mine
  configs --entity-type brokers --entity-name 1 --describe
}

# Informational: every key `--describe --all` lists for broker 1 (Sluice lists fewer, A1).
sc_configs_broker_all_keys() {
  BROKER=$1
  jrun "$RLIB" kafka.admin.ConfigCommand --bootstrap-server "$BROKER" --command-config "$CLIENT_PROPS" \
    --entity-type brokers --entity-name 1 --describe --all 2>/dev/null | sed -nE 's/^  ([^=]+)=.*/\1/p' | sort
}

# kafka-delete-records and kafka-get-offsets around it (incl. --time -3 once every record is
# below the log start offset), kafka-log-dirs.
sc_delete_records() {
  BROKER=$1
  local t j
  t="$(topic dr)"
  mk_topic "$t" 2
  await_offsets "$t" 1
  # Explicit timestamps (an hour ago and later), so that --time -3 names one record: in
  # partition 0 the largest timestamp is carried by offsets 2 and 3 (the first counts).
  local ts=$(($(date +%s) * 1000 - 3600000))
  jrun "$JLIB" AdminCompat produce "$BROKER" "$t" "0:$ts" "0:$((ts + 5))" "0:$((ts + 9))" \
    "0:$((ts + 9))" "0:$((ts + 2))" "1:$((ts + 1))" "1:$((ts + 7))" "1:$((ts + 3))" >&2
  local q
  for q in -1 -2 -3; do SORT=1 get_offsets --topic "$t" --time "$q"; done
  SORT=1 log_dirs --describe --topic-list "$t"
  j="$(mktemp)"
  printf '{"version":1,"partitions":[{"topic":"%s","partition":0,"offset":2},{"topic":"%s","partition":1,"offset":-1}]}' "$t" "$t" >"$j"
  echo "(delete records: $t-0 before 2, $t-1 before the high watermark)"
  SORT=1 delete_records --offset-json-file "$j"
  for q in -1 -2 -3; do SORT=1 get_offsets --topic "$t" --time "$q"; done
  printf '{"version":1,"partitions":[{"topic":"%s","partition":0,"offset":999}]}' "$t" >"$j"
  echo "(delete records: $t-0 before 999)"
  SORT=1 delete_records --offset-json-file "$j"
  printf '{"version":1,"partitions":[{"topic":"%s","partition":0,"offset":1}]}' "$t" >"$j"
  echo "(delete records: $t-0 before 1, behind the log start)"
  SORT=1 delete_records --offset-json-file "$j"
  SORT=1 log_dirs --describe --topic-list "$t"
  rm -f "$j"
  topics --delete --topic "$t"
}

# kafka-leader-election: preferred and unclean, one partition, all partitions, a JSON file
# with an unknown partition.
sc_leader_election() {
  BROKER=$1
  local t j
  t="$(topic le)"
  mk_topic "$t" 2
  leader_election --election-type preferred --topic "$t" --partition 0
  leader_election --election-type unclean --topic "$t" --partition 1
  leader_election --election-type preferred --all-topic-partitions
  j="$(mktemp)"
  printf '{"partitions":[{"topic":"%s","partition":1},{"topic":"%s","partition":5}]}' "$t" "$t" >"$j"
  echo "(json: $t-1 and $t-5)"
  leader_election --election-type preferred --path-to-json-file "$j"
  rm -f "$j"
  topics --delete --topic "$t"
}

# kafka-reassign-partitions: --list, --verify, --execute to the only broker and to a missing
# one, --cancel.
sc_reassign() {
  BROKER=$1
  local t j k
  t="$(topic ra)"
  mk_topic "$t" 2
  j="$(mktemp)"
  k="$(mktemp)"
  printf '{"version":1,"partitions":[{"topic":"%s","partition":0,"replicas":[1]}]}' "$t" >"$j"
  printf '{"version":1,"partitions":[{"topic":"%s","partition":1,"replicas":[2]}]}' "$t" >"$k"
  reassign --list
  echo "(reassignment: $t-0 to [1])"
  reassign --verify --reassignment-json-file "$j"
  reassign --execute --reassignment-json-file "$j"
  reassign --verify --reassignment-json-file "$j"
  echo "(reassignment: $t-1 to [2])"
  reassign --execute --reassignment-json-file "$k"
  reassign --cancel --reassignment-json-file "$j"
  reassign --list
  rm -f "$j" "$k"
  topics --delete --topic "$t"
}

# Retention: a topic with retention.ms=1000; records written now are deleted by the next
# retention checks (log.retention.check.interval.ms=1000 on this scenario's own brokers): poll
# (bounded) until the log start offset reaches the end.
sc_retention() {
  BROKER=$1
  local t start end
  t="$(topic ret)"
  mk_topic "$t" 1 retention.ms=1000 segment.ms=500
  produce "$t" $'k1\tv1' $'k2\tv2' $'k3\tv3'
  get_offsets --topic "$t" --time -1
  end=$((SECONDS + 90))
  start=""
  while ((SECONDS < end)); do
    start="$(jrun "$JLIB" org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$BROKER" \
      --command-config "$CLIENT_PROPS" --topic "$t" --time -2 2>/dev/null | cut -d: -f3)"
    [[ "$start" == 3 ]] && break
  done
  echo "(log start offset after retention: ${start:-?})"
  get_offsets --topic "$t" --time -2
  get_offsets --topic "$t" --time -1
  topics --delete --topic "$t"
}

sc_admin_client() {
  jrun "$JLIB" AdminCompat "$1" "a-$RUN_ID-ac-"
}

scenario_dispatch "$@"

# ------------------------------------------------------------------------------------------
# Main

need_java
maven_libs "$COMPAT_DIR/java" >/dev/null
maven_libs "$COMPAT_DIR/kafka-ref" >/dev/null
mkdir -p "$HERE/work"
printf 'request.timeout.ms=10000\ndefault.api.timeout.ms=30000\n' >"$CLIENT_PROPS"
compile_java "$HERE/src" "$CLASSES" "$JLIB"

# This folder's retention brokers (see the top).
_ADMIN_SLUICE_PID=""
_ADMIN_SLUICE_DIR=""
start_retention_brokers() {
  local port
  port="$(port_of "$ADMIN_KAFKA_ADDR")"
  KAFKA_INSTANCE=adm KAFKA_PORT="$port" KAFKA_CONTROLLER_PORT="$((port + 1))" KAFKA_HEAP=512m \
    KAFKA_RETENTION_CHECK_MS=$RET_CHECK_MS bash "$COMPAT_DIR/kafka-ref/run.sh" start >&2
  port="$(port_of "$ADMIN_SUT_ADDR")"
  if [[ "${COMPAT_SELF_CHECK:-0}" == 1 ]]; then
    KAFKA_INSTANCE=adm-self KAFKA_PORT="$port" KAFKA_CONTROLLER_PORT="$((port + 1))" KAFKA_HEAP=512m \
      KAFKA_RETENTION_CHECK_MS=$RET_CHECK_MS bash "$COMPAT_DIR/kafka-ref/run.sh" start >&2
    return 0
  fi
  port_open 127.0.0.1 "$port" && die "port $port (ADMIN_SLUICE_PORT) is already in use"
  local bin
  bin="$(sluice_bin)"
  _ADMIN_SLUICE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/sluice-admin.XXXXXX")"
  "$bin" --override "listeners=PLAINTEXT://$ADMIN_SUT_ADDR" \
    --override "advertised.listeners=PLAINTEXT://$ADMIN_SUT_ADDR" \
    --override "log.dirs=$_ADMIN_SLUICE_DIR" --override node.id=1 --override num.partitions=1 \
    --override "log.retention.check.interval.ms=$RET_CHECK_MS" \
    >"$HERE/work/sluice-retention.log" 2>&1 </dev/null &
  _ADMIN_SLUICE_PID=$!
  wait_for_port 127.0.0.1 "$port" 30 "$_ADMIN_SLUICE_PID" || die "sluice (retention) did not start"
}
stop_retention_brokers() {
  KAFKA_INSTANCE=adm bash "$COMPAT_DIR/kafka-ref/run.sh" stop >&2 || true
  if [[ "${COMPAT_SELF_CHECK:-0}" == 1 ]]; then
    KAFKA_INSTANCE=adm-self bash "$COMPAT_DIR/kafka-ref/run.sh" stop >&2 || true
  fi
  if [[ -n "$_ADMIN_SLUICE_PID" ]]; then
    kill -TERM "$_ADMIN_SLUICE_PID" 2>/dev/null || true
    wait "$_ADMIN_SLUICE_PID" 2>/dev/null || true
    _ADMIN_SLUICE_PID=""
  fi
  [[ -n "$_ADMIN_SLUICE_DIR" ]] && rm -rf "$_ADMIN_SLUICE_DIR"
  _ADMIN_SLUICE_DIR=""
}
cleanup_admin() {
  stop_retention_brokers
  cleanup_brokers
}
trap cleanup_admin EXIT
ensure_kafka
ensure_sut

# The CI tier; EXTRA (nightly.sh) adds the known difference, the informational key list and the
# leader-election / reassignment tools (differential/leadership covers those APIs in CI).
ALL=(topics-alter configs-topic configs-broker delete-records admin-client retention)
EXTRA=(configs-broker-other configs-broker-all-keys leader-election reassign)
INFORMATIONAL=" configs-broker-all-keys "
selected=("$@")
((${#selected[@]})) || selected=("${ALL[@]}")
for name in "${selected[@]}"; do
  func="sc_${name//-/_}"
  declare -F "$func" >/dev/null || die "unknown scenario $name (known: ${ALL[*]} ${EXTRA[*]})"
  if [[ $name == retention ]]; then
    start_retention_brokers
    saved=("$KAFKA_ADDR" "$SLUICE_ADDR")
    KAFKA_ADDR=$ADMIN_KAFKA_ADDR SLUICE_ADDR=$ADMIN_SUT_ADDR run_scenario "$name" "$func"
    KAFKA_ADDR=${saved[0]} SLUICE_ADDR=${saved[1]}
    stop_retention_brokers
  elif [[ "$INFORMATIONAL" == *" $name "* ]]; then
    run_scenario_informational "$name" "$func"
  else
    run_scenario "$name" "$func"
  fi
done

if [[ -z "${COMPAT_NO_SUMMARY:-}" ]]; then
  print_summary
fi
