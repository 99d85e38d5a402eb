#!/usr/bin/env bash
# Reference Apache Kafka 4.3.1 broker (KRaft, single node: broker+controller) for the harness.
#
#   run.sh start|resume|stop|kill9|status
#
# Environment:
#   KAFKA_INSTANCE         name of the instance (default "ref"); state in work/<instance>/
#   KAFKA_PORT             PLAINTEXT listener port   (default 19092)
#   KAFKA_CONTROLLER_PORT  CONTROLLER listener port  (default 19093)
#   KAFKA_HEAP             JVM heap (default 1g)
#   KAFKA_ADVERTISED       host:port of the advertised PLAINTEXT listener (default the listener,
#                          127.0.0.1:KAFKA_PORT; kafka-go/ uses localhost:9092 as its tests expect,
#                          sarama/ the toxiproxy in front of the broker)
#   KAFKA_EXTRA_PROPS      more broker properties, "key=value key=value ..." appended to the
#                          generated server.properties (lib/common.sh passes
#                          COMPAT_BROKER_PROPS, which start_sluice gives Sluice as overrides)
#   KAFKA_RETENTION_CHECK_MS  log.retention.check.interval.ms (unset: Kafka's 300000, or what
#                          KAFKA_EXTRA_PROPS says). Only admin/'s own retention brokers set it;
#                          the shared brokers check once a day (lib/common.sh
#                          COMPAT_BROKER_PROPS): any check would delete the 2023-stamped
#                          records other suites read back.
#   KAFKA_DATA_DIR         log.dirs of the instance (default work/<instance>/data). `start` on a
#                          directory that already holds a meta.properties does not format it:
#                          the broker starts on what is there, with the node.id written in it
#                          (datadir/ starts Kafka on copies of data dirs Kafka or Sluice wrote).
#
# `start` installs the broker jars on first use (pom.xml -> mvn dependency:copy-dependencies into
# work/lib, cached), formats fresh KRaft storage (StorageTool random-uuid + format --standalone),
# starts the broker in the background and returns once it answers on its port.
# `stop` stops the process that `start` recorded in work/<instance>/kafka.pid (SIGTERM, clean).
# `kill9` kills it with SIGKILL (crash tests); `resume` starts it again on its existing data dir
# without formatting (the durability/ folder uses both on its own instance).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=kafka-ref
export COMPAT_RESULTS=/dev/null
source "$HERE/../lib/common.sh"

INSTANCE="${KAFKA_INSTANCE:-ref}"
PORT="${KAFKA_PORT:-19092}"
CPORT="${KAFKA_CONTROLLER_PORT:-19093}"
HOST=127.0.0.1
STATE="$HERE/work/$INSTANCE"
PIDFILE="$STATE/kafka.pid"
LOGFILE="$STATE/kafka.log"

running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE")"
  if kill -0 "$pid" 2>/dev/null && grep -q 'kafka.Kafka' "/proc/$pid/cmdline" 2>/dev/null; then
    echo "$pid"
    return 0
  fi
  return 1
}

