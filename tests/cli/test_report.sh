#!/usr/bin/env bash
# CLI tests for --report, in a real headless browser (Debian's chromium, driven through the
# DevTools protocol by report_browser.js; no npm packages): detect over face photos whose names
# need HTML escaping and URL encoding, plus one bad input: the page loads with no console
# errors, exceptions or failed requests, references nothing outside its folder and runs no
# script, shows one thumbnail per good input (all of which load) and one result row per input,
# lists the bad input under failures, has its charts, and a full-page screenshot is written
# (kept in the build folder: test-artifacts/report-*.png). Also classify --report --explain,
# --no-images, and --resume (the page covers the earlier run's results too); study --report
# (tables, bar charts, the chart PNGs).
source "$(dirname "$0")/lib.sh" "$@"
fetch_photos
ART="$(dirname "$CNNDEMO")/test-artifacts"
mkdir -p "$ART"
CHROMIUM=$(command -v chromium || true)
check "Debian's chromium is installed (scripts/setup --tests)" test -n "$CHROMIUM"
check "node is installed" command -v node

# browse NAME PAGE: runs the browser on PAGE, result JSON in NAME.json, screenshot in ART
browse() {
  local name=$1 page=$2
  if timeout -k 5 180 node "$SRC/tests/cli/report_browser.js" "$CHROMIUM" "$page" "$T/$name.png" "$T/profile-$name" \
    >"$T/$name.json" 2>"$T/$name.browser.err"; then
    pass "$name: the page was loaded and examined in headless chromium"
    cp "$T/$name.png" "$ART/report-$name.png"
  else
    fail "$name: the page was loaded and examined in headless chromium" "$(tail -c 600 "$T/$name.browser.err")"
  fi
}
# expect NAME PYTHON-EXPR WHAT: the expression holds for the browser's JSON (as r)
expect() {
  local name=$1 expr=$2 what=$3 got
  if got=$($PY -c "import json,sys; r=json.load(open('$T/$name.json')); print(r); sys.exit(0 if ($expr) else 1)" 2>&1); then
    pass "$name: $what"
  else
    fail "$name: $what" "${got:0:600}"
  fi
}
page_ok() { # NAME: no errors of any kind, nothing external, no script, a real screenshot
  expect "$1" "r['console'] == [] and r['exceptions'] == []" "no console errors or warnings, no exceptions"
  expect "$1" "r['failed_requests'] == []" "every resource loads"
  expect "$1" "r['external'] == [] and r['scripts'] == 0" "no external references, no scripts"
  $PY - "$T/$1.png" >"$T/$1.shot.txt" <<'PYEOF'
import sys, cv2
im = cv2.imread(sys.argv[1])
ok = im is not None and im.shape[1] >= 1000 and im.shape[0] >= 900 and im.std() > 20
print(('PASS ' if ok else 'FAIL ') + 'screenshot is a real page (%s, pixel std %.1f)' %
      (None if im is None else im.shape, 0 if im is None else im.std()))
PYEOF
  local line
  while IFS= read -r line; do
    case "$line" in PASS\ *) pass "$1: ${line#PASS }" ;; *) fail "$1: ${line#FAIL }" ;; esac
  done <"$T/$1.shot.txt"
}

# ---- detect: 4 good inputs (names with & < > " ' space and UTF-8) and one bad one ----
mkdir -p "in/odd dir"
cp "$PHOTOS/sample1.jpg" in/a.jpg
cp "$PHOTOS/sample2.jpg" "in/odd dir/b&c <\"q\"> 'x'.jpg"
cp "$PHOTOS/sample3.jpg" "in/odd dir/été #1?.jpg"
cp "$PHOTOS/sample6.jpg" in/d.jpg
printf 'not an image' > in/zz-bad.png
run det "$CNNDEMO" detect --report -o out in -r
expect_rc 4 "detect --report over 5 inputs, one bad"
check "report.html written" test -s out/report.html
check "four thumbnails written" test "$(find out/thumbs -name '*.jpg' | wc -l)" -eq 4
grep_in "the summary names the report" "report: out/report.html" "$ERR"
no_tmp_files "no temporary files left" out
no_grep_in "file names are escaped in the HTML" '<"q">' out/report.html
grep_in "escaped name present" "b&amp;c &lt;&quot;q&quot;&gt; &#39;x&#39;.jpg" out/report.html
grep_in "links are percent-encoded" 'href="images/in/odd%20dir/b%26c%20%3C%22q%22%3E%20%27x%27.jpg"' out/report.html
browse detect out/report.html
page_ok detect
expect detect "r['thumbs'] == 4 and r['thumbs_loaded'] == 4" "4 thumbnails, all loaded"
expect detect "r['rows'] == 5 and r['failed_rows'] == 1" "5 result rows, 1 failed"
expect detect "r['failures'] == 1" "the bad input is listed under failures"
expect detect "r['charts'] >= 3" "timing and result charts"
expect detect "r['title'] == 'cnndemo detect — face'" "title names the command and model"
grep_in "the failure's reason is shown" 'zz-bad.png: unsupported image format' out/report.html

