#!/usr/bin/env bash
# Throughput/latency benchmark: Sluice (release build) against the reference Apache Kafka 4.3.1
# (JVM, -Xmx1g), both running side by side on this machine; every row is measured on one broker
# right after the other (order alternating from row to row) so that both meet the same load; the
# unthrottled produce rows and the fsync row run twice, once in each order (A, B, then B, A),
# because on this VM the order moves them (docs/performance.md).
#
#   bash compat-tests/bench/run.sh                        5M records per run (issue 7's workload)
#   BENCH_RECORDS=200000 bash compat-tests/bench/run.sh   a quick run
#
# Rows (README.md has the details): ProducerPerformance (1 KiB, acks=all) unthrottled into 1 and
# 8 partitions, read back by AssignConsumerPerf (assign(), no group), ConsumerPerformance
# (subscribe(), group) and gobench consume (franz-go, ConsumePartitions); ProducerPerformance at
# a fixed 20000 records/s (latency percentiles); EndToEndLatency (1 partition); ProducerPerformance
# into a flush.messages=1 topic (fsync before ack); startup time to the first ApiVersions answer;
# after the brokers stopped, loopback TCP (iperf3) and sequential disk write (fio) bandwidth.
# Per row also the broker's CPU seconds (user + system, /proc/PID/stat) and peak RSS (VmRSS
# polled every 200 ms). Each topic is deleted once its rows are done (bounded disk use).
# Prints a table with the Sluice/Kafka ratio per row (also written to work/results-<date>.txt).
# It reports numbers and never fails on them (exit status != 0 only if it could not run).
#
# Environment: BENCH_RECORDS (default 5000000), BENCH_RECORD_SIZE (1024), BENCH_LATENCY_RECORDS
# (600000), BENCH_LATENCY_RATE (20000), BENCH_E2E_RECORDS (20000), BENCH_FSYNC_RECORDS
# (BENCH_RECORDS), BENCH_STARTUP_RUNS (3), BENCH_IPERF_SECONDS (10), BENCH_FIO_SIZE (2G),
# BENCH_SLUICE_PORT (25392; +2 for the startup row), BENCH_KAFKA_PORT (19392, controller +1;
# +2/+3 for the startup row, +4 for iperf3), BENCH_ONLY ("sluice kafka"), BENCH_FIRST (sluice;
# kafka swaps the order of every row: the broker measured first in the first row), SLUICE_BIN.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=bench
export COMPAT_RESULTS=/dev/null
source "$HERE/../lib/common.sh"

source "$HERE/lib.sh"

RECORDS="${BENCH_RECORDS:-5000000}"
SIZE="${BENCH_RECORD_SIZE:-1024}"
LAT_RECORDS="${BENCH_LATENCY_RECORDS:-600000}"
LAT_RATE="${BENCH_LATENCY_RATE:-20000}"
E2E_RECORDS="${BENCH_E2E_RECORDS:-20000}"
FSYNC_RECORDS="${BENCH_FSYNC_RECORDS:-$RECORDS}"
STARTUP_RUNS="${BENCH_STARTUP_RUNS:-3}"
IPERF_SECONDS="${BENCH_IPERF_SECONDS:-10}"
FIO_SIZE="${BENCH_FIO_SIZE:-2G}"

bench_setup
trap bench_cleanup EXIT
declare -A LOAD # load averages (1/5/15 min) at the start and the end

# ------------------------------------------------------------------------------------------
# Runs (each is called as FN BROKER ADDR ARGS... by `measure`, with BROKER_PID set)


