# shellcheck shell=bash disable=SC2034  # R, ROW_NO... are used by the scripts that source this file
# Shared by bench/run.sh and bench/scaling.sh (sourced after lib/common.sh, with HERE set):
# setup (jars, Sluice release binary, gobench), starting/stopping both brokers on their own
# ports, topics, broker CPU and RSS sampling, and the table's number formatting.
#
# Environment: BENCH_SLUICE_PORT (default 25392), BENCH_KAFKA_PORT (19392, controller +1),
# BENCH_ONLY ("sluice kafka"), SLUICE_BIN.

SLUICE_B="127.0.0.1:${BENCH_SLUICE_PORT:-25392}"
KAFKA_PORT="${BENCH_KAFKA_PORT:-19392}"
KAFKA_B="127.0.0.1:$KAFKA_PORT"
read -r -a BROKERS <<<"${BENCH_ONLY:-sluice kafka}"
WORK="$HERE/work"
LIB="$COMPAT_DIR/java/work/lib"
CLASSES="$WORK/classes"
GOBENCH="$WORK/gobench"
# Kafka's Java tools (and ours in CLASSES), as the benchmark runs them.
JAVA_TOOL=(java -Xmx1g -Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties" -cp "$LIB/*:$CLASSES")
# Kafka instance of kafka-ref/run.sh (state in kafka-ref/work/<instance>/) and Sluice's data dir.
BENCH_INSTANCE="${BENCH_INSTANCE:-bench}"
SLUICE_DATA="$WORK/sluice-data-$BENCH_INSTANCE"
# Deleted topics' files go at once (Kafka keeps them file.delete.delay.ms, 60 s by default),
# so that deleting a topic between rows bounds the disk space both brokers hold.
BENCH_BROKER_PROPS="log.segment.delete.delay.ms=1000"
mkdir -p "$WORK"

# bench_setup: Java + Kafka 4.3.1 jars, our Java tools, the Sluice binary (SLUICE), gobench.
bench_setup() {
  need_java
  maven_libs "$COMPAT_DIR/java" >/dev/null
  compile_java "$HERE/src" "$CLASSES" "$LIB"
  SLUICE="$(sluice_bin)"
  command -v go >/dev/null || apt_install golang-go
  local sum
  sum="$(cat "$HERE/gobench/go.mod" "$HERE/gobench/go.sum" "$HERE"/gobench/*.go | sha256sum | cut -d' ' -f1)"
  if [[ ! -x "$GOBENCH" || "$(cat "$GOBENCH.stamp" 2>/dev/null)" != "$sum" ]]; then
    log "building gobench (franz-go $(sed -nE 's/^\s*github.com\/twmb\/franz-go (v[^ ]+)$/\1/p' "$HERE/gobench/go.mod"))"
    (cd "$HERE/gobench" && go build -o "$GOBENCH" .) >&2
    echo "$sum" >"$GOBENCH.stamp"
  fi
}

addr_of() { if [[ $1 == sluice ]]; then echo "$SLUICE_B"; else echo "$KAFKA_B"; fi; }
kafka_state() { echo "$COMPAT_DIR/kafka-ref/work/$BENCH_INSTANCE"; }
# data_dir BROKER: the broker's log directory.
data_dir() { if [[ $1 == sluice ]]; then echo "$SLUICE_DATA"; else echo "$(kafka_state)/data"; fi; }

# ------------------------------------------------------------------------------------------
# Brokers (our own instances on their own ports; data removed afterwards)

BROKER_PID=""
SLUICE_PID=""
KAFKA_STARTED=0
declare -A PID_OF
start_broker() {
  case "$1" in
    sluice)
      port_open 127.0.0.1 "$(port_of "$SLUICE_B")" && die "port of $SLUICE_B is in use"
      rm -rf "$SLUICE_DATA"
      mkdir -p "$SLUICE_DATA"
      "$SLUICE" --override "listeners=PLAINTEXT://$SLUICE_B" --override "advertised.listeners=PLAINTEXT://$SLUICE_B" \
        --override "log.dirs=$SLUICE_DATA" --override node.id=1 --override num.partitions=1 \
        --override group.initial.rebalance.delay.ms=0 --override "$BENCH_BROKER_PROPS" \
        >"$WORK/sluice-$BENCH_INSTANCE.log" 2>&1 </dev/null &
      SLUICE_PID=$!
      BROKER_PID=$SLUICE_PID
      wait_for_port 127.0.0.1 "$(port_of "$SLUICE_B")" 60 "$SLUICE_PID" || die "sluice did not start"
      ;;
    kafka)
      KAFKA_INSTANCE=$BENCH_INSTANCE KAFKA_PORT="$KAFKA_PORT" KAFKA_CONTROLLER_PORT="$((KAFKA_PORT + 1))" KAFKA_HEAP=1g \
        KAFKA_EXTRA_PROPS="$BENCH_BROKER_PROPS" bash "$COMPAT_DIR/kafka-ref/run.sh" start
      KAFKA_STARTED=1
      BROKER_PID="$(cat "$(kafka_state)/kafka.pid")"
      ;;
  esac
  PID_OF[$1]=$BROKER_PID
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
      rm -rf "$SLUICE_DATA"
      ;;
    kafka)
      if ((KAFKA_STARTED)); then
        KAFKA_INSTANCE=$BENCH_INSTANCE bash "$COMPAT_DIR/kafka-ref/run.sh" stop || true
        KAFKA_STARTED=0
        rm -rf "$(kafka_state)/data"
      fi
      ;;
  esac
}

# ------------------------------------------------------------------------------------------
# Topics

# create_topic BROKER TOPIC PARTITIONS [kafka-topics args...] (e.g. --config flush.messages=1)
create_topic() {
  local broker=$1 topic=$2 parts=$3
  shift 3
  kafka_topics "$(addr_of "$broker")" --create --topic "$topic" --partitions "$parts" --replication-factor 1 "$@" >&2
}

# delete_topic BROKER TOPIC: delete it and wait (up to 120 s) until the broker no longer lists
# it and its partition directories (also Kafka's <topic>-<n>.<id>-delete) left the data dir.
delete_topic() {
  local broker=$1 topic=$2 dir end
  dir="$(data_dir "$broker")"
  kafka_topics "$(addr_of "$broker")" --delete --topic "$topic" >&2 || log "[$broker] deleting $topic failed"
  end=$((SECONDS + 120))
  local listed left
  while ((SECONDS < end)); do
    # (no `| grep -q` here: under pipefail the writer's SIGPIPE would read as "not found")
    listed="$(kafka_topics "$(addr_of "$broker")" --list 2>/dev/null || true)"
    left="$(find "$dir" -maxdepth 1 -regextype posix-extended -regex ".*/${topic//./\\.}-[0-9]+([.].*)?" -print -quit)"
    if ! grep -qxF "$topic" <<<"$listed" && [[ -z $left ]]; then
      log "[$broker] topic $topic deleted; $(du -sh "$dir" 2>/dev/null | cut -f1) left in the data dir"
      return 0
    fi
    sleep 1
  done
  log "[$broker] topic $topic still present after 120 s ($(du -sh "$dir" 2>/dev/null | cut -f1) in the data dir)"
}

# warm_topic BROKER TOPIC: read the topic's segment files once (not measured), so that the
# consume rows measure serving from the page cache on both brokers. Without it the broker whose
# data was written first could meet a colder cache: this VM reclaims cold page cache on its own
# (kdamond), and the 5M-record run of 2026-12-05 12:28 showed Sluice's 8-partition consume at
# 0.73x, with 0.90 broker CPU s per GB — its data was the older one — where the same read of
# freshly written data took 0.42 s per GB.
warm_topic() {
  local broker=$1 topic=$2 dir
  dir="$(data_dir "$broker")"
  find "$dir" -maxdepth 2 -regextype posix-extended -regex ".*/${topic//./\\.}-[0-9]+/[0-9]+[.]log" \
    -exec cat {} + >/dev/null
}

# each_broker FN ARGS...: FN BROKER ARGS... for each broker (setup steps, not measured).
each_broker() {
  local fn=$1 b
  shift
  for b in "${BROKERS[@]}"; do "$fn" "$b" "$@"; done
}

# ------------------------------------------------------------------------------------------
# Measured rows: both brokers run at once and each row is measured on one right after the
# other, the order alternating from row to row, so that both see the same machine load.

# BENCH_FIRST=kafka starts the alternation with the other broker (to check what the order does).
BENCH_FIRST="${BENCH_FIRST:-sluice}"
case "$BENCH_FIRST" in
  sluice) ROW_NO=0 ;;
  kafka) ROW_NO=1 ;;
  *) die "BENCH_FIRST must be sluice or kafka, not '$BENCH_FIRST'" ;;
