#!/usr/bin/env bash
# Throughput/latency benchmark: Sluice (release build) against the reference Apache Kafka 4.3.1
# (JVM, -Xmx1g), one after the other on this machine, each broker alone while it is measured.
#
#   bash compat-tests/bench/run.sh                  2M records per run (the reference setting)
#   BENCH_RECORDS=200000 bash compat-tests/bench/run.sh   a quick run
#
# Per broker: topics with 1 and with 8 partitions; Kafka's ProducerPerformance (1 KiB records,
# acks=all, unthrottled) into each; then the records are read back by AssignConsumerPerf (ours:
# assign()+seekToBeginning(), no consumer group) and by Kafka's ConsumerPerformance (which always
# subscribes, i.e. needs consumer groups; "n/a" where the broker has none). Peak broker RSS is
# the maximum of VmRSS polled every 200 ms during each run, and VmHWM at the end. Broker CPU s
# is the CPU time (user + system) the broker process used during each run: unlike throughput it
# hardly depends on what else the machine runs.
# Prints a table with the Sluice/Kafka ratio per row (also written to work/results-<date>.txt).
# It reports numbers and never fails on them (exit status != 0 only if it could not run).
#
# Environment: BENCH_RECORDS (default 2000000), BENCH_RECORD_SIZE (1024), BENCH_SLUICE_PORT
# (25392), BENCH_KAFKA_PORT (19392, controller +1), BENCH_ONLY ("sluice kafka"), SLUICE_BIN.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=bench
export COMPAT_RESULTS=/dev/null
source "$HERE/../lib/common.sh"

RECORDS="${BENCH_RECORDS:-2000000}"
SIZE="${BENCH_RECORD_SIZE:-1024}"
SLUICE_B="127.0.0.1:${BENCH_SLUICE_PORT:-25392}"
KAFKA_PORT="${BENCH_KAFKA_PORT:-19392}"
KAFKA_B="127.0.0.1:$KAFKA_PORT"
read -r -a BROKERS <<<"${BENCH_ONLY:-sluice kafka}"
WORK="$HERE/work"
LIB="$COMPAT_DIR/java/work/lib"
CLASSES="$WORK/classes"
mkdir -p "$WORK"

# ------------------------------------------------------------------------------------------
# Setup

need_java
maven_libs "$COMPAT_DIR/java" >/dev/null
compile_java "$HERE/src" "$CLASSES" "$LIB"
SLUICE="$(sluice_bin)"


# ------------------------------------------------------------------------------------------
# Brokers (our own instances on their own ports; data removed afterwards)

BROKER_PID=""
SLUICE_PID=""
KAFKA_STARTED=0
start_broker() {
  case "$1" in
    sluice)
      port_open 127.0.0.1 "$(port_of "$SLUICE_B")" && die "port of $SLUICE_B is in use"
      rm -rf "$WORK/sluice-data"
      mkdir -p "$WORK/sluice-data"
      "$SLUICE" --override "listeners=PLAINTEXT://$SLUICE_B" --override "advertised.listeners=PLAINTEXT://$SLUICE_B" \
        --override "log.dirs=$WORK/sluice-data" --override node.id=1 --override num.partitions=1 \
        --override group.initial.rebalance.delay.ms=0 >"$WORK/sluice.log" 2>&1 </dev/null &
      SLUICE_PID=$!
      BROKER_PID=$SLUICE_PID
      wait_for_port 127.0.0.1 "$(port_of "$SLUICE_B")" 60 "$SLUICE_PID" || die "sluice did not start"
      ;;
    kafka)
      KAFKA_INSTANCE=bench KAFKA_PORT="$KAFKA_PORT" KAFKA_CONTROLLER_PORT="$((KAFKA_PORT + 1))" KAFKA_HEAP=1g \
        bash "$COMPAT_DIR/kafka-ref/run.sh" start
      KAFKA_STARTED=1
      BROKER_PID="$(cat "$COMPAT_DIR/kafka-ref/work/bench/kafka.pid")"
      ;;
  esac
  log "$1 up (pid $BROKER_PID)"
}

stop_broker() {
  case "$1" in
    sluice)
      if [[ -n "$SLUICE_PID" ]] && kill -0 "$SLUICE_PID" 2>/dev/null; then
        kill -TERM "$SLUICE_PID" 2>/dev/null || true
        local end=$((SECONDS + 30))
        while kill -0 "$SLUICE_PID" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
        kill -KILL "$SLUICE_PID" 2>/dev/null || true
        wait "$SLUICE_PID" 2>/dev/null || true
      fi
      SLUICE_PID=""
      rm -rf "$WORK/sluice-data"
      ;;
    kafka)
      if ((KAFKA_STARTED)); then
        KAFKA_INSTANCE=bench bash "$COMPAT_DIR/kafka-ref/run.sh" stop || true
        KAFKA_STARTED=0
        rm -rf "$COMPAT_DIR/kafka-ref/work/bench/data"
      fi
      ;;
  esac
}

