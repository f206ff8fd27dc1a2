#!/usr/bin/env bash
# pod_start.sh with a fake autotune and a fake ComfyUI main.py: ComfyUI always starts, with the
# decision's attention arguments when there is one, and the user's arguments; the tune runs beside
# it and leaves no process behind once ComfyUI exits.
set -u
here=$(cd "$(dirname "$0")" && pwd)
script="$here/../../scripts/pod_start.sh"
python=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() { echo "FAIL [$case_name]: $*" >&2; failures=$((failures + 1)); }

# Every process pod_start.sh starts carries POD_START_TEST=$work in its environment (run_case puts
# it there, not in this shell's), so strays finds them all: its background job, timeout, autotune.
strays() { grep -lzxF "POD_START_TEST=$work" /proc/[0-9]*/environ 2> /dev/null | cut -d/ -f3; }
# expect_no_strays: they are gone within 5 s of ComfyUI's exit (the watcher looks every 0.1 s here;
# a tune that ignores SIGTERM takes AUTOTUNE_KILL_AFTER more).
expect_no_strays() {
    local i left
    for ((i = 0; i < 100; i++)); do
        left=$(strays)
        [ -n "$left" ] || return 0
        sleep 0.05
    done
    # shellcheck disable=SC2086  # one pid a line
    fail "processes left after ComfyUI exited: $(ps -o pid=,args= -p $left | tr '\n' ';')"
    # shellcheck disable=SC2086
    kill -9 $left 2> /dev/null
}
# wait_for WHAT COMMAND...: until COMMAND succeeds, at most 10 s.
wait_for() {
    local i
    for ((i = 0; i < 200; i++)); do
        "${@:2}" && return 0
        sleep 0.05
    done
    fail "timed out waiting for $1; calls: $(tr "\n" ";" < "$CALLS" 2>/dev/null); log: $(cat "$AUTOTUNE_BACKGROUND_LOG" "$work/out" 2>/dev/null)"
    return 1
}
calls_of() { grep -c -x -- "$1" "$CALLS" 2> /dev/null; }  # how often the fake autotune ran with these arguments

# What every case shares: the background job's log, its watch interval, and the fake autotune's
# files: its calls, one line each, and the decision file of which the node's shapes file is a
# sibling (.attention_decision.seen.json).
export AUTOTUNE_BACKGROUND_LOG=$work/bg.log AUTOTUNE_WATCH_INTERVAL=0.1 CALLS=$work/calls
export DEC_OUT=$work/dec/.attention_decision.json
shapes=$work/dec/.attention_decision.seen.json
mkdir -p "$work/dec"

# Fake ComfyUI: records its arguments, one per line; with FAKE_COMFY_SAW it records whether the
# tuned decision file existed when it started, and with FAKE_COMFY_STOP it runs until that file
# exists (at most 20 s). Its comfy/cli_args.py declares the attention flags as ComfyUI a125cd84
# does (the lines pod_start.sh reads).
mkdir -p "$work/ComfyUI/comfy"
cat > "$work/ComfyUI/main.py" <<'PY'
import os, sys, time
with open(os.environ["FAKE_COMFY_OUT"], "w") as f:
    f.write("\n".join(sys.argv[1:]) + "\n")
if os.environ.get("FAKE_COMFY_SAW"):
    with open(os.environ["FAKE_COMFY_SAW"], "w") as f:
        f.write("present" if os.path.exists(os.environ["DEC_OUT"]) else "absent")
stop, deadline = os.environ.get("FAKE_COMFY_STOP"), time.time() + 20
while stop and not os.path.exists(stop) and time.time() < deadline:
    time.sleep(0.02)
PY
write_cli_args() {  # write_cli_args [extra attention flag...]
    {
        echo 'attn_group = parser.add_mutually_exclusive_group()'
        for flag in --use-split-cross-attention --use-quad-cross-attention --use-pytorch-cross-attention \
            --use-sage-attention --use-flash-attention "$@"; do
            echo "attn_group.add_argument(\"$flag\", action=\"store_true\", help=\"...\")"
        done
        echo 'parser.add_argument("--disable-xformers", action="store_true", help="Disable xformers.")'
    } > "$work/ComfyUI/comfy/cli_args.py"
}
write_cli_args
# The node pod_start.sh links into custom_nodes (AUTOTUNE_NODE_DIR): the repository's.
export AUTOTUNE_NODE_DIR=$here/../../comfyui_node

