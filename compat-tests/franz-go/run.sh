#!/usr/bin/env bash
# franz-go (kgo + kadm) scenarios against the reference Kafka and Sluice, compared; optionally
# franz-go's own pkg/kgo integration test suite. See README.md.
#
#   bash franz-go/run.sh                         our scenarios (admin, autocreate) and the CI
#                                                tier of franz-go's kgo tests (kgo-direct: no
#                                                groups, no transactions; see FINDINGS.md)
#   bash franz-go/run.sh --kgo-suite [REGEX]     ALSO run franz-go's pkg/kgo integration tests
#                                                (go test -run REGEX; default: all) against
#                                                Kafka and then Sluice. Needs Produce/Fetch/groups:
#                                                not part of the default run in milestone 1.
#   bash franz-go/run.sh --kgo-suite-only [REGEX]  only the kgo suite
#
# Environment for the kgo tests: KGO_TEST_RECORDS (default 100000 for kgo-direct, 5000 for the
# full suite), KGO_SUITE_TIMEOUT
# (go test -timeout, default 20m), KGO_LOG_LEVEL.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=franz-go
source "$HERE/../lib/common.sh"

BIN="$HERE/work/franzcompat"

sc_admin() { "$BIN" -bootstrap "$1" -prefix "c-$RUN_ID-fg-adm-" admin; }
sc_autocreate() { "$BIN" -bootstrap "$1" -prefix "c-$RUN_ID-fg-auto-" autocreate; }

scenario_dispatch "$@"

