#!/usr/bin/env bash
# End-to-end test of the `talc` command-line tool: every command's exit codes and output, the
# --json output parsed back, and `check` on damaged heap files (bytes flipped at random
# positions, truncated, header zeroed), which must answer 0 or 1 and never crash or hang.
# `info` and `check` must leave every byte of a heap file as it was (one left mid-operation
# too) and need only read permission; `create --mode` sets exactly the bits asked for.
#
# With a third argument, the program that names a block and an array in a heap file
# (programs/names_fixture.c), `info` must list both, and a damaged directory must be refused.
#
#   tool_test.sh PATH/TO/talc [python3 [PATH/TO/names_fixture]]
set -u

TALC=${1:?usage: tool_test.sh PATH/TO/talc [python3 [PATH/TO/names_fixture]]}
PY=${2:-python3}
NAMES_FIXTURE=${3:-}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/talc-tool-test.XXXXXX")
SHM="talc-tool-test-$$"
FAILS=0

cleanup() {
  "$TALC" rm "shm:$SHM" >/dev/null 2>&1
  "$TALC" rm "shm:$SHM-b" >/dev/null 2>&1
  rm -rf "$DIR"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  FAILS=$((FAILS + 1))
}

# expect RC DESCRIPTION -- COMMAND...: runs COMMAND (bounded by `timeout`), keeps its stdout in
# $OUT and stderr in $ERR, and checks its exit code.
expect() {
  local want=$1 what=$2
  shift 3
  timeout 60 "$@" >"$DIR/out" 2>"$DIR/err"
  local rc=$?
  OUT=$(cat "$DIR/out")
  ERR=$(cat "$DIR/err")
  if [ "$rc" -ne "$want" ]; then
    fail "$what: exit $rc, expected $want"
    echo "  command: $*"
    echo "  stdout: $OUT" | head -20
    echo "  stderr: $ERR" | head -20
  fi
}

contains() {  # contains HAYSTACK NEEDLE DESCRIPTION
  case "$1" in
    *"$2"*) ;;
    *) fail "$3: '$2' not in: $1" ;;
  esac
}

# json_get EXPRESSION: evaluates a Python expression over the JSON in $OUT (bound to j).
json_get() {
  printf '%s' "$OUT" | "$PY" -c 'import json,sys; j=json.load(sys.stdin); print('"$1"')'
}

json_true() {  # json_true EXPRESSION DESCRIPTION
  local v
  v=$(json_get "$1" 2>&1) || { fail "$2: output is not JSON: $v"; return; }
  [ "$v" = "True" ] || fail "$2: $1 is $v"
}

# ---- usage -----------------------------------------------------------------------------------
expect 2 "no command" -- "$TALC"
expect 2 "unknown command" -- "$TALC" frobnicate
expect 0 "--help" -- "$TALC" --help
contains "$OUT" "stress" "--help lists the commands"
for c in create info check repair rm stress; do
  expect 0 "$c --help" -- "$TALC" "$c" --help
  contains "$OUT" "REGION" "$c --help"
done
expect 2 "create without a size" -- "$TALC" create "file:$DIR/a.heap"
expect 2 "region without a kind" -- "$TALC" create "$DIR/a.heap" --size 1M
contains "$ERR" "talc: region" "region without a kind: message"
expect 2 "empty shm name" -- "$TALC" info "shm:"
expect 2 "shm name with a slash" -- "$TALC" info "shm:a/b"
expect 2 "size garbage" -- "$TALC" create "file:$DIR/a.heap" --size 12Q
contains "$ERR" "talc: size '12Q'" "size garbage: message"
expect 2 "size not a number" -- "$TALC" create "file:$DIR/a.heap" --size M
expect 2 "size zero" -- "$TALC" create "file:$DIR/a.heap" --size 0
expect 2 "size overflow" -- "$TALC" create "file:$DIR/a.heap" --size 99999999999999999999
expect 2 "size too small for a heap" -- "$TALC" create "file:$DIR/a.heap" --size 100
[ -e "$DIR/a.heap" ] && fail "a refused create left a file behind"
expect 2 "stress with no processes" -- "$TALC" stress "shm:$SHM" --procs 0
expect 2 "stress with a bad time" -- "$TALC" stress "shm:$SHM" --seconds x