# make_autotune NAME BODY: a fake autotune running BODY (bash).
make_autotune() {
    printf '#!/usr/bin/env bash\n%s\n' "$2" > "$work/$1"
    chmod +x "$work/$1"
    echo "$work/$1"
}

# run_case NAME AUTOTUNE [args...]: runs pod_start.sh; sets $argv (ComfyUI's arguments), $log, $elapsed.
run_case() {
    case_name=$1
    local bin=$2
    shift 2
    rm -f "$work/argv" "$work/.env_settings.case" "$CALLS" "$DEC_OUT" "$shapes" "$AUTOTUNE_BACKGROUND_LOG"
    local started=$SECONDS
    log=$(POD_START_TEST=$work AUTOTUNE_BIN=$bin AUTOTUNE_ENV_SETTINGS=$work/.env_settings.case \
        COMFYUI_DIR=$work/ComfyUI COMFYUI_PYTHON=$python FAKE_COMFY_OUT=$work/argv ENV_OUT=$work/.env_settings.case \
        bash "$script" "$@" 2>&1)
    local status=$?
    elapsed=$((SECONDS - started))
    [ "$status" -eq 0 ] || fail "pod_start.sh exited $status: $log"
    expect_no_strays
    if [ -f "$work/argv" ]; then
        argv=$(tr '\n' ' ' < "$work/argv" | sed 's/ *$//')
    else
        argv="<ComfyUI not started>"
        fail "ComfyUI was not started; log: $log"
    fi
}

expect_argv() { [ "$argv" = "$1" ] || fail "ComfyUI arguments '$argv', expected '$1'"; }
expect_log() { grep -qF -- "$1" <<< "$log" || fail "log lacks '$1': $log"; }

# shellcheck disable=SC2016  # expanded by the fake autotune, not here
write_settings='cat > "$ENV_OUT" <<EOS
# comfyui-attention-autotune 0.1.0, 2026-11-25T12:00:00Z
export COMFYUI_ATTENTION_MECHANISM=pytorch
export COMFYUI_ATTENTION_ARGS='"'"'--use-pytorch-cross-attention --disable-xformers'"'"'
export COMFYUI_ATTENTION_SOURCE=table
export COMFYUI_ATTENTION_REASON='"'"'test reason'"'"'
export AUTOTUNE_WRITTEN_MECHANISM=pytorch
EOS'

# 1. Tuning succeeds: its arguments, then the user's; the budget and AUTOTUNE_ARGS reach autotune.
#    ComfyUI starts on the quick --no-tune run's decision; with AUTOTUNE_BACKGROUND=0, the tune's.
# shellcheck disable=SC2016  # expanded by the fake autotune
good=$(make_autotune good '[ "$AUTOTUNE_BUDGET" = 7 ] || exit 9
[ "$AUTOTUNE_COMFYUI_DIR" = "$COMFYUI_DIR" ] || exit 7
echo "$*" >> "$CALLS"
case "$*" in "--verbose --x --no-tune" | "--verbose --x") ;; *) exit 8 ;; esac
'"$write_settings")
AUTOTUNE_BUDGET=7 AUTOTUNE_ARGS="--verbose --x" run_case success "$good" --listen 0.0.0.0 --port 8188
expect_argv "--use-pytorch-cross-attention --disable-xformers --listen 0.0.0.0 --port 8188"
expect_log "autotune --no-tune finished"
expect_log "tuning in the background (log: $AUTOTUNE_BACKGROUND_LOG)"
[ "$(head -n 1 "$CALLS")" = "--verbose --x --no-tune" ] || fail "first call '$(head -n 1 "$CALLS")', expected --no-tune"
AUTOTUNE_BACKGROUND=0 AUTOTUNE_BUDGET=7 AUTOTUNE_ARGS="--verbose --x" run_case success-foreground "$good" --port 8188
expect_argv "--use-pytorch-cross-attention --disable-xformers --port 8188"
expect_log "autotune finished"
[ "$(cat "$CALLS")" = "--verbose --x" ] || fail "calls '$(cat "$CALLS")', expected the tune alone"
[ ! -e "$AUTOTUNE_BACKGROUND_LOG" ] || fail "AUTOTUNE_BACKGROUND=0 started a background job"

