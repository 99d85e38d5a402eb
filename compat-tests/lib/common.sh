# shellcheck shell=bash
# Shared helpers for the Sluice compatibility harness. Source it from a folder's run.sh:
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
#
# Model: every scenario is a shell function that talks to ONE broker given as host:port and
# prints a normalized transcript on stdout. `run_scenario` runs it against the reference Apache
# Kafka and against Sluice, stores both transcripts under <folder>/work/out/, diffs them and
# records PASS / FAIL / KNOWN-DIFF in a results file that `print_summary` turns into a table.
#
# Environment (all optional):
#   KAFKA_ADDR      reference Kafka bootstrap (default 127.0.0.1:19092). If something already
#                   listens there it is used as is; otherwise kafka-ref/run.sh starts it.
#   SLUICE_ADDR     Sluice bootstrap (default 127.0.0.1:25092). If something already listens
#                   there it is used as is; otherwise Sluice is built (if needed) and started.
#   COMPAT_SELF_CHECK=1  the "sluice" side is a SECOND reference Kafka (127.0.0.1:29092,
#                   controller 29093) instead of Sluice: a Kafka-vs-Kafka sanity check of the
#                   scenarios and their normalization.
#   COMPAT_RESULTS  results file shared by several run.sh (run-all.sh sets it).
#   SLUICE_BIN      use this sluice binary instead of <repo>/target/release/sluice.
#   COMPAT_TIMEOUT  per-scenario, per-broker time limit in seconds (default 180).
#   COMPAT_JAVA_CDS  1 (default; 0 in bench/): JVMs whose class path starts with a Maven jar
#                   folder map that folder's class-data-sharing archive (java_cds below), which
#                   halves a Kafka tool's start-up (~1.0 s -> ~0.5 s); CI starts hundreds of them.
#   COMPAT_BROKER_PROPS  broker settings both brokers are started with when the harness starts
#                   them ("key=value ..."; default log.cleaner.backoff.ms=1000 so that
#                   compaction/ sees the log cleaner within seconds, not Kafka's 15 s, and
#                   log.retention.check.interval.ms=86400000: many scenarios write records
#                   stamped 2023-11 (fixed timestamps keep transcripts comparable), which break
#                   the default 7-day retention.ms — a retention check every 5 minutes (the
#                   default) deleted a topic's records between a scenario's produce and its
#                   read whenever a check fell in between; streams/FINDINGS.md S1), and
#                   group.consumer.session.timeout.ms=10000 (with its minimum, Kafka's 45 s, lowered
#                   to match): scenarios that SIGKILL a KIP-848 member wait out this timeout on
#                   each broker (groups/member-lifecycle-consumer took 147 s with 45 s).

set -euo pipefail

COMPAT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_ROOT="$(cd "$COMPAT_DIR/.." && pwd)"
if git -C "$COMPAT_DIR" rev-parse --show-toplevel >/dev/null 2>&1; then
  REPO_ROOT="$(git -C "$COMPAT_DIR" rev-parse --show-toplevel)"
fi
export COMPAT_DIR REPO_ROOT

KAFKA_ADDR="${KAFKA_ADDR:-127.0.0.1:19092}"
if [[ "${COMPAT_SELF_CHECK:-0}" == "1" ]]; then
  SLUICE_ADDR="${SLUICE_ADDR:-127.0.0.1:29092}"
  SUT_NAME="kafka#2"
else
  SLUICE_ADDR="${SLUICE_ADDR:-127.0.0.1:25092}"
  SUT_NAME="sluice"
fi
export KAFKA_ADDR SLUICE_ADDR SUT_NAME
COMPAT_TIMEOUT="${COMPAT_TIMEOUT:-180}"
# The benchmark measures the JVM tools and Kafka as they start by default.
if [[ -z "${COMPAT_JAVA_CDS:-}" ]]; then
  if [[ "${SUITE:-}" == bench ]]; then COMPAT_JAVA_CDS=0; else COMPAT_JAVA_CDS=1; fi