# ---- create ----------------------------------------------------------------------------------
expect 0 "create file" -- "$TALC" create "file:$DIR/a.heap" --size 1M
contains "$OUT" "created file:$DIR/a.heap" "create file: output"
[ "$(stat -c %s "$DIR/a.heap")" -eq 1048576 ] || fail "create file: size is not 1 MiB"
expect 1 "create an existing file" -- "$TALC" create "file:$DIR/a.heap" --size 1M
contains "$ERR" "talc: file:$DIR/a.heap already exists" "create an existing file: message"
expect 0 "create shm" -- "$TALC" create "shm:$SHM" --size 64M
contains "$OUT" "created shm:/$SHM" "create shm: the name gets its slash"
expect 1 "create an existing shm" -- "$TALC" create "shm:/$SHM" --size 64M
contains "$ERR" "already exists" "create an existing shm: message"
expect 1 "create in a missing directory" -- "$TALC" create "file:$DIR/no/such/dir.heap" --size 1M
# --mode: exactly these bits, whatever the umask.
expect 0 "create --mode under umask 077" -- sh -c 'umask 077 && exec "$@"' sh \
  "$TALC" create "file:$DIR/m.heap" --size 1M --mode 0660
[ "$(stat -c %a "$DIR/m.heap")" = 660 ] || fail "create --mode 0660: mode is $(stat -c %a "$DIR/m.heap")"
[ "$(stat -c %a "$DIR/a.heap")" = 600 ] || fail "create: default mode is $(stat -c %a "$DIR/a.heap")"
for bad in 999 01777 rw -1 ""; do
  expect 2 "create --mode '$bad'" -- "$TALC" create "file:$DIR/bad-mode.heap" --size 1M --mode "$bad"
  contains "$ERR" "talc: mode '$bad'" "create --mode '$bad': message"
done
[ -e "$DIR/bad-mode.heap" ] && fail "a create with a bad mode left a file behind"

# ---- info on a fresh heap --------------------------------------------------------------------
expect 0 "info" -- "$TALC" info "file:$DIR/a.heap"
for key in "format version" "fingerprint" "LinearStages=" "BytesPerLinear=" "LogDivs=" \
  "region size     1048576 bytes now" "init state      initialised" "capacity" "fragmentation   0.0000" \
  "journal         0 words" "free chunks by bin"; do
  contains "$OUT" "$key" "info text"
done
expect 0 "info --json" -- "$TALC" info "file:$DIR/a.heap" --json
json_true 'j["format_version"] == 5 and j["region_size"] == 1048576' "info --json sizes"
json_true 'j["live_chunks"] == 0 and j["free_chunks"] == 1 and j["fragmentation"] == 0' \
  "info --json on a fresh heap"
json_true 'j["largest_free"] == j["free_bytes"] == j["capacity"] - j["lane_table_bytes"] - j["page_table_bytes"]' \
  "info --json free space"
json_true 'j["page_bytes"] > 0 and j["pages"] == 0' "info --json: pages, none made yet"
json_true 'j["bin_config"]["bins"] > 0 and j["init_state"] == "initialised"' "info --json config"
json_true 'len(j["free_bins"]) == 1 and j["free_bins"][0]["count"] == 1' "info --json bins"
json_true 'j["journal_words"] == 0 and j["recoveries"] == 0 and j["rollbacks"] == 0' \
  "info --json counters"
json_true 'j["fingerprint"].startswith("0x")' "info --json fingerprint"
json_true 'j["max_size"] == j["current_size"] == 1048576' "info --json: no --max, no growth"
json_true 'j["stats"]["live_allocations"] == 0 and j["stats"]["free_chunks"] == 1 and j["stats"]["allocations"] == 0' \
  "info --json stats on a fresh heap"

expect 0 "info" -- "$TALC" info "file:$DIR/a.heap"
contains "$OUT" "names           none" "info text: no names yet"
expect 0 "info --json" -- "$TALC" info "file:$DIR/a.heap" --json
json_true 'j["names_state"] == "none" and j["names"] == []' "info --json: no names yet"