plain=$(make_autotune plain "$write_settings")

# 2. Tuning fails and writes nothing: ComfyUI starts with the user's arguments only.
bad=$(make_autotune bad 'echo "simulated crash" >&2; exit 3')
run_case failing "$bad" --port 8188
expect_argv "--port 8188"
expect_log "autotune --no-tune failed with status 3"
expect_log "simulated crash"
AUTOTUNE_BACKGROUND=0 run_case failing-foreground "$bad" --port 8188
expect_argv "--port 8188"
expect_log "autotune failed with status 3"

# 3. Tuning hangs and ignores SIGTERM: stopped after its limit (AUTOTUNE_START_LIMIT for the
#    --no-tune run, budget + grace for the tune) + kill-after. The background tune hangs too, and
#    is gone once ComfyUI exits.
hang=$(make_autotune hang "trap '' TERM
$write_settings
sleep 60")
AUTOTUNE_START_LIMIT=1 AUTOTUNE_KILL_AFTER=1 run_case hanging "$hang" --port 1
expect_argv "--use-pytorch-cross-attention --disable-xformers --port 1"
expect_log "autotune --no-tune exceeded AUTOTUNE_START_LIMIT (1s)"
[ "$elapsed" -lt 10 ] || fail "took ${elapsed}s to give up on a hung autotune --no-tune"
AUTOTUNE_BACKGROUND=0 AUTOTUNE_BUDGET=1 AUTOTUNE_GRACE=1 AUTOTUNE_KILL_AFTER=1 run_case hanging-foreground "$hang" --port 1
expect_argv "--use-pytorch-cross-attention --disable-xformers --port 1"
expect_log "exceeded its budget"
[ "$elapsed" -lt 20 ] || fail "took ${elapsed}s to give up on a hung autotune"

# 4. autotune missing; a decision from an earlier boot is still used.
cp_settings=$(make_autotune writer "$write_settings")
ENV_OUT=$work/.env_settings.case "$cp_settings"
cp "$work/.env_settings.case" "$work/keep"
case_name=missing
rm -f "$work/argv"
log=$(POD_START_TEST=$work AUTOTUNE_BIN=$work/does-not-exist AUTOTUNE_ENV_SETTINGS=$work/keep COMFYUI_DIR=$work/ComfyUI \
    COMFYUI_PYTHON=$python FAKE_COMFY_OUT=$work/argv bash "$script" 2>&1) || fail "exit status $?"
[ -z "$(strays)" ] || fail "processes left without an autotune"
argv=$(tr '\n' ' ' < "$work/argv" 2>/dev/null | sed 's/ *$//')
expect_argv "--use-pytorch-cross-attention --disable-xformers"
expect_log "autotune not found"

# 5. A damaged .env_settings: ComfyUI starts. A token that is not an attention flag is dropped
#    and named; a file that does not even parse is ignored as a whole.
# shellcheck disable=SC2016  # expanded by the fake autotune
odd=$(make_autotune odd 'echo "export COMFYUI_ATTENTION_ARGS=\"--use-sage-attention --rm-rf\"" > "$ENV_OUT"')
run_case odd-token "$odd" --port 2
expect_argv "--use-sage-attention --port 2"
expect_log "ignoring '--rm-rf'"
# shellcheck disable=SC2016  # expanded by the fake autotune
broken=$(make_autotune broken 'printf "export COMFYUI_ATTENTION_ARGS=--use-sage-attention\nif then fi\n" > "$ENV_OUT"')
run_case unparsable "$broken" --port 2
expect_argv "--port 2"
expect_log "failed; ignoring it"

# 6. The user's own attention flag wins (ComfyUI refuses two of them).
run_case user-flag "$plain" --use-flash-attention
expect_argv "--use-flash-attention"
expect_log "user asked for --use-flash-attention"
COMFYUI_ARGS="--use-sage-attention --lowvram" run_case user-env-flag "$plain" --port 3
expect_argv "--port 3 --use-sage-attention --lowvram"

# 7. Flags come from the installed ComfyUI's cli_args.py. A newer ComfyUI's own flag
#    (--use-ck-attention) from the user wins; a flag the installed ComfyUI lacks is not passed.
write_cli_args --use-ck-attention
run_case user-ck-flag "$plain" --use-ck-attention
expect_argv "--use-ck-attention"
expect_log "user asked for --use-ck-attention"
write_cli_args
run_case no-ck-here "$plain" --use-ck-attention  # ComfyUI itself will say it has no such flag
expect_argv "--use-pytorch-cross-attention --disable-xformers --use-ck-attention"
sed -i '/--use-sage-attention/d' "$work/ComfyUI/comfy/cli_args.py"
run_case no-sage-here "$odd" --port 2
expect_argv "--port 2"
expect_log "ignoring '--use-sage-attention' in COMFYUI_ATTENTION_ARGS from $work/.env_settings.case (not an attention flag this ComfyUI accepts"
sed -i '/--disable-xformers/d' "$work/ComfyUI/comfy/cli_args.py"
run_case no-disable-xformers-here "$plain"
expect_argv "--use-pytorch-cross-attention"
expect_log "ignoring '--disable-xformers' in COMFYUI_ATTENTION_ARGS from $work/.env_settings.case (this ComfyUI has no such flag"
mv "$work/ComfyUI/comfy/cli_args.py" "$work/cli_args.away"
run_case no-cli-args "$plain" --use-ck-attention
expect_argv "--use-ck-attention"
expect_log "cannot read ComfyUI's attention flags from $work/ComfyUI/comfy/cli_args.py"
mv "$work/cli_args.away" "$work/ComfyUI/comfy/cli_args.py"
write_cli_args

# 8. The node is linked into the ComfyUI it starts, once; a copy installed another way stays the
#    only one; AUTOTUNE_LINK_NODE=0 links nothing.
link=$work/ComfyUI/custom_nodes/comfyui-attention-autotune
run_case node-linked "$plain"
[ "$(readlink "$link")" = "$AUTOTUNE_NODE_DIR" ] || fail "$link -> '$(readlink "$link")', expected $AUTOTUNE_NODE_DIR"
expect_log "linked the node: $link -> $AUTOTUNE_NODE_DIR"
run_case node-linked-again "$plain"
[ "$(readlink "$link")" = "$AUTOTUNE_NODE_DIR" ] || fail "the second boot broke the link"
rm "$link"
mkdir -p "$work/ComfyUI/custom_nodes/attention-autotune"  # as the Comfy Registry would install it
cp "$here/../../__init__.py" "$work/ComfyUI/custom_nodes/attention-autotune/"
run_case node-from-registry "$plain"
[ ! -e "$link" ] || fail "linked the node beside the registry's copy"
expect_log "the node is already installed as $work/ComfyUI/custom_nodes/attention-autotune"
rm -r "$work/ComfyUI/custom_nodes/attention-autotune"
AUTOTUNE_LINK_NODE=0 run_case node-not-wanted "$plain"
[ ! -e "$link" ] || fail "linked the node with AUTOTUNE_LINK_NODE=0"
AUTOTUNE_NODE_DIR=$work/nowhere run_case node-missing "$plain"
expect_log "no ComfyUI node at $work/nowhere"
expect_argv "--use-pytorch-cross-attention --disable-xformers"

# 9. A bad budget value is named and replaced.
AUTOTUNE_BUDGET=soon run_case bad-budget "$plain"
expect_log "AUTOTUNE_BUDGET='soon' is not a positive number"
expect_argv "--use-pytorch-cross-attention --disable-xformers"

# 10. First boot adds no wait. The fake tunes until the test writes $work/release: ComfyUI starts
#     on the --no-tune run's settings before the tune writes its decision; the tune then runs in
#     the background and writes it; each change of the node's shapes file runs `tune --seen`,
#     between prompts, and nothing else does; when ComfyUI exits, the job ends.
# shellcheck disable=SC2016  # expanded by the fake autotune
slow=$(make_autotune slow 'echo "$*" >> "$CALLS"
decide() {  # decide SOURCE
    printf "export COMFYUI_ATTENTION_ARGS=\"--use-pytorch-cross-attention\"\nexport COMFYUI_ATTENTION_DECISION=%s\n" \
        "$DEC_OUT" > "$ENV_OUT"
    [ "$1" = table ] || echo "{\"source\": \"$1\"}" > "$DEC_OUT"
}
case "$*" in
    *--no-tune*) decide table ;;
    *"tune --seen"*) decide seen ;;
    *) for ((i = 0; i < 200; i++)); do [ -e "$RELEASE" ] && break; sleep 0.05; done
       decide tuning ;;