esac
# next_order: the brokers in the order the next `measure` call runs them (one per line):
# BROKERS as given on even rows, reversed on odd ones.
next_order() {
  local i
  if ((ROW_NO % 2 == 0)); then
    printf '%s\n' "${BROKERS[@]}"
  else
    for ((i = ${#BROKERS[@]} - 1; i >= 0; i--)); do echo "${BROKERS[$i]}"; done
  fi
}

# measure FN ROW ARGS...: FN BROKER ADDR ROW ARGS... on each broker (BROKER_PID set), order
# alternating; ROW (the row's name in the table) is noted in ROWS, in the order rows first ran.
ROWS=()
declare -A ROW_SEEN
measure() {
  local fn=$1 order b
  shift
  if [[ -z ${ROW_SEEN[$1]:-} ]]; then
    ROW_SEEN[$1]=1
    ROWS+=("$1")
  fi
  mapfile -t order < <(next_order)
  for b in "${order[@]}"; do
    BROKER_PID=${PID_OF[$b]}
    "$fn" "$b" "$(addr_of "$b")" "$@"
  done
  ROW_NO=$((ROW_NO + 1))
}

# both_orders FN ROW TOPIC TOPIC2 ARGS...: the row twice, as two consecutive `measure` calls (so
# the brokers run A, B, B, A), named "ROW (X first)" after the broker that ran first; the first
# into TOPIC, the second into TOPIC2 (both created by the caller). With one broker, once into
# TOPIC, named ROW. For the rows that write into the page cache: on this VM the broker that
# writes first can get cheaper pages (docs/performance.md, "Each page-cache-writing row runs in
# both orders").
both_orders() {
  local fn=$1 row=$2 topic=$3 topic2=$4
  shift 4
  if ((${#BROKERS[@]} == 1)); then
    measure "$fn" "$row" "$topic" "$@"
    return
  fi
  measure "$fn" "$row ($(next_order | head -1) first)" "$topic" "$@"
  measure "$fn" "$row ($(next_order | head -1) first)" "$topic2" "$@"
}

declare -A R # R[broker|row|metric] = value

# rss sampler: poll VmRSS (kB) of a PID every 200 ms, keep the maximum in a file.
SAMPLER_PID=""
start_sampler() {
  local pid=$1 file=$2
  echo 0 >"$file"
  (
    max=0
    while kill -0 "$pid" 2>/dev/null; do
      # Bash builtins only (no awk process per sample): the machine has 2 cores.
      v=0
      while read -r k val _; do
        if [[ $k == VmRSS: ]]; then v=$val; break; fi
      done <"/proc/$pid/status" 2>/dev/null || true
      if ((v > max)); then max=$v; echo "$max" >"$file"; fi
      sleep 0.2 # sampling interval
    done
  ) &
  SAMPLER_PID=$!
}
stop_sampler() {
  if [[ -n "$SAMPLER_PID" ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=""
}

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks (/proc/PID/stat).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
TCK="$(getconf CLK_TCK)"
# cpu_seconds T0 T1: the ticks between two cpu_ticks readings, in seconds.
cpu_seconds() { awk -v a="$1" -v b="$2" -v t="$TCK" 'BEGIN { printf "%.2f", (b - a) / t }'; }

# children_cpu FILE: user + system CPU seconds of this shell's waited-for children so far, from
# bash's `times` (its second line: "XmY.YYYs XmY.YYYs") written to FILE. `times` must run in
# this shell itself: in a pipeline or $(...) it would report a subshell's children.
children_cpu() {
  awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.3f", t }' "$1"
}

# run_begin BROKER ROW / run_end BROKER ROW: broker CPU s, client CPU s and peak RSS MB of what
# ran between. Client CPU s is the CPU time of the benchmark tool (JVM or gobench: the processes
# this shell waited for in between; the sampler is reaped after): on 2 cores, client + broker CPU per
# second of wall time cannot exceed 2, so it shows how much of a row's throughput the client
# itself bounds.
_C0=0
run_begin() {
  start_sampler "$BROKER_PID" "$WORK/rss.max"
  _C0="$(cpu_ticks "$BROKER_PID")"
  times >"$WORK/times.begin"
}
run_end() {
  R["$1|$2|broker CPU s"]="$(cpu_seconds "$_C0" "$(cpu_ticks "$BROKER_PID")")"
  times >"$WORK/times.end"
  R["$1|$2|client CPU s"]="$(awk -v a="$(children_cpu "$WORK/times.begin")" -v b="$(children_cpu "$WORK/times.end")" 'BEGIN { printf "%.2f", b - a }')"
  stop_sampler
  R["$1|$2|peak RSS MB"]="$(($(cat "$WORK/rss.max") / 1024))"
}

# kv FILE KEY: the value of KEY=value in FILE's last line that has it (gobench / our tools).
kv() { { grep -oE "(^| )$2=[^ ]+" "$1" 2>/dev/null || true; } | tail -1 | cut -d= -f2; }

# gobench_consume_run BROKER ADDR ROW TOPIC RECORDS CLIENTS: franz-go clients consuming the
# topic's partitions from the start (ConsumePartitions, no group) until RECORDS were read.
gobench_consume_run() {
  local broker=$1 addr=$2 row=$3 topic=$4 n=$5 clients=$6 out
  log "[$broker] $row: gobench consume -records $n -clients $clients ($topic)"
  out="$WORK/out-$broker-$topic-gobench-consume-$clients.txt"
  run_begin
  timeout --foreground 1800 "$GOBENCH" consume -brokers "$addr" -topic "$topic" -records "$n" -clients "$clients" \
    >"$out" 2>"$out.err" || log "gobench consume exit $?: $(tail -1 "$out.err")"
  run_end "$broker" "$row"
  sed 's/^/    /' "$out" >&2
  R["$broker|$row|records/s"]="$(kv "$out" records_per_sec)"
  R["$broker|$row|MB/s"]="$(kv "$out" mb_per_sec)"
}

# gobench_produce_run BROKER ADDR ROW TOPIC RECORDS CLIENTS SIZE [FLAGS...]: franz-go producers (idempotent,
# acks=all, uncompressed), records round-robin over the partitions; per-record ack latency. FLAGS:
# more gobench produce flags (-rate R: paced; -warmup N: latencies without the first N; -linger D).
gobench_produce_run() {
  local broker=$1 addr=$2 row=$3 topic=$4 n=$5 clients=$6 size=$7 out
  shift 7 # the rest: more gobench produce flags (-rate, -warmup, -linger)
  log "[$broker] $row: gobench produce -records $n -size $size -clients $clients $* ($topic)"
  out="$WORK/out-$broker-$topic-gobench-produce-$clients.txt"
  run_begin
  timeout --foreground 1800 "$GOBENCH" produce -brokers "$addr" -topic "$topic" -records "$n" -size "$size" \
    -clients "$clients" "$@" >"$out" 2>"$out.err" || log "gobench produce exit $?: $(tail -1 "$out.err")"
  run_end "$broker" "$row"
  sed 's/^/    /' "$out" >&2
  R["$broker|$row|records/s"]="$(kv "$out" records_per_sec)"
  R["$broker|$row|MB/s"]="$(kv "$out" mb_per_sec)"
  R["$broker|$row|p50 ms"]="$(kv "$out" p50_ms)"
  R["$broker|$row|p99 ms"]="$(kv "$out" p99_ms)"
  R["$broker|$row|p99.9 ms"]="$(kv "$out" p999_ms)"
}

bench_cleanup() {
  stop_sampler
  stop_broker sluice
  stop_broker kafka
}

# ------------------------------------------------------------------------------------------
# Table

# fmt N: whole numbers above 100, two decimals below; anything else as is.
fmt() {
  awk -v a="$1" 'BEGIN { if (a ~ /^[0-9]+$/) print a; else if (a ~ /^[0-9.]+$/) { if (a + 0 >= 100) printf "%.0f", a; else printf "%.2f", a } else print a }'
}
# ratio A B: A / B with two decimals (three below 0.01); "-" unless both are numbers and B > 0.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf (a / b < 0.01 ? "%.3f" : "%.2f"), a / b; else print "-" }'
}