fi
export COMPAT_JAVA_CDS
if [[ "$COMPAT_JAVA_CDS" == 1 && ":$PATH:" != *":$COMPAT_DIR/lib/shim:"* ]]; then
  export PATH="$COMPAT_DIR/lib/shim:$PATH"
fi
COMPAT_BROKER_PROPS="${COMPAT_BROKER_PROPS:-log.cleaner.backoff.ms=1000 log.retention.check.interval.ms=86400000 group.consumer.min.session.timeout.ms=10000 group.consumer.session.timeout.ms=10000}"
export COMPAT_BROKER_PROPS

# A run id makes topic names unique per run, so scenarios work against brokers that are already
# running and hold topics of earlier runs. Transcripts replace it with RUNID before comparing.
RUN_ID="${RUN_ID:-$(date +%s)$$}"
export RUN_ID

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

host_of() { echo "${1%:*}"; }
port_of() { echo "${1##*:}"; }

# port_open HOST PORT: true if a TCP connect succeeds (bash /dev/tcp, no extra tools).
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") >/dev/null 2>&1
}

# wait_for_port HOST PORT DEADLINE_S [PID]: poll until the port accepts connections.
# Fails early if PID is given and the process died.
wait_for_port() {
  local host=$1 port=$2 deadline_s=$3 pid=${4:-}
  local end=$((SECONDS + deadline_s))
  while ((SECONDS < end)); do
    if port_open "$host" "$port"; then return 0; fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      log "process $pid exited before $host:$port opened"
      return 1
    fi
    sleep 0.2  # poll interval, not a wait for state
  done
  log "timed out after ${deadline_s}s waiting for $host:$port"
  return 1
}

# wait_for_port_closed HOST PORT DEADLINE_S
wait_for_port_closed() {
  local host=$1 port=$2 deadline_s=$3
  local end=$((SECONDS + deadline_s))
  while ((SECONDS < end)); do
    port_open "$host" "$port" || return 0
    sleep 0.2
  done
  return 1
}

# ---------------------------------------------------------------------------------------------
# Installation helpers
# ---------------------------------------------------------------------------------------------

_APT_UPDATED=0
# apt_install PKG...: installs missing Debian packages (runs apt-get update once per process).
apt_install() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  if [[ $_APT_UPDATED == 0 ]]; then
    log "apt-get update"
    $sudo apt-get update -qq >&2
    _APT_UPDATED=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
}

need_java() {
  if ! command -v java >/dev/null || ! command -v javac >/dev/null; then
    apt_install openjdk-17-jdk-headless
  fi
  if ! command -v mvn >/dev/null; then
    apt_install maven
  fi
}

# maven_libs POM_DIR: resolve the pom's runtime dependencies into POM_DIR/work/lib (cached:
# redone only when the pom changes). Prints the lib dir.
maven_libs() {
  local dir=$1
  local lib="$dir/work/lib" stamp="$dir/work/lib.stamp"
  local sum
  sum="$(sha256sum "$dir/pom.xml" | cut -d' ' -f1)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$sum" ]]; then
    need_java
    log "resolving jars for $(basename "$dir")/pom.xml (mvn dependency:copy-dependencies)"
    rm -rf "$lib" "$lib.jsa"
    mkdir -p "$lib"
    (cd "$dir" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$lib" >&2)
    echo "$sum" >"$stamp"
  fi
  java_cds "$lib" >&2
  echo "$lib"
}

