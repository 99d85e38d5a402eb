#!/usr/bin/env bash
# Consumer groups (classic protocol): Java KafkaConsumer members, kafka-consumer-groups, kcat -G
# and franz-go's group integration tests, each against the reference Kafka and Sluice, compared.
# See README.md (scenarios) and FINDINGS.md (what differs).
#
#   bash groups/run.sh                 all CI scenarios + franz-go's CI group tests
#   bash groups/run.sh NAME...         only these scenarios (kgo-ci / kgo-nightly are scenarios too)
#   bash groups/run.sh --list          list the scenarios
#
# Environment: KGO_TEST_RECORDS (franz-go tests; default 100000 for kgo-ci, 500000 for
# kgo-nightly), KGO_SUITE_TIMEOUT (default 15m), GROUPS_TS_BASE (record timestamps, ms).
#
# Sluice must run with group.initial.rebalance.delay.ms=0 like the reference Kafka. When Sluice
# is already listening at $SLUICE_ADDR but was started without that override (lib/common.sh's
# start_sluice does not pass it), this script starts a private Sluice on port+100 with it.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SUITE=groups
source "$HERE/../lib/common.sh"
source "$HERE/../lib/kgo.sh"

JLIB="$COMPAT_DIR/java/work/lib"   # the java/ folder's Kafka 4.3.1 jars (maven_libs java/)
CLASSES="$HERE/work/classes"
PARTS="/tmp"                        # replaced per scenario by a temp dir

# gj MODE ARGS...: our Groups.java program (see its header for the modes). GJ is a plain
# command (no function) so that `"${GJ[@]}" ... &` makes $! the JVM's own pid.
GJ=(java -Xmx160m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Duser.timezone=UTC
  -Dlog4j2.configurationFile="$COMPAT_DIR/java/log4j2.properties" -cp "$JLIB/*:$CLASSES" Groups)
gj() { "${GJ[@]}" "$@"; }

# cg ARGS...: kafka-consumer-groups (ConsumerGroupCommand 4.3.1) against $BROKER; prints the
# command, the tool's stdout, its stderr lines that start with "Error" (the tool's own error
# report) and its exit status. All cg calls of a scenario share one JVM (Groups cg-server,
# started by start_cg), saving a JVM start per command; its stderr goes to ours.
CG_PID=""
start_cg() {
  coproc CGP { "${GJ[@]}" cg-server; }
  CG_PID=$CGP_PID
  # Plain descriptors: coproc ones are not available in subshells (pipelines).
  exec 7>&"${CGP[1]}" 8<&"${CGP[0]}"
}
cg() {
  [[ -n "$CG_PID" ]] || die "cg: call start_cg first"
  echo "\$ kafka-consumer-groups $*"
  local IFS=$'\t' line
  printf '%s\n' "--bootstrap-server"$'\t'"$BROKER"$'\t'"--command-config"$'\t'"$HERE/work/client.properties"$'\t'"$*" >&7
  while :; do
    if ! IFS= read -r -t 120 line <&8; then
      echo "  (no answer from kafka-consumer-groups within 120 s)"
      return 0
    fi
    if [[ $line == $'\001'END* ]]; then
      echo "  rc=${line#*END }"
      return 0
    fi
    norm_ids <<<"$line"
  done
}
stop_cg() {
  [[ -z "$CG_PID" ]] && return 0
  exec 7>&- 8<&-
  kill "$CG_PID" 2>/dev/null || true
  wait "$CG_PID" 2>/dev/null || true
  CG_PID=""
}

# norm_ids: consumer/member ids and hosts vary per run; column widths do not (same lengths).
norm_ids() {
  sed -E -e 's#/127\.0\.0\.1#/HOST#g'
}

# only_this_run: a `cg --list` transcript reduced to this run's groups (sorted; the broker may
# hold groups of other runs, and its order is its own).
only_this_run() {
  local all
  all="$(cat)"
  grep -E '^\$' <<<"$all" || true
  grep -E "^(GROUP |g-$RUN_ID-)" <<<"$all" | awk '{$1=$1; print}' | LC_ALL=C sort || true
  grep -E '^  rc=' <<<"$all" || true
}

topic() { echo "c-$RUN_ID-$1"; }
group() { echo "g-$RUN_ID-$1"; }

# ------------------------------------------------------------------------------------------
# Member processes (one JVM each, so one can be SIGKILLed). Logs in $MDIR/<log>.log.
declare -A MPID=()   # log name -> pid
MDIR=""

