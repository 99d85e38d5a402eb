#!/usr/bin/env bash
# Sarama (github.com/IBM/sarama, pinned in go.mod) against the reference Kafka and Sluice. See README.md.
#
#   bash sarama/run.sh                    our program (compat scenario) + the CI tier of sarama's
#                                         functional tests (functional: all but SARAMA_NOT_CI below)
#   bash sarama/run.sh compat             only our program
#   bash sarama/run.sh functional         only the CI tier of sarama's functional tests
#   bash sarama/run.sh functional-all     every functional test (build tag `functional`; nightly)
#   bash sarama/run.sh functional-all REGEX   the functional tests matching REGEX
#
# sarama's functional tests run against brokers of this folder's own, one at a time: Kafka
# (kafka-ref/run.sh instance `sarama`, 127.0.0.1:$SARAMA_KAFKA_PORT) then Sluice
# (127.0.0.1:$SARAMA_SLUICE_PORT), each advertising 127.0.0.1:29091, behind a toxiproxy
# (v2.12.0, 127.0.0.1:$SARAMA_TOXIPROXY_PORT) whose proxies kafka1..kafka5 listen on
# 127.0.0.1:29091-29095 (fixed by sarama's functional_test.go) and forward to the broker.
# Environment: SARAMA_KAFKA_PORT (19472), SARAMA_SLUICE_PORT (25472), SARAMA_TOXIPROXY_PORT (28474),
# SARAMA_TEST_TIMEOUT (go test -timeout per broker; 6m for the CI tier, 25m for functional-all).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=sarama
source "$HERE/../lib/common.sh"
source "$HERE/../lib/gotest.sh"

BIN="$HERE/work/saramacompat"
TOXIPROXY_VERSION=v2.12.0
FK_PORT="${SARAMA_KAFKA_PORT:-19472}"
FS_PORT="${SARAMA_SLUICE_PORT:-25472}"
TP_PORT="${SARAMA_TOXIPROXY_PORT:-28474}"
ADVERTISED=127.0.0.1:29091 # toxiproxy "kafka1": sarama's tests map broker id 1 to it

sc_compat() { "$BIN" -bootstrap "$1" -prefix "c-$RUN_ID-sarama-"; }

scenario_dispatch "$@"

# The CI tier: every functional test except these (reasons in FINDINGS.md "CI tier"): they fail
# against the single reference Kafka as well (they stop brokers with docker compose, read docker
# logs, or need 2-5 brokers), skip themselves outside docker, or take 17-36 s each (nightly only).
SARAMA_NOT_CI=(TestConsumerFetchFollowerFailover TestFuncAdminAlterPartitionReassignments
  TestFuncAdminDescribeLogDirs TestFuncAdminListConsumerGroupOffsets TestFuncIdempotentBufferedSequence
  TestFuncTxnProduceWithBrokerFailure TestFuncJavaInteropCooperativeRebalance
  TestReadOnlyAndAllCommittedMessages TestJavaProducerCompressionRoundTrip
  TestJavaConsumerCompressionRoundTrip TestJavaMurmur2PartitionerInterop
  TestFuncConsumerGroupFuzzy TestFuncTxnProduceAndCommitOffset
  TestFuncProducingIdempotentWithBrokerFailure TestFuncConsumerGroupRebalanceAfterAddingPartitions)

what=(compat functional)
regex=""
if (($#)); then
  case "$1" in
    compat | functional) what=("$1") ;;
    functional-all) what=(functional-all); regex="${2:-}" ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
fi

command -v go >/dev/null || apt_install golang-go
command -v jq >/dev/null || apt_install jq
command -v curl >/dev/null || apt_install curl
SARAMA_VERSION="$(cd "$HERE" && go list -m -f '{{.Version}}' github.com/IBM/sarama)"
log "sarama $SARAMA_VERSION ($(go version | cut -d' ' -f3))"

trap 'functional_cleanup; cleanup_brokers' EXIT

# --- our program -------------------------------------------------------------------------------
run_compat() {
  local src_sum
  src_sum="$(cat "$HERE"/go.mod "$HERE"/go.sum "$HERE"/*.go | sha256sum | cut -d' ' -f1)"
  if [[ ! -x "$BIN" || ! -f "$BIN.stamp" || "$(cat "$BIN.stamp")" != "$src_sum" ]]; then
    log "building saramacompat"
    (cd "$HERE" && go build -o "$BIN" .)
    echo "$src_sum" >"$BIN.stamp"
  fi
  ensure_kafka
  ensure_sut
  run_scenario compat sc_compat
}

