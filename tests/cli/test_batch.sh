#!/usr/bin/env bash
# CLI tests for batch runs (the "100,000 scans overnight" issue): -j N gives the same results in
# the same order; -o DIR holds results.jsonl, errors.txt and run.json; SIGINT / SIGTERM stop
# cleanly (exit 130) and --resume completes the run to exactly the results of an uninterrupted
# one; kill -9 at random moments never leaves a partial line or a partial image under its final
# name; --shard i/N under GNU parallel + `cnndemo merge` equals a single run; --progress / -q.
source "$(dirname "$0")/lib.sh" "$@"
BT="$SRC/tests/cli/batch_tool.py"
BG_PID=
trap 'if [ -n "$BG_PID" ]; then kill -9 "$BG_PID" 2>/dev/null; fi; cd /; rm -rf "$T"' EXIT

# bt ARGS... : runs batch_tool.py, counting its PASS/FAIL lines (as lib.sh's py does for check.py)
bt() { pycount "batch_tool.py $1" "$BT" "$@"; }

# bg_start NAME CMD... : starts CMD in the background (stdout/stderr to $T/NAME.out/.err)
bg_start() {
  local name=$1
  shift
  OUT="$T/$name.out"
  ERR="$T/$name.err"
  "$@" </dev/null >"$OUT" 2>"$ERR" &
  BG_PID=$!
}
bg_alive() {
  local s
  s=$(cut -d' ' -f3 "/proc/$BG_PID/stat" 2>/dev/null) && [ "$s" != Z ]
}
# bg_wait SECS : waits for the background run; a run still going after SECS is a hang (killed,
# RC=255). Sets RC.
bg_wait() {
  local i=0
  while bg_alive && [ "$i" -lt $(($1 * 20)) ]; do sleep 0.05; i=$((i + 1)); done
  if bg_alive; then
    kill -9 "$BG_PID" 2>/dev/null
    wait "$BG_PID" 2>/dev/null
    RC=255
    fail "background run still going after $1 s (a hang): killed"
  else
    wait "$BG_PID"
    RC=$?
  fi
  BG_PID=
}
# wait_lines FILE N : until FILE has >= N lines or the background run ends (30 s at most)
wait_lines() {
  local i=0
  while bg_alive && [ "$i" -lt 600 ]; do
    [ "$(lines_of "$1")" -ge "$2" ] && return 0
    sleep 0.05
    i=$((i + 1))
  done
  return 1
}
lines_of() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
# jget FILE KEY : a top-level value of a JSON file (printed as JSON)
jget() { "$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))[sys.argv[2]]))' "$1" "$2" 2>/dev/null; }
section() { echo "# ---- [${SECONDS}s] $*"; }
# n_ok_lines FILE : complete (newline-terminated) error-free results lines; 0 without the file
n_ok_lines() {
  "$PY" -c 'import json,sys
try: data = open(sys.argv[1], "rb").read()
except OSError: data = b""
print(sum(json.loads(l)["error"] is None for l in data.split(b"\n")[:-1]))' "$1"
}

check "cnndemo binary $CNNDEMO is executable" test -x "$CNNDEMO"
# shellcheck disable=SC2317  # called through check
have() { command -v "$1" >/dev/null; }
check "GNU parallel is installed (scripts/setup installs it)" have parallel
check "sha256sum is installed" have sha256sum
fetch_photos

# ---- the input set: ~40 images in 3 folders (JPEG, PNG, BMP; ~640 px) + 2 broken files -------
section "input set"
bt mkset in "$PHOTOS"/sample[1-6].jpg /usr/share/darknet/data/*.jpg
size=$(stat -c %s in/a/dog.jpg 2>/dev/null || echo 100)
head -c $((size / 2)) in/a/dog.jpg >in/a/broken.jpg
: >in/b/c/empty.png
N=$(find in -type f | wc -l)
check "the input set has ~40 images ($N files, 2 of them broken)" test "$N" -ge 40
# the same order as the folder walk (sorted by name at each level), for the GNU parallel recipe
find in -type f | sort >all.txt

# ---- reference: one uninterrupted run ------------------------------------------------------
section "reference"
ref_t0=$(date +%s%N)
run ref "$CNNDEMO" detect -r -o ref -f jsonl -j 2 in
REF_MS=$((($(date +%s%N) - ref_t0) / 1000000)) # how long a whole run takes on this machine
expect_rc 4 "reference run over $N inputs, 2 of them broken"
REF_ERR=$ERR
py results ref/results.jsonl "$N" --model face --same "$OUT"
check "reference: $((N - 2)) annotated images" test "$(find ref/images -type f | wc -l)" -eq $((N - 2))
no_tmp_files "reference: no temporaries left" ref

# ---- (e) run.json and errors.txt --------------------------------------------------------------
section "(e) run.json / errors.txt"
bt runjson ref --full 'command=["cnndemo", "detect", "-r", "-o", "ref", "-f", "jsonl", "-j", "2", "in"]' \
  "inputs=$N" "processed=$((N - 2))" failed=2 skipped_resume=0 not_started=0 \
  finished=true interrupted=false workers=2 shard=null task='"detect"' conf=0.5 iou=0.4
for part in cfg weights names; do
  p=$("$PY" -c 'import json,sys; print(json.load(open("ref/run.json"))["model"][sys.argv[1]]["path"])' $part 2>/dev/null)
  s=$("$PY" -c 'import json,sys; print(json.load(open("ref/run.json"))["model"][sys.argv[1]]["sha256"])' $part 2>/dev/null)
  want=$(sha256sum <"${p:-/nonexistent}" 2>/dev/null | cut -d' ' -f1)
  check "run.json model.$part sha256 matches sha256sum of $p" test -n "$want" -a "$s" = "$want"
done
check "run.json model.weights is the shipped face.weights" \
  test "$("$PY" -c 'import json; print(json.load(open("ref/run.json"))["model"]["weights"]["path"])')" -ef "$SRC/weights/face.weights"
bt errors ref
count_lines "errors.txt: 2 lines" '.' ref/errors.txt 2
grep_in "errors.txt: in/a/broken.jpg<TAB>reason" $'^in/a/broken\\.jpg\t.+' ref/errors.txt
grep_in "errors.txt: in/b/c/empty.png<TAB>reason" $'^in/b/c/empty\\.png\t.*empty' ref/errors.txt
count_lines "stderr names in/a/broken.jpg once" 'in/a/broken\.jpg' "$REF_ERR" 1
grep_in "stderr ends with a summary naming the results folder" "$((N - 2)) images processed, 2 failed.*ref/" "$REF_ERR"
run good "$CNNDEMO" detect -o good -f none -j 2 in/b/c/sample1_flip.jpg in/a/sample2.jpg
expect_rc 0 "a run with no failures"
check "errors.txt exists and is empty after a run with no failures" test -f good/errors.txt -a ! -s good/errors.txt
bt runjson good inputs=2 processed=2 failed=0 finished=true interrupted=false
# -o with a trailing slash (as in the README's `-o out/`): outputs are DIR/images/<input path>
run slash "$CNNDEMO" detect -q -o slash/ -f none in/b/sample2.png
expect_rc 0 "-o slash/ (a trailing slash)"
check "-o slash/ writes slash/images/in/b/sample2.png" test -f slash/images/in/b/sample2.png
grep_in "-o slash/: \"output\" is slash/images/in/b/sample2.png (no '//')" '"output": "slash/images/in/b/sample2\.png"' slash/results.jsonl

# ---- (a) -j 1 / -j 2 / -j 3: the same results in the same (input) order ----------------------
section "(a) -j"
# -j 2 is the reference run; -j 1 and -j 3 with images and JSONL on stdout, then text on stdout
cp "$T/ref.out" j2.jsonl
for j in 1 3; do
  run "j$j" "$CNNDEMO" detect -r -o "j$j" -f jsonl -j "$j" in
  expect_rc 4 "-j $j"
  cp "$OUT" "j$j.jsonl"
  check "-j $j: run.json says workers=$j" test "$(jget "j$j/run.json" workers)" = "$j"
  run "jt$j" "$CNNDEMO" detect -r -o "jt$j" -f text --no-images -j "$j" in
  cp "$OUT" "jt$j.txt"
done
check "-j 1 and -j 3: identical text on stdout" cmp -s jt1.txt jt3.txt
grep_in "stdout text lists in/b/c/sample1_flip.jpg" '^in/b/c/sample1_flip\.jpg: [0-9]+ detection' jt1.txt
for j in 2 3; do
  d=j$j
  [ "$j" = 2 ] && d=ref
  bt same j1/results.jsonl "$d/results.jsonl" --ordered --dirs j1 "$d" --label "results.jsonl -j 1 vs -j $j"
  bt same j1.jsonl "j$j.jsonl" --ordered --dirs j1 "$d" --label "stdout (jsonl) -j 1 vs -j $j"
  bt samefiles j1 "$d" "annotated images -j 1 vs -j $j"
done
check "results.jsonl is in input order (the folder walk's sorted order)" \
  test "$("$PY" -c 'import json; print("\n".join(json.loads(l)["path"] for l in open("j3/results.jsonl")))')" = "$(cat all.txt)"

# ---- (b) SIGINT / SIGTERM, then --resume -----------------------------------------------------
section "(b) SIGINT/SIGTERM + --resume"
for sig in INT TERM; do
  d=int$sig
  bg_start "$d" "$CNNDEMO" detect -r -o "$d" -f none -j 2 -t 1 in
  wait_lines "$d/results.jsonl" 4
  kill -s "$sig" "$BG_PID" 2>/dev/null
  bg_wait 60
  expect_rc 130 "SIG$sig during a run: exit 130"
  k=$(lines_of "$d/results.jsonl")
  check "SIG$sig landed mid-run ($k of $N results written)" test "$k" -ge 4 -a "$k" -lt "$N"
  bt runjson "$d" --full interrupted=true finished=false "inputs=$N"
  check "SIG$sig: run.json processed+failed = $k results lines" \
    test "$(($(jget "$d/run.json" processed) + $(jget "$d/run.json" failed)))" -eq "$k"
  check "SIG$sig: run.json not_started = $N - $k" test "$(jget "$d/run.json" not_started)" = $((N - k))
  grep_in "SIG$sig: the summary says INTERRUPTED" 'INTERRUPTED' "$ERR"
  no_tmp_files "SIG$sig: in-flight images finished, no temporaries left" "$d"
  check "SIG$sig: errors.txt written" test -f "$d/errors.txt"
  bt killed "$d" "after SIG$sig"
  check "SIG$sig: every annotated image has its results line" \
    test "$(find "$d/images" -type f | wc -l)" -eq "$(n_ok_lines "$d/results.jsonl")"
  ok=$(n_ok_lines "$d/results.jsonl")
  run "res$sig" "$CNNDEMO" detect -r -o "$d" -f none -j 2 --resume in
  expect_rc 4 "--resume after SIG$sig completes the run (the 2 broken inputs fail again)"
  grep_in "--resume after SIG$sig: 'resuming: $ok of $N inputs already done'" "^resuming: $ok of $N inputs already done" "$ERR"
  bt runjson "$d" "skipped_resume=$ok" "inputs=$N" "processed=$((N - 2 - ok))" failed=2 finished=true interrupted=false
  bt same ref/results.jsonl "$d/results.jsonl" --dirs ref "$d" --label "SIG$sig + --resume vs uninterrupted"
  bt samefiles ref "$d" "SIG$sig + --resume vs uninterrupted"
  bt errors "$d"
  no_tmp_files "SIG$sig + --resume: no temporaries left" "$d"
  run "res2$sig" "$CNNDEMO" detect -r -o "$d" -f none -j 2 --resume in
  expect_rc 4 "a second --resume only retries the 2 failed inputs"
  bt runjson "$d" "skipped_resume=$((N - 2))" processed=0 failed=2
  bt same ref/results.jsonl "$d/results.jsonl" --dirs ref "$d" --label "SIG$sig + 2x --resume vs uninterrupted"
done
# an annotated image deleted after the run: --resume redoes that input only
rm -f intINT/images/in/b/sample3.png
run res3 "$CNNDEMO" detect -r -o intINT -f none -j 2 --resume in
expect_rc 4 "--resume after deleting one annotated image"
bt runjson intINT "skipped_resume=$((N - 3))" processed=1 failed=2
bt same ref/results.jsonl intINT/results.jsonl --dirs ref intINT --label "deleted image + --resume vs uninterrupted"
bt samefiles ref intINT "deleted image + --resume vs uninterrupted"

# --resume with other settings or another model would mix two runs in one folder: refused
cp intINT/results.jsonl intINT-before.jsonl
cp intINT/run.json intINT-before.json
run res4 "$CNNDEMO" detect -r -o intINT -f none -j 2 --resume --conf 0.6 in
expect_rc 2 "--resume with another --conf is refused"
grep_in "the refusal shows both settings" "run.json: --resume: the earlier run in this folder used other settings \\(was: task detect, .*conf 0\\.5000.*; now: task detect, .*conf 0\\.6000" "$ERR"
run res5 "$CNNDEMO" detect -r -o intINT -f none -j 2 --resume --letterbox in
expect_rc 2 "--resume with --letterbox added is refused"
run res6 "$CNNDEMO" detect -m tumour -r -o intINT -f none -j 2 --resume in
expect_rc 2 "--resume with another model is refused"
grep_in "the refusal says why" "used other settings \\(was: task detect, cfg sha256 [0-9a-f]{12}" "$ERR"
check "refused resumes leave results.jsonl alone" cmp -s intINT-before.jsonl intINT/results.jsonl
check "refused resumes leave run.json alone" cmp -s intINT-before.json intINT/run.json

# ---- (c) kill -9 at random moments, twice per round; --resume completes the run ------------
section "(c) kill -9 + --resume"
# two chains on fresh folders: run, kill -9, --resume, kill -9, ... then a --resume to the end
RANDOM=4242
killed=0
for round in 1 2; do
  d=k$round
  prev_ok=0
  for attempt in 1 2 3; do
    [ "$round" = 2 ] && [ "$attempt" = 3 ] && break
    # 5-40% of a whole run, so that most kills land mid-run however fast the engine is
    ms=$((REF_MS * (5 + RANDOM % 36) / 100))
    delay=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
    [ "$round$attempt" = 11 ] && delay=0.05        # before anything is written
    args=(detect -r -o "$d" -f none -j 2 in)
    [ "$attempt" -gt 1 ] && args+=(--resume)
    bg_start "kill$round$attempt" "$CNNDEMO" "${args[@]}"
    sleep "$delay"
    kill -9 "$BG_PID" 2>/dev/null
    bg_wait 60
    [ "$RC" -eq 137 ] && killed=$((killed + 1))
    what="kill -9 #$attempt of chain $round after ${delay}s (exit $RC)"
    bt killed "$d" "$what"
    # whatever is in the folder is a final output or a hidden temporary (.NAME.tmp.PID.XXXXXX)
    stray=$(find "$d" -type f ! -name '.*.tmp.*' ! -path "$d/images/*" ! -name results.jsonl \
      ! -name run.json ! -name errors.txt 2>/dev/null | head -3)
    partial=$(find "$d" -type f -name '*.tmp.*' ! -regex '.*/\.[^/]*\.tmp\.[0-9]+\.[A-Za-z0-9]+' 2>/dev/null | head -3)
    check "$what: no stray files; temporaries are hidden .NAME.tmp.PID.XXXXXX" test -z "$stray$partial"
    now_ok=$(n_ok_lines "$d/results.jsonl")
    check "$what: no completed result lost ($prev_ok -> $now_ok good lines)" test "$now_ok" -ge "$prev_ok"
    prev_ok=$now_ok
  done
  run "kres$round" "$CNNDEMO" detect -r -o "$d" -f none -j 2 --resume in
  expect_rc 4 "chain $round: the last --resume completes the run"
  bt same ref/results.jsonl "$d/results.jsonl" --dirs ref "$d" --label "chain $round: kill -9 + --resume vs uninterrupted"
  bt samefiles ref "$d" "chain $round: kill -9 + --resume vs uninterrupted"
  bt runjson "$d" finished=true interrupted=false "inputs=$N"
done
check "kill -9 landed mid-run at least 3 times out of 5 ($killed)" test "$killed" -ge 3

# ---- (d) GNU parallel + --shard i/4, then merge -----------------------------------------------
section "(d) shards + merge"
# GNU parallel exits with the number of failed jobs: the shards holding the 2 broken inputs exit 4
nbad=$("$PY" -c '
def f(p):
    h = 0xcbf29ce484222325
    for c in p.encode(): h = ((h ^ c) * 0x100000001b3) & (2**64 - 1)
    return h % 4
print(len({f("in/a/broken.jpg"), f("in/b/c/empty.png")}))')
run par parallel "$CNNDEMO" detect -r -q -f none --shard '{}/4' -o 'sh/s{}' in ::: 0 1 2 3
expect_rc "$nbad" "parallel cnndemo detect --shard {}/4 (exit = the $nbad jobs whose shard holds a broken input)"
check "4 shard folders" test -d sh/s0 -a -d sh/s1 -a -d sh/s2 -a -d sh/s3
bt shards 4 sh/s0 sh/s1 sh/s2 sh/s3
for i in 0 1 2 3; do
  check "shard $i: run.json says shard \"$i/4\"" test "$(jget "sh/s$i/run.json" shard)" = "\"$i/4\""
done
run merge "$CNNDEMO" merge -o sh/all sh/s*
expect_rc 4 "cnndemo merge -o sh/all sh/s* (2 failed inputs)"
bt same ref/results.jsonl sh/all/results.jsonl --dirs ref sh/all --label "merged shards vs single run"
check "merged results.jsonl is sorted by path" \
  "$PY" -c 'import json,sys; p=[json.loads(l)["path"] for l in open("sh/all/results.jsonl")]; sys.exit(p != sorted(p))'
bt samefiles ref sh/all "merged shards vs single run"
check "merged images are hard links to the shard images" \
  test "$(find sh/all/images -type f -links +1 | wc -l)" -eq $((N - 2))
bt errors sh/all
check "merged run.json: inputs=$N, failed=2" \
  test "$(jget sh/all/run.json inputs)/$(jget sh/all/run.json failed)" = "$N/2"
# shard folders given with a trailing slash (as a shell glob `sh/s*/` gives them)
run merge2 "$CNNDEMO" merge -o sh/all2 sh/s0/ sh/s1/ sh/s2/ sh/s3/
expect_rc 4 "cnndemo merge -o sh/all2 sh/s*/ (trailing slashes)"
bt same ref/results.jsonl sh/all2/results.jsonl --dirs ref sh/all2 --label "merge of sh/s*/ (trailing slashes) vs single run"
# an unfinished shard (as an interrupted run leaves it) is refused unless --partial
cp -r sh/s1 sh/u1
sed -i 's/"finished": true, "interrupted": false/"finished": false, "interrupted": true/' sh/u1/run.json
check "the copied shard now says interrupted" grep -q '"interrupted": true' sh/u1/run.json
run merge4 "$CNNDEMO" merge -o sh/all4 sh/s0 sh/u1 sh/s2 sh/s3
expect_rc 4 "merge with an unfinished shard is refused"
grep_in "the refusal names the shard and the way out" "sh/u1: this shard did not finish .*--resume, or merge with --partial" "$ERR"
check "a refused merge writes nothing" test ! -e sh/all4
run merge5 "$CNNDEMO" merge --partial -o sh/all5 sh/s0 sh/u1 sh/s2 sh/s3
expect_rc 4 "merge --partial takes it (exit 4: the 2 broken inputs)"
check "merged run.json says partial" test "$(jget sh/all5/run.json partial)" = true
check "a complete merge says not partial" test "$(jget sh/all/run.json partial)" = false
# a shard run with other settings is refused
run shc "$CNNDEMO" detect -r -q -f none --conf 0.6 --shard 1/4 -o sh/c1 in
run merge6 "$CNNDEMO" merge -o sh/all6 sh/s0 sh/c1 sh/s2 sh/s3
expect_rc 4 "merge of shards run with different --conf is refused"
grep_in "the refusal shows both settings" "sh/c1 ran with other settings than sh/s0: .*conf 0.6000.* vs .*conf 0.5000" "$ERR"

# the same recipe from a shuffled @list: shard membership depends on the path only
shuf --random-source=<(yes 7) all.txt >shuffled.txt
check "the shuffled list has another order" test "$(cat shuffled.txt)" != "$(cat all.txt)"
run par2 parallel "$CNNDEMO" detect -q -f none --shard '{}/4' -o 'shl/s{}' @shuffled.txt ::: 0 1 2 3
expect_rc "$nbad" "parallel ... --shard {}/4 @shuffled.txt"
for i in 0 1 2 3; do
  check "shard $i holds the same inputs from a shuffled list as from the folder" \
    test "$("$PY" -c 'import json,sys; print(sorted(json.loads(l)["path"] for l in open(sys.argv[1])))' "shl/s$i/results.jsonl")" = \
    "$("$PY" -c 'import json,sys; print(sorted(json.loads(l)["path"] for l in open(sys.argv[1])))' "sh/s$i/results.jsonl")"
done
run merge3 "$CNNDEMO" merge -o shl/all shl/s0 shl/s1 shl/s2 shl/s3
expect_rc 4 "merge of the shuffled-list shards"
bt same ref/results.jsonl shl/all/results.jsonl --dirs ref shl/all --label "merged shuffled-list shards vs single run"
bt samefiles ref shl/all "merged shuffled-list shards vs single run"

# ---- (g) the same image listed many times (also as ./path): workers write the same output ------
section "(g) duplicate inputs"
for i in $(seq 15); do printf '%s\n' in/b/sample2.png ./in/b/sample2.png; done >dup.txt
good_tries=0
why=""
for k in 1 2 3; do
  run "dup$k" "$CNNDEMO" detect -q -o "dup$k" -f none -j 3 @dup.txt
  if [ "$RC" -eq 0 ] && [ "$(lines_of "dup$k/results.jsonl")" -eq 30 ]; then
    good_tries=$((good_tries + 1))
  else
    why="$why try $k: exit $RC, $(lines_of "dup$k/results.jsonl") lines, $(head -c 200 "$ERR");"
  fi
done
check "one image listed 30 times (also as ./path), -j 3, 3 tries: exit 0 and 30 results lines each ($good_tries of 3)" \
  test "$good_tries" -eq 3
[ -n "$why" ] && echo "      $why"
check "the image written 30 times is whole" "$PY" -c '
import cv2, sys
a, b = cv2.imread("dup1/images/in/b/sample2.png"), cv2.imread("ref/images/in/b/sample2.png")
sys.exit(bool(a is None or b is None or a.shape != b.shape or (a != b).any()))'

# ---- (f) --progress plain / none / auto, -q ---------------------------------------------------
section "(f) progress / -q"
# in/a (not recursive): 15 inputs, 1 of them broken; --no-images keeps these runs short
run prog "$CNNDEMO" detect -o prog -f none --no-images -j 2 --progress plain in/a
expect_rc 4 "--progress plain"
grep_in "--progress plain: a final progress line 15/15 on stderr" '^15/15 .*img/s.*1 failed' "$ERR"
no_grep_in "--progress plain: no carriage returns" $'\r' "$ERR"
run prog2 "$CNNDEMO" detect -o prog2 -f none --no-images -j 2 --progress none in/a
expect_rc 4 "--progress none"
no_grep_in "--progress none: no progress line" '^[0-9]+/[0-9]+ ' "$ERR"
grep_in "--progress none: the summary is still printed" 'images processed' "$ERR"
grep_in "--progress none: the broken input is still reported" 'in/a/broken\.jpg' "$ERR"
run prog3 "$CNNDEMO" detect -o prog3 -f none --no-images -j 2 --progress auto in/a
expect_rc 4 "--progress auto"
no_grep_in "--progress auto, stderr not a terminal: no progress line" '^[0-9]+/[0-9]+ |'$'\r' "$ERR"
run prog4 "$CNNDEMO" detect -o prog4 -f none --progress fancy in/a
expect_rc 2 "--progress fancy is a usage error"
run quiet "$CNNDEMO" detect -q -o quiet -f text -j 2 in/b
expect_rc 0 "-q on a good folder (in/b, not its sub-folder)"
check "-q: nothing at all on stderr for a good run" test ! -s "$ERR"
check "-q: stdout still has the results" test -s "$OUT"
run quiet2 "$CNNDEMO" detect -q --progress plain -o quiet2 -f none --no-images -j 2 in/a
expect_rc 4 "-q --progress plain on a folder with a broken file"
check "-q wins over --progress plain: nothing on stderr" test ! -s "$ERR"
bt errors quiet2

finish
