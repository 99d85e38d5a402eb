#!/usr/bin/env bash
# Nightly run: everything run-all.sh runs, plus the longer suites.
#
# What it runs today (honestly):
#   1. compat-tests/run-all.sh (cargo fmt/clippy/test/build + all compatibility scenarios)
#   2. franz-go's own pkg/kgo integration test suite (franz-go/run.sh --kgo-suite-only), against
#      the reference Kafka and against Sluice. In milestone 1 Sluice has no Produce/Fetch/groups,
#      so most of that suite is expected to fail against Sluice; the run's exit status reflects it.
# Longer suites are added here as they exist (e.g. Kafka's ProducerPerformance /
# ConsumerPerformance, librdkafka's test suite).
#
# Arguments are passed to the kgo suite as its `go test -run` regex (default: all tests).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rc=0
bash "$HERE/run-all.sh" || rc=$?
echo
echo "== nightly: franz-go kgo integration suite"
bash "$HERE/franz-go/run.sh" --kgo-suite-only "${1:-.}" || rc=$?
exit "$rc"