# produce_run BROKER ADDR ROW TOPIC RECORDS THROUGHPUT [WARMUP]: Kafka's ProducerPerformance,
# acks=all. With WARMUP, --warmup-records WARMUP and the latencies of its steady-state line (the
# records after the warm-up: the first ones wait for the client's own start — metadata, JIT).
produce_run() {
  local broker=$1 addr=$2 row=$3 topic=$4 n=$5 rate=$6 warmup=${7:-0} out
  local extra=()
  ((warmup > 0)) && extra=(--warmup-records "$warmup")
  log "[$broker] $row: ProducerPerformance --num-records $n --record-size $SIZE --throughput $rate ${extra[*]} acks=all ($topic)"
  out="$WORK/out-$broker-$topic-produce.txt"
  run_begin
  timeout --foreground 1800 "${JAVA_TOOL[@]}" org.apache.kafka.tools.ProducerPerformance --bootstrap-server "$addr" --topic "$topic" \
    --num-records "$n" --record-size "$SIZE" --throughput "$rate" "${extra[@]}" \
    --command-property acks=all >"$out" 2>"$out.err" || log "ProducerPerformance exit $?"
  run_end "$broker" "$row"
  # Progress lines every 5 s, the summary last (then the steady-state summary with a warm-up):
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
}

# consume_run BROKER ADDR ROW TOPIC: AssignConsumerPerf (assign() + seekToBeginning, no group).
consume_run() {
  local broker=$1 addr=$2 row=$3 topic=$4 out
  log "[$broker] $row: AssignConsumerPerf $RECORDS records ($topic)"
  out="$WORK/out-$broker-$topic-assign.txt"
  run_begin
  timeout --foreground 1800 "${JAVA_TOOL[@]}" AssignConsumerPerf "$addr" "$topic" "$RECORDS" 600 >"$out" 2>"$out.err" || log "AssignConsumerPerf exit $?"
  run_end "$broker" "$row"
  sed 's/^/    /' "$out" >&2
  R["$broker|$row|records/s"]="$(kv "$out" records_per_sec)"
  R["$broker|$row|MB/s"]="$(kv "$out" mb_per_sec)"
}