start_member() { # LOGNAME NAME EXTRA_PROPS...
  local logname=$1 name=$2
  shift 2
  "${GJ[@]}" member "$BROKER" "$T" "$G" "$name" "$@" >"$MDIR/$logname.log" 2>"$MDIR/$logname.err" &
  MPID[$logname]=$!
}

# stop_member LOGNAME [TERM|KILL]: signal and wait (bounded) for the JVM to exit.
stop_member() {
  local logname=$1 sig=${2:-TERM} pid end
  pid=${MPID[$logname]}
  kill "-$sig" "$pid" 2>/dev/null || true
  end=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "MPID[$logname]"
}

cleanup_members() {
  stop_cg
  local k
  for k in "${!MPID[@]}"; do kill -KILL "${MPID[$k]}" 2>/dev/null || true; done
  MPID=()
  [[ -n "$MDIR" && -d "$MDIR" ]] && rm -rf "$MDIR"
  return 0
}

# count REGEX LOGNAME: number of matching lines in a member's log.
count() { grep -c "$1" "$MDIR/$2.log" || true; }

# last_owned LOGNAME: "gen partitions" of the member's latest assignment (or nothing).
last_owned() { awk '$1=="OWNED" { g=$3; p=$4 } END { if (g!="") print substr(g,5), p }' "$MDIR/$1.log"; }

# await_stable NPARTS LOGNAME...: poll until every listed member's latest assignment has the same
# generation and together they own partitions 0..NPARTS-1 exactly once. Prints one line:
#   stable gen=G NAME=count ...        (or "NOT stable within deadline: ...")
# With AWAIT_ANY_GEN=1 (KIP-848 groups, and groups whose first generation depends on how far
# apart their members start: members' epochs differ, and the one a client reports in
# onPartitionsAssigned lags its reconciliation) generations are not compared nor printed, and
# the members must also be balanced (owned counts differ by at most one): a KIP-848 group
# converges over several heartbeats, and only its end state is the same on every broker.
await_stable() {
  local nparts=$1
  shift
  local end=$((SECONDS + 120)) l gen g p ok all desc
  while :; do
    ok=1 gen="" all="" desc=""
    for l in "$@"; do
      read -r g p <<<"$(last_owned "$l")" || true
      if [[ -z "${g:-}" ]]; then ok=0; break; fi
      if [[ "${AWAIT_ANY_GEN:-0}" != 1 && -n "$gen" && "$g" != "$gen" ]]; then ok=0; break; fi
      gen=$g
      all+="${p:+$p,}"
      desc+=" ${l%%[0-9]*}=$(awk -F, '{print ($0=="" ? 0 : NF)}' <<<"${p:-}")"
    done
    if ((ok)) && [[ "${AWAIT_ANY_GEN:-0}" == 1 ]]; then
      local counts
      counts="$(tr ' ' '\n' <<<"$desc" | grep '=' | cut -d= -f2 | sort -n)"
      (($(tail -1 <<<"$counts") - $(head -1 <<<"$counts") <= 1)) || ok=0
    fi
    if ((ok)) && [[ "$(tr ',' '\n' <<<"$all" | grep -v '^$' | sort -n | paste -sd,)" == "$(seq -s, 0 $((nparts - 1)))" ]]; then
      if [[ "${AWAIT_ANY_GEN:-0}" == 1 ]]; then echo "stable$desc"; else echo "stable gen=$gen$desc"; fi
      return 0
    fi
    if ((SECONDS >= end)); then
      echo "NOT stable within deadline:$(for l in "$@"; do echo -n " $l=[$(last_owned "$l")]"; done)"
      return 0
    fi
    sleep 0.2 # poll interval
  done
}