# --- sarama's functional tests -----------------------------------------------------------------
_TOXI_PID="" _FK_STARTED=0 _FS_PID="" _FS_DIR=""

functional_cleanup() {
  stop_func_sluice
  if ((_FK_STARTED)); then
    KAFKA_INSTANCE=sarama bash "$COMPAT_DIR/kafka-ref/run.sh" stop || true
    _FK_STARTED=0
  fi
  if [[ -n "$_TOXI_PID" ]] && kill -0 "$_TOXI_PID" 2>/dev/null; then
    log "stopping toxiproxy (pid $_TOXI_PID)"
    kill -TERM "$_TOXI_PID" 2>/dev/null || true
    wait "$_TOXI_PID" 2>/dev/null || true
  fi
  _TOXI_PID=""
}

stop_func_sluice() {
  [[ -n "$_FS_PID" ]] || return 0
  kill -TERM "$_FS_PID" 2>/dev/null || true
  local end=$((SECONDS + 20))
  while kill -0 "$_FS_PID" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
  kill -KILL "$_FS_PID" 2>/dev/null || true
  wait "$_FS_PID" 2>/dev/null || true
  _FS_PID=""
  rm -rf "$_FS_DIR"
}

# The test binary: the pinned module copied from the module cache into work/, with ONE change to
# the copy (FINDINGS.md S1): the five test topics that TestMain creates get replication factor 1
# instead of 3, the only thing in TestMain a single broker cannot do.
sarama_testbin() {
  local dir
  dir="$(gomod_copy "$HERE" github.com/IBM/sarama "$SARAMA_VERSION")"
  SARAMA_DIR="$dir"
  SARAMA_TESTBIN="$HERE/work/sarama-$SARAMA_VERSION.functional.test"
  if [[ ! -x "$SARAMA_TESTBIN" ]]; then
    if grep -q 'ReplicationFactor: 3,' "$dir/functional_test.go"; then
      log "functional_test.go (work copy): test topics with replication factor 1 instead of 3"
      sed -i 's/ReplicationFactor: 3,/ReplicationFactor: 1,/' "$dir/functional_test.go"
    fi
    log "compiling sarama $SARAMA_VERSION functional tests (go test -tags functional -c)"
    (cd "$dir" && go test -tags functional -c -o "$SARAMA_TESTBIN.tmp" .) >&2
    mv "$SARAMA_TESTBIN.tmp" "$SARAMA_TESTBIN"
  fi
}

toxiproxy_start() {
  local tp="$HERE/work/bin/toxiproxy-server-$TOXIPROXY_VERSION"
  if [[ ! -x "$tp" ]]; then
    log "installing toxiproxy $TOXIPROXY_VERSION (go install)"
    mkdir -p "$HERE/work/bin"
    (cd "$HERE" && GOBIN="$HERE/work/bin.tmp" go install "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION") >&2
    mv "$HERE/work/bin.tmp/server" "$tp"
    rm -rf "$HERE/work/bin.tmp"
  fi
  local p
  for p in "$TP_PORT" 29091 29092 29093 29094 29095; do
    port_open 127.0.0.1 "$p" && die "port $p is in use: sarama's functional tests need 127.0.0.1:29091-29095 and $TP_PORT"
  done
  "$tp" -host 127.0.0.1 -port "$TP_PORT" >"$OUT_DIR/toxiproxy.log" 2>&1 &
  _TOXI_PID=$!
  wait_for_port 127.0.0.1 "$TP_PORT" 30 "$_TOXI_PID" || die "toxiproxy did not start"
}

# toxiproxy_point UPSTREAM: (re)create the proxies kafka1..kafka5 -> UPSTREAM.
toxiproxy_point() {
  local i
  curl -fsS -X POST "http://127.0.0.1:$TP_PORT/reset" >/dev/null
  for i in 1 2 3 4 5; do
    curl -sS -X DELETE "http://127.0.0.1:$TP_PORT/proxies/kafka$i" >/dev/null || true
    curl -fsS -X POST "http://127.0.0.1:$TP_PORT/proxies" \
      -d "{\"name\":\"kafka$i\",\"listen\":\"127.0.0.1:$((29090 + i))\",\"upstream\":\"$1\",\"enabled\":true}" >/dev/null
  done
}