esac')
export RELEASE=$work/release
# start_pod ARGS...: pod_start.sh in the background ($pod), with a ComfyUI that runs until
# $work/stop exists and notes whether the tuned decision existed at its start ($work/saw).
start_pod() {
    rm -f "$work/argv" "$work/saw" "$work/stop" "$RELEASE" "$CALLS" "$DEC_OUT" "$shapes" "$AUTOTUNE_BACKGROUND_LOG"
    POD_START_TEST=$work AUTOTUNE_BIN=$slow AUTOTUNE_ARGS=--x AUTOTUNE_ENV_SETTINGS=$work/.env_settings.case \
        COMFYUI_DIR=$work/ComfyUI COMFYUI_PYTHON=$python FAKE_COMFY_OUT=$work/argv FAKE_COMFY_SAW=$work/saw \
        FAKE_COMFY_STOP=$work/stop ENV_OUT=$work/.env_settings.case bash "$script" "$@" > "$work/out" 2>&1 &
    pod=$!
}
# stop_pod: ComfyUI exits; so do pod_start.sh (now ComfyUI) and its background job.
stop_pod() {
    touch "$work/stop"
    wait "$pod"
    local status=$?
    [ "$status" -eq 0 ] || fail "pod_start.sh exited $status: $(cat "$work/out")"
    expect_no_strays
}
write_shapes() {  # as the node does after a prompt: a new file renamed over the old
    echo "{\"schema\": 1, \"shapes\": [], \"written_at\": $1}" > "$shapes.tmp"
    mv "$shapes.tmp" "$shapes"
}
seen_call="--x tune --seen --seen-file $shapes -q"