# ---- --resume: the page covers the kept results and the new ones ----
mkdir -p r1
cp in/a.jpg in/d.jpg r1/
run r1 "$CNNDEMO" detect --report -o rout r1/a.jpg
expect_rc 0 "first run of one input"
run r2 "$CNNDEMO" detect --report --resume -o rout r1
expect_rc 0 "--resume over two inputs"
browse resume rout/report.html
page_ok resume
expect resume "r['rows'] == 2 and r['thumbs'] == 2 and r['thumbs_loaded'] == 2" "both inputs shown"

# ---- --no-images: rows, no thumbnails ----
run noimg "$CNNDEMO" detect --report --no-images -o nout in/a.jpg in/d.jpg in/zz-bad.png
expect_rc 4 "--report --no-images"
check "no thumbnails without images" test ! -e nout/thumbs
browse noimg nout/report.html
page_ok noimg
expect noimg "r['rows'] == 3 and r['thumbs'] == 0 and r['failures'] == 1" "3 rows, no thumbnails, 1 failure"

# ---- classify --report --explain ----
make_classifier
cp in/a.jpg in/d.jpg "in/odd dir/été #1?.jpg" r1/ 2>/dev/null
run cls "$CNNDEMO" classify --report --explain --cfg cls.cfg --weights cls.weights --names cls.names -o cout r1
expect_rc 0 "classify --report --explain"
browse classify cout/report.html
page_ok classify
expect classify "r['rows'] == 3 and r['thumbs'] == 3 and r['thumbs_loaded'] == 3" "3 rows and thumbnails"
expect classify "r['charts'] >= 2" "timing and top-1 class charts"
grep_in "the explain column is there" 'explain peak \(x, y\)' cout/report.html

# ---- val --report: confusion matrix and per-class table of the classifier above ----
mkdir -p vset/tshirt vset/boot
cp in/a.jpg vset/tshirt/1.jpg; cp in/d.jpg vset/boot/2.jpg; cp in/a.jpg vset/boot/3.jpg
run valr "$CNNDEMO" val --report --cfg cls.cfg --weights cls.weights --names cls.names -o vout vset
expect_rc 0 "val --report"
browse val vout/report.html
page_ok val
grep_in "val report: a confusion matrix" '[Cc]onfusion' vout/report.html
grep_in "val report: the model's classes" 'tshirt' vout/report.html
run valnoo "$CNNDEMO" val --report --cfg cls.cfg --weights cls.weights --names cls.names vset
expect_rc 2 "val --report without -o"

# ---- study --report: a tiny study (2 activations x no bn / bn, one seed, 20 steps) ----
run study "$CNNDEMO" study activations -a relu,leaky --runs plain,bn --seeds 1 --limit 256 --test-limit 100 \
  --steps 20 --batch 16 --probe 32 --probe-every 10 -t 1 -q --report -o sout
expect_rc 0 "study --report"
check "study: report.html written" test -s sout/report.html
browse study sout/report.html
page_ok study
expect study "r['title'] == 'cnndemo activation study'" "title"
expect study "r['study_rows'] == 4" "one table row per configuration (2 tables x 2)"
expect study "r['charts'] == 2" "a top-1 bar chart per table"
expect study "r['figures'] == 3 and r['figures_loaded'] == 3" "the loss, dead-unit and accuracy PNGs load"
grep_in "study report: defines dead units" 'Dead unit: a convolution channel' sout/report.html
finish
