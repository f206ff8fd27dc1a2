#!/usr/bin/env bash
# First-boot entrypoint fragment for RunPod-style ComfyUI images.
#
#   pod_start.sh [ComfyUI arguments...]
#
# 1. Runs `autotune` under a time budget. It reads the budget from AUTOTUNE_BUDGET (seconds);
#    `timeout` enforces it as well, so a hung tuner costs at most the budget plus a grace period.
# 2. Sources the .env_settings file autotune writes (COMFYUI_ATTENTION_ARGS and friends).
# 3. Links the ComfyUI node (comfyui_node/, which applies autotune's per-shape decision) into
#    ComfyUI's custom_nodes/, unless a copy of it is already there.
# 4. Starts ComfyUI with those attention arguments followed by the user's own (the arguments of
#    this script, then COMFYUI_ARGS). If the user passes an attention flag, theirs wins: ComfyUI's
#    attention flags are mutually exclusive and two of them would stop it from starting. Which
#    flags are attention flags, and which exist at all, is read from the installed ComfyUI's
#    comfy/cli_args.py (newer versions add --use-ck-attention); a flag it lacks is not passed.
# Whatever autotune does (fails, hangs, is missing, writes nothing), ComfyUI starts.
#
# Environment (defaults in brackets):
#   AUTOTUNE_BIN            the tuner [autotune on PATH, else /usr/local/bin/autotune]
#   AUTOTUNE_ARGS           extra arguments for it, word-split []
#   AUTOTUNE_BUDGET         seconds the tuner may take [300]
#   AUTOTUNE_GRACE          seconds past the budget before SIGTERM [15]
#   AUTOTUNE_KILL_AFTER     seconds after SIGTERM before SIGKILL [10]
#   AUTOTUNE_ENV_SETTINGS   file autotune writes [/workspace/venv/.env_settings]
#   COMFYUI_DIR             ComfyUI checkout [/workspace/ComfyUI]
#   COMFYUI_PYTHON          interpreter [/workspace/venv/bin/python]
#   COMFYUI_ARGS            more ComfyUI arguments, word-split (ai-dock's convention) []
#   AUTOTUNE_NODE_DIR       the node to link [/opt/comfyui-attention-autotune/comfyui_node]
#   AUTOTUNE_LINK_NODE=0    do not link the node
#   COMFYUI_NO_EXEC=1       print the command instead of exec'ing it (for debugging)
set -u

log() { printf '[pod_start] %s\n' "$*" >&2; }

budget=${AUTOTUNE_BUDGET:-300}
if ! [[ $budget =~ ^[0-9]+$ ]] || [ "$budget" -eq 0 ]; then
    log "AUTOTUNE_BUDGET='$budget' is not a positive number of seconds; using 300"
    budget=300
fi
grace=${AUTOTUNE_GRACE:-15}
kill_after=${AUTOTUNE_KILL_AFTER:-10}
env_settings=${AUTOTUNE_ENV_SETTINGS:-/workspace/venv/.env_settings}
comfyui_dir=${COMFYUI_DIR:-/workspace/ComfyUI}
comfyui_python=${COMFYUI_PYTHON:-/workspace/venv/bin/python}

autotune_bin=${AUTOTUNE_BIN:-}
if [ -z "$autotune_bin" ]; then
    autotune_bin=$(command -v autotune 2>/dev/null || echo /usr/local/bin/autotune)
fi

# --- 1. tune (never fatal) -------------------------------------------------------------------
if [ -x "$autotune_bin" ] || command -v "$autotune_bin" >/dev/null 2>&1; then
    read -r -a autotune_args <<< "${AUTOTUNE_ARGS:-}"
    log "running $autotune_bin (budget ${budget}s)"
    started=$SECONDS
    # ComfyUI's folder tells autotune what ComfyUI's own PyTorch attention path runs.
    AUTOTUNE_COMFYUI_DIR=${AUTOTUNE_COMFYUI_DIR:-$comfyui_dir} AUTOTUNE_BUDGET=$budget \
        timeout --kill-after="$kill_after" "$((budget + grace))" \
        "$autotune_bin" "${autotune_args[@]}"
    status=$?
    elapsed=$((SECONDS - started))
    case $status in
        0) log "autotune finished in ${elapsed}s" ;;
        124 | 137) log "autotune exceeded its budget (${budget}s + ${grace}s grace) and was stopped; starting ComfyUI anyway" ;;
        *) log "autotune failed with status $status after ${elapsed}s; starting ComfyUI anyway" ;;
    esac
else
    log "autotune not found ('$autotune_bin'); starting ComfyUI with its own defaults"
fi

# --- 2. read the decision (never fatal) -------------------------------------------------------
COMFYUI_ATTENTION_ARGS=
if [ -r "$env_settings" ]; then
    # shellcheck source=/dev/null
    if ! . "$env_settings"; then
        log "sourcing $env_settings failed; ignoring it"
        COMFYUI_ATTENTION_ARGS=
    fi
