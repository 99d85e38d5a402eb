#!/usr/bin/env bash
# Kafka Connect 4.3.1 against the reference Kafka and Sluice, compared: the FileStream source and
# sink connectors in standalone mode, and in distributed mode (a worker group over the classic
# "connect" protocol, with its config, offset and status topics compacted), including a worker
# restart that must resume from the stored offsets and configs. See README.md.
#
#   bash connect/run.sh              all scenarios
#   bash connect/run.sh NAME...      only these scenarios
#   bash connect/run.sh --list       list the scenarios
#
# Environment: CONNECT_REST_PORT (first REST port; default 28083, the scenarios use it and +1).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=connect
source "$HERE/../lib/common.sh"

CLIB="$HERE/work/lib"
REST_PORT="${CONNECT_REST_PORT:-28083}"
JAVA=(java -Xmx384m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Duser.timezone=UTC
  -Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties")

topic() { echo "c-$RUN_ID-$1"; }

# lines_of FILE: number of lines (0 when missing).
lines_of() { if [[ -f "$1" ]]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

# await_lines FILE N DEADLINE_S: poll until FILE has N lines; prints the count reached.
await_lines() {
  local f=$1 n=$2 end=$((SECONDS + $3)) got
  while :; do
    got="$(lines_of "$f")"
    ((got >= n || SECONDS >= end)) && break
    sleep 0.5 # poll interval
  done
  echo "$got"
}

# rest PATH [CURL ARGS...]: the worker's REST API at $PORT.
rest() {
  local path=$1
  shift
  curl -sS --max-time 30 "$@" "http://127.0.0.1:$PORT$path"
}

# await_rest DEADLINE_S: poll until the worker's REST API answers.
await_rest() {
  local end=$((SECONDS + $1))
  while ((SECONDS < end)); do
    rest / >/dev/null 2>&1 && return 0
    sleep 0.5 # poll interval
  done
  echo "REST API not up within $1 s"
  return 1
}

# create_connector JSON: POST /connectors, retried (bounded) while the worker is still joining
# its group (Connect answers 409/500 until then); prints the HTTP status it ended with.
create_connector() {
  local end=$((SECONDS + 90)) code
  while :; do
    code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 -X POST \
      -H 'Content-Type: application/json' -d "$1" "http://127.0.0.1:$PORT/connectors" || true)"
    [[ "$code" == 201 || $SECONDS -ge $end ]] && break
    sleep 0.5 # poll interval
  done
  echo "POST /connectors $(jq -r .name <<<"$1"): HTTP $code"
}

# status NAME: "connector STATE; task 0 STATE" of a connector (bounded poll until RUNNING).
status() {
  local end=$((SECONDS + 60)) s
  while :; do
    s="$(rest "/connectors/$1/status" | jq -r '"connector \(.connector.state); tasks \([.tasks[].state] | join(","))"' 2>/dev/null || true)"
    [[ "$s" == "connector RUNNING; tasks RUNNING" || $SECONDS -ge $end ]] && break
    sleep 0.5 # poll interval
  done
  echo "$1: ${s:-no status}"
}

# compare_files INPUT OUTPUT [HOW]: the sink's output against the source's input.
compare_files() {
  if cmp -s "$1" "$2"; then
    echo "output equals input ($(lines_of "$2") lines, ${3:-in order})"
  else
    echo "output differs from input: $(lines_of "$1") lines in, $(lines_of "$2") out, $(sort "$2" | uniq -d | wc -l) duplicated, $(comm -23 <(sort "$1") <(sort -u "$2") | wc -l) missing"
  fi
}

# stop_worker PID: SIGTERM and a bounded wait; prints the exit status.
stop_worker() {
  local pid=$1 end=$((SECONDS + 60)) rc=0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" || rc=$?
  echo "worker stopped (SIGTERM): exit $rc"
}

side() { [[ $BROKER == "$KAFKA_ADDR" ]] && echo kafka || echo sut; }

# Standalone: FileStreamSource -> topic -> FileStreamSink, 2000 lines, then 500 appended.
sc_standalone() {
  BROKER=$1
  PORT=$REST_PORT
  local dir t pid
  dir="$(mktemp -d)"
  t="$(topic standalone)"
  kafka_topics "$BROKER" --create --topic "$t" --partitions 1 --replication-factor 1 >/dev/null
  seq -f "line %g of the standalone round trip" 1 2000 >"$dir/input.txt"
  cat >"$dir/worker.properties" <<PROPS
bootstrap.servers=$BROKER
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
offset.storage.file.filename=$dir/offsets
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:$PORT
PROPS
  cat >"$dir/source.properties" <<PROPS
name=file-source
connector.class=org.apache.kafka.connect.file.FileStreamSourceConnector
tasks.max=1
file=$dir/input.txt
topic=$t
PROPS
  cat >"$dir/sink.properties" <<PROPS
name=file-sink
connector.class=org.apache.kafka.connect.file.FileStreamSinkConnector
tasks.max=1
file=$dir/output.txt
topics=$t
PROPS
  echo "ConnectStandalone with a FileStreamSource and a FileStreamSink"
  "${JAVA[@]}" -cp "$CLIB/*" org.apache.kafka.connect.cli.ConnectStandalone \
    "$dir/worker.properties" "$dir/source.properties" "$dir/sink.properties" >"$dir/worker.log" 2>&1 &
  pid=$!
  await_rest 120 || true
  status file-source
  status file-sink
  echo "sink lines: $(await_lines "$dir/output.txt" 2000 120)"
  seq -f "appended line %g" 1 500 >>"$dir/input.txt"
  echo "after appending 500 lines, sink lines: $(await_lines "$dir/output.txt" 2500 120)"
  compare_files "$dir/input.txt" "$dir/output.txt"
  stop_worker "$pid"
  cp "$dir/worker.log" "$OUT_DIR/standalone.$(side).worker.log" || true
  rm -rf "$dir"
}

# start_distributed DIR LOG: a distributed worker on $PORT; its pid in WPID (no subshell, so
# that the scenario can wait for it).
start_distributed() {
  "${JAVA[@]}" -cp "$CLIB/*" org.apache.kafka.connect.cli.ConnectDistributed \
    "$1/worker.properties" >>"$2" 2>&1 &
  WPID=$!
}

# Distributed: one worker (group over the "connect" protocol, internal compacted topics),
# connectors created through REST; then the worker is stopped, lines are added, and a restarted
# worker must pick up its connectors from the config topic and resume from the offset topic.
sc_distributed() {
  BROKER=$1
  PORT=$((REST_PORT + 1))
  local dir t prefix
  dir="$(mktemp -d)"
  t="$(topic distributed)"
  prefix="connect-$RUN_ID"
  kafka_topics "$BROKER" --create --topic "$t" --partitions 2 --replication-factor 1 >/dev/null
  seq -f "line %g of the distributed round trip" 1 2000 >"$dir/input.txt"
  cat >"$dir/worker.properties" <<PROPS
bootstrap.servers=$BROKER
group.id=$prefix
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
config.storage.topic=$prefix-configs
offset.storage.topic=$prefix-offsets
status.storage.topic=$prefix-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:$PORT
rest.advertised.host.name=127.0.0.1
rest.advertised.port=$PORT
PROPS
  echo "ConnectDistributed, one worker"
  start_distributed "$dir" "$dir/worker.log"
  await_rest 120 || true
  create_connector "{\"name\": \"dist-source\", \"config\": {\"connector.class\": \"org.apache.kafka.connect.file.FileStreamSourceConnector\", \"tasks.max\": \"1\", \"file\": \"$dir/input.txt\", \"topic\": \"$t\"}}"
  create_connector "{\"name\": \"dist-sink\", \"config\": {\"connector.class\": \"org.apache.kafka.connect.file.FileStreamSinkConnector\", \"tasks.max\": \"1\", \"file\": \"$dir/output.txt\", \"topics\": \"$t\"}}"
  status dist-source
  status dist-sink
  echo "connectors: $(rest /connectors | jq -c 'sort')"
  echo "sink lines: $(await_lines "$dir/output.txt" 2000 120)"
  echo "internal topics:"
  internal_topics "$BROKER" "$prefix"
  stop_worker "$WPID"
  seq -f "added while the worker was down %g" 1 500 >>"$dir/input.txt"
  echo "# worker restarted"
  start_distributed "$dir" "$dir/worker.log"
  await_rest 120 || true
  status dist-source
  status dist-sink
  echo "sink lines: $(await_lines "$dir/output.txt" 2500 120)"
  # The sink's output order follows the topic's two partitions; compare as sets.
  sort "$dir/input.txt" >"$dir/in.sorted"
  sort "$dir/output.txt" >"$dir/out.sorted"
  compare_files "$dir/in.sorted" "$dir/out.sorted" "as a set"
  rest /connectors/dist-source -X DELETE
  rest /connectors/dist-sink -X DELETE
  echo "connectors after delete: $(rest /connectors)"
  stop_worker "$WPID"
  cp "$dir/worker.log" "$OUT_DIR/distributed.$(side).worker.log" || true
  rm -rf "$dir"
}

scenario_dispatch "$@"

# ------------------------------------------------------------------------------------------
# Main

ALL=(standalone distributed)
if [[ "${1:-}" == --list ]]; then printf '%s\n' "${ALL[@]}"; exit 0; fi

need_java
maven_libs "$HERE" >/dev/null
maven_libs "$COMPAT_DIR/java" >/dev/null
command -v curl >/dev/null || apt_install curl
command -v jq >/dev/null || apt_install jq
for p in "$REST_PORT" "$((REST_PORT + 1))"; do
  port_open 127.0.0.1 "$p" && die "port $p is taken (set CONNECT_REST_PORT)"
done

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