SAMPLER_PID=""
cleanup() {
  [[ -n "$SAMPLER_PID" ]] && kill "$SAMPLER_PID" 2>/dev/null || true
  stop_broker sluice
  stop_broker kafka
}
trap cleanup EXIT

# rss_sampler PID FILE: poll VmRSS (kB) of PID every 200 ms, keep the maximum in FILE.
start_sampler() {
  local pid=$1 file=$2
  echo 0 >"$file"
  (
    max=0
    while kill -0 "$pid" 2>/dev/null; do
      v=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      v=${v:-0}
      if ((v > max)); then max=$v; echo "$max" >"$file"; fi
      sleep 0.2 # sampling interval
    done
  ) &
  SAMPLER_PID=$!
}
stop_sampler() {
  [[ -n "$SAMPLER_PID" ]] && kill "$SAMPLER_PID" 2>/dev/null || true
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=""
}

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks (/proc/PID/stat).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
TCK="$(getconf CLK_TCK)"
# cpu_seconds T0 T1: the ticks between two cpu_ticks readings, in seconds.
cpu_seconds() { awk -v a="$1" -v b="$2" -v t="$TCK" 'BEGIN { printf "%.2f", (b - a) / t }'; }

declare -A R   # R[broker|row|metric] = value
declare -A LOAD # load averages (1/5/15 min) when each broker's runs started and ended

# ------------------------------------------------------------------------------------------
# Runs

produce_run() {
  local broker=$1 addr=$2 parts=$3 row="produce ${3}p" out rss="$WORK/rss.max"
  log "[$broker] $row: ProducerPerformance --num-records $RECORDS --record-size $SIZE acks=all"
  start_sampler "$BROKER_PID" "$rss"
  local c0
  c0="$(cpu_ticks "$BROKER_PID")"
  out="$WORK/out-$broker-produce-${parts}p.txt"
  timeout --foreground 1800 java -Xmx1g -Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties" -cp "$LIB/*" \
    org.apache.kafka.tools.ProducerPerformance --bootstrap-server "$addr" --topic "bench-${parts}p" \
    --num-records "$RECORDS" --record-size "$SIZE" --throughput -1 \
    --command-property acks=all >"$out" 2>"$out.err" || log "ProducerPerformance exit $?"
  R["$broker|$row|broker CPU s"]="$(cpu_seconds "$c0" "$(cpu_ticks "$BROKER_PID")")"
  stop_sampler
  # Progress lines every 5 s, the summary last:
  # N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency, P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th.
  sed 's/^/    /' "$out" >&2
  local last
  last="$(grep -E 'records sent.*99\.9th' "$out" | tail -1 || true)"
  if [[ -n "$last" ]]; then
    R["$broker|$row|records/s"]="$(sed -E 's/.* sent, ([0-9.]+) records\/sec.*/\1/' <<<"$last")"
    R["$broker|$row|MB/s"]="$(sed -E 's/.*records\/sec \(([0-9.]+) MB\/sec.*/\1/' <<<"$last")"
    R["$broker|$row|p50 ms"]="$(sed -E 's/.* ([0-9.]+) ms 50th.*/\1/' <<<"$last")"
    R["$broker|$row|p99 ms"]="$(sed -E 's/.* ([0-9.]+) ms 99th.*/\1/' <<<"$last")"
    R["$broker|$row|p99.9 ms"]="$(sed -E 's/.* ([0-9.]+) ms 99\.9th.*/\1/' <<<"$last")"
  fi
  R["$broker|$row|peak RSS MB"]="$(($(cat "$rss") / 1024))"
}

