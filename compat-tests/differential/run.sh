#!/usr/bin/env bash
# Differential tests: the same sequences of raw Kafka requests (sluice-differential, built from
# this folder's Rust crate) sent to the reference Apache Kafka and to Sluice; every response is
# printed field by field, with only ids, hosts, ports, throttle times and error-message texts
# normalized (src/normalize.rs), and the two transcripts must be equal. See README.md.
#
#   bash differential/run.sh            every case
#   bash differential/run.sh CASE...    only the named cases (`sluice-differential list`)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=differential
source "$HERE/../lib/common.sh"

BIN="$REPO_ROOT/target/release/sluice-differential"

# sc_case ADDR CASE: run one case against the broker at ADDR.
sc_case() {
  DIFF_PREFIX="c-$RUN_ID-diff" "$BIN" "$1" "$2"
}

scenario_dispatch "$@"

if [[ ! -x "$BIN" ]] || [[ -n "$(find "$HERE/src" "$HERE/Cargo.toml" "$REPO_ROOT/crates/protocol/src" -newer "$BIN" -type f 2>/dev/null | head -1)" ]]; then
  log "building sluice-differential (cargo build --release -p sluice-differential)"
  (cd "$REPO_ROOT" && cargo build --release -p sluice-differential >&2)
fi

trap cleanup_brokers EXIT
ensure_kafka
ensure_sut

mapfile -t ALL < <("$BIN" list)
selected=("$@")
((${#selected[@]})) || selected=("${ALL[@]}")
for name in "${selected[@]}"; do
  printf '%s\n' "${ALL[@]}" | grep -qx "$name" || die "unknown case $name (known: ${ALL[*]})"
  run_scenario "$name" sc_case "$name"
done

if [[ -z "${COMPAT_NO_SUMMARY:-}" ]]; then
  print_summary
fi
