#!/usr/bin/env bash
# Scaling benchmark: how Sluice and the reference Apache Kafka 4.3.1 (-Xmx1g) behave as the
# number of partitions, producers and consumers grows. Both brokers run side by side; every row
# is measured on one right after the other, the order alternating (as in run.sh).
#
#   bash compat-tests/bench/scaling.sh                           1M records per run
#   SCALING_RECORDS=100000 bash compat-tests/bench/scaling.sh    a quick run
#
# Series (gobench, franz-go v1.22.2; records of 1 KiB, acks=all, idempotent):
#   partitions 1 / 100 / 1000   gobench produce -clients 4 into a topic with that many
#                               partitions, then gobench consume -clients 4 reads it back
#   producers 1 / 10 / 100      gobench produce -clients N into an 8-partition topic
#   consumers 1 / 10 / 100      gobench consume -clients N of a 100-partition topic (filled once
#                               by gobench produce -clients 4, not measured), every consumer
#                               with partitions of its own
# Per row: records/s, p99 ms (produce: per-record acknowledgement latency), the broker's peak
# RSS MB and CPU seconds; per broker a growth column (the value divided by the value of the
# series' smallest setting) so that super-linear growth is visible. A fresh topic per produce
# row, deleted after it was read (bounded disk use).
# Table also in work/scaling-<date>.txt. It reports numbers and never fails on them.
#
# Environment: SCALING_RECORDS (default 1000000), SCALING_CLIENTS (4: clients of the partitions
# series), BENCH_RECORD_SIZE (1024), BENCH_SLUICE_PORT (25392), BENCH_KAFKA_PORT (19392,
# controller +1), BENCH_ONLY ("sluice kafka"), SLUICE_BIN.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=bench
export COMPAT_RESULTS=/dev/null
source "$HERE/../lib/common.sh"
BENCH_INSTANCE=bench-scaling
source "$HERE/lib.sh"

RECORDS="${SCALING_RECORDS:-1000000}"
SIZE="${BENCH_RECORD_SIZE:-1024}"
CLIENTS="${SCALING_CLIENTS:-4}"

bench_setup
trap bench_cleanup EXIT

# gobench_fill BROKER TOPIC: RECORDS records into TOPIC with gobench produce (not measured).
gobench_fill() {
  local out="$WORK/out-$1-$2-fill.txt"
  "$GOBENCH" produce -brokers "$(addr_of "$1")" -topic "$2" -records "$RECORDS" -size "$SIZE" -clients "$CLIENTS" \
    >"$out" 2>"$out.err" || log "[$1] gobench produce (fill) exit $?: $(tail -1 "$out.err")"
}

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
each_broker start_broker
log "=== scaling: $RECORDS records of $SIZE bytes per run; brokers: ${BROKERS[*]}"

ROWS=()
# Each series: its rows in order, the first one is the base of the growth column.
declare -A BASE

for parts in 1 100 1000; do
  topic="scale-${parts}p"
  each_broker create_topic "$topic" "$parts"
  measure gobench_produce_run "partitions $parts: produce" "$topic" "$RECORDS" "$CLIENTS" "$SIZE"
  measure gobench_consume_run "partitions $parts: consume" "$topic" "$RECORDS" "$CLIENTS"
  each_broker delete_topic "$topic"
  ROWS+=("partitions $parts: produce" "partitions $parts: consume")
  BASE["partitions $parts: produce"]="partitions 1: produce"
  BASE["partitions $parts: consume"]="partitions 1: consume"
done

for n in 1 10 100; do
  topic="scale-producers-$n"
  each_broker create_topic "$topic" 8
  measure gobench_produce_run "producers $n (8p)" "$topic" "$RECORDS" "$n" "$SIZE"
  each_broker delete_topic "$topic"
  ROWS+=("producers $n (8p)")
  BASE["producers $n (8p)"]="producers 1 (8p)"
done

topic="scale-consumers-100p"
each_broker create_topic "$topic" 100
log "filling $topic (not measured)"
each_broker gobench_fill "$topic"
for n in 1 10 100; do
  measure gobench_consume_run "consumers $n (100p)" "$topic" "$RECORDS" "$n"
  ROWS+=("consumers $n (100p)")
  BASE["consumers $n (100p)"]="consumers 1 (100p)"
done
each_broker delete_topic "$topic"

for broker in "${BROKERS[@]}"; do
  R["$broker|broker|VmHWM MB"]="$(($(awk '/^VmHWM:/ {print $2}' "/proc/${PID_OF[$broker]}/status") / 1024))"
  stop_broker "$broker"
done
ROWS+=(broker)
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# growth BROKER ROW METRIC: the value relative to the series' first row ("" if not numeric).
growth() {
  local base="${BASE[$2]:-}"
  [[ -n $base ]] || return 0
  local r
  r="$(ratio "${R[$1|$2|$3]:-}" "${R[$1|$base|$3]:-}")"
  [[ $r == - ]] || echo "${r}x"
}

table="$WORK/scaling-$(date +%Y%m%d-%H%M%S).txt"
{
  echo "records per run: $RECORDS x $SIZE B; partitions series with $CLIENTS clients; $(nproc) cores," \
    "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "load average: $LOAD_START at start, $LOAD_END at end (both brokers up, rows interleaved)"
  printf '%-28s %-13s %11s %8s %11s %8s %12s\n' "run" "metric" "sluice" "growth" "kafka" "growth" "sluice/kafka"
  for row in "${ROWS[@]}"; do
    for metric in records/s MB/s "p99 ms" "broker CPU s" "client CPU s" "peak RSS MB" "VmHWM MB"; do
      s="${R[sluice|$row|$metric]:-}"
      k="${R[kafka|$row|$metric]:-}"
      [[ -z "$s" && -z "$k" ]] && continue
      printf '%-28s %-13s %11s %8s %11s %8s %12s\n' "$row" "$metric" "$(fmt "${s:--}")" "$(growth sluice "$row" "$metric")" \
        "$(fmt "${k:--}")" "$(growth kafka "$row" "$metric")" "$(ratio "$s" "$k")"
    done
  done
  echo "(growth: the broker's value / its value at the series' smallest setting (partitions 1, producers 1, consumers 1);"
  echo " ratio > 1: Sluice higher. records/s, MB/s: higher is better; p99, CPU, RSS: lower is better.)"
} | tee "$table"
log "table written to ${table#"$COMPAT_DIR/"}"
