#!/usr/bin/env bash
# Idempotent and transactional producers: Java clients (our Txn.java, Kafka's
# TransactionalMessageCopier), kcat read_committed, kafka-transactions and franz-go's
# transaction integration test, each against the reference Kafka and Sluice, compared.
# See README.md (scenarios) and FINDINGS.md (what differs).
#
#   bash transactions/run.sh              all CI scenarios (incl. kgo-txn)
#   bash transactions/run.sh NAME...      only these scenarios
#   bash transactions/run.sh --list       list the scenarios
#
# Environment: KGO_TEST_RECORDS (franz-go; default 200000 for kgo-txn, 500000 for
# kgo-txn-nightly), KGO_SUITE_TIMEOUT (default 15m), COPIER_RECORDS (default 3000).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=transactions
source "$HERE/../lib/common.sh"
source "$HERE/../lib/kgo.sh"

JLIB="$COMPAT_DIR/java/work/lib"   # the java/ folder's Kafka 4.3.1 jars (maven_libs java/)
CLASSES="$HERE/work/classes"
JAVA=(java -Xmx192m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Duser.timezone=UTC
  -Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties")
tx() { "${JAVA[@]}" -cp "$JLIB/*:$CLASSES" Txn "$@"; }
tool() { "${JAVA[@]}" -cp "$JLIB/*" "$@"; }

topic() { echo "c-$RUN_ID-$1"; }
txn_id() { echo "t-$RUN_ID-$1"; }

# kafka-transactions (TransactionsCommand 4.3.1): prints the command and its output with
# producer ids, epochs of fenced producers, timestamps and durations masked (they differ per
# broker and run), the header kept.
kt() {
  echo "\$ kafka-transactions $*"
  local rc=0 out
  out="$(tool org.apache.kafka.tools.TransactionsCommand --bootstrap-server "$BROKER" "$@" 2>&1)" || rc=$?
  # Columns that vary per run or broker: ProducerId, LastTimestamp, start times, durations.
  awk 'NR == 1 { for (i = 1; i <= NF; i++) h[i] = $i; print; next }
    {
      for (i = 1; i <= NF; i++) {
        if (h[i] ~ /^(ProducerId|LastTimestamp|CurrentTransactionStartTimeMs|TransactionDurationMs)$/ && $i ~ /^-?[0-9]+$/ && $i != "-1") $i = "<" h[i] ">"
      }
      $1 = $1; print
    }' <<<"$out" | grep -Ev 'WARN|SLF4J' || true
  echo "  rc=$rc"
}

# ------------------------------------------------------------------------------------------
# Scenarios. Each gets the broker address as $1.

# Committed, aborted and committed-with-offsets transactions from a Java producer, read back
# by a Java consumer and by kcat (librdkafka) under both isolation levels.
sc_read_committed() {
  BROKER=$1
  local t
  t="$(topic rc)"
  tx create-topic "$BROKER" "$t" 2
  tx pattern "$BROKER" "$t" "$(txn_id rc)"
  tx read "$BROKER" "$t" read_committed
  tx read "$BROKER" "$t" read_uncommitted
  for iso in read_committed read_uncommitted; do
    echo "\$ kcat -C -X isolation.level=$iso"
    kcat -C -b "$BROKER" -t "$t" -X isolation.level="$iso" -o beginning -e -q -f '%p %s\n' \
      -X socket.timeout.ms=10000 | LC_ALL=C sort
  done
}

# A producer fenced by a second one with the same transactional id (zombie fencing).
sc_fencing() {
  BROKER=$1
  local t
  t="$(topic fence)"
  tx create-topic "$BROKER" "$t" 1
  tx fence "$BROKER" "$t" "$(txn_id fence)"
  tx read "$BROKER" "$t" read_committed
}

# Kafka's TransactionalMessageCopier (the system tests' exactly-once copier) with random
# aborts, one per input partition, committing consumed offsets in each transaction; then every
# input value must be in the output exactly once under read_committed.
sc_copier_random_aborts() {
  BROKER=$1
  local in out n=${COPIER_RECORDS:-3000} p pids=() rc
  in="$(topic copy-in)"
  out="$(topic copy-out)"
  tx create-topic "$BROKER" "$in" 3
  tx create-topic "$BROKER" "$out" 3
  tx produce "$BROKER" "$in" 3 "$n"
  for p in 0 1 2; do
    tool org.apache.kafka.tools.TransactionalMessageCopier --broker-list "$BROKER" \
      --input-topic "$in" --input-partition "$p" --output-topic "$out" \
      --transactional-id "$(txn_id "copier-$p")" --consumer-group "g-$RUN_ID-copier" \
      --transaction-size 50 --enable-random-aborts --use-group-metadata >&2 &
    pids+=($!)
  done
  for p in "${!pids[@]}"; do
    rc=0
    wait "${pids[$p]}" || rc=$?
    echo "copier for partition $p: exit $rc"
  done
  tx verify-copy "$BROKER" "$in" "$out"
}

# kafka-transactions on an open transaction whose producer died (JVM halted): list,
# describe, describe-producers, find-hanging, abort (WriteTxnMarkers); then a new producer with
# the same id fences it and the records stay invisible to read_committed.
sc_transactions_tool() {
  BROKER=$1
  local t id
  t="$(topic tool)"
  id="$(txn_id tool)"
  tx create-topic "$BROKER" "$t" 1
  tx hang "$BROKER" "$t" "$id"
  kt list | grep -E "^(CoordinatorId|\\$|  rc)|$id" || true
  kt describe --transactional-id "$id"
  kt describe-producers --topic "$t" --partition 0
  kt find-hanging --broker-id 1 --topic "$t"
  kt abort --topic "$t" --partition 0 --start-offset 0
  kt describe-producers --topic "$t" --partition 0
  tx read "$BROKER" "$t" read_committed
  tx read "$BROKER" "$t" read_uncommitted
  tx init "$BROKER" "$id"
  kt describe --transactional-id "$id"
}

scenario_dispatch "$@"

# ------------------------------------------------------------------------------------------
# Main

ALL=(read-committed fencing copier-random-aborts transactions-tool kgo-txn)
EXTRA=(kgo-txn-nightly kgo-txn-unsafe)
if [[ "${1:-}" == --list ]]; then printf '%s\n' "${ALL[@]}" "${EXTRA[@]}"; exit 0; fi

need_java
maven_libs "$COMPAT_DIR/java" >/dev/null
command -v kcat >/dev/null || apt_install kcat
mkdir -p "$HERE/work"
compile_java "$HERE/src" "$CLASSES" "$JLIB"

trap cleanup_brokers EXIT
ensure_kafka
ensure_sut

selected=("$@")
((${#selected[@]})) || selected=("${ALL[@]}")
for name in "${selected[@]}"; do
  case "$name" in
    kgo-txn) kgo_suite kgo-txn '^TestTxnEtl$' 100000; continue ;;
    kgo-txn-nightly) kgo_suite kgo-txn-nightly '^TestTxnEtl$' 500000; continue ;;
    # KGO_TEST_UNSAFE: every other transaction boundary uses EndBeginTxnUnsafe (the next
    # transaction's records may go out before the previous EndTxn is answered).
    kgo-txn-unsafe) KGO_TEST_UNSAFE=1 kgo_suite kgo-txn-unsafe '^TestTxnEtl$' 500000; continue ;;
  esac
  func="sc_${name//-/_}"
  declare -F "$func" >/dev/null || die "unknown scenario $name (known: ${ALL[*]} ${EXTRA[*]})"
  run_scenario "$name" "$func"
done

if [[ -z "${COMPAT_NO_SUMMARY:-}" ]]; then
  print_summary
fi
