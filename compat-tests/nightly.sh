#!/usr/bin/env bash
# Nightly run: everything run-all.sh runs, plus the longer suites.
#
# What it runs today:
#   1. compat-tests/run-all.sh (cargo fmt/clippy/test/build + all compatibility scenarios, incl.
#      franz-go's kgo tests without groups/transactions, kgo-direct)
#   2. heavier variants of the data-path scenarios: kcat round trips (zstd, none) and the
#      DumpLogSegments check with 1M records (KCAT_RECORDS), the kill -9 durability scenario with
#      a 2M-record idempotent stream (DUR_RECORDS), the Java codec round trips with 50k records
#   3. groups/: join timings at heartbeat 3000 ms, franz-go's group tests with 500k records;
#      transactions/: franz-go's TestTxnEtl with 500k records, and again with KGO_TEST_UNSAFE
#   4. Sarama's functional tests, all of them (sarama/run.sh functional-all), and every test of
#      kafka-go's root package (kafka-go/run.sh all), against both brokers
#   5. datadir/'s kill -9 variant: a data directory Kafka 4.3.1 wrote and was killed on, read by
#      Sluice (kafka-dir and sut-dir run in every run-all.sh)
#   6. franz-go's own pkg/kgo integration test suite, all of it (franz-go/run.sh
#      --kgo-suite-only) with KGO_TEST_RECORDS=500000, against the reference Kafka and against
#      Sluice: groups, transactions and share groups included (share-group tests skip themselves
#      against Sluice, which does not advertise share groups).
# The benchmark (bench/run.sh) is separate: it must run on an otherwise idle machine.
#
# Arguments are passed to the kgo suite as its `go test -run` regex (default: all tests).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SUITE=all
mkdir -p "$HERE/work"
rc=0
bash "$HERE/run-all.sh" || rc=$?
cp "$HERE/work/results.tsv" "$HERE/work/results-nightly.tsv"
export COMPAT_RESULTS="$HERE/work/results-nightly.tsv" COMPAT_NO_SUMMARY=1
echo
echo "== nightly: heavier data-path variants"
KCAT_RECORDS=1000000 bash "$HERE/kcat/run.sh" roundtrip-zstd roundtrip-none dump-log || rc=$?
DUR_RECORDS=2000000 bash "$HERE/durability/run.sh" kill9-idempotent || rc=$?
bash "$HERE/durability/run.sh" kill9-after-ack verifiable || rc=$?
JAVA_RECORDS=50000 bash "$HERE/java/run.sh" produce-none produce-gzip produce-snappy produce-lz4 produce-zstd || rc=$?
echo
echo "== nightly: consumer groups, long variants"
bash "$HERE/groups/run.sh" member-lifecycle-cooperative kcat-balanced-cooperative join-timing-range \
  join-timing-cooperative join-timing-range-hb3000 join-timing-cooperative-hb3000 kgo-nightly || rc=$?
echo
echo "== nightly: admin tools beyond the CI tier"
bash "$HERE/admin/run.sh" configs-broker-other configs-broker-all-keys leader-election reassign || rc=$?
echo
echo "== nightly: transactions, long variants"
bash "$HERE/transactions/run.sh" kgo-txn-nightly kgo-txn-unsafe || rc=$?
echo
echo "== nightly: Sarama functional tests and kafka-go package tests, all of them"
bash "$HERE/sarama/run.sh" functional-all || rc=$?
bash "$HERE/kafka-go/run.sh" all || rc=$?
echo
echo "== nightly: data directories, the kill -9 variant"
bash "$HERE/datadir/run.sh" kafka-dir-kill9 || rc=$?
echo
echo "== nightly: franz-go kgo integration suite"
KGO_TEST_RECORDS="${KGO_TEST_RECORDS:-500000}" bash "$HERE/franz-go/run.sh" --kgo-suite-only "${1:-.}" || rc=$?
source "$HERE/lib/common.sh"
print_summary "$COMPAT_RESULTS" || rc=1
exit "$rc"