# java_cds LIB: write LIB.jsa, a dynamic class-data-sharing archive of the Kafka client classes
# in LIB (JDK 13+), once: lib/warmup/CompatWarmup (added to LIB as a jar, so that "LIB/*" is the
# same class path when the archive is written and when it is used) runs an admin client, a
# producer and a consumer against an address where nothing listens. lib/shim/java then maps
# the archive into every JVM whose class path starts with "LIB/*" (the JVM requires the class
# path it was written with to be a prefix). Failing to write it is not an error: JVMs start
# without it.
java_cds() {
  local lib=$1 tmp
  [[ "$COMPAT_JAVA_CDS" == 1 && ! -f "$lib.jsa" ]] || return 0
  compgen -G "$lib/kafka-clients-*.jar" >/dev/null || return 0
  tmp="$(mktemp -d)"
  if javac -nowarn -d "$tmp" -cp "$lib/*" "$COMPAT_DIR/lib/warmup/CompatWarmup.java" >/dev/null 2>&1 &&
    jar cf "$lib/zz-compat-warmup.jar" -C "$tmp" CompatWarmup.class; then
    log "writing the class-data-sharing archive of ${lib#"$COMPAT_DIR/"}"
    if COMPAT_JAVA_CDS=0 timeout 60 java -Xmx256m -XX:ArchiveClassesAtExit="$tmp/lib.jsa" \
      -cp "$lib/*" CompatWarmup >/dev/null 2>&1 && [[ -s "$tmp/lib.jsa" ]]; then
      mv "$tmp/lib.jsa" "$lib.jsa"
    fi
  fi
  rm -rf "$tmp"
}