# ---- info lists names --------------------------------------------------------------------------
if [ -n "$NAMES_FIXTURE" ]; then
  expect 0 "create a heap to name things in" -- "$TALC" create "file:$DIR/n.heap" --size 1M
  expect 0 "name a block and an array" -- "$NAMES_FIXTURE" "$DIR/n.heap"
  expect 0 "info lists names" -- "$TALC" info "file:$DIR/n.heap"
  contains "$OUT" "names           2" "info text: the count of names"
  for line in "  bytes  offset " "size 100        greeting" "  array  offset " "size 224        grid"; do
    contains "$OUT" "$line" "info text: a name's line"
  done
  expect 0 "info --json lists names" -- "$TALC" info "file:$DIR/n.heap" --json
  json_true 'j["names_state"] == "listed" and [(n["name"], n["kind"], n["size"]) for n in j["names"]] == [("greeting", "bytes", 100), ("grid", "array", 224)]' \
    "info --json: names, kinds and sizes"
  json_true 'all(n["offset"] % 64 == 0 for n in j["names"] if n["kind"] == "array")' \
    "info --json: an array's block is aligned to 64"
  # A directory whose first segment's `next` names itself: a loop, refused rather than followed.
  # (The header's directory word is at byte 56, a segment's `next` at byte 16: docs/layout.md.)
  dir_at=$("$PY" -c 'import struct,sys; d=open(sys.argv[1],"rb").read(); print(struct.unpack_from("<Q", d, 56)[0])' "$DIR/n.heap" 2>/dev/null)
  cp "$DIR/n.heap" "$DIR/loop.heap"
  "$PY" - "$DIR/loop.heap" "$dir_at" <<'PYEOF'
import struct, sys
path, seg = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(seg + 16)  # the segment's `next` word
    f.write(struct.pack("<Q", seg))
PYEOF
  expect 0 "info on a directory that loops" -- "$TALC" info "file:$DIR/loop.heap" --json
  json_true 'j["names_state"].startswith("refused") and j["names"] == []' \
    "info --json: a looping directory is refused"
fi

# ---- create --max: a heap that grows ---------------------------------------------------------
expect 2 "max below size" -- "$TALC" create "file:$DIR/g.heap" --size 1M --max 512K
contains "$ERR" "smaller than --size" "max below size: message"
expect 2 "max garbage" -- "$TALC" create "file:$DIR/g.heap" --size 1M --max lots
[ -e "$DIR/g.heap" ] && fail "a refused create --max left a file behind"
expect 0 "create with --max" -- "$TALC" create "file:$DIR/g.heap" --size 256K --max 64M
contains "$OUT" "may grow to 67108864" "create --max: output"
expect 0 "stress makes it grow" -- "$TALC" stress "file:$DIR/g.heap" --procs 2 --seconds 0.5 \
  --max-block 60000 --keep
contains "$OUT" "damaged blocks: 0" "stress on a growing heap: damage count"
expect 0 "info on the grown heap" -- "$TALC" info "file:$DIR/g.heap" --json
json_true 'j["current_size"] > j["region_size"] == 262144 and j["max_size"] == 67108864' \
  "the heap grew, within its maximum"
json_true 'j["stats"]["growths"] >= 1 and j["stats"]["reallocations"] > 0' \
  "info --json counts growths and reallocations"
json_true 'j["stats"]["live_allocations"] == j["live_chunks"] and j["stats"]["free_bytes"] == j["free_bytes"]' \
  "stats agree with the walk"
json_true 'j["stats"]["live_bytes"] + j["stats"]["free_bytes"] + j["stats"]["cached_bytes"] + j["stats"]["overhead_bytes"] == j["current_size"] - 320' \
  "every byte is live, free, cached or overhead"
[ "$(stat -c %s "$DIR/g.heap")" -eq "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["current_size"])' "$DIR/out")" ] ||
  fail "the file's size is not what the heap spans"
expect 0 "check the grown heap" -- "$TALC" check "file:$DIR/g.heap"