else
    log "no $env_settings; starting ComfyUI with its own attention defaults"
fi

# ComfyUI's mutually exclusive attention flags, as the installed ComfyUI defines them: every flag
# of the argparse group that holds --use-pytorch-cross-attention in comfy/cli_args.py
# (attn_group in 2025-2026; 2026 adds --use-ck-attention to it).
cli_args=$comfyui_dir/comfy/cli_args.py
attention_flags=()
if [ -r "$cli_args" ]; then
    group=$(sed -n "s/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\)\.add_argument([\"']--use-pytorch-cross-attention[\"'].*/\1/p" \
        "$cli_args" | head -n 1)
    if [ -n "$group" ]; then
        mapfile -t attention_flags < <(sed -n "s/^[[:space:]]*$group\.add_argument([\"']\(--[A-Za-z0-9-]*\)[\"'].*/\1/p" "$cli_args")
    fi
fi
if [ ${#attention_flags[@]} -eq 0 ]; then
    attention_flags=(--use-split-cross-attention --use-quad-cross-attention --use-pytorch-cross-attention
        --use-sage-attention --use-flash-attention --use-ck-attention)
    log "cannot read ComfyUI's attention flags from $cli_args; taking ${attention_flags[*]} as attention flags"
    comfy_defines() { return 0; }
else
    comfy_defines() { grep -q -- "[\"']$1[\"']" "$cli_args"; }
fi
is_attention_flag() {
    local flag
    for flag in "${attention_flags[@]}"; do
        [ "$1" = "$flag" ] && return 0
    done
    return 1
}

# Only ComfyUI's attention flags are accepted from the file, and only those this ComfyUI defines:
# anything else in it is reported and dropped, so a damaged file or a decision made for another
# ComfyUI version cannot keep ComfyUI from starting.
attention_args=()
read -r -a from_file <<< "${COMFYUI_ATTENTION_ARGS:-}"
for arg in "${from_file[@]}"; do
    if ! is_attention_flag "$arg" && [ "$arg" != --disable-xformers ]; then
        log "ignoring '$arg' in COMFYUI_ATTENTION_ARGS from $env_settings (not an attention flag this ComfyUI accepts: $cli_args)"
    elif ! comfy_defines "$arg"; then
        log "ignoring '$arg' in COMFYUI_ATTENTION_ARGS from $env_settings (this ComfyUI has no such flag: $cli_args)"
    else
        attention_args+=("$arg")
    fi
done

# --- 3. the node (never fatal) ----------------------------------------------------------------
node_src=${AUTOTUNE_NODE_DIR:-/opt/comfyui-attention-autotune/comfyui_node}
node_link=$comfyui_dir/custom_nodes/comfyui-attention-autotune
if [ "${AUTOTUNE_LINK_NODE:-1}" != 0 ]; then
    # A copy installed some other way (ComfyUI-Manager, the Comfy Registry, by hand) would make
    # ComfyUI load the node twice.
    other=$(grep -l -s -- "attention-autotune" "$comfyui_dir"/custom_nodes/*/__init__.py | grep -v -F "$node_link/" | head -n 1)
    if [ ! -f "$node_src/__init__.py" ]; then
        log "no ComfyUI node at $node_src (AUTOTUNE_NODE_DIR); ComfyUI starts without it"
    elif [ -n "$other" ]; then
        log "the node is already installed as $(dirname "$other"); not linking $node_src"
    elif [ -e "$node_link" ] && [ ! -L "$node_link" ]; then
        log "$node_link exists and is not a link; leaving it"
    elif mkdir -p "$comfyui_dir/custom_nodes" && ln -sfn "$node_src" "$node_link"; then
        log "linked the node: $node_link -> $node_src"
    else
        log "cannot link $node_src into $comfyui_dir/custom_nodes; ComfyUI starts without the node"
    fi
fi

# --- 4. user arguments, and who wins ----------------------------------------------------------
read -r -a env_user_args <<< "${COMFYUI_ARGS:-}"
user_args=("$@" "${env_user_args[@]}")
for arg in "${user_args[@]}"; do
    if is_attention_flag "$arg"; then
        if [ ${#attention_args[@]} -gt 0 ]; then
            log "user asked for $arg; not adding autotune's ${attention_args[*]}"
        fi
        attention_args=()
        break
    fi
done

cmd=("$comfyui_python" "$comfyui_dir/main.py" "${attention_args[@]}" "${user_args[@]}")
log "starting ComfyUI: ${cmd[*]}"
if [ "${COMFYUI_NO_EXEC:-0}" = 1 ]; then
    printf '%s\n' "${cmd[*]}"
    exit 0
fi
cd "$comfyui_dir" || log "cannot cd to $comfyui_dir; starting from $(pwd)"
exec "${cmd[@]}"
