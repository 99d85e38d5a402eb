#!/usr/bin/env bash
# franz-go (kgo + kadm) scenarios against the reference Kafka and Sluice, compared; optionally
# franz-go's own pkg/kgo integration test suite. See README.md.
#
#   bash franz-go/run.sh                         our scenarios (admin, autocreate)
#   bash franz-go/run.sh --kgo-suite [REGEX]     ALSO run franz-go's pkg/kgo integration tests
#                                                (go test -run REGEX; default: all) against
#                                                Kafka and then Sluice. Needs Produce/Fetch/groups:
#                                                not part of the default run in milestone 1.
#   bash franz-go/run.sh --kgo-suite-only [REGEX]  only the kgo suite
#
# Environment for the kgo suite: KGO_TEST_RECORDS (default here 5000), KGO_SUITE_TIMEOUT
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

# franz-go's integration tests, run from a writable copy of the pinned module.
run_kgo_suite() {
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
    log "kgo suite (-run '$kgo_regex') against $side ($addr); log work/out/kgo-suite.$side.log"
    rc=0
    (cd "$dir/pkg/kgo" && KGO_SEEDS="$addr" KGO_TEST_RF=1 \
      KGO_TEST_RECORDS="${KGO_TEST_RECORDS:-5000}" \
      go test -v -count=1 -timeout "${KGO_SUITE_TIMEOUT:-20m}" -run "$kgo_regex" .) \
      >"$OUT_DIR/kgo-suite.$side.log" 2>&1 || rc=$?
    log "kgo suite on $side: $(grep -c -- '^--- PASS' "$OUT_DIR/kgo-suite.$side.log" || true) tests passed," \
      "$(grep -c -- '^--- FAIL' "$OUT_DIR/kgo-suite.$side.log" || true) failed, exit $rc"
    grep -- '^--- FAIL' "$OUT_DIR/kgo-suite.$side.log" | head -20 >&2 || true
    kgo_rc[$side]=$rc
  done
  local kst sst
  kst="$(_status_word "${kgo_rc[kafka]}")"
  sst="$(_status_word "${kgo_rc[sut]}")"
  if ((kgo_rc[kafka] != 0)); then
    record "kgo-suite" "$kst" "$sst" FAIL "fails against the reference Kafka: work/out/kgo-suite.kafka.log"
  elif ((kgo_rc[sut] != 0)); then
    record "kgo-suite" "$kst" "$sst" FAIL "see franz-go/work/out/kgo-suite.sut.log"
  else
    record "kgo-suite" "$kst" "$sst" PASS
  fi
}
((kgo_suite)) && run_kgo_suite

if [[ -z "${COMPAT_NO_SUMMARY:-}" ]]; then
  print_summary
fi