# ---- stress ----------------------------------------------------------------------------------
expect 0 "stress on shm" -- "$TALC" stress "shm:$SHM" --procs 3 --seconds 1
contains "$OUT" "operations/s" "stress: throughput"
contains "$OUT" "damaged blocks: 0" "stress: damage count"
contains "$OUT" "check: consistent" "stress: check"
expect 0 "check after stress" -- "$TALC" check "shm:$SHM"
contains "$OUT" "consistent" "check after stress: output"
expect 0 "info --json after stress" -- "$TALC" info "shm:$SHM" --json
json_true 'j["live_chunks"] == 0' "stress leaves no block behind"
expect 1 "stress on a missing region" -- "$TALC" stress "shm:$SHM-none" --procs 1 --seconds 0.1
contains "$ERR" "talc: cannot open" "stress on a missing region: message"
# A heap too small for the workers' blocks: allocations fail as "full" and that is fine.
expect 0 "create a small heap" -- "$TALC" create "shm:$SHM-b" --size 64K
expect 0 "stress on a small heap" -- "$TALC" stress "shm:$SHM-b" --procs 2 --seconds 0.5
expect 0 "rm the small heap" -- "$TALC" rm "shm:$SHM-b"

# A heap file with live blocks, for the checks below.
expect 0 "stress --keep on a file" -- "$TALC" stress "file:$DIR/a.heap" --procs 2 --seconds 0.5 \
  --max-block 2000 --keep
expect 0 "info on a heap with live blocks" -- "$TALC" info "file:$DIR/a.heap" --json
json_true 'j["live_chunks"] > 10 and j["free_chunks"] >= 1' "live blocks are there"
json_true '0 <= j["fragmentation"] < 1' "fragmentation in range"
json_true 'sum(b["count"] for b in j["free_bins"]) == j["free_chunks"]' "bins count every free chunk"
json_true 'j["live_bytes"] + j["free_bytes"] + j["cached_bytes"] + j["lane_table_bytes"] + j["page_table_bytes"] + j["page_overhead_bytes"] == j["capacity"]' \
  "live + free + cached + tables + pages' overhead = capacity"
json_true 'j["pages"] > 0' "stress made pages"

# ---- check -----------------------------------------------------------------------------------
before=$(sha256sum <"$DIR/a.heap")
expect 0 "check a healthy heap with live blocks" -- "$TALC" check "file:$DIR/a.heap"
contains "$OUT" "file:$DIR/a.heap: consistent" "check healthy: output"
expect 0 "check --json" -- "$TALC" check "file:$DIR/a.heap" --json
json_true 'j["consistent"] is True and j["stage"] == "check" and j["journal_words"] == 0' \
  "check --json on a healthy heap"
[ "$(sha256sum <"$DIR/a.heap")" = "$before" ] || fail "info/check changed the heap file"

# A heap left mid-operation: one journal entry, as a process killed inside an operation leaves
# it (it gives the first chunk's tag back its own value, so the rolled-back heap is sound).
# Offsets from docs/layout.md: the core heap at 320 in the region; in it heap_start is word 1
# and the journal (length, then {offset, old} pairs) follows 4 fields and 11 counters.
cp "$DIR/a.heap" "$DIR/mid.heap"
"$PY" - "$DIR/mid.heap" <<'PYEOF' || fail "could not write a journal entry"
import struct, sys
core, journal = 320, 320 + 15 * 8
with open(sys.argv[1], "r+b") as f:
    data = f.read()
    word = lambda off: struct.unpack_from("<Q", data, off)[0]
    start = word(core + 8)
    assert word(journal) == 0, "the journal is not where docs/layout.md puts it"
    f.seek(journal)
    f.write(struct.pack("<QQQ", 1, start, word(core + start)))
PYEOF
before=$(sha256sum <"$DIR/mid.heap")
expect 0 "info on a heap left mid-operation" -- "$TALC" info "file:$DIR/mid.heap" --json
json_true 'j["journal_words"] == 1' "info sees the interrupted operation"
expect 0 "check a heap left mid-operation" -- "$TALC" check "file:$DIR/mid.heap" --json
json_true 'j["consistent"] and j["journal_words"] == 1 and j["rolled_back_words"] == 1' \
  "check rolls the interrupted operation back"
[ "$(sha256sum <"$DIR/mid.heap")" = "$before" ] ||
  fail "check rolled back in the heap file itself, not in a private copy"
expect 0 "info after check" -- "$TALC" info "file:$DIR/mid.heap" --json
json_true 'j["journal_words"] == 1' "the file still shows the interrupted operation"