# consumer_perf_run BROKER ADDR ROW TOPIC: Kafka's ConsumerPerformance (subscribe(): needs the
# group coordinator).
consumer_perf_run() {
  local broker=$1 addr=$2 row=$3 topic=$4 out rc=0
  log "[$broker] $row: ConsumerPerformance --num-records $RECORDS (group protocol, $topic)"
  out="$WORK/out-$broker-$topic-consumerperf.txt"
  run_begin
  timeout --foreground 900 "${JAVA_TOOL[@]}" org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$addr" --topic "$topic" \
    --num-records "$RECORDS" --timeout 30000 >"$out" 2>"$out.err" || rc=$?
  run_end "$broker" "$row"
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

# e2e_run BROKER ADDR ROW TOPIC: Kafka's EndToEndLatency (one record at a time: send, acks=all,
# wait until a consumer has it; 1 partition).
e2e_run() {
  local broker=$1 addr=$2 row=$3 topic=$4 out
  log "[$broker] $row: EndToEndLatency --num-records $E2E_RECORDS --record-size $SIZE --producer-acks all ($topic)"
  out="$WORK/out-$broker-$topic-e2e.txt"
  run_begin
  timeout --foreground 1800 "${JAVA_TOOL[@]}" org.apache.kafka.tools.EndToEndLatency --bootstrap-server "$addr" --topic "$topic" \
    --num-records "$E2E_RECORDS" --producer-acks all --record-size "$SIZE" >"$out" 2>"$out.err" || log "EndToEndLatency exit $?"
  run_end "$broker" "$row"
  # Avg latency: 1.2345 ms / Percentiles: 50th = 1, 99th = 3, 99.9th = 7 (whole ms)
  grep -E '^(Avg latency|Percentiles)' "$out" | sed 's/^/    /' >&2 || true
  R["$broker|$row|avg ms"]="$(sed -nE 's/^Avg latency: ([0-9.]+) ms.*/\1/p' "$out")"
  R["$broker|$row|p50 ms"]="$(sed -nE 's/^Percentiles: 50th = ([0-9]+).*/\1/p' "$out")"
  R["$broker|$row|p99 ms"]="$(sed -nE 's/^Percentiles:.* 99th = ([0-9]+).*/\1/p' "$out")"
  R["$broker|$row|p99.9 ms"]="$(sed -nE 's/^Percentiles:.* 99\.9th = ([0-9]+).*/\1/p' "$out")"
}

# Startup: a second instance of each broker on its own ports (BENCH_*_PORT + 2), fresh data.
STARTUP_SLUICE_B="127.0.0.1:$(($(port_of "$SLUICE_B") + 2))"
STARTUP_KAFKA_PORT=$((KAFKA_PORT + 2))
KAFKA_STARTUP_CMD=""
# prepare_kafka_startup: start and stop kafka-ref/run.sh's instance bench-startup once to get
# its java command line (/proc/PID/cmdline) and server.properties; each measured start then
# runs that command on freshly formatted storage (StorageTool format, not timed).
prepare_kafka_startup() {
  local state="$COMPAT_DIR/kafka-ref/work/bench-startup" pid args=() a
  KAFKA_INSTANCE=bench-startup KAFKA_PORT="$STARTUP_KAFKA_PORT" KAFKA_CONTROLLER_PORT="$((STARTUP_KAFKA_PORT + 1))" \
    KAFKA_HEAP=1g bash "$COMPAT_DIR/kafka-ref/run.sh" start
  pid="$(cat "$state/kafka.pid")"
  mapfile -d '' -t args <"/proc/$pid/cmdline"
  KAFKA_STARTUP_CMD="exec"
  for a in "${args[@]}"; do KAFKA_STARTUP_CMD+=" $(printf '%q' "$a")"; done
  KAFKA_CLUSTER_ID="$(sed -nE 's/^cluster.id=//p' "$state/data/meta.properties")"
  KAFKA_INSTANCE=bench-startup bash "$COMPAT_DIR/kafka-ref/run.sh" stop
}

# startup_run BROKER ADDR ROW REP: gobench startup (exec to the first ApiVersions response).
startup_run() {
  local broker=$1 row=$3 rep=$4 out cmd addr
  out="$WORK/out-$broker-startup-$rep.txt"
  if [[ $broker == sluice ]]; then
    rm -rf "$WORK/sluice-startup"
    addr=$STARTUP_SLUICE_B
    cmd="exec $(printf '%q' "$SLUICE") --override listeners=PLAINTEXT://$addr --override advertised.listeners=PLAINTEXT://$addr"
    cmd+=" --override log.dirs=$(printf '%q' "$WORK/sluice-startup") --override node.id=1"
  else
    local state="$COMPAT_DIR/kafka-ref/work/bench-startup"
    [[ -n "$KAFKA_STARTUP_CMD" ]] || prepare_kafka_startup
    rm -rf "$state/data"
    mkdir -p "$state/data"
    java -cp "$COMPAT_DIR/kafka-ref/work/lib/*" -Dlog4j2.configurationFile="$COMPAT_DIR/kafka-ref/log4j2.properties" -Dcompat.log.level=WARN \
      kafka.tools.StorageTool format --standalone -t "$KAFKA_CLUSTER_ID" -c "$state/server.properties" >"$out.format" 2>&1 ||
      log "[kafka] StorageTool format failed: $(tail -1 "$out.format")"
    addr="127.0.0.1:$STARTUP_KAFKA_PORT"
    cmd=$KAFKA_STARTUP_CMD
  fi
  log "[$broker] $row #$rep: gobench startup -addr $addr"
  timeout --foreground 300 "$GOBENCH" startup -cmd "$cmd" -addr "$addr" -log "$out.log" >"$out" 2>"$out.err" ||
    log "gobench startup exit $?: $(tail -1 "$out.err")"
  cat "$out" >&2
  local ms
  ms="$(kv "$out" startup_ms)"
  [[ -n "$ms" ]] && STARTUP_MS[$broker]+=" $ms"
  rm -rf "$WORK/sluice-startup"
}
declare -A STARTUP_MS
# median "N N N": the median of the numbers (lower middle for an even count).
median() { tr ' ' '\n' <<<"$1" | { grep . || true; } | sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }

# ------------------------------------------------------------------------------------------
# Physical limits of this machine (brokers stopped): loopback TCP and sequential disk writes.

declare -A LIMIT # LIMIT[name] = MB/s (MiB/s, as the Kafka tools' "MB")
physical_limits() {
  command -v iperf3 >/dev/null || apt_install iperf3
  command -v fio >/dev/null || apt_install fio
  command -v jq >/dev/null || apt_install jq
  local port=$((KAFKA_PORT + 4)) spid bps
  port_open 127.0.0.1 "$port" && { log "iperf3: port $port in use, skipped"; port=""; }
  if [[ -n $port ]]; then
    log "iperf3 loopback TCP, ${IPERF_SECONDS}s (port $port)"
    iperf3 -s -p "$port" >"$WORK/iperf3-server.txt" 2>&1 &
    spid=$!
    # Wait for the listener without connecting to it (iperf3 would take a probe for a client).
    local end=$((SECONDS + 10))
    until [[ -n "$(ss -ltnH "sport = :$port")" ]] || ((SECONDS > end)); do sleep 0.1; done
    iperf3 -c 127.0.0.1 -p "$port" -t "$IPERF_SECONDS" -J >"$WORK/iperf3.json" 2>&1 ||
      log "iperf3 client failed: $(jq -r '.error // empty' "$WORK/iperf3.json" 2>/dev/null || true)"
    kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    bps="$(jq -r '.end.sum_received.bits_per_second // empty' "$WORK/iperf3.json" 2>/dev/null || true)"
    [[ -n $bps ]] && LIMIT[loopback]="$(awk -v b="$bps" 'BEGIN { printf "%.1f", b / 8 / 1048576 }')"
  fi
  local direct
  for direct in 0 1; do
    log "fio sequential write --direct=$direct --bs=1M --size=$FIO_SIZE in ${WORK#"$COMPAT_DIR/"}"
    rm -rf "$WORK/fio"
    mkdir -p "$WORK/fio"
    if fio --name=seqwrite --directory="$WORK/fio" --rw=write --bs=1M --size="$FIO_SIZE" --ioengine=psync \
      --end_fsync=1 --direct="$direct" --output-format=json >"$WORK/fio-direct$direct.json" 2>"$WORK/fio-direct$direct.err"; then
      LIMIT[disk$direct]="$(jq -r '.jobs[0].write.bw_bytes / 1048576 | . * 10 | round / 10' "$WORK/fio-direct$direct.json" 2>/dev/null || true)"
    else
      log "fio --direct=$direct failed: $(tail -1 "$WORK/fio-direct$direct.err")"
    fi
    rm -rf "$WORK/fio"
  done
}

# ------------------------------------------------------------------------------------------
# The sequence. Topics are created before and deleted after the rows that use them, so that
# both brokers together hold at most about 4 x RECORDS x SIZE bytes (two topics each, while an
# unthrottled produce row runs in its second order).

LOAD[start]="$(cut -d' ' -f1-3 /proc/loadavg)"
log "disk space free for ${WORK#"$COMPAT_DIR/"}: $(df -h --output=avail "$WORK" | tail -1 | tr -d ' ')"
each_broker start_broker
log "=== $RECORDS records of $SIZE bytes per run; brokers: ${BROKERS[*]}"

each_broker create_topic bench-1p 1
each_broker create_topic bench-1p-2 1
both_orders produce_run "produce 1p" bench-1p bench-1p-2 "$RECORDS" -1
each_broker delete_topic bench-1p-2
each_broker warm_topic bench-1p
measure consume_run "consume 1p (assign)" bench-1p
each_broker delete_topic bench-1p

each_broker create_topic bench-8p 8
each_broker create_topic bench-8p-2 8
both_orders produce_run "produce 8p" bench-8p bench-8p-2 "$RECORDS" -1
each_broker delete_topic bench-8p-2
each_broker warm_topic bench-8p
measure consume_run "consume 8p (assign)" bench-8p
each_broker warm_topic bench-8p
measure consumer_perf_run "consume 8p (ConsumerPerformance)" bench-8p
each_broker warm_topic bench-8p
measure gobench_consume_run "consume 8p (franz-go)" bench-8p "$RECORDS" 1
each_broker delete_topic bench-8p

each_broker create_topic bench-lat-8p 8
measure produce_run "produce 8p @${LAT_RATE}/s" bench-lat-8p "$LAT_RECORDS" "$LAT_RATE" "$((LAT_RECORDS / 5))"
measure gobench_produce_run "produce 8p @${LAT_RATE}/s (franz-go)" bench-lat-8p "$LAT_RECORDS" 1 "$SIZE" \
  -rate "$LAT_RATE" -warmup "$((LAT_RECORDS / 5))" -linger 0
each_broker delete_topic bench-lat-8p

each_broker create_topic bench-e2e-1p 1
measure e2e_run "end-to-end latency" bench-e2e-1p
each_broker delete_topic bench-e2e-1p

each_broker create_topic bench-fsync-8p 8 --config flush.messages=1
each_broker create_topic bench-fsync-8p-2 8 --config flush.messages=1
both_orders produce_run "produce 8p fsync" bench-fsync-8p bench-fsync-8p-2 "$FSYNC_RECORDS" -1
each_broker delete_topic bench-fsync-8p-2
each_broker delete_topic bench-fsync-8p

for ((rep = 1; rep <= STARTUP_RUNS; rep++)); do
  measure startup_run "startup ms" "$rep"
done
rm -rf "$COMPAT_DIR/kafka-ref/work/bench-startup"
for broker in "${BROKERS[@]}"; do
  R["$broker|startup ms|median ms"]="$(median "${STARTUP_MS[$broker]:-}")"
done

for broker in "${BROKERS[@]}"; do
  R["$broker|broker|VmHWM MB"]="$(($(awk '/^VmHWM:/ {print $2}' "/proc/${PID_OF[$broker]}/status") / 1024))"
  stop_broker "$broker"
done
LOAD[end]="$(cut -d' ' -f1-3 /proc/loadavg)"
physical_limits

# ------------------------------------------------------------------------------------------
# Table

ROWS+=("broker") # ROWS: every measured row, in the order they first ran (lib.sh, measure)
METRICS=(records/s MB/s "avg ms" "p50 ms" "p99 ms" "p99.9 ms" "median ms" "broker CPU s" "client CPU s" "peak RSS MB" "VmHWM MB")
# rows_of BASE: the rows measured as BASE: BASE itself, or "BASE (X first)" (both_orders).
rows_of() {
  local row
  for row in "${ROWS[@]}"; do
    if [[ $row == "$1" || $row == "$1 ("*" first)" ]]; then echo "$row"; fi
  done
}
# mean BROKER METRIC ROW...: the mean of the broker's METRIC over the rows that have a number.
mean() {
  local b=$1 m=$2 row vals=()
  shift 2
  for row in "$@"; do vals+=("${R[$b|$row|$m]:-}"); done
  awk 'BEGIN { for (i = 1; i < ARGC; i++) if (ARGV[i] ~ /^[0-9.]+$/) { s += ARGV[i]; n++ } if (n) printf "%.1f", s / n }' "${vals[@]}"
}
# best BROKER KIND: the highest MB/s of the broker's rows whose name starts with KIND (produce
# rows at a fixed rate excluded).
best() {
  local row v best=""
  for row in "${ROWS[@]}"; do
    [[ $row == "$2"* && $row != *@* ]] || continue
    v="${R[$1|$row|MB/s]:-}"
    [[ $v =~ ^[0-9.]+$ ]] || continue
    if [[ -z $best ]] || awk -v a="$v" -v b="${best##* }" 'BEGIN { exit !(a > b) }'; then best="$row $v"; fi
  done
  echo "$best"
}
# of_limit BROKER KIND LIMIT NAME: one line "BROKER's best KIND row = X MB/s = F of NAME".
of_limit() {
  local b l
  b="$(best "$1" "$2")"
  l="${LIMIT[$3]:-}"
  [[ -n $b && -n $l ]] || return 0
  printf '  %-6s %-34s %8s MB/s = %s of %s\n' "$1" "${b% *}" "$(fmt "${b##* }")" "$(ratio "${b##* }" "$l")" "$4"
}
table="$WORK/results-$(date +%Y%m%d-%H%M%S).txt"
{
  echo "records per run: $RECORDS x $SIZE B (fixed-rate row: $LAT_RECORDS at $LAT_RATE/s; end-to-end: $E2E_RECORDS; fsync: $FSYNC_RECORDS);" \
    "$(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "load average: ${LOAD[start]:-?} at start, ${LOAD[end]:-?} at end (both brokers up, rows interleaved)"
  echo "order: $BENCH_FIRST first in the first row, alternating from row to row (BENCH_FIRST)"
  printf '%-34s %-12s %14s %14s %12s\n' "run" "metric" "sluice" "kafka" "sluice/kafka"
  for row in "${ROWS[@]}"; do
    for metric in "${METRICS[@]}"; do
      s="${R[sluice|$row|$metric]:-}"
      k="${R[kafka|$row|$metric]:-}"
      [[ -z "$s" && -z "$k" ]] && continue
      printf '%-34s %-12s %14s %14s %12s\n' "$row" "$metric" "$(fmt "${s:--}")" "$(fmt "${k:--}")" "$(ratio "$s" "$k")"
    done
  done
  echo "(ratio > 1: Sluice higher. For records/s and MB/s higher is better; for latency, startup, CPU and RSS lower is better.)"
  echo "startup ms, each run: sluice${STARTUP_MS[sluice]:- -}; kafka${STARTUP_MS[kafka]:- -} (Kafka: its java command on freshly formatted storage)"
  # The rows run in both orders (both_orders): the ratio in each order, and of the means.
  for base in "produce 1p" "produce 8p" "produce 8p fsync"; do
    mapfile -t rs < <(rows_of "$base")
    ((${#rs[@]} > 1)) || continue
    line=""
    for row in "${rs[@]}"; do
      line+="$(ratio "${R[sluice|$row|records/s]:-}" "${R[kafka|$row|records/s]:-}") ${row#"$base "}, "
    done
    echo "$base, sluice/kafka records/s: $line$(ratio "$(mean sluice records/s "${rs[@]}")" "$(mean kafka records/s "${rs[@]}")") of the means of both orders"
  done
  mapfile -t fs < <(rows_of "produce 8p fsync")
  mapfile -t ps < <(rows_of "produce 8p")
  for broker in "${BROKERS[@]}"; do
    line=""
    if ((${#fs[@]} > 1)); then
      for row in "${fs[@]}"; do
        # its page-cache row: the same name without " fsync", i.e. the same broker first
        label="${row#"produce 8p fsync "}"
        line+="$(ratio "${R[$broker|$row|records/s]:-}" "${R[$broker|produce 8p $label|records/s]:-}") (${label:1:-1} in both), "
      done
    fi
    echo "$broker produce 8p fsync / produce 8p (page cache), records/s: $line$(ratio "$(mean "$broker" records/s "${fs[@]}")" "$(mean "$broker" records/s "${ps[@]}")")${line:+ of the means of both orders}"
  done
  echo "physical limits (MB = MiB): loopback TCP (iperf3, ${IPERF_SECONDS}s) ${LIMIT[loopback]:-n/a} MB/s;" \
    "sequential write ($FIO_SIZE, 1 MiB blocks, fio) ${LIMIT[disk0]:-n/a} MB/s buffered + end fsync, ${LIMIT[disk1]:-n/a} MB/s O_DIRECT"
  for broker in "${BROKERS[@]}"; do
    of_limit "$broker" produce disk0 "disk write bandwidth (buffered)"
    of_limit "$broker" produce disk1 "disk write bandwidth (O_DIRECT)"
    of_limit "$broker" produce loopback "loopback TCP bandwidth"
    of_limit "$broker" consume loopback "loopback TCP bandwidth"
  done
} | tee "$table"
log "table written to ${table#"$COMPAT_DIR/"}"