# await_consumed TOTAL: poll until the members' logs hold TOTAL distinct record values; prints
# the totals (distinct, duplicates across all members, commit failures).
await_consumed() {
  local total=$1 end=$((SECONDS + 120)) uniq
  while :; do
    uniq=$(cat "$MDIR"/*.log | awk '$1=="R" { print $5 }' | sort -u | wc -l)
    ((uniq >= total || SECONDS >= end)) && break
    sleep 0.2 # poll interval
  done
  local recs dups fails
  recs=$(cat "$MDIR"/*.log | awk '$1=="R"' | wc -l)
  dups=$((recs - uniq))
  fails=$(cat "$MDIR"/*.log | grep -c '^COMMITFAIL' || true)
  # Duplicates and failed commits depend on where a rebalance falls relative to each member's
  # commits (a commit during CompletingRebalance gets REBALANCE_IN_PROGRESS on both brokers and
  # the next owner re-reads from the last committed offset: at-least-once), so they are logged,
  # not compared (FINDINGS G6). Loss is compared: every produced value must be consumed.
  echo "consumed: produced=$total distinct=$uniq"
  echo "consumed: duplicates=$dups commit-failures=$fails (informational)" >&2
  if ((dups > 0)); then
    cat "$MDIR"/*.log | awk '$1=="R" { print $5 }' | sort | uniq -d | head -5 | sed 's/^/  duplicate: /' >&2
  fi
}

# ------------------------------------------------------------------------------------------
# Scenario 1: a Java consumer group through its life: 3 members join one by one, the static
# member restarts (no rebalance), a member leaves cleanly while records are in flight, a
# member is SIGKILLed (session timeout), the survivor gets everything.
sc_member_lifecycle() {
  BROKER=$1
  local strat=$2 assignor
  case "$strat" in
    range) assignor=org.apache.kafka.clients.consumer.RangeAssignor ;;
    cooperative) assignor=org.apache.kafka.clients.consumer.CooperativeStickyAssignor ;;
    consumer) assignor="" ;;
  esac
  T="$(topic "life-$strat")"
  G="$(group "life-$strat")"
  MDIR="$(mktemp -d)"
  trap cleanup_members EXIT
  trap 'exit 143' TERM
  start_cg
  local common=(partition.assignment.strategy=$assignor max.poll.records=50
    heartbeat.interval.ms=500 session.timeout.ms=6000)
  local static=(partition.assignment.strategy=$assignor max.poll.records=50
    heartbeat.interval.ms=500 session.timeout.ms=30000 group.instance.id=static-c)
  if [[ $strat == consumer ]]; then
    AWAIT_ANY_GEN=1
    # KIP-848: assignment, heartbeat interval and session timeout are the broker's
    # (group.consumer.*: 5 s, and 10 s as the harness starts both brokers — Kafka's default
    # is 45 s, COMPAT_BROKER_PROPS); the client may not set them.
    common=(group.protocol=consumer max.poll.records=50)
    static=(group.protocol=consumer max.poll.records=50 group.instance.id=static-c)
  fi

  echo "# topic with 6 partitions, 600 records (phase 1)"
  gj create-topic "$BROKER" "$T" 6
  gj produce "$BROKER" "$T" 6 600 p1
  echo "# member A joins"
  start_member A A "${common[@]}"
  await_stable 6 A
  echo "# member B joins"
  start_member B B "${common[@]}"
  await_stable 6 A B
  echo "# static member C (group.instance.id) joins"
  start_member C1 C "${static[@]}"
  await_stable 6 A B C1
  await_consumed 600

  echo "# static member C restarts (close without LeaveGroup, rejoin with the same instance id)"
  local before_a before_b c_before
  c_before="$(last_owned C1)"
  stop_member C1 TERM
  echo "C closed: $(count '^CLOSED' C1)"
  before_a=$(count '^OWNED' A)
  before_b=$(count '^OWNED' B)
  start_member C2 C "${static[@]}"
  await_stable 6 A B C2
  if [[ "${AWAIT_ANY_GEN:-0}" == 1 ]]; then
    echo "C assignment unchanged: $([[ "$(last_owned C2 | cut -d' ' -f2)" == "$(cut -d' ' -f2 <<<"$c_before")" ]] && echo yes || echo "no ($c_before -> $(last_owned C2))")"
  else
    echo "C assignment and generation unchanged: $([[ "$(last_owned C2)" == "$c_before" ]] && echo yes || echo "no ($c_before -> $(last_owned C2))")"
  fi
  echo "rebalances seen by A and B during the restart: $(($(count '^OWNED' A) - before_a + $(count '^OWNED' B) - before_b))"

  echo "# 3000 more records (phase 2); member A leaves cleanly right away (records in flight)"
  gj produce "$BROKER" "$T" 6 3000 p2
  stop_member A TERM
  echo "A closed: $(count '^CLOSED' A)"
  await_stable 6 B C2
  await_consumed 3600

  echo "# member B is killed (SIGKILL, no LeaveGroup), then 600 more records (phase 3)"
  stop_member B KILL
  gj produce "$BROKER" "$T" 6 600 p3
  await_stable 6 C2
  await_consumed 4200
  echo "# group as the tool sees it"
  cg --describe --group "$G" --state | awk '{$1=$1; print}'
  # The member id's prefix is checked by static-member-id (Sluice differs, FINDINGS G1).
  cg --describe --group "$G" --members | awk -v g="$G" '$1 == g && length($2) == 22 { $2 = "MEMBER-ID" } {$1=$1; print}' |
    sed -E 's/(static-c|C)-[0-9a-f-]{36}/MEMBER-UUID/'
  cg --describe --group "$G" --offsets | awk -v g="$G" '$1 == g && length($7) == 22 { $7 = "MEMBER-ID" } {$1=$1; print}' |
    sed -E 's/(static-c|C)-[0-9a-f-]{36}/MEMBER-UUID/'
  stop_member C2 TERM
  for l in A B C1 C2; do
    grep -E '^(COMMITFAIL|LOST)' "$MDIR/$l.log" | sed "s/^/  $l: /" >&2 || true
  done
}
sc_member_lifecycle_range() { sc_member_lifecycle "$1" range; }
sc_member_lifecycle_consumer() { sc_member_lifecycle "$1" consumer; }
sc_member_lifecycle_cooperative() { sc_member_lifecycle "$1" cooperative; }

# Online migration between the protocols (group.consumer.migration.policy, bidirectional by
# default on both brokers): classic member A; KIP-848 member B joins the same group (the classic
# group becomes a consumer group); classic member C joins the consumer group; B leaves, leaving
# only classic members (the group becomes classic again). Every produced record is consumed.
sc_protocol_migration() {
  BROKER=$1
  T="$(topic migration)"
  G="$(group migration)"
  MDIR="$(mktemp -d)"
  trap cleanup_members EXIT
  trap 'exit 143' TERM
  start_cg
  AWAIT_ANY_GEN=1
  local classic=(partition.assignment.strategy=org.apache.kafka.clients.consumer.RangeAssignor
    max.poll.records=50 heartbeat.interval.ms=500 session.timeout.ms=6000)
  local kip848=(group.protocol=consumer max.poll.records=50)
  echo "# topic with 6 partitions, 600 records"
  gj create-topic "$BROKER" "$T" 6
  gj produce "$BROKER" "$T" 6 600 p1
  echo "# classic member A joins"
  start_member A A "${classic[@]}"
  await_stable 6 A
  await_consumed 600
  echo "# KIP-848 member B joins the classic group"
  start_member B B "${kip848[@]}"
  await_stable 6 A B
  cg --list --type | only_this_run
  echo "# classic member C joins the consumer group; 600 more records"
  start_member C C "${classic[@]}"
  await_stable 6 A B C
  gj produce "$BROKER" "$T" 6 600 p2
  await_consumed 1200
  echo "# B leaves: only classic members remain"
  stop_member B TERM
  echo "B closed: $(count '^CLOSED' B)"
  await_stable 6 A C
  cg --list --type | only_this_run
  gj produce "$BROKER" "$T" 6 600 p3
  await_consumed 1800
  stop_member A TERM
  stop_member C TERM
  for l in A B C; do
    grep -E '^(COMMITFAIL|LOST)' "$MDIR/$l.log" | sed "s/^/  $l: /" >&2 || true
  done
}

# A static member's id: Kafka makes it "<group.instance.id>-<uuid>" (a dynamic member's is
# "<client.id>-<uuid>").
sc_static_member_id() {
  BROKER=$1
  T="$(topic smid)"
  G="$(group smid)"
  MDIR="$(mktemp -d)"
  trap cleanup_members EXIT
  trap 'exit 143' TERM
  start_cg
  gj create-topic "$BROKER" "$T" 2
  start_member S client-s group.instance.id=instance-s session.timeout.ms=10000
  start_member D client-d session.timeout.ms=10000
  # Whether both join the first generation depends on how far apart the two JVMs start (it
  # was 2 on Sluice once in CI); the member ids are what this scenario checks.
  AWAIT_ANY_GEN=1 await_stable 2 S D
  cg --describe --group "$G" --members | awk '{$1=$1; print}' | sort
  stop_member S TERM
  stop_member D TERM
}

# ------------------------------------------------------------------------------------------
# Scenario 2: kafka-consumer-groups on an inactive and on an active group.
sc_consumer_groups_tool() {
  BROKER=$1
  T="$(topic cgt)"
  local gi ga gn
  gi="$(group cgt)"
  ga="$(group cgt-active)"
  G=$ga  # the group start_member joins
  gn="$(group cgt-new)"
  MDIR="$(mktemp -d)"
  trap cleanup_members EXIT
  trap 'exit 143' TERM
  start_cg
  # 30 records, record i in partition i % 3 with CreateTime BASE + i minutes; BASE is a few
  # hours ago (older records could be removed by the broker's 7-day time retention).
  local at16 later
  at16="$(date -u -d "@$((GROUPS_TS_BASE / 1000 + 16 * 60))" +%Y-%m-%dT%H:%M:%S.000)"
  later="$(date -u -d "@$((GROUPS_TS_BASE / 1000 + 86400))" +%Y-%m-%dT%H:%M:%S.000)"
  gj create-topic "$BROKER" "$T" 3
  gj produce "$BROKER" "$T" 3 30 cgt "$GROUPS_TS_BASE" 60000
  gj consume-all "$BROKER" "$T" "$gi" 30
  echo "# inactive group"
  cg --list | only_this_run | awk '!/^g-/ || /-cgt/'
  cg --describe --group "$gi"
  cg --describe --group "$gi" --members
  cg --describe --group "$gi" --members --verbose
  cg --describe --group "$gi" --state
  cg --describe --group "$gi" --state --verbose
  cg --describe --group "$(group cgt-missing)"
  echo "# reset offsets"
  cg --reset-offsets --group "$gi" --topic "$T" --to-earliest --dry-run
  cg --describe --group "$gi" --offsets
  cg --reset-offsets --group "$gi" --topic "$T" --to-earliest --execute
  cg --reset-offsets --group "$gi" --topic "$T" --to-datetime "$at16" --execute
  cg --reset-offsets --group "$gi" --topic "$T" --shift-by 2 --execute
  cg --reset-offsets --group "$gi" --topic "$T" --shift-by -3 --execute
  cg --reset-offsets --group "$gi" --topic "$T:0,2" --to-offset 4 --execute
  cg --reset-offsets --group "$gi" --topic "$T" --to-datetime "$later" --execute
  cg --reset-offsets --group "$gi" --topic "$T" --to-latest --execute
  cg --reset-offsets --group "$gi" --topic "$T" --by-duration PT0S --execute
  cg --describe --group "$gi" --offsets
  cg --reset-offsets --group "$gn" --topic "$T" --to-earliest --execute
  cg --describe --group "$gn" --state
  echo "# active group (one member)"
  start_member active active session.timeout.ms=10000 heartbeat.interval.ms=500
  await_stable 3 active
  await_consumed 30
  cg --list | only_this_run | awk '!/^g-/ || /-cgt/'
  cg --list --state | only_this_run | awk '!/^g-/ || /-cgt/'
  cg --describe --group "$ga"
  cg --describe --group "$ga" --members
  cg --describe --group "$ga" --members --verbose
  cg --describe --group "$ga" --state
  cg --reset-offsets --group "$ga" --topic "$T" --to-earliest --execute
  cg --delete --group "$ga"
  cg --delete-offsets --group "$ga" --topic "$T"
  stop_member active TERM
  echo "# after the member left"
  cg --describe --group "$ga" --state
  cg --delete-offsets --group "$ga" --topic "$T:1"
  cg --describe --group "$ga" --offsets
  cg --delete-offsets --group "$ga" --topic "$(topic cgt-missing)"
  cg --delete-offsets --group "$(group cgt-missing)" --topic "$T"
  echo "# delete"
  cg --delete --group "$gi" --group "$gn"
  cg --delete --group "$gi"
  cg --delete --group "$ga"
  cg --describe --group "$gi"
  cg --list | only_this_run | awk '!/^g-/ || /-cgt/'
}

# Scenario 2b: kafka-consumer-groups on a KIP-848 (group.protocol=consumer) group.
sc_consumer_groups_tool_848() {
  BROKER=$1
  T="$(topic cgt848)"
  G="$(group cgt848)"
  MDIR="$(mktemp -d)"
  trap cleanup_members EXIT
  trap 'exit 143' TERM
  start_cg
  gj create-topic "$BROKER" "$T" 3
  gj produce "$BROKER" "$T" 3 30 c848 "$GROUPS_TS_BASE" 60000
  start_member M M group.protocol=consumer
  AWAIT_ANY_GEN=1 await_stable 3 M
  await_consumed 30
  local members=(awk -v g="$G" '$1 == g && length($2) == 22 { $2 = "MEMBER-ID" } {$1=$1; print}')
  # Only this scenario's group: another scenario's group may still hold a static member
  # within its session, depending on timing (FINDINGS G5).
  cg --list --type consumer | only_this_run | awk '!/^g-/ || /-cgt848/'
  cg --list --state | only_this_run | awk '!/^g-/ || /-cgt848/'
  cg --describe --group "$G" --members | "${members[@]}"
  cg --describe --group "$G" --state | awk '{$1=$1; print}'
  cg --describe --group "$G" --offsets | awk -v g="$G" '$1 == g && length($7) == 22 { $7 = "MEMBER-ID" } {$1=$1; print}'
  cg --delete --group "$G"
  cg --reset-offsets --group "$G" --topic "$T" --to-earliest --execute
  cg --delete-offsets --group "$G" --topic "$T"
  stop_member M TERM
  echo "# after the member left"
  cg --describe --group "$G" --state | awk '{$1=$1; print}'
  cg --reset-offsets --group "$G" --topic "$T" --to-offset 5 --execute
  cg --describe --group "$G" --offsets | awk '{$1=$1; print}'
  cg --delete-offsets --group "$G" --topic "$T:1"
  cg --delete --group "$G"
  cg --list --type consumer | only_this_run | awk '!/^g-/ || /-cgt848/'
}

# ------------------------------------------------------------------------------------------
# Scenario 3: kcat -G (librdkafka balanced consumer), two members reading a topic to its end.
# kcat -e is meant to exit once every assigned partition reached its end, but kcat counts EOFs
# across rebalances without resetting the count (kcat.c: eof_cnt is never reset; the exit test
# is eof_cnt == assignment->cnt): a member that saw the end of some partitions before the second
# member joined never exits (FINDINGS G10). So the scenario waits until the group consumed every
# record, gives the members a bounded time to exit on their own, and otherwise stops them with
# SIGTERM (kcat then commits and leaves the group as on a normal exit); only the outcome — all
# records consumed, committed offsets, the group's end state — is compared.
sc_kcat_balanced() {
  BROKER=$1
  local strategy=${2:-range,roundrobin}
  T="$(topic "kcatg-${strategy%%,*}")"
  G="$(group "kcatg-${strategy%%,*}")"
  MDIR="$(mktemp -d)"
  trap cleanup_members EXIT
  trap 'exit 143' TERM
  start_cg
  gj create-topic "$BROKER" "$T" 4
  gj produce "$BROKER" "$T" 4 400 kc
  local i
  for i in 1 2; do
    kcat -b "$BROKER" -G "$G" -q -u -e -f 'R kcat%p %p %o %s\n' -X auto.offset.reset=earliest \
      -X socket.timeout.ms=10000 -X session.timeout.ms=10000 -X heartbeat.interval.ms=500 \
      -X partition.assignment.strategy="$strategy" \
      -X client.id="kcat-$i" "$T" >"$MDIR/kcat$i.log" 2>"$MDIR/kcat$i.err" &
    MPID[kcat$i]=$!
  done
  await_consumed 400
  local end=$((SECONDS + 30)) k
  while ((SECONDS < end)); do
    for k in "${!MPID[@]}"; do kill -0 "${MPID[$k]}" 2>/dev/null || { wait "${MPID[$k]}" 2>/dev/null || true; unset "MPID[$k]"; }; done
    ((${#MPID[@]} == 0)) && break
    sleep 0.2 # poll interval
  done
  for k in "${!MPID[@]}"; do
    echo "$k still running 30 s after the group consumed every record (kcat's EOF count, FINDINGS G10): SIGTERM" >&2
    kill -TERM "${MPID[$k]}" 2>/dev/null || true
    wait "${MPID[$k]}" 2>/dev/null || true
    unset "MPID[$k]"
  done
  echo "kcat members stopped"
  cg --describe --group "$G" | awk '{$1=$1; print}'
  cg --describe --group "$G" --state | awk '{$1=$1; print}'
  cat "$MDIR"/kcat*.err >&2
}
sc_kcat_balanced_cooperative() { sc_kcat_balanced "$1" cooperative-sticky; }

# ------------------------------------------------------------------------------------------
# Scenario 5 (report only): time from a third member's subscribe() to a stable 3-member group.
# stdout says only whether it became stable; the TIMING lines go to stderr (*.err) and are
# collected into work/out/join-timing.txt.
sc_join_timing() {
  BROKER=$1
  local strat=$2 hb=$3 assignor
  case "$strat" in
    range) assignor=org.apache.kafka.clients.consumer.RangeAssignor ;;
    cooperative) assignor=org.apache.kafka.clients.consumer.CooperativeStickyAssignor ;;
  esac
  T="$(topic "jt-$strat-$hb")"
  gj create-topic "$BROKER" "$T" 6
  gj join-timing "$BROKER" "$T" "$(group "jt-$strat-$hb")" 3 \
    partition.assignment.strategy=$assignor heartbeat.interval.ms="$hb" session.timeout.ms=10000
}
sc_join_timing_range() { sc_join_timing "$1" range 500; }
sc_join_timing_cooperative() { sc_join_timing "$1" cooperative 500; }
sc_join_timing_range_hb3000() { sc_join_timing "$1" range 3000; }
sc_join_timing_cooperative_hb3000() { sc_join_timing "$1" cooperative 3000; }

# ------------------------------------------------------------------------------------------
# Scenario 6: a group.protocol=consumer (KIP-848) consumer reading a topic to its end.
sc_consumer_protocol() {
  BROKER=$1
  T="$(topic kip848)"
  gj create-topic "$BROKER" "$T" 2
  gj produce "$BROKER" "$T" 2 10 k848
  gj consumer-protocol "$BROKER" "$T" "$(group kip848)" 10
}

# ------------------------------------------------------------------------------------------
# Scenario 4: franz-go's own kgo integration tests that use consumer groups.
KGO_CI_REGEX='^(TestGroupETL|TestGroupSimple|TestIssue523|Test848RegexBrokerResolves|TestUnknownGroupOffsetFetchPinned|TestIssue1034)$'
KGO_NIGHTLY_REGEX='^(TestGroupETL|TestGroupSimple|TestIssue523|TestTxnEtl|Test848RegexBrokerResolves|TestUnknownGroupOffsetFetchPinned|TestIssue1034)$'

scenario_dispatch "$@"

# ------------------------------------------------------------------------------------------
# Main

ALL=(member-lifecycle-range member-lifecycle-consumer static-member-id consumer-groups-tool
  consumer-groups-tool-848 kcat-balanced consumer-protocol protocol-migration kgo-ci)
# nightly.sh: the cooperative variants (kgo-ci runs cooperative balancers in CI), the join
# timings (reports, never compared) and the long kgo run.
EXTRA=(member-lifecycle-cooperative kcat-balanced-cooperative join-timing-range
  join-timing-cooperative join-timing-range-hb3000
  join-timing-cooperative-hb3000 kgo-nightly)
INFORMATIONAL=""
if [[ "${1:-}" == --list ]]; then printf '%s\n' "${ALL[@]}" "${EXTRA[@]}"; exit 0; fi

need_java
maven_libs "$COMPAT_DIR/java" >/dev/null
command -v kcat >/dev/null || apt_install kcat
mkdir -p "$HERE/work"
printf 'request.timeout.ms=10000\ndefault.api.timeout.ms=30000\n' >"$HERE/work/client.properties"
compile_java "$HERE/src" "$CLASSES" "$JLIB"

# The system under test with group.initial.rebalance.delay.ms=0 (see the header).
_PRIVATE_SLUICE_PID=""
_PRIVATE_SLUICE_DATA=""
start_private_sluice() { # ADDR
  local host port bin
  host="$(host_of "$1")"
  port="$(port_of "$1")"
  bin="$(sluice_bin)"
  local extra=() kv
  for kv in $COMPAT_BROKER_PROPS; do extra+=(--override "$kv"); done
  _PRIVATE_SLUICE_DATA="$(mktemp -d "${TMPDIR:-/tmp}/sluice-groups.XXXXXX")"
  mkdir -p "$COMPAT_DIR/work/logs"
  log "starting sluice on $1 with group.initial.rebalance.delay.ms=0 (log work/logs/sluice-groups.log)"
  "$bin" --override "listeners=PLAINTEXT://$host:$port" \
    --override "advertised.listeners=PLAINTEXT://$host:$port" \
    --override "log.dirs=$_PRIVATE_SLUICE_DATA" --override node.id=1 \
    --override auto.create.topics.enable=true --override num.partitions=1 \
    --override group.initial.rebalance.delay.ms=0 "${extra[@]}" \
    >"$COMPAT_DIR/work/logs/sluice-groups.log" 2>&1 &
  _PRIVATE_SLUICE_PID=$!
  wait_for_port "$host" "$port" 30 "$_PRIVATE_SLUICE_PID" || die "sluice did not start"
}
stop_private_sluice() {
  [[ -z "$_PRIVATE_SLUICE_PID" ]] && return 0
  kill -TERM "$_PRIVATE_SLUICE_PID" 2>/dev/null || true
  local end=$((SECONDS + 20))
  while kill -0 "$_PRIVATE_SLUICE_PID" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
  kill -KILL "$_PRIVATE_SLUICE_PID" 2>/dev/null || true
  wait "$_PRIVATE_SLUICE_PID" 2>/dev/null || true
  rm -rf "$_PRIVATE_SLUICE_DATA"
  _PRIVATE_SLUICE_PID=""
}
# has_delay_override ADDR: true if the process listening at ADDR was started with the override
# (or cannot be inspected: then it is used as is).
has_delay_override() {
  local pid
  pid="$(ss -ltnpH "sport = :$(port_of "$1")" 2>/dev/null | grep -oE 'pid=[0-9]+' | head -1 | cut -d= -f2)" || true
  [[ -z "$pid" || ! -r "/proc/$pid/cmdline" ]] && return 0
  grep -qv sluice <(tr '\0' '\n' <"/proc/$pid/cmdline" | head -1) && return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'group.initial.rebalance.delay.ms=0'
}
ensure_groups_sut() {
  if [[ "${COMPAT_SELF_CHECK:-0}" == 1 ]]; then ensure_sut; return; fi
  if ! port_open "$(host_of "$SLUICE_ADDR")" "$(port_of "$SLUICE_ADDR")"; then
    start_private_sluice "$SLUICE_ADDR"
    return
  fi
  has_delay_override "$SLUICE_ADDR" && { log "sluice already listening at $SLUICE_ADDR"; return; }
  local alt
  alt="$(host_of "$SLUICE_ADDR"):$(($(port_of "$SLUICE_ADDR") + 100))"
  log "sluice at $SLUICE_ADDR runs without group.initial.rebalance.delay.ms=0; using $alt"
  SLUICE_ADDR=$alt
  export SLUICE_ADDR
  if port_open "$(host_of "$alt")" "$(port_of "$alt")"; then
    has_delay_override "$alt" || die "$alt is in use by a sluice without the override"
    return
  fi
  start_private_sluice "$alt"
}

trap 'stop_private_sluice; cleanup_brokers' EXIT
: >"$OUT_DIR/join-timing.txt"
# Record timestamps of consumer-groups-tool: the same for both brokers (whole minute, 3 h ago).
GROUPS_TS_BASE="${GROUPS_TS_BASE:-$((($(date +%s) - 3 * 3600) / 60 * 60 * 1000))}"
export GROUPS_TS_BASE
ensure_kafka
ensure_groups_sut

selected=("$@")
((${#selected[@]})) || selected=("${ALL[@]}")
for name in "${selected[@]}"; do
  case "$name" in
    kgo-ci) kgo_suite kgo-ci "$KGO_CI_REGEX" 100000; continue ;;
    kgo-nightly) kgo_suite kgo-nightly "$KGO_NIGHTLY_REGEX" 500000; continue ;;
  esac
  func="sc_${name//-/_}"
  declare -F "$func" >/dev/null || die "unknown scenario $name (known: ${ALL[*]} ${EXTRA[*]})"
  if [[ "$INFORMATIONAL" == *" $name "* ]]; then
    run_scenario_informational "$name" "$func"
  else
    run_scenario "$name" "$func"
  fi
  if [[ $name == join-timing-* ]]; then
    for side in kafka sut; do
      grep -h '^TIMING summary' "$OUT_DIR/$name.$side.err" 2>/dev/null |
        sed "s/^TIMING summary/$name $([[ $side == kafka ]] && echo kafka || echo "$SUT_NAME"):/"
    done | tee -a "$OUT_DIR/join-timing.txt" >&2
  fi
done

if [[ -z "${COMPAT_NO_SUMMARY:-}" ]]; then
  print_summary
fi