# A heap the user may only read: info and check need no write permission. Root ignores
# permission bits, so root reads as nobody (or, failing that, makes the file immutable).
cp "$DIR/mid.heap" "$DIR/ro.heap"
chmod 0444 "$DIR/ro.heap"
chmod 0755 "$DIR"
READER=()
IMMUTABLE=0
if [ "$(id -u)" -eq 0 ]; then
  if setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
    READER=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  elif runuser -u nobody -- true 2>/dev/null; then
    READER=(runuser -u nobody --)
  elif chattr +i "$DIR/ro.heap" 2>/dev/null; then
    IMMUTABLE=1
  fi
fi
if "${READER[@]}" sh -c '[ -r "$1" ] && ! [ -w "$1" ]' sh "$DIR/ro.heap"; then
  before=$(sha256sum <"$DIR/ro.heap")
  expect 0 "info on a read-only heap" -- "${READER[@]}" "$TALC" info "file:$DIR/ro.heap"
  contains "$OUT" "journal         1 words" "info on a read-only heap: output"
  expect 0 "check a read-only heap" -- "${READER[@]}" "$TALC" check "file:$DIR/ro.heap" --json
  json_true 'j["consistent"] and j["rolled_back_words"] == 1' "check a read-only heap"
  [ "$(sha256sum <"$DIR/ro.heap")" = "$before" ] || fail "info/check changed a read-only heap"
else
  echo "SKIP: no way to make a heap file unwritable here (root without setpriv, runuser, chattr)"
fi
[ "$IMMUTABLE" -eq 1 ] && chattr -i "$DIR/ro.heap"

# A damaged lock word: check names it (without hanging on it); repair resets it, but only when
# no other process has the region open.
cp "$DIR/a.heap" "$DIR/lock.heap"
printf '\0\0\0\0\377\0\0\0' | dd of="$DIR/lock.heap" bs=1 seek=192 conv=notrunc status=none
expect 1 "check a heap whose lock word is damaged" -- "$TALC" check "file:$DIR/lock.heap"
contains "$ERR" "heap lock word holds a value no holder writes (offset 192" "check names the lock"
expect 1 "check --json a damaged lock word" -- "$TALC" check "file:$DIR/lock.heap" --json
json_true 'j["stage"] == "lock" and j["offset"] == 192 and not j["consistent"]' \
  "check --json names the lock"
expect 0 "info on a damaged lock word" -- "$TALC" info "file:$DIR/lock.heap" --json
json_true 'j["locks"][0]["damaged"] and j["boot_current"]' "info shows the damaged lock"
"$TALC" stress "file:$DIR/lock.heap" --procs 1 --seconds 3 >/dev/null 2>&1 &
USER_PID=$!
sleep 1
expect 1 "repair refuses while another process has the region open" -- \
  "$TALC" repair "file:$DIR/lock.heap"
contains "$ERR" "another process has it open" "repair refused: message"
wait "$USER_PID"
expect 0 "repair a damaged lock word" -- "$TALC" repair "file:$DIR/lock.heap"
contains "$OUT" "locks re-initialised; consistent" "repair: message"
expect 0 "check after repair" -- "$TALC" check "file:$DIR/lock.heap"
expect 0 "info after repair" -- "$TALC" info "file:$DIR/lock.heap" --json
json_true 'not j["locks"][0]["damaged"] and j["locks"][0]["state"] == "free"' \
  "repair left the lock free"
expect 1 "repair a missing file" -- "$TALC" repair "file:$DIR/none.heap"

cp "$DIR/a.heap" "$DIR/trunc.heap"
truncate -s 600000 "$DIR/trunc.heap"
expect 1 "check a truncated heap" -- "$TALC" check "file:$DIR/trunc.heap"
contains "$ERR" "only 600000 are there" "check a truncated heap: message"
expect 1 "check --json a truncated heap" -- "$TALC" check "file:$DIR/trunc.heap" --json
json_true 'j["consistent"] is False and j["stage"] == "header" and "600000" in j["what"]' \
  "check --json a truncated heap"
