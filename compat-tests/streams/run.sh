#!/usr/bin/env bash
# Kafka Streams 4.3.1 with exactly_once_v2 against the reference Kafka and Sluice, compared:
# Kafka's own WordCountDemo (kafka-streams-examples) and a windowed count of our own
# (src/StreamsCheck.java). Both need Streams' internal topics (repartition, changelog), its
# consumer group and transactions. See README.md.
#
#   bash streams/run.sh              all scenarios
#   bash streams/run.sh NAME...      only these scenarios
#   bash streams/run.sh --list       list the scenarios
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=streams
source "$HERE/../lib/common.sh"

CLASSES="$HERE/work/classes"
SLIB="$HERE/work/lib"
JAVA=(java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Duser.timezone=UTC
  -Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties")
sc() { "${JAVA[@]}" -cp "$SLIB/*:$CLASSES" StreamsCheck "$@"; }

topic() { echo "c-$RUN_ID-$1"; }

# WordCountDemo reads streams-plaintext-input and writes streams-wordcount-output (fixed names):
# they are deleted first if a previous run left them.
sc_wordcount_eos() {
  BROKER=$1
  local dir app in=streams-plaintext-input out=streams-wordcount-output pid rc
  dir="$(mktemp -d)"
  app="wc-$RUN_ID"
  for t in "$in" "$out"; do
    kafka_topics "$BROKER" --delete --if-exists --topic "$t" >/dev/null 2>&1 || true
  done
  local end=$((SECONDS + 60))
  while ((SECONDS < end)) && kafka_topics "$BROKER" --list 2>/dev/null | grep -qxE "$in|$out"; do
    sleep 0.5 # poll interval while a deletion completes
  done
  kafka_topics "$BROKER" --create --topic "$in" --partitions 1 --replication-factor 1 >/dev/null
  kafka_topics "$BROKER" --create --topic "$out" --partitions 1 --replication-factor 1 >/dev/null
  # 300 lines of text from a fixed vocabulary (deterministic).
  awk 'BEGIN { split("all streams lead to kafka hello world sluice joins the stream of records", w, " ");
    for (i = 0; i < 300; i++) { line = ""; for (j = 0; j < 5; j++) line = line (j ? " " : "") w[(i * 7 + j * 3) % 14 + 1]; print line } }' >"$dir/input.txt"
  tr ' ' '\n' <"$dir/input.txt" | LC_ALL=C sort | uniq -c | awk '{ print $2, $1 }' >"$dir/expected.txt"
  sc produce "$BROKER" "$in" "$dir/input.txt" 1700000000000 1000
  cat >"$dir/streams.properties" <<PROPS
bootstrap.servers=$BROKER
application.id=$app
processing.guarantee=exactly_once_v2
state.dir=$dir/state
commit.interval.ms=200
replication.factor=1
PROPS
  echo "WordCountDemo with processing.guarantee=exactly_once_v2"
  "${JAVA[@]}" -cp "$SLIB/*" org.apache.kafka.streams.examples.wordcount.WordCountDemo \
    "$dir/streams.properties" >"$dir/app.log" 2>&1 &
  pid=$!
  sc counts "$BROKER" "$out" "$dir/expected.txt" 120
  kill -TERM "$pid" 2>/dev/null || true
  rc=0
  wait "$pid" || rc=$?
  echo "WordCountDemo stopped (SIGTERM): exit $rc"
  echo "internal topics:"
  internal_topics "$BROKER" "$app"
  cp "$dir/app.log" "$OUT_DIR/wordcount-eos.$([[ $BROKER == "$KAFKA_ADDR" ]] && echo kafka || echo sut).app.log" || true
  rm -rf "$dir"
}

# A windowed count (tumbling 1-minute windows over event time) with exactly_once_v2.
sc_windowed_eos() {
  BROKER=$1
  local dir app in out
  dir="$(mktemp -d)"
  app="win-$RUN_ID"
  in="$(topic win-in)"
  out="$(topic win-out)"
  kafka_topics "$BROKER" --create --topic "$in" --partitions 1 --replication-factor 1 >/dev/null
  kafka_topics "$BROKER" --create --topic "$out" --partitions 1 --replication-factor 1 >/dev/null
  # 180 words, one every 2 s of event time from a whole minute on: 6 windows of 30 records.
  awk 'BEGIN { split("red green blue red red green", w, " "); for (i = 0; i < 180; i++) print w[i % 6 + 1] }' >"$dir/input.txt"
  awk -v base=1700000040000 '{ printf "%s@%.0f\n", $1, base + int((NR - 1) * 2000 / 60000) * 60000 }' "$dir/input.txt" |
    LC_ALL=C sort | uniq -c | awk '{ print $2, $1 }' >"$dir/expected.txt"
  sc produce "$BROKER" "$in" "$dir/input.txt" 1700000040000 2000
  sc windowed "$BROKER" "$app" "$in" "$out" "$dir/state" "$dir/expected.txt" 120
  echo "internal topics:"
  internal_topics "$BROKER" "$app"
  rm -rf "$dir"
}

scenario_dispatch "$@"

# ------------------------------------------------------------------------------------------
# Main

ALL=(wordcount-eos windowed-eos)
if [[ "${1:-}" == --list ]]; then printf '%s\n' "${ALL[@]}"; exit 0; fi

need_java
maven_libs "$HERE" >/dev/null
maven_libs "$COMPAT_DIR/java" >/dev/null
compile_java "$HERE/src" "$CLASSES" "$SLIB"

trap cleanup_brokers EXIT
ensure_kafka
ensure_sut

selected=("$@")
((${#selected[@]})) || selected=("${ALL[@]}")
for name in "${selected[@]}"; do
  func="sc_${name//-/_}"
  declare -F "$func" >/dev/null || die "unknown scenario $name (known: ${ALL[*]})"
  run_scenario "$name" "$func"
done

if [[ -z "${COMPAT_NO_SUMMARY:-}" ]]; then
  print_summary
fi