start() {
  local resume=${1:-}
  if pid="$(running_pid)"; then
    log "kafka[$INSTANCE] already running (pid $pid)"
    wait_for_port "$HOST" "$PORT" 120 "$pid"
    return 0
  fi
  if port_open "$HOST" "$PORT" || port_open "$HOST" "$CPORT"; then
    die "port $PORT or $CPORT is already in use by another process"
  fi
  need_java
  local lib
  lib="$(maven_libs "$HERE")"
  local java_opts=(-Xmx"${KAFKA_HEAP:-1g}" -Xms256m -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$STATE")
  if [[ -n "$resume" ]]; then
    [[ -f "$STATE/server.properties" ]] || die "kafka[$INSTANCE]: nothing to resume in $STATE"
    log "kafka[$INSTANCE] resuming on its existing data ($(sed -n 's/^log\.dirs=//p' "$STATE/server.properties"))"
    [[ -f "$LOGFILE" ]] && mv "$LOGFILE" "$LOGFILE.previous"
    launch "$lib" "${java_opts[@]}"
    return 0
  fi
  if [[ -n "${KAFKA_DATA_DIR:-}" && "$(realpath -m "$KAFKA_DATA_DIR")/" == "$(realpath -m "$STATE")/"* ]]; then
    die "KAFKA_DATA_DIR must not be inside $STATE (start removes that folder)"
  fi
  rm -rf "$STATE"
  local data="${KAFKA_DATA_DIR:-$STATE/data}" node_id=1 existing=""
  mkdir -p "$STATE" "$data"
  if [[ -f "$data/meta.properties" ]]; then
    existing=yes
    node_id="$(sed -n -E 's/^node\.id=([0-9]+)\s*$/\1/p' "$data/meta.properties" | head -1)"
    [[ -n "$node_id" ]] || die "kafka[$INSTANCE]: no node.id in $data/meta.properties"
  fi
  cat >"$STATE/server.properties" <<PROPS
process.roles=broker,controller
node.id=$node_id
controller.quorum.bootstrap.servers=$HOST:$CPORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CPORT
advertised.listeners=PLAINTEXT://${KAFKA_ADVERTISED:-$HOST:$PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
group.initial.rebalance.delay.ms=0
# Kafka 4.3 (KIP-1263) batches KIP-848 target assignment updates (1 s by default); the
# differential transcripts need them at once, as Sluice computes them.
group.consumer.assignment.interval.ms=0
PROPS
  local kv
  for kv in ${KAFKA_EXTRA_PROPS:-}; do
    echo "$kv" >>"$STATE/server.properties"
  done
  if [[ -n "${KAFKA_RETENTION_CHECK_MS:-}" ]]; then
    echo "log.retention.check.interval.ms=$KAFKA_RETENTION_CHECK_MS" >>"$STATE/server.properties"
  fi
  if [[ -n "$existing" ]]; then
    log "kafka[$INSTANCE] starting on the existing data dir $data (node.id $node_id, not formatted)"
    launch "$lib" "${java_opts[@]}"
    return 0
  fi
  local cluster_id
  cluster_id="$(java "${java_opts[@]}" -Dcompat.log.level=WARN -cp "$lib/*" kafka.tools.StorageTool random-uuid | tail -1)"
  log "kafka[$INSTANCE] formatting storage (cluster id $cluster_id)"
  java "${java_opts[@]}" -Dcompat.log.level=WARN -cp "$lib/*" kafka.tools.StorageTool format --standalone \
    -t "$cluster_id" -c "$STATE/server.properties" >"$STATE/format.log" 2>&1 ||
    { cat "$STATE/format.log" >&2; die "storage format failed"; }
  launch "$lib" "${java_opts[@]}"
}

# launch LIB JAVA_OPTS...: start kafka.Kafka on $STATE/server.properties, wait until ready.
launch() {
  local lib=$1
  shift
  local java_opts=("$@")
  log "kafka[$INSTANCE] starting on $HOST:$PORT (controller $CPORT), log $LOGFILE"
  setsid java "${java_opts[@]}" -cp "$lib/*" kafka.Kafka "$STATE/server.properties" \
    >"$LOGFILE" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local pid
  pid="$(cat "$PIDFILE")"
  # Ready = listener accepts connections and the server logged that it finished starting.
  local end=$((SECONDS + 120))
  while ((SECONDS < end)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -30 "$LOGFILE" >&2
      die "kafka[$INSTANCE] exited during startup"
    fi
    if grep -q 'Kafka Server started' "$LOGFILE" && port_open "$HOST" "$PORT"; then
      log "kafka[$INSTANCE] up (pid $pid)"
      return 0
    fi
    sleep 0.3
  done
  tail -30 "$LOGFILE" >&2
  die "kafka[$INSTANCE] did not become ready within 120s"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    log "kafka[$INSTANCE] not running"
    rm -f "$PIDFILE"
    return 0
  fi
  log "kafka[$INSTANCE] stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local end=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "kafka[$INSTANCE] did not stop in 60s, killing"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
}

# kill9: SIGKILL the running broker (crash test) and wait until it is gone; data is kept.
kill9() {
  local pid
  if ! pid="$(running_pid)"; then
    log "kafka[$INSTANCE] not running"
    return 0
  fi
  log "kafka[$INSTANCE] kill -9 (pid $pid)"
  kill -KILL "$pid" 2>/dev/null || true
  local end=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
  rm -f "$PIDFILE"
}

status() {
  if pid="$(running_pid)"; then
    if port_open "$HOST" "$PORT"; then
      echo "kafka[$INSTANCE] running (pid $pid), answering on $HOST:$PORT"
    else
      echo "kafka[$INSTANCE] running (pid $pid), NOT answering on $HOST:$PORT"
    fi
  else
    echo "kafka[$INSTANCE] not running"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  resume) start resume ;;
  stop) stop ;;
  kill9) kill9 ;;
  status) status ;;
  *) echo "usage: $0 start|resume|stop|kill9|status" >&2; exit 2 ;;
esac
