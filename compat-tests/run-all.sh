#!/usr/bin/env bash
# The one command that runs every test of the repository (CI runs exactly this, via .ci/run):
#   1. cargo fmt --all -- --check
#   2. cargo clippy --workspace --all-targets -- -D warnings
#   3. cargo test --workspace
#   4. cargo build --release -p sluice
#   5. starts the reference Apache Kafka 4.3.1 once (kafka-ref/) and Sluice once, then runs every
#      compatibility folder's run.sh against both (java/, kcat/, franz-go/, sarama/, kafka-go/,
#      groups/, transactions/, streams/, connect/, compaction/, admin/, differential/,
#      durability/, datadir/ — admin/'s retention scenario, sarama/'s functional tests,
#      kafka-go/, durability/ and datadir/ start brokers of their own on other ports),
#      prints one summary
#      table (scenario, Sluice, Kafka, result) and exits non-zero if any check failed.
#
# Installs what it needs on a fresh Debian machine (kcat and jq from Debian; Kafka jars through
# Maven; franz-go, Sarama, kafka-go and toxiproxy through the Go module proxy); Java 17, Maven,
# Go and Rust are expected.
#
# Options / environment:
#   --skip-cargo          skip steps 1-4 (the release binary must exist or is built on demand)
#   --only "java kcat"    run only these compatibility folders
#   --with "NAME"         also run these opt-in folders after the others (COMPAT_WITH too;
#                         none is opt-in today)
#   COMPAT_SELF_CHECK=1   compare the reference Kafka with a second reference Kafka instead of
#                         Sluice (sanity check of the scenarios themselves)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SUITE=all
mkdir -p "$HERE/work"
export COMPAT_RESULTS="$HERE/work/results.tsv"
: >"$COMPAT_RESULTS"
source "$HERE/lib/common.sh"

skip_cargo=0
folders=(java kcat franz-go sarama kafka-go groups transactions streams connect compaction admin differential durability datadir)
opt_in=()
read -r -a opt_in <<<"${COMPAT_WITH:-}"
while (($#)); do
  case "$1" in
    --skip-cargo) skip_cargo=1 ;;
    --only) read -r -a folders <<<"$2"; shift ;;
    --with) read -r -a opt_in <<<"$2"; shift ;;
    -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done

start_all=$SECONDS
declare -A step_time

# step NAME CMD...: run a repository-level check and record it in the results table.
step() {
  local name=$1
  shift
  local t0=$SECONDS rc=0
  log "== $name: $*"
  (cd "$REPO_ROOT" && "$@") || rc=$?
  step_time[$name]=$((SECONDS - t0))
  if ((rc == 0)); then
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' repo "$name" - ok PASS "${step_time[$name]}s" >>"$COMPAT_RESULTS"
  else
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' repo "$name" - "exit $rc" FAIL "${step_time[$name]}s" >>"$COMPAT_RESULTS"
    log "FAIL: $name (exit $rc)"
  fi
  return 0
}

if ((!skip_cargo)); then
  command -v cargo >/dev/null || die "cargo (Rust toolchain) is required"
  step cargo-fmt cargo fmt --all -- --check
  step cargo-clippy cargo clippy --workspace --all-targets -- -D warnings
  step cargo-test cargo test --workspace
  step cargo-build-release cargo build --release -p sluice
  if [[ "${COMPAT_SELF_CHECK:-0}" != 1 && ! -x "$REPO_ROOT/target/release/sluice" ]]; then
    print_summary || true
    die "no release binary; cannot run the compatibility scenarios"
  fi
fi

# Installs that every folder needs, done once up front so their logs are not interleaved.
need_java
command -v kcat >/dev/null || apt_install kcat
command -v jq >/dev/null || apt_install jq

trap cleanup_brokers EXIT
t0=$SECONDS
ensure_kafka
ensure_sut
log "brokers ready in $((SECONDS - t0))s: kafka $KAFKA_ADDR, $SUT_NAME $SLUICE_ADDR"

export COMPAT_NO_SUMMARY=1
for f in "${folders[@]}" "${opt_in[@]}"; do
  t0=$SECONDS
  log "== compat folder $f"
  rc=0
  bash "$HERE/$f/run.sh" || rc=$?
  if ((rc != 0)); then
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$f" run.sh "-" "exit $rc" FAIL "the folder's run.sh failed" >>"$COMPAT_RESULTS"
  fi
  log "== $f done in $((SECONDS - t0))s"
done

log "total $((SECONDS - start_all))s"
cp "$COMPAT_RESULTS" "$HERE/work/results-last.tsv"
print_summary