case_name=background
start_pod --port 4
wait_for "ComfyUI to start" test -s "$work/saw"
[ "$(cat "$work/saw")" = absent ] || fail "ComfyUI started after the tune had decided"
argv=$(tr '\n' ' ' < "$work/argv" | sed 's/ *$//')
expect_argv "--use-pytorch-cross-attention --port 4"
wait_for "the background tune to start" grep -qsx -- --x "$CALLS"
[ "$(calls_of "$seen_call")" = 0 ] || fail "tune --seen ran before the tune"
touch "$RELEASE"
wait_for "the background tune's decision" grep -qs tuning "$DEC_OUT"
wait_for "the watcher to start" grep -q "watching $shapes" "$AUTOTUNE_BACKGROUND_LOG"
write_shapes 1
wait_for "tune --seen after the first prompt" grep -qs seen "$DEC_OUT"
write_shapes 2
seen_calls_are() { [ "$(calls_of "$seen_call")" = "$1" ]; }
wait_for "tune --seen after the second prompt" seen_calls_are 2
sleep 0.5  # five looks at an unchanged file
[ "$(calls_of "$seen_call")" = 2 ] || fail "tune --seen ran $(calls_of "$seen_call") times for 2 changes"
stop_pod
log=$(cat "$work/out" "$AUTOTUNE_BACKGROUND_LOG")
expect_log "autotune --no-tune finished"
expect_log "autotune finished"
expect_log "$shapes changed; autotune tune --seen"
expect_log "autotune tune --seen finished"
expect_log "exited; the watcher stops"
[ "$(grep -c -v -e --no-tune -e "$seen_call" "$CALLS")" = 1 ] || fail "calls: $(cat "$CALLS")"

# 11. Shapes recorded before the watch (an earlier boot's file) are tuned as soon as the tune ends.
case_name=background-earlier-shapes
start_pod
write_shapes 0
touch "$RELEASE"
wait_for "tune --seen of the earlier shapes" grep -qs seen "$DEC_OUT"
stop_pod

# 12. ComfyUI exits while the tune runs: the tune is stopped, nothing is left.
case_name=background-comfy-exits
start_pod
wait_for "the background tune to start" grep -qsx -- --x "$CALLS"
stop_pod
grep -q "exited; stopping autotune" "$AUTOTUNE_BACKGROUND_LOG" || fail "log: $(cat "$AUTOTUNE_BACKGROUND_LOG")"
[ ! -e "$DEC_OUT" ] || fail "the stopped tune wrote a decision"

