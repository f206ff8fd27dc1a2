#!/usr/bin/env bash
# pod_start.sh with a fake autotune and a fake ComfyUI main.py: ComfyUI always starts, with the
# decision's attention arguments when there is one, and the user's arguments.
set -u
here=$(cd "$(dirname "$0")" && pwd)
script="$here/../../scripts/pod_start.sh"
python=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() { echo "FAIL [$case_name]: $*" >&2; failures=$((failures + 1)); }

# Fake ComfyUI: records its arguments, one per line; its comfy/cli_args.py declares the attention
# flags as ComfyUI a125cd84 does (the lines pod_start.sh reads).
mkdir -p "$work/ComfyUI/comfy"
cat > "$work/ComfyUI/main.py" <<'PY'
import os, sys
with open(os.environ["FAKE_COMFY_OUT"], "w") as f:
    f.write("\n".join(sys.argv[1:]) + "\n")
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
    rm -f "$work/argv" "$work/.env_settings.case"
    local started=$SECONDS
    log=$(AUTOTUNE_BIN=$bin AUTOTUNE_ENV_SETTINGS=$work/.env_settings.case COMFYUI_DIR=$work/ComfyUI \
        COMFYUI_PYTHON=$python FAKE_COMFY_OUT=$work/argv ENV_OUT=$work/.env_settings.case \
        bash "$script" "$@" 2>&1)
    local status=$?
    elapsed=$((SECONDS - started))
    [ "$status" -eq 0 ] || fail "pod_start.sh exited $status: $log"
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

# 1. Tuning succeeds: its arguments, then the user's; the budget reaches autotune.
good=$(make_autotune good "[ \"\$AUTOTUNE_BUDGET\" = 7 ] || exit 9
[ \"\$*\" = '--verbose --x' ] || exit 8
$write_settings")
AUTOTUNE_BUDGET=7 AUTOTUNE_ARGS="--verbose --x" run_case success "$good" --listen 0.0.0.0 --port 8188
expect_argv "--use-pytorch-cross-attention --disable-xformers --listen 0.0.0.0 --port 8188"
expect_log "autotune finished"

plain=$(make_autotune plain "$write_settings")

# 2. Tuning fails and writes nothing: ComfyUI starts with the user's arguments only.
bad=$(make_autotune bad 'echo "simulated crash" >&2; exit 3')
run_case failing "$bad" --port 8188
expect_argv "--port 8188"
expect_log "autotune failed with status 3"
expect_log "simulated crash"

# 3. Tuning hangs and ignores SIGTERM: stopped after budget + grace + kill-after.
hang=$(make_autotune hang "trap '' TERM
$write_settings
sleep 60")
AUTOTUNE_BUDGET=1 AUTOTUNE_GRACE=1 AUTOTUNE_KILL_AFTER=1 run_case hanging "$hang" --port 1
expect_argv "--use-pytorch-cross-attention --disable-xformers --port 1"
expect_log "exceeded its budget"
[ "$elapsed" -lt 20 ] || fail "took ${elapsed}s to give up on a hung autotune"

# 4. autotune missing; a decision from an earlier boot is still used.
cp_settings=$(make_autotune writer "$write_settings")
ENV_OUT=$work/.env_settings.case "$cp_settings"
cp "$work/.env_settings.case" "$work/keep"
case_name=missing
rm -f "$work/argv"
log=$(AUTOTUNE_BIN=$work/does-not-exist AUTOTUNE_ENV_SETTINGS=$work/keep COMFYUI_DIR=$work/ComfyUI \
    COMFYUI_PYTHON=$python FAKE_COMFY_OUT=$work/argv bash "$script" 2>&1) || fail "exit status $?"
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

if [ "$failures" -gt 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "pod_start.sh: all cases passed"
