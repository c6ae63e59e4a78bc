#!/usr/bin/env bash
# End to end: `meshlab run` around the live dashboard, as an instructor runs a lesson in front of
# a room (docs/dashboard.md, docs/lessons/). Lesson 2 (request routing) runs in tmux: the lesson
# pane shows its title, step and narration; pause() waits for space; at the exercise, n applies
# the solution; the pane reports the result and the dashboard stays live until q; the exit code
# is the lesson's (0). Then q during a lesson ends it as Ctrl-C does (130) and `run` still stops
# the lab it started. Its own lab folder and pod range (127.1.222.0/24); tmux on a private socket;
# the trap stops exactly those.
# shellcheck disable=SC2016,SC2034  # check() evals its single-quoted condition, which reads these variables
set -u
MESHLAB=${MESHLAB_BIN:?MESHLAB_BIN must name the meshlab binary}
tmp=$(mktemp -d)
lab=$tmp/lab
sock=meshlab-run-$$
cleanup() {
  tmux -L "$sock" kill-server >/dev/null 2>&1
  "$MESHLAB" down --lab-dir "$lab" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/tap.sh"

if ! command -v tmux >/dev/null; then
  if [ "${CI:-}" = true ]; then echo "Bail out! tmux missing (scripts/setup installs it)"; exit 1; fi
  echo "1..0 # SKIP tmux not installed (scripts/setup installs it)"
  exit 0
fi
screen() { tmux -L "$sock" capture-pane -p -t run 2>/dev/null; }
# run_in_tmux ARGS...: `meshlab run ARGS` in a 120x40 tmux window (stdout is the terminal, or run
# falls back to headless); its exit code lands in $tmp/rc.
run_in_tmux() {
  rm -f "$tmp/rc"
  tmux -L "$sock" new-session -d -s run -x 120 -y 40 \
    "'$MESHLAB' run $* --lab-dir '$lab' --addresses 127.1.222.0/24 --ingress 127.0.0.1:0 --ingress-tls 127.0.0.1:0 \
       --seed 3 2> '$tmp/err'; echo \$? > '$tmp/rc'; sleep 60"
}

run_in_tmux 2
until_ok 30 'screen | grep -q "Lesson: Request routing"'
check "the lesson pane shows the lesson's title inside the dashboard" '[ $? = 0 ]' "$(screen)"
until_ok 30 'screen | grep -q "PAUSED"'
check "pause() waits for the presenter: the pane says PAUSED with the keys" \
  '[ $? = 0 ] && screen | grep -q "space continue"' "$(screen)"
check "the pane counts the lesson's steps: step N of 5" 'screen | grep -q "step [1-5] of 5"' "$(screen)"
until_ok 15 'screen | grep -q "^ + reviews" && screen | grep -q "^ + productpage"'
check "the dashboard around it is live: the topology lists Bookinfo's services with traffic" '[ $? = 0 ]' "$(screen)"
# Space through the pauses until the exercise, then n: its solution is applied and checked.
until_ok 60 'if screen | grep -q "Exercise"; then true; else tmux -L "$sock" send-keys -t run " "; sleep 1; false; fi'
check "space moves the lesson on, step by step, to the exercise" '[ $? = 0 ]' "$(screen)"
until_ok 10 'screen | grep -q "PAUSED"'
tmux -L "$sock" send-keys -t run n
until_ok 30 'screen | grep -q "lesson passed"'
check "n at the exercise applies its solution; the pane reports the lesson passed" '[ $? = 0 ]' "$(screen)"
check "the dashboard stays up after the lesson, waiting for q" '[ ! -f "$tmp/rc" ] && screen | grep -q "q quit"' \
  "$(screen)"
tmux -L "$sock" send-keys -t run q
until_ok 15 '[ -f "$tmp/rc" ]'
check "q quits; meshlab run exits 0 and says the lesson passed" \
  '[ "$(cat "$tmp/rc" 2>/dev/null)" = 0 ] && screen | grep -q "02-request-routing.lua: passed"' \
  "rc=$(cat "$tmp/rc" 2>/dev/null) $(screen) $(cat "$tmp/err")"
check "run stopped the lab it started" '! "$MESHLAB" status --lab-dir "$lab" >/dev/null 2>&1'
tmux -L "$sock" kill-server >/dev/null 2>&1

# q while the lesson runs ends it as Ctrl-C does.
run_in_tmux 2
until_ok 30 'screen | grep -q "PAUSED"'
tmux -L "$sock" send-keys -t run q
until_ok 10 'screen | grep -q "lesson ended"'
check "q during a lesson ends it; the pane says so" '[ $? = 0 ]' "$(screen)"
tmux -L "$sock" send-keys -t run q
until_ok 15 '[ -f "$tmp/rc" ]'
check "... and meshlab run exits 130 (interrupted), the lab stopped" \
  '[ "$(cat "$tmp/rc" 2>/dev/null)" = 130 ] && ! "$MESHLAB" status --lab-dir "$lab" >/dev/null 2>&1' \
  "rc=$(cat "$tmp/rc" 2>/dev/null) $(cat "$tmp/err")"
tap_finish