# 13. pod_start.sh signalled before it starts ComfyUI (here by the settings it sources, once the
#     background tune runs): it stops the background job and exits; ComfyUI does not start.
# shellcheck disable=SC2016  # expanded by the fake autotune
signal=$(make_autotune signal 'echo "$*" >> "$CALLS"
case "$*" in
    *--no-tune*) echo "until grep -qx -- --x \"\$CALLS\"; do sleep 0.05; done; kill -TERM \$\$" > "$ENV_OUT" ;;
    *) sleep 20 ;;
esac')
case_name=signalled
rm -f "$work/argv" "$CALLS" "$AUTOTUNE_BACKGROUND_LOG"
POD_START_TEST=$work AUTOTUNE_BIN=$signal AUTOTUNE_ARGS=--x AUTOTUNE_ENV_SETTINGS=$work/.env_settings.case COMFYUI_DIR=$work/ComfyUI \
    COMFYUI_PYTHON=$python FAKE_COMFY_OUT=$work/argv ENV_OUT=$work/.env_settings.case bash "$script" > "$work/out" 2>&1
status=$?
[ "$status" -eq 143 ] || fail "pod_start.sh exited $status, expected 143: $(cat "$work/out")"
[ ! -e "$work/argv" ] || fail "ComfyUI started"
expect_no_strays
grep -q "signalled; stopping" "$AUTOTUNE_BACKGROUND_LOG" || fail "log: $(cat "$AUTOTUNE_BACKGROUND_LOG")"

# 14. AUTOTUNE_BACKGROUND=0: the tune first, and then ComfyUI, on its decision; no watcher.
touch "$RELEASE"
rm -f "$work/saw"
AUTOTUNE_BACKGROUND=0 AUTOTUNE_ARGS=--x FAKE_COMFY_SAW=$work/saw run_case foreground-order "$slow" --port 5
[ "$(cat "$CALLS")" = --x ] || fail "calls: $(cat "$CALLS")"
[ "$(cat "$work/saw")" = present ] || fail "ComfyUI started before the tune's decision"
expect_argv "--use-pytorch-cross-attention --port 5"

# 15. The settings file is where autotune writes it: AUTOTUNE_ARGS' --env-settings, else the
#     venv's (AUTOTUNE_ARGS' --venv or AUTOTUNE_VENV), and pod_start.sh passes its choice on as
#     AUTOTUNE_ENV_SETTINGS, which autotune reads. The fake writes where that variable says,
#     or where its own --env-settings says.
# shellcheck disable=SC2016  # expanded by the fake autotune
where=$(make_autotune where 'ENV_OUT=$AUTOTUNE_ENV_SETTINGS
while [ $# -gt 0 ]; do [ "$1" = --env-settings ] && ENV_OUT=$2; shift; done
'"$write_settings")
write_cli_args
for how in "args --env-settings" "args --venv" "AUTOTUNE_VENV"; do
    case_name="settings from $how"
    rm -rf "$work/argv" "$work/v"
    mkdir -p "$work/v"
    case $how in
        "args --env-settings") extra=(AUTOTUNE_ARGS="--env-settings $work/v/mine") ;;
        "args --venv") extra=(AUTOTUNE_ARGS="--venv $work/v") ;;
        AUTOTUNE_VENV) extra=(AUTOTUNE_VENV="$work/v") ;;
    esac
    log=$(env -u AUTOTUNE_ENV_SETTINGS "${extra[@]}" POD_START_TEST="$work" AUTOTUNE_BIN="$where" \
        COMFYUI_DIR="$work/ComfyUI" COMFYUI_PYTHON="$python" FAKE_COMFY_OUT="$work/argv" AUTOTUNE_BACKGROUND=0 \
        bash "$script" --port 6 2>&1) \
        || fail "exit status $?: $log"
    argv=$(tr '\n' ' ' < "$work/argv" 2>/dev/null | sed 's/ *$//')
    expect_argv "--use-pytorch-cross-attention --disable-xformers --port 6"
    expect_no_strays
done

if [ "$failures" -gt 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "pod_start.sh: all cases passed"