consume_run() {
  local broker=$1 addr=$2 parts=$3 row="consume ${3}p (assign)" out rss="$WORK/rss.max"
  log "[$broker] $row: AssignConsumerPerf $RECORDS records"
  start_sampler "$BROKER_PID" "$rss"
  local c0
  c0="$(cpu_ticks "$BROKER_PID")"
  out="$WORK/out-$broker-consume-${parts}p.txt"
  timeout --foreground 1800 java -Xmx1g -Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties" \
    -cp "$LIB/*:$CLASSES" AssignConsumerPerf "$addr" "bench-${parts}p" "$RECORDS" 600 >"$out" 2>"$out.err" || log "AssignConsumerPerf exit $?"
  R["$broker|$row|broker CPU s"]="$(cpu_seconds "$c0" "$(cpu_ticks "$BROKER_PID")")"
  stop_sampler
  sed 's/^/    /' "$out" >&2
  if grep -q records_per_sec "$out"; then
    R["$broker|$row|records/s"]="$(grep -oE 'records_per_sec=[0-9.]+' "$out" | cut -d= -f2)"
    R["$broker|$row|MB/s"]="$(grep -oE 'mb_per_sec=[0-9.]+' "$out" | cut -d= -f2)"
  fi
  R["$broker|$row|peak RSS MB"]="$(($(cat "$rss") / 1024))"
}

# Kafka's ConsumerPerformance (subscribe(): needs the group coordinator).
consumer_perf_run() {
  local broker=$1 addr=$2 parts=$3 row="consume ${3}p (ConsumerPerformance)" out rc=0
  log "[$broker] $row: ConsumerPerformance --num-records $RECORDS (group protocol)"
  out="$WORK/out-$broker-consumerperf-${parts}p.txt"
  local c0
  c0="$(cpu_ticks "$BROKER_PID")"
  timeout --foreground 900 java -Xmx1g -Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties" -cp "$LIB/*" \
    org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$addr" --topic "bench-${parts}p" \
    --num-records "$RECORDS" --timeout 30000 >"$out" 2>"$out.err" || rc=$?
  R["$broker|$row|broker CPU s"]="$(cpu_seconds "$c0" "$(cpu_ticks "$BROKER_PID")")"
  sed 's/^/    /' "$out" >&2
  # header: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, ...
  local line
  line="$(grep -E '^[0-9]{4}-' "$out" | tail -1 || true)"
  if ((rc == 0)) && [[ -n "$line" ]] && (($(awk -F', ' '{printf "%d", $5}' <<<"$line") >= RECORDS)); then
    R["$broker|$row|records/s"]="$(awk -F', ' '{print $6}' <<<"$line")"
    R["$broker|$row|MB/s"]="$(awk -F', ' '{print $4}' <<<"$line")"
  else
    log "[$broker] ConsumerPerformance did not consume $RECORDS records (exit $rc): $(grep -m1 -oE '[A-Za-z.]*Exception[^(]{0,120}' "$out.err" || true)"
    R["$broker|$row|records/s"]="n/a"
    R["$broker|$row|MB/s"]="n/a"
  fi
}

addr_of() { if [[ $1 == sluice ]]; then echo "$SLUICE_B"; else echo "$KAFKA_B"; fi; }

# Both brokers run at once and each row is measured on one right after the other (the order
# alternating from row to row), so that both see the same machine load: on a shared machine a
# broker measured minutes after the other can meet a different load, which moved ratios by
# 30-50 % between runs before.
declare -A PID_OF
LOAD[start]="$(cut -d' ' -f1-3 /proc/loadavg)"
for broker in "${BROKERS[@]}"; do
  start_broker "$broker"
  PID_OF[$broker]=$BROKER_PID
  for parts in 1 8; do
    kafka_topics "$(addr_of "$broker")" --create --topic "bench-${parts}p" --partitions "$parts" --replication-factor 1 >&2
  done
done
log "=== $RECORDS records of $SIZE bytes per run; brokers: ${BROKERS[*]}"
row=0
for run in "produce_run 1" "produce_run 8" "consume_run 1" "consume_run 8" "consumer_perf_run 8"; do
  read -r fn parts <<<"$run"
  order=("${BROKERS[@]}")
  if ((row % 2 == 1)); then
    order=()
    for ((i = ${#BROKERS[@]} - 1; i >= 0; i--)); do order+=("${BROKERS[$i]}"); done
  fi
  for broker in "${order[@]}"; do
    BROKER_PID=${PID_OF[$broker]}
    "$fn" "$broker" "$(addr_of "$broker")" "$parts"
  done
  row=$((row + 1))
done
for broker in "${BROKERS[@]}"; do
  R["$broker|broker|VmHWM MB"]="$(($(awk '/^VmHWM:/ {print $2}' "/proc/${PID_OF[$broker]}/status") / 1024))"
  stop_broker "$broker"
done
LOAD[end]="$(cut -d' ' -f1-3 /proc/loadavg)"

# ------------------------------------------------------------------------------------------
# Table

# fmt N: whole numbers above 100, two decimals below; anything else as is.
fmt() {
  awk -v a="$1" 'BEGIN { if (a ~ /^[0-9]+$/) print a; else if (a ~ /^[0-9.]+$/) { if (a + 0 >= 100) printf "%.0f", a; else printf "%.2f", a } else print a }'
}
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2f", a / b; else print "-" }'
}
table="$WORK/results-$(date +%Y%m%d-%H%M%S).txt"
{
  echo "records per run: $RECORDS x $SIZE B; $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "load average: ${LOAD[start]:-?} at start, ${LOAD[end]:-?} at end (both brokers up, rows interleaved)"
  printf '%-34s %-12s %14s %14s %12s\n' "run" "metric" "sluice" "kafka" "sluice/kafka"
  for row in "produce 1p" "produce 8p" "consume 1p (assign)" "consume 8p (assign)" "consume 8p (ConsumerPerformance)" "broker"; do
    for metric in records/s MB/s "p50 ms" "p99 ms" "p99.9 ms" "broker CPU s" "peak RSS MB" "VmHWM MB"; do
      s="${R[sluice|$row|$metric]:-}"
      k="${R[kafka|$row|$metric]:-}"
      [[ -z "$s" && -z "$k" ]] && continue
      printf '%-34s %-12s %14s %14s %12s\n' "$row" "$metric" "$(fmt "${s:--}")" "$(fmt "${k:--}")" "$(ratio "$s" "$k")"
    done
  done
  echo "(ratio > 1: Sluice higher. For records/s and MB/s higher is better; for latency, CPU and RSS lower is better.)"
} | tee "$table"
log "table written to ${table#"$COMPAT_DIR/"}"
