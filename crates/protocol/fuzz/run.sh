#!/usr/bin/env bash
# Fuzz the decoders: crates/protocol/fuzz/run.sh [seconds] [target]
#   seconds: default 600; target: request_decode (default), batch_parse, metadata_record or
#   response_decode.
#
# Installs cargo-fuzz if missing, seeds the request_decode corpus from requests encoded by the
# unit tests (every API and version, via the `write_fuzz_seeds` test), the metadata_record
# corpus from Kafka's golden records and every record type at every version (via
# `metadata::tests::write_fuzz_seeds`) and the response_decode corpus from responses encoded by
# the unit tests and Kafka 4.3.1's golden responses (via `write_response_fuzz_seeds`) when it is
# empty, then runs the target on one core.
# Findings land in artifacts/<target>/.
set -euo pipefail
seconds="${1:-600}"
target="${2:-request_decode}"
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

corpus="$here/corpus/$target"
mkdir -p "$corpus"
if [ "$target" = request_decode ] && [ -z "$(ls -A "$corpus")" ]; then
    SLUICE_FUZZ_SEEDS="$corpus" cargo test --manifest-path "$here/../Cargo.toml" --lib \
        schema::tests::write_fuzz_seeds -- --ignored --exact
fi
if [ "$target" = metadata_record ] && [ -z "$(ls -A "$corpus")" ]; then
    SLUICE_FUZZ_SEEDS="$corpus" cargo test --manifest-path "$here/../Cargo.toml" --lib \
        metadata::tests::write_fuzz_seeds -- --ignored --exact
fi

if [ "$target" = response_decode ] && [ -z "$(ls -A "$corpus")" ]; then
    SLUICE_FUZZ_SEEDS="$corpus" cargo test --manifest-path "$here/../Cargo.toml" --lib \
        schema::response_tests::write_response_fuzz_seeds -- --ignored --exact
fi

# -malloc_limit_mb: a single allocation above 256 MiB from inputs of at most 64 KiB is the bug
# class this target exists for (counts from the wire sizing allocations).
cargo +nightly fuzz run "$target" "$corpus" -- \
    -max_total_time="$seconds" -max_len=65536 -malloc_limit_mb=256 -rss_limit_mb=2048 \
    -print_final_stats=1