# compile_java SRC_DIR CLASSES LIB: javac SRC_DIR/*.java into CLASSES against LIB/*, only when
# the sources changed since the last compile (a checksum in CLASSES/.stamp).
compile_java() {
  local src=$1 classes=$2 lib=$3 sum
  sum="$(sha256sum "$src"/*.java | sha256sum | cut -d' ' -f1)"
  if [[ ! -f "$classes/.stamp" || "$(cat "$classes/.stamp")" != "$sum" ]]; then
    log "compiling ${src#"$COMPAT_DIR/"}/*.java"
    rm -rf "$classes"
    mkdir -p "$classes"
    javac -nowarn -d "$classes" -cp "$lib/*" "$src"/*.java
    echo "$sum" >"$classes/.stamp"
  fi
}

# kafka_java CLASS ARGS...: run a main class of the Kafka 4.3.1 clients/tools jars of the java/
# folder (e.g. org.apache.kafka.tools.DumpLogSegments) for suites without jars of their own.
kafka_java() {
  local lib
  lib="$(maven_libs "$COMPAT_DIR/java")"
  java -Xmx512m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties" -cp "$lib/*" "$@"
}

# kafka_topics BOOTSTRAP ARGS...: Apache Kafka's kafka-topics (TopicCommand 4.3.1) from the java/
# folder's jars, for suites that need topics but have no admin client of their own (kcat).
kafka_topics() {
  local bootstrap=$1
  shift
  kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" "$@"
}

# internal_topics BROKER PREFIX: an application's topics whose names start with PREFIX (Kafka
# Streams' or Connect's internal topics), one line each with the partition count and whether
# cleanup.policy is compact; the prefix masked as PREFIX, sorted.
internal_topics() {
  kafka_topics "$1" --describe 2>/dev/null | awk -v p="$2" '$1 == "Topic:" && index($2, p) == 1 && /PartitionCount:/ {
      cfg = ""
      for (i = 1; i <= NF; i++) if ($i ~ /^Configs:/) cfg = $(i + 1)
      n = 0
      for (i = 1; i <= NF; i++) if ($i == "PartitionCount:") n = $(i + 1)
      sub(p, "PREFIX", $2)
      print "  " $2 " partitions " n " " (cfg ~ /cleanup.policy=compact/ ? "compacted" : "not compacted")
    }' | LC_ALL=C sort
}

# broker_pid ADDR: pid of the process listening on ADDR's port (needs ss from iproute2).
broker_pid() {
  command -v ss >/dev/null || apt_install iproute2
  ss -ltnpH "sport = :$(port_of "$1")" | grep -oE 'pid=[0-9]+' | head -1 | cut -d= -f2
}

# describe_listener ADDR: "pid N, cwd DIR" of the process listening on ADDR (for the log, so an
# adopted broker of another checkout is visible; see FINDINGS.md R2).
describe_listener() {
  local pid
  pid="$(broker_pid "$1" 2>/dev/null || true)"
  [[ -n "$pid" ]] || { echo "process unknown"; return 0; }
  echo "pid $pid, cwd $(readlink "/proc/$pid/cwd" 2>/dev/null || echo '?')"
}

# broker_log_dir ADDR: the (first) log directory of the broker listening on ADDR, read from its
# command line: `--override log.dirs=DIR` (Sluice) or the log.dirs of the server.properties file
# it was started with (Kafka). Fails if it cannot be found (e.g. a broker in a container).
broker_log_dir() {
  local pid arg dir=""
  pid="$(broker_pid "$1")"
  [[ -n "$pid" ]] || { log "no process found listening on $1"; return 1; }
  while IFS= read -r -d '' arg; do
    case "$arg" in
      log.dirs=* | log.dir=*) dir="${arg#*=}" ;;
      *.properties)
        [[ -z "$dir" && -f "$arg" ]] && dir="$(sed -n -E 's/^log\.dirs?=//p' "$arg" | head -1)"
        ;;
    esac
  done <"/proc/$pid/cmdline"
  dir="${dir%%,*}"
  [[ -n "$dir" && -d "$dir" ]] || { log "log dir of pid $pid ($1) not found"; return 1; }
  echo "$dir"
}

# ---------------------------------------------------------------------------------------------
# Brokers
# ---------------------------------------------------------------------------------------------

_STARTED_SLUICE_PID=""
_STARTED_KAFKA=()   # instance names started by this process

# ensure_kafka: make sure the reference Kafka answers at $KAFKA_ADDR (start it if not).
ensure_kafka() {
  if port_open "$(host_of "$KAFKA_ADDR")" "$(port_of "$KAFKA_ADDR")"; then
    log "reference Kafka already listening at $KAFKA_ADDR ($(describe_listener "$KAFKA_ADDR"))"
  else
    KAFKA_INSTANCE=ref KAFKA_PORT="$(port_of "$KAFKA_ADDR")" \
      KAFKA_CONTROLLER_PORT="$(($(port_of "$KAFKA_ADDR") + 1))" \
      KAFKA_EXTRA_PROPS="$COMPAT_BROKER_PROPS" \
      bash "$COMPAT_DIR/kafka-ref/run.sh" start
    _STARTED_KAFKA+=(ref)
  fi
}

# ensure_sut: make sure the system under test answers at $SLUICE_ADDR (Sluice, or a second
# reference Kafka with COMPAT_SELF_CHECK=1).
ensure_sut() {
  local host port
  host="$(host_of "$SLUICE_ADDR")"
  port="$(port_of "$SLUICE_ADDR")"
  if port_open "$host" "$port"; then
    log "$SUT_NAME already listening at $SLUICE_ADDR ($(describe_listener "$SLUICE_ADDR"))"
    return 0
  fi
  if [[ "${COMPAT_SELF_CHECK:-0}" == "1" ]]; then
    KAFKA_INSTANCE=self KAFKA_PORT="$port" KAFKA_CONTROLLER_PORT="$((port + 1))" \
      KAFKA_EXTRA_PROPS="$COMPAT_BROKER_PROPS" \
      bash "$COMPAT_DIR/kafka-ref/run.sh" start
    _STARTED_KAFKA+=(self)
  else
    start_sluice
  fi
}

# sluice_bin: path of the release binary, built if missing or older than the sources.
sluice_bin() {
  if [[ -n "${SLUICE_BIN:-}" ]]; then echo "$SLUICE_BIN"; return 0; fi
  local bin="$REPO_ROOT/target/release/sluice"
  if [[ ! -x "$bin" ]] || [[ -n "$(find "$REPO_ROOT/crates" "$REPO_ROOT/Cargo.toml" "$REPO_ROOT/Cargo.lock" -newer "$bin" -type f 2>/dev/null | head -1)" ]]; then
    log "building sluice (cargo build --release -p sluice)"
    (cd "$REPO_ROOT" && cargo build --release -p sluice >&2)
  fi
  echo "$bin"
}

# start_sluice: start Sluice on $SLUICE_ADDR with a fresh temp log dir; logs to compat-tests/work/.
start_sluice() {
  local bin host port logdir datadir
  bin="$(sluice_bin)"
  host="$(host_of "$SLUICE_ADDR")"
  port="$(port_of "$SLUICE_ADDR")"
  logdir="$COMPAT_DIR/work/logs"
  mkdir -p "$logdir"
  datadir="$(mktemp -d "${TMPDIR:-/tmp}/sluice-compat.XXXXXX")"
  log "starting sluice on $SLUICE_ADDR (data $datadir, log $logdir/sluice.log)"
  local extra=() kv
  for kv in $COMPAT_BROKER_PROPS; do extra+=(--override "$kv"); done
  "$bin" --override "listeners=PLAINTEXT://$host:$port" \
    --override "advertised.listeners=PLAINTEXT://$host:$port" \
    --override "log.dirs=$datadir" \
    --override node.id=1 \
    --override auto.create.topics.enable=true \
    --override num.partitions=1 \
    --override group.initial.rebalance.delay.ms=0 \
    "${extra[@]}" \
    >"$logdir/sluice.log" 2>&1 &
  _STARTED_SLUICE_PID=$!
  _SLUICE_DATADIR="$datadir"
  if ! wait_for_port "$host" "$port" 30 "$_STARTED_SLUICE_PID"; then
    tail -20 "$logdir/sluice.log" >&2 || true
    die "sluice did not start"
  fi
  log "sluice up (pid $_STARTED_SLUICE_PID)"
}

stop_sluice() {
  [[ -z "$_STARTED_SLUICE_PID" ]] && return 0
  local pid=$_STARTED_SLUICE_PID
  _STARTED_SLUICE_PID=""
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping sluice (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local end=$((SECONDS + 20))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  [[ -n "${_SLUICE_DATADIR:-}" ]] && rm -rf "$_SLUICE_DATADIR"
}

stop_started_kafkas() {
  local inst
  for inst in "${_STARTED_KAFKA[@]}"; do
    KAFKA_INSTANCE=$inst bash "$COMPAT_DIR/kafka-ref/run.sh" stop || true
  done
  _STARTED_KAFKA=()
}

# cleanup_brokers: stop only what this process started. Install with: trap cleanup_brokers EXIT
cleanup_brokers() {
  stop_sluice
  stop_started_kafkas
}

# ---------------------------------------------------------------------------------------------
# Scenarios and comparison
# ---------------------------------------------------------------------------------------------

# The folder using this library sets SUITE (e.g. "java") and gets an out dir.
SUITE="${SUITE:-$(basename "$(cd "$(dirname "${BASH_SOURCE[1]:-$0}")" && pwd)")}"
if [[ -d "$COMPAT_DIR/$SUITE" ]]; then
  OUT_DIR="$COMPAT_DIR/$SUITE/work/out"
else
  OUT_DIR="$COMPAT_DIR/work/out"
fi
mkdir -p "$OUT_DIR"
if [[ -z "${COMPAT_RESULTS:-}" ]]; then
  COMPAT_RESULTS="$COMPAT_DIR/$SUITE/work/results.tsv"
  : >"$COMPAT_RESULTS"
fi
export COMPAT_RESULTS

# normalize: generic normalization applied to every transcript (scenario-specific sed first).
normalize() {
  sed -E \
    -e "s/$RUN_ID/RUNID/g" \
    -e "s/$(port_of "$KAFKA_ADDR")/PORT/g; s/$(port_of "$SLUICE_ADDR")/PORT/g" \
    -e 's/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/UUID/g' \
    -e 's/\r$//'
}

# record SCENARIO KAFKA_STATUS SUT_STATUS RESULT [NOTE]
record() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$SUITE" "$1" "$2" "$3" "$4" "${5:-}" >>"$COMPAT_RESULTS"
  local color=""
  case "$4" in PASS) color=$'\e[32m' ;; FAIL) color=$'\e[31m' ;; *) color=$'\e[33m' ;; esac
  [[ -t 2 ]] || color=""
  log "${color}$4${color:+$'\e[0m'}  $SUITE/$1  (kafka: $2, $SUT_NAME: $3)${5:+  $5}"
}

# The run.sh that sourced us; scenarios run in a fresh copy of it (see scenario_dispatch) so
# that each one can be bounded by `timeout`.
SCENARIO_SCRIPT="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

# scenario_dispatch "$@": call in run.sh after the scenario functions are defined and before the
# main body. `run.sh __scenario FUNC ADDR ARGS...` runs one scenario function and exits.
scenario_dispatch() {
  if [[ "${1:-}" == "__scenario" ]]; then
    shift
    local func=$1
    shift
    "$func" "$@"
    exit $?
  fi
}

# run_one NAME SIDE ADDR FUNC [ARGS...]: run FUNC ADDR ARGS with a time limit; transcript
# (normalized) to $OUT_DIR/NAME.SIDE.txt, raw stdout to NAME.SIDE.raw, stderr to NAME.SIDE.err.
# Echoes the exit status.
run_one() {
  local name=$1 side=$2 addr=$3 func=$4
  shift 4
  local raw="$OUT_DIR/$name.$side.raw" out="$OUT_DIR/$name.$side.txt" err="$OUT_DIR/$name.$side.err"
  local rc=0
  timeout --kill-after=10 "$COMPAT_TIMEOUT" bash "$SCENARIO_SCRIPT" __scenario "$func" "$addr" "$@" \
    >"$raw" 2>"$err" </dev/null || rc=$?
  normalize <"$raw" >"$out"
  echo "$rc"
}

# run_scenario NAME FUNC [ARGS...]: run FUNC against both brokers and compare (exact match of
# normalized transcripts and of exit statuses). Returns 0 on PASS.
run_scenario() {
  local name=$1 func=$2
  shift 2
  log "scenario $SUITE/$name"
  local krc src
  krc="$(run_one "$name" kafka "$KAFKA_ADDR" "$func" "$@")"
  src="$(run_one "$name" sut "$SLUICE_ADDR" "$func" "$@")"
  compare "$name" "$krc" "$src" || true
}

# known_failure NAME: prints the reason if NAME is listed in <suite>/known-failures.txt
# (lines "scenario-name  reason...", # comments). Such a scenario may fail against Sluice
# without failing the run (XFAIL); if it passes it is reported as XPASS so the list is kept honest.
known_failure() {
  local f="$COMPAT_DIR/$SUITE/known-failures.txt"
  [[ -f "$f" ]] || return 1
  local line
  line="$(grep -E "^$1([[:space:]]|$)" "$f" | head -1)" || return 1
  [[ -n "$line" ]] || return 1
  echo "${line#"$1"}" | sed -E 's/^[[:space:]]+//'
}

_status_word() {
  case "$1" in
    0) echo ok ;;
    124 | 137) echo timeout ;;
    *) echo "exit $1" ;;
  esac
}

# compare NAME KAFKA_RC SUT_RC [informational]: diff $OUT_DIR/NAME.kafka.txt against NAME.sut.txt
# and record the result. Exact match of normalized transcripts and of exit statuses = PASS.
# Informational scenarios record a transcript difference as KNOWN-DIFF (they fail only if a
# side's command itself fails). A reference-Kafka failure is always FAIL (broken scenario).
compare() {
  local name=$1 krc=$2 src=$3 info=${4:-}
  local k="$OUT_DIR/$name.kafka.txt" s="$OUT_DIR/$name.sut.txt" d="$OUT_DIR/$name.diff"
  local kst sst reason
  kst="$(_status_word "$krc")"
  sst="$(_status_word "$src")"
  if [[ -n "$info" && "$krc" == 0 && "$src" == 0 ]]; then
    if diff -u --label "kafka/$name" --label "$SUT_NAME/$name" "$k" "$s" >"$d"; then
      rm -f "$d"
      record "$name" "$kst" "$sst" PASS
    else
      record "$name" "$kst" "$sst" KNOWN-DIFF "informational; diff in ${d#"$COMPAT_DIR/"}"
    fi
    return 0
  fi
  if [[ "$krc" != 0 ]]; then
    # Scenarios are written to succeed against the reference: this is a broken scenario/setup.
    diff -u --label "kafka/$name" --label "$SUT_NAME/$name" "$k" "$s" >"$d" || true
    record "$name" "$kst" "$sst" FAIL "reference Kafka side failed; see ${OUT_DIR#"$COMPAT_DIR/"}/$name.kafka.err"
    tail -5 "$OUT_DIR/$name.kafka.err" | sed 's/^/    /' >&2
    return 1
  fi
  if diff -u --label "kafka/$name" --label "$SUT_NAME/$name" "$k" "$s" >"$d" && [[ "$krc" == "$src" ]]; then
    rm -f "$d"
    if [[ "$SUT_NAME" == sluice ]] && reason="$(known_failure "$name")"; then
      record "$name" "$kst" "$sst" XPASS "listed in known-failures.txt but passes: remove it"
    else
      record "$name" "$kst" "$sst" PASS
    fi
    return 0
  fi
  [[ -s "$d" ]] || echo "exit status differs: kafka $krc, $SUT_NAME $src" >"$d"
  if [[ "$krc" == 0 && "$SUT_NAME" == sluice ]] && reason="$(known_failure "$name")"; then
    record "$name" "$kst" "$sst" XFAIL "$reason"
    return 0
  fi
  record "$name" "$kst" "$sst" FAIL "diff: ${d#"$COMPAT_DIR/"}"
  sed 's/^/    /' "$d" | head -40 >&2
  if [[ "$src" != 0 && -s "$OUT_DIR/$name.sut.err" ]]; then
    echo "    last lines of $SUT_NAME's stderr (${OUT_DIR#"$COMPAT_DIR/"}/$name.sut.err):" >&2
    tail -15 "$OUT_DIR/$name.sut.err" | sed 's/^/      /' >&2
  fi
  return 1
}

# run_scenario_informational NAME FUNC [ARGS...]: like run_scenario, but a transcript difference
# is recorded as KNOWN-DIFF (explained in the folder's FINDINGS.md) instead of FAIL.
run_scenario_informational() {
  local name=$1 func=$2
  shift 2
  log "scenario $SUITE/$name (informational)"
  local krc src
  krc="$(run_one "$name" kafka "$KAFKA_ADDR" "$func" "$@")"
  src="$(run_one "$name" sut "$SLUICE_ADDR" "$func" "$@")"
  compare "$name" "$krc" "$src" informational
}

# print_summary [RESULTS_FILE]: table of all recorded scenarios; returns non-zero on any FAIL.
print_summary() {
  local f=${1:-$COMPAT_RESULTS}
  local pass fail other
  # KNOWN-DIFF (informational) and XPASS count as passed, XFAIL (listed known failure) as skipped.
  pass=$(awk -F'\t' '$5=="PASS" || $5=="KNOWN-DIFF" || $5=="XPASS"' "$f" | wc -l)
  fail=$(awk -F'\t' '$5=="FAIL"' "$f" | wc -l)
  other=$(awk -F'\t' '$5!="PASS" && $5!="FAIL" && $5!="KNOWN-DIFF" && $5!="XPASS"' "$f" | wc -l)
  echo
  printf '%-40s %-14s %-14s %s\n' "SCENARIO" "${SUT_NAME^^}" "KAFKA" "RESULT"
  printf '%-40s %-14s %-14s %s\n' "--------" "------" "-----" "------"
  awk -F'\t' '{ printf "%-40s %-14s %-14s %s%s\n", $1"/"$2, $4, $3, $5, ($6!="" ? "  ("$6")" : "") }' "$f"
  echo
  # Plain closing line understood by CI ("N passed, N failed").
  echo "compat: $pass passed, $fail failed, $other skipped"
  echo "(XFAIL = listed in a folder's known-failures.txt; KNOWN-DIFF = informational scenario)"
  ((fail == 0))
}
