#!/usr/bin/env bash
# kcat (librdkafka) metadata scenarios: `kcat -L` against the reference Kafka and Sluice after
# creating the same topics on both, normalized and compared. See README.md.
#
#   bash kcat/run.sh            run all scenarios (starts brokers that are not already running)
#   bash kcat/run.sh NAME...    run only the named scenarios
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=kcat
source "$HERE/../lib/common.sh"

PREFIX="c-$RUN_ID-kcat-"
# Bounded librdkafka timeouts so a silent broker fails the scenario instead of hanging.
KCAT_OPTS=(-m 15 -X socket.timeout.ms=10000 -X topic.metadata.refresh.interval.ms=-1)

# filter_topics: keep only this run's topic blocks of `kcat -L` text output, sorted by name
# (the order is the broker's choice); the "N topics:" count is dropped because the broker may
# hold topics of other runs.
# An optional argument narrows it to topics whose name matches that awk regex.
filter_topics() {
  awk -v prefix="$PREFIX" -v only="${1:-}" '
    function flush() { if (block != "") print block | "sort"; block = "" }
    /^ [0-9]+ topics:$/ { print " topics:"; fflush(); next }
    /^  topic "/ { flush(); keep = (index($0, "topic \"" prefix) == 3) && (only == "" || $0 ~ only); if (keep) block = $0; next }
    /^    partition / { if (keep) block = block "\001" $0; next }
    { flush(); keep = 0; print; fflush() }
    END { flush(); close("sort") }' | tr '\001' '\n'
}

sc_metadata_all() {
  echo "\$ kcat -L"
  kcat -L -b "$1" "${KCAT_OPTS[@]}" | filter_topics
}

sc_metadata_topic() {
  echo "\$ kcat -L -t ${PREFIX}three"
  kcat -L -b "$1" "${KCAT_OPTS[@]}" -t "${PREFIX}three"
}

sc_metadata_json() {
  echo "\$ kcat -L -J | jq (this run's topics, sorted)"
  kcat -L -J -b "$1" "${KCAT_OPTS[@]}" | jq -S --arg p "$PREFIX" '
    .topics |= (map(select(.topic | startswith($p))) | sort_by(.topic)
                | map(.partitions |= sort_by(.partition)))
    | .brokers |= sort_by(.id)'
}

# kcat -L -t T sends Metadata v4 with allow_auto_topic_creation=true. Apache Kafka answers the
# first request with UNKNOWN_TOPIC_OR_PARTITION and creates the topic in the background; the
# first answer is therefore compared informationally only (FINDINGS.md K1).
sc_auto_create_first_answer() {
  echo "\$ kcat -L -t ${PREFIX}auto1"
  kcat -L -b "$1" "${KCAT_OPTS[@]}" -t "${PREFIX}auto1"
}

# ... and the topic must exist with num.partitions=1 partitions once creation has settled.
sc_auto_create() {
  local t="${PREFIX}auto2" end=$((SECONDS + 60)) out
  while :; do
    out="$(kcat -L -b "$1" "${KCAT_OPTS[@]}" -t "$t" 2>&1 || true)"
    grep -q 'partition 0,' <<<"$out" && break
    if ((SECONDS >= end)); then echo "(auto-creation NOT visible within deadline)"; break; fi
    sleep 0.2
  done
  echo "\$ kcat -L -t $t (repeated until it has partitions)"
  echo "$out"
  echo "\$ kcat -L (topic auto2 only)"
  kcat -L -b "$1" "${KCAT_OPTS[@]}" | filter_topics 'auto2"'

}

sc_metadata_after_delete() {
  local t="${PREFIX}deleted" end=$((SECONDS + 60)) out
  kafka_topics "$1" --delete --topic "$t" >&2
  # Poll (bounded) until the deletion is visible in an all-topics Metadata request (a request
  # naming the topic would auto-create it again).
  while :; do
    out="$(kcat -L -b "$1" "${KCAT_OPTS[@]}" | filter_topics '(one|three|deleted)"')"
    grep -qF "\"$t\"" <<<"$out" || break
    if ((SECONDS >= end)); then echo "(deletion NOT visible within deadline)"; break; fi
    sleep 0.2
  done
  echo "\$ kcat -L (after deleting $t)"
  echo "$out"
}

scenario_dispatch "$@"

# ------------------------------------------------------------------------------------------
# Main

command -v kcat >/dev/null || apt_install kcat
command -v jq >/dev/null || apt_install jq
need_java
log "$(kcat -V 2>&1 | grep -m1 Version)"

trap cleanup_brokers EXIT
ensure_kafka
ensure_sut

# The same topics on both brokers (created with Apache Kafka's kafka-topics tool).
setup_topics() {
  local b=$1 t
  kafka_topics "$b" --create --topic "${PREFIX}three" --partitions 3 --replication-factor 1 >&2
  kafka_topics "$b" --create --topic "${PREFIX}one" --partitions 1 --replication-factor 1 \
    --config cleanup.policy=compact >&2
  kafka_topics "$b" --create --topic "${PREFIX}deleted" --partitions 2 --replication-factor 1 >&2
  # Wait (bounded) until librdkafka sees all of them with their partitions.
  local end=$((SECONDS + 60))
  for t in three one deleted; do
    until kcat -L -b "$b" "${KCAT_OPTS[@]}" -t "${PREFIX}$t" 2>/dev/null | grep -q 'partition 0,'; do
      ((SECONDS < end)) || die "topic ${PREFIX}$t not visible on $b"
      sleep 0.2
    done
  done
}
teardown_topics() {
  kafka_topics "$1" --delete --topic "${PREFIX}.*" --if-exists >&2 || true
}

log "creating topics on kafka ($KAFKA_ADDR) and $SUT_NAME ($SLUICE_ADDR)"
setup_topics "$KAFKA_ADDR"
setup_topics "$SLUICE_ADDR"

ALL=(metadata-all metadata-topic metadata-json auto-create-first-answer auto-create
  metadata-after-delete)
INFORMATIONAL=" auto-create-first-answer "
selected=("$@")
((${#selected[@]})) || selected=("${ALL[@]}")
for name in "${selected[@]}"; do
  func="sc_${name//-/_}"
  declare -F "$func" >/dev/null || die "unknown scenario $name (known: ${ALL[*]})"
  if [[ "$INFORMATIONAL" == *" $name "* ]]; then
    run_scenario_informational "$name" "$func"
  else
    run_scenario "$name" "$func"
  fi
done

teardown_topics "$KAFKA_ADDR"
teardown_topics "$SLUICE_ADDR"

if [[ -z "${COMPAT_NO_SUMMARY:-}" ]]; then
  print_summary
fi