run_ours=1
kgo_suite=0
kgo_regex="."
while (($#)); do
  case "$1" in
    --kgo-suite | --kgo-suite-only)
      kgo_suite=1
      [[ "$1" == --kgo-suite-only ]] && run_ours=0
      if [[ $# -gt 1 && "$2" != --* ]]; then kgo_regex="$2"; shift; fi
      ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done

command -v go >/dev/null || apt_install golang-go
command -v jq >/dev/null || apt_install jq
FRANZ_VERSION="$(cd "$HERE" && go list -m -f '{{.Version}}' github.com/twmb/franz-go)"
log "franz-go $FRANZ_VERSION ($(go version | cut -d' ' -f3))"

# Build our program when its sources changed (go's build cache makes a rebuild cheap anyway).
src_sum="$(cat "$HERE"/go.mod "$HERE"/go.sum "$HERE"/*.go | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$BIN" || ! -f "$BIN.stamp" || "$(cat "$BIN.stamp")" != "$src_sum" ]]; then
  log "building franzcompat"
  (cd "$HERE" && go build -o "$BIN" .)
  echo "$src_sum" >"$BIN.stamp"
fi

trap cleanup_brokers EXIT
ensure_kafka
ensure_sut

if ((run_ours)); then
  run_scenario admin sc_admin
  run_scenario autocreate sc_autocreate
fi

# The CI tier of franz-go's own integration tests: the pkg/kgo tests that need no consumer
# group, no transactions, no share groups and no admin API beyond Create/DeleteTopics
# (produce, direct partition/topic consumption, fetch edge cases). Why each is in or out:
# FINDINGS.md "kgo integration tests in the CI tier".
KGO_CI_TESTS=(TestPing TestHookPollStartRecognized TestClient_Produce TestClient_ProduceLargeMessages
  TestIssue769 TestIssue831 TestIssueProduceSyncManualPartitionNegativeDoesNotPanic
  TestIssueProduceBrokerTooOldFailsRecords TestIssue325 TestConsumeTopicRetrieval
  TestConsumeTopicRetrieval_Many TestIssue337 TestDirectPartitionPurge TestIssue434
  TestPauseIssue489 TestPauseIssueOct2023 TestIssue648 TestIssue810 TestIssue865
  TestIssueFetchLargerThanBrokerMaxReadBytes TestPooling TestHookPollStart
  TestConsumeMaxDecompressBatchBytes TestConsumeRegex TestAddRemovePartitions)
KGO_CI_REGEX="^($(IFS='|'; echo "${KGO_CI_TESTS[*]}"))\$"

# franz-go's integration tests, run from a writable copy of the pinned module.
# run_kgo_suite NAME REGEX RECORDS: go test -run REGEX against Kafka, then Sluice; recorded as NAME.
run_kgo_suite() {
  local name=$1 regex=$2 records=$3
  local dir src
  src="$(cd "$HERE" && go mod download -json "github.com/twmb/franz-go@$FRANZ_VERSION" | jq -r .Dir)"
  dir="$HERE/work/franz-go-$FRANZ_VERSION"
  if [[ ! -d "$dir" ]]; then
    log "copying franz-go $FRANZ_VERSION module to $dir"
    cp -r "$src" "$dir.tmp"
    chmod -R u+w "$dir.tmp"
    mv "$dir.tmp" "$dir"
  fi
  local side addr rc
  local -A kgo_rc=()
  for side in kafka sut; do
    if [[ $side == kafka ]]; then addr=$KAFKA_ADDR; else addr=$SLUICE_ADDR; fi
    log "kgo $name (-run '$regex', KGO_TEST_RECORDS=$records) against $side ($addr); log work/out/$name.$side.log"
    rc=0
    (cd "$dir/pkg/kgo" && KGO_SEEDS="$addr" KGO_TEST_RF=1 \
      KGO_TEST_RECORDS="$records" \
      go test -v -count=1 -timeout "${KGO_SUITE_TIMEOUT:-20m}" -run "$regex" .) \
      >"$OUT_DIR/$name.$side.log" 2>&1 || rc=$?
    log "kgo $name on $side: $(grep -c -- '^--- PASS' "$OUT_DIR/$name.$side.log" || true) tests passed," \
      "$(grep -c -- '^--- SKIP' "$OUT_DIR/$name.$side.log" || true) skipped," \
      "$(grep -c -- '^--- FAIL' "$OUT_DIR/$name.$side.log" || true) failed, exit $rc"
    grep -- '^--- FAIL' "$OUT_DIR/$name.$side.log" | head -20 >&2 || true
    kgo_rc[$side]=$rc
  done
  # Per test: the outcome on each broker (work/out/NAME.tests.tsv).
  join -a1 -a2 -e - -o 0,1.2,2.2 \
    <(sed -nE 's/^--- (PASS|FAIL|SKIP): ([^ ]+).*/\2 \1/p' "$OUT_DIR/$name.kafka.log" | sort) \
    <(sed -nE 's/^--- (PASS|FAIL|SKIP): ([^ ]+).*/\2 \1/p' "$OUT_DIR/$name.sut.log" | sort) |
    tr ' ' '\t' >"$OUT_DIR/$name.tests.tsv" || true
  local kst sst
  kst="$(_status_word "${kgo_rc[kafka]}")"
  sst="$(_status_word "${kgo_rc[sut]}")"
  local reason
  if ((kgo_rc[kafka] != 0)); then
    record "$name" "$kst" "$sst" FAIL "fails against the reference Kafka: work/out/$name.kafka.log"
  elif ((kgo_rc[sut] != 0)); then
    if reason="$(known_failure "$name")"; then
      record "$name" "$kst" "$sst" XFAIL "$reason"
    else
      record "$name" "$kst" "$sst" FAIL "see franz-go/work/out/$name.sut.log"
    fi
  else
    record "$name" "$kst" "$sst" PASS
  fi
}
if ((run_ours)); then
  run_kgo_suite kgo-direct "$KGO_CI_REGEX" "${KGO_TEST_RECORDS:-100000}"
fi
if ((kgo_suite)); then
  run_kgo_suite kgo-suite "$kgo_regex" "${KGO_TEST_RECORDS:-5000}"
fi

if [[ -z "${COMPAT_NO_SUMMARY:-}" ]]; then
  print_summary
fi
