#!/usr/bin/env bash
# Runs a program under glibc's malloc and with the face preloaded as its whole malloc (LIB, the
# talc_face_malloc library), in turns, and holds each preloaded run to the glibc one: the same
# stdout and exit status; and a report from every process that ended by exit(), each with
# check=ok and no more lanes owned than threads alive (a lane owned beyond them is one a thread
# that ended did not give back). Prints the best wall time of each side and the share of calls
# served without the heap's lock, from the reports.
#
#   run_preloaded.sh LIB NAME [--input-lines N] -- COMMAND [ARG]...
#
# --input-lines N: N generated lines (a random key, a number) on the program's stdin, the same
# for every run. TALC_PRELOAD_RUNS (3) runs of each side; each run is bounded by
# TALC_PRELOAD_TIMEOUT seconds (20).
set -u

usage="usage: run_preloaded.sh LIB NAME [--input-lines N] -- COMMAND [ARG]..."
LIB=${1:?$usage}
NAME=${2:?$usage}
shift 2
LINES=0
if [ "${1:-}" = "--input-lines" ]; then
  LINES=$2
  shift 2
fi
[ "${1:-}" = "--" ] || { echo "$usage"; exit 2; }
shift
CMD=("$@")
RUNS=${TALC_PRELOAD_RUNS:-3}
LIMIT=${TALC_PRELOAD_TIMEOUT:-20}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/talc-preload.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
FAILS=0

fail() {
  echo "FAIL: $NAME: $*"
  FAILS=$((FAILS + 1))
}

if [ "$LINES" -gt 0 ]; then
  awk -v n="$LINES" 'BEGIN { srand(2026); for (i = 0; i < n; i++)
    printf "%08x %06d the quick brown fox %d\n", int(rand() * 4294967296), i, int(rand() * 1000) }' \
    >"$DIR/in"
else
  : >"$DIR/in"
fi

# run OUT [VAR=VALUE]...: runs the command with those variables into $DIR/OUT.{out,err}; sets RC
# and SECS, its wall time.
run() {
  local out=$1 start
  shift
  start=$EPOCHREALTIME
  timeout -k 5 "$LIMIT" env "$@" "${CMD[@]}" <"$DIR/in" >"$DIR/$out.out" 2>"$DIR/$out.err"
  RC=$?
  SECS=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
}

best() {  # best CURRENT NEW: the smaller
  awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'
}

GLIBC_BEST="" FACE_BEST=""
for i in $(seq "$RUNS"); do
  run "glibc$i"
  [ "$RC" -eq 0 ] || fail "run $i under glibc exited $RC: $(tail -5 "$DIR/glibc$i.err")"
  GLIBC_BEST=$(best "$GLIBC_BEST" "$SECS")
  run "face$i" LD_PRELOAD="$LIB" TALC_PRELOAD_REPORT="$DIR/reports$i"
  FACE_BEST=$(best "$FACE_BEST" "$SECS")
  if [ "$RC" -ne 0 ]; then
    fail "run $i under the face exited $RC (124: still running after $LIMIT s), glibc's 0:"
    tail -20 "$DIR/face$i.err"
  fi
  if ! cmp -s "$DIR/glibc1.out" "$DIR/face$i.out"; then
    fail "run $i under the face: stdout differs from glibc's:"
    diff "$DIR/glibc1.out" "$DIR/face$i.out" | head -20
  fi
  touch "$DIR/reports$i"
  [ -s "$DIR/reports$i" ] || fail "run $i under the face: no report (its exit handlers never ran)"
  LAST=$i
  [ "$FAILS" -eq 0 ] || break  # one failing run says it; the rest would only take time
done

# Every report: check=ok, lanes_owned <= threads_alive; the calls summed over every process of
# every run. The last run's reports are shown.
SUMMARY=$(awk -v last="$DIR/reports$LAST" '
  { delete v; for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
  { calls += v["calls"]; central += v["central"] }
  v["check"] != "ok" { print "BAD check failed: " $0 }
  v["lanes_owned"] + 0 > v["threads_alive"] + 0 { print "BAD more lanes owned than threads alive: " $0 }
  FILENAME == last { print "REPORT pid=" v["pid"] " calls=" v["calls"] " central=" v["central"] \
                       " lanes_owned=" v["lanes_owned"] " threads_alive=" v["threads_alive"] }
  END { printf "TOTAL %d %d\n", calls, central }' "$DIR"/reports*)
while IFS= read -r line; do
  case "$line" in
    BAD*) fail "${line#BAD }" ;;
    REPORT*) echo "  last run's report: ${line#REPORT }" ;;
  esac
done <<<"$SUMMARY"
read -r _ CALLS CENTRAL <<<"$(grep '^TOTAL' <<<"$SUMMARY")"

SHARE=$(awk -v c="$CALLS" -v l="$CENTRAL" 'BEGIN { printf "%.1f", c ? 100 * (c - l) / c : 0 }')
echo "$NAME: best of $LAST: glibc ${GLIBC_BEST} s, face ${FACE_BEST} s;" \
  "calls $CALLS, of which $CENTRAL took the heap's lock: ${SHARE}% served without it"
if [ "$FAILS" -ne 0 ]; then
  echo "$FAILS failure(s)"
  exit 1
fi