expect 1 "info on a truncated heap" -- "$TALC" info "file:$DIR/trunc.heap"
contains "$ERR" "talc: file:$DIR/trunc.heap" "info on a truncated heap: message"
truncate -s 100 "$DIR/trunc.heap"
expect 1 "check a heap cut inside its header" -- "$TALC" check "file:$DIR/trunc.heap"
contains "$ERR" "talc:" "check a heap cut inside its header: message"
truncate -s 0 "$DIR/trunc.heap"
expect 1 "check an empty file" -- "$TALC" check "file:$DIR/trunc.heap"
contains "$ERR" "empty" "check an empty file: message"

cp "$DIR/a.heap" "$DIR/zero.heap"
dd if=/dev/zero of="$DIR/zero.heap" bs=128 count=1 conv=notrunc status=none
expect 1 "check a zeroed header" -- "$TALC" check "file:$DIR/zero.heap"
contains "$ERR" "no heap was built" "check a zeroed header: message"
printf 'NOTAHEAP' | dd of="$DIR/zero.heap" bs=8 count=1 conv=notrunc status=none
expect 1 "check a foreign magic" -- "$TALC" check "file:$DIR/zero.heap"
contains "$ERR" "not a usable heap" "check a foreign magic: message"
head -c 1048576 /dev/urandom >"$DIR/random.heap"
expect 1 "check random bytes" -- "$TALC" check "file:$DIR/random.heap"
expect 1 "check a missing file" -- "$TALC" check "file:$DIR/none.heap"
contains "$ERR" "talc: cannot map file:$DIR/none.heap" "check a missing file: message"
expect 1 "check a missing shm" -- "$TALC" check "shm:$SHM-none"

# Random bytes flipped in a heap with live blocks: every variant answers 0 or 1, in bounded
# time. Half the flips land in the first 8 KiB (header, lock, metadata, first chunks).
"$PY" - "$TALC" "$DIR/a.heap" "$DIR/flip.heap" <<'PYEOF' || FAILS=$((FAILS + 1))
import random, subprocess, sys
talc, src, dst = sys.argv[1:4]
base = open(src, "rb").read()
verdicts = {0: 0, 1: 0}
bad = 0
located = 0  # refusals by check() itself, naming an offset
for seed in range(200):
    rng = random.Random(seed)
    data = bytearray(base)
    for _ in range(rng.randint(1, 24)):
        pos = rng.randrange(8192) if rng.random() < 0.5 else rng.randrange(len(data))
        data[pos] ^= rng.randint(1, 255)
    with open(dst, "wb") as f:
        f.write(data)
    r = subprocess.run(["timeout", "10", talc, "check", "file:" + dst],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode in verdicts and (r.returncode == 0 or r.stderr.startswith(b"talc: ")):
        verdicts[r.returncode] += 1
        located += b"inconsistent at offset 0x" in r.stderr
    else:
        bad += 1
        print("FAIL: seed %d: exit %d (124 = hang, >= 128 or < 0 = crash): %s"
              % (seed, r.returncode, r.stderr.decode(errors="replace")[-300:]))
print("flipped-byte variants: %d consistent, %d refused (%d with an offset), %d bad"
      % (verdicts[0], verdicts[1], located, bad))
sys.exit(1 if bad or verdicts[1] == 0 or located == 0 else 0)
PYEOF

# ---- rm --------------------------------------------------------------------------------------
expect 0 "rm shm" -- "$TALC" rm "shm:$SHM"
contains "$OUT" "removed shm:/$SHM" "rm shm: output"
expect 1 "rm a missing shm" -- "$TALC" rm "shm:$SHM"
contains "$ERR" "talc: shm:/$SHM does not exist" "rm a missing shm: message"
expect 0 "rm file" -- "$TALC" rm "file:$DIR/a.heap"
[ -e "$DIR/a.heap" ] && fail "rm file left the file"
expect 1 "rm a missing file" -- "$TALC" rm "file:$DIR/a.heap"
contains "$ERR" "does not exist" "rm a missing file: message"
expect 1 "rm a directory" -- "$TALC" rm "file:$DIR"
expect 2 "rm garbage" -- "$TALC" rm "nothing"

if [ "$FAILS" -ne 0 ]; then
  echo "$FAILS failure(s)"
  exit 1
fi
echo "all tool tests passed"