# func_broker SIDE: start this folder's broker of SIDE (kafka|sut) advertising $ADVERTISED.
func_broker() {
  if [[ $1 == kafka ]]; then
    KAFKA_INSTANCE=sarama KAFKA_PORT="$FK_PORT" KAFKA_CONTROLLER_PORT="$((FK_PORT + 1))" \
      KAFKA_ADVERTISED="$ADVERTISED" KAFKA_EXTRA_PROPS="auto.create.topics.enable=false" \
      bash "$COMPAT_DIR/kafka-ref/run.sh" start >&2
    _FK_STARTED=1
  else
    local bin
    bin="$(sluice_bin)"
    _FS_DIR="$(mktemp -d "${TMPDIR:-/tmp}/sluice-sarama.XXXXXX")"
    port_open 127.0.0.1 "$FS_PORT" && die "port $FS_PORT is in use"
    log "starting sluice on 127.0.0.1:$FS_PORT advertising $ADVERTISED (log ${OUT_DIR#"$COMPAT_DIR/"}/functional-sluice.log)"
    "$bin" --override "listeners=PLAINTEXT://127.0.0.1:$FS_PORT" \
      --override "advertised.listeners=PLAINTEXT://$ADVERTISED" --override "log.dirs=$_FS_DIR" \
      --override node.id=1 --override auto.create.topics.enable=false --override num.partitions=1 \
      --override group.initial.rebalance.delay.ms=0 >"$OUT_DIR/functional-sluice.log" 2>&1 &
    _FS_PID=$!
    wait_for_port 127.0.0.1 "$FS_PORT" 30 "$_FS_PID" || die "sluice did not start"
  fi
}

run_functional() {
  local name=$1 regex=$2 to=$3 side rc
  if [[ ${COMPAT_SELF_CHECK:-0} == 1 ]]; then
    # The self check's second Kafka listens on 127.0.0.1:29092, the port of proxy kafka2.
    record "$name" - - SKIP "not run with COMPAT_SELF_CHECK=1 (its second Kafka holds port 29092, sarama's proxy kafka2)"
    return 0
  fi
  sarama_testbin
  toxiproxy_start
  for side in kafka sut; do
    func_broker "$side"
    if [[ $side == kafka ]]; then toxiproxy_point "127.0.0.1:$FK_PORT"; else toxiproxy_point "127.0.0.1:$FS_PORT"; fi
    log "sarama functional tests ($name) against $side; log ${OUT_DIR#"$COMPAT_DIR/"}/$name.$side.log"
    rc="$(TOXIPROXY_ADDR="http://127.0.0.1:$TP_PORT" KAFKA_VERSION=4.3.1 \
      gotest_run "$OUT_DIR/$name.$side.log" "$SARAMA_DIR" "$SARAMA_TESTBIN" "$regex" "$to")"
    TOXIPROXY_ADDR="http://127.0.0.1:$TP_PORT" KAFKA_VERSION=4.3.1 \
      gotest_retry_failed "$OUT_DIR/$name.$side.log" "$SARAMA_DIR" "$SARAMA_TESTBIN" "$to" func
    if [[ $side == kafka ]]; then
      KAFKA_INSTANCE=sarama bash "$COMPAT_DIR/kafka-ref/run.sh" stop >&2
      _FK_STARTED=0
    else
      stop_func_sluice
    fi
  done
  functional_cleanup
  gotest_compare "$name" func
}

# functional_regex [EXCLUDED...]: every Test function of the functional_*_test.go files but the
# EXCLUDED ones, as a -test.run regex (the functional build tag also compiles sarama's unit tests
# into the binary; those need no broker and are not run here).
functional_regex() {
  local names
  names="$(grep -h '^func Test' "$SARAMA_DIR"/functional_*_test.go | sed -E 's/^func (Test[A-Za-z0-9_]+).*/\1/' |
    sort -u | grep -vxF -f <(printf '%s\n' "$@" ''))"
  echo "^($(echo $names | tr ' ' '|'))\$"
}

for w in "${what[@]}"; do
  case "$w" in
    compat) run_compat ;;
    functional)
      sarama_testbin
      run_functional functional "$(functional_regex "${SARAMA_NOT_CI[@]}")" "${SARAMA_TEST_TIMEOUT:-6m}" ;;
    functional-all)
      sarama_testbin
      run_functional functional-all "${regex:-$(functional_regex)}" "${SARAMA_TEST_TIMEOUT:-25m}" ;;
  esac
done

if [[ -z "${COMPAT_NO_SUMMARY:-}" ]]; then
  print_summary
fi
