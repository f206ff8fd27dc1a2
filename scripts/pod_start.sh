#!/usr/bin/env bash
# First-boot entrypoint fragment for RunPod-style ComfyUI images.
#
#   pod_start.sh [ComfyUI arguments...]
#
# 1. Runs `autotune --no-tune` (a cache hit, or the static table's safe choice: milliseconds), so
#    that ComfyUI starts at once, and then, in the background, the full `autotune` under its time
#    budget, followed by a watcher that runs `autotune tune --seen` each time the node's shapes
#    file (<decision file>.seen.json, written after each prompt) changes: the shapes this pod
#    runs are tuned between prompts. The node applies a new decision between prompts by itself;
#    ComfyUI's flags (step 4) are those of the --no-tune run until the next start. The background
#    job logs to a file, never blocks or stops ComfyUI, and stops its tune when ComfyUI exits or
#    this script is signalled before it starts ComfyUI. AUTOTUNE_BACKGROUND=0 runs the full tune
#    here instead, before ComfyUI starts (the order before the background tune).
#    Every run reads the budget from AUTOTUNE_BUDGET (seconds); `timeout` enforces it as well, so
#    a hung tuner costs at most the budget plus a grace period.
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
#   AUTOTUNE_ARGS           extra arguments for it (every run), word-split []
#   AUTOTUNE_BUDGET         seconds a tune may take [300]
#   AUTOTUNE_GRACE          seconds past the budget before SIGTERM [15]
#   AUTOTUNE_KILL_AFTER     seconds after SIGTERM before SIGKILL [10]
#   AUTOTUNE_BACKGROUND=0   tune before ComfyUI starts, as before; no watcher [1: in the background]
#   AUTOTUNE_START_LIMIT    seconds the --no-tune run may take before ComfyUI starts without it [10]
#   AUTOTUNE_WATCH_INTERVAL seconds between looks at ComfyUI and the shapes file [1]
#   AUTOTUNE_BACKGROUND_LOG the background job's log [$AUTOTUNE_LOCAL_DIR/pod_start.log, local dir
#                           /var/tmp/comfyui-attention-autotune as autotune's]
#   AUTOTUNE_ENV_SETTINGS   file autotune writes, passed on to it [<venv>/.env_settings, the venv
#                           AUTOTUNE_ARGS' --venv, else AUTOTUNE_VENV, else /workspace/venv]
#   COMFYUI_DIR             ComfyUI checkout [/workspace/ComfyUI]
#   COMFYUI_PYTHON          interpreter [/workspace/venv/bin/python]
#   COMFYUI_ARGS            more ComfyUI arguments, word-split (ai-dock's convention) []
#   AUTOTUNE_NODE_DIR       the node to link [/opt/comfyui-attention-autotune/comfyui_node]
#   AUTOTUNE_LINK_NODE=0    do not link the node
#   COMFYUI_NO_EXEC=1       print the command instead of exec'ing it, start no background job
#                           (for debugging)
set -u

log() { printf '[pod_start] %s\n' "$*" >&2; }

budget=${AUTOTUNE_BUDGET:-300}
if ! [[ $budget =~ ^[0-9]+$ ]] || [ "$budget" -eq 0 ]; then
    log "AUTOTUNE_BUDGET='$budget' is not a positive number of seconds; using 300"
    budget=300
fi
grace=${AUTOTUNE_GRACE:-15}
kill_after=${AUTOTUNE_KILL_AFTER:-10}
env_settings=${AUTOTUNE_ENV_SETTINGS:-${AUTOTUNE_VENV:-/workspace/venv}/.env_settings}
comfyui_dir=${COMFYUI_DIR:-/workspace/ComfyUI}
comfyui_python=${COMFYUI_PYTHON:-/workspace/venv/bin/python}
background=${AUTOTUNE_BACKGROUND:-1}
start_limit=${AUTOTUNE_START_LIMIT:-10}
if ! [[ $start_limit =~ ^[0-9]+$ ]] || [ "$start_limit" -eq 0 ]; then
    log "AUTOTUNE_START_LIMIT='$start_limit' is not a positive number of seconds; using 10"
    start_limit=10
fi
interval=${AUTOTUNE_WATCH_INTERVAL:-1}
if ! [[ $interval =~ ^[0-9]*[.]?[0-9]+$ ]] || ! [[ $interval =~ [1-9] ]]; then
    log "AUTOTUNE_WATCH_INTERVAL='$interval' is not a positive number of seconds; using 1"
    interval=1
fi
bg_log=${AUTOTUNE_BACKGROUND_LOG:-${AUTOTUNE_LOCAL_DIR:-/var/tmp/comfyui-attention-autotune}/pod_start.log}

autotune_bin=${AUTOTUNE_BIN:-}
if [ -z "$autotune_bin" ]; then
    autotune_bin=$(command -v autotune 2>/dev/null || echo /usr/local/bin/autotune)
fi
read -r -a autotune_args <<< "${AUTOTUNE_ARGS:-}"
# The settings file is where autotune writes it: --env-settings or --venv in AUTOTUNE_ARGS win
# (as on autotune's command line), else AUTOTUNE_ENV_SETTINGS, which autotune reads too.
venv_arg=
for ((i = 0; i < ${#autotune_args[@]}; i++)); do
    case ${autotune_args[i]} in
        --env-settings) env_settings=${autotune_args[i + 1]:-$env_settings}; env_settings_arg=1 ;;
        --env-settings=*) env_settings=${autotune_args[i]#--env-settings=}; env_settings_arg=1 ;;
        --venv) venv_arg=${autotune_args[i + 1]:-} ;;
        --venv=*) venv_arg=${autotune_args[i]#--venv=} ;;
    esac
done
if [ -z "${env_settings_arg:-}" ] && [ -z "${AUTOTUNE_ENV_SETTINGS:-}" ] && [ -n "$venv_arg" ]; then
    env_settings=$venv_arg/.env_settings
fi
export AUTOTUNE_ENV_SETTINGS=$env_settings
# ComfyUI's folder tells autotune what ComfyUI's own PyTorch attention path runs.
autotune_comfyui_dir=${AUTOTUNE_COMFYUI_DIR:-$comfyui_dir}

# say_status STATUS SECONDS WHAT LIMIT: one line on how a run of autotune ended.
say_status() {
    case $1 in
        0) log "$3 finished in ${2}s" ;;
        124 | 137) log "$3 exceeded $4 and was stopped" ;;
        *) log "$3 failed with status $1 after ${2}s" ;;
    esac
}

# --- the background job: full tune, then tune --seen whenever the shapes file changes ----------
# It runs in a process of its own that is no child of ComfyUI (see start_background), watches
# ComfyUI by pid and start time (exec keeps this script's pid), and lets `timeout` stop autotune's
# whole process group (its worker included) when ComfyUI is gone.

# proc_start PID: the process's start time (field 22 of /proc/PID/stat), or "-" without /proc.
# Fails when PID is gone or a zombie (it has exited; its parent has not collected it yet).
proc_start() {
    local stat fields
    if [ ! -d /proc/self ]; then
        kill -0 "$1" 2>/dev/null && echo -
        return
    fi
    { read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
    read -r -a fields <<< "${stat##*) }"  # after the command name, which may hold spaces
    [ "${fields[0]}" != Z ] || return 1
    echo "${fields[19]}"
}

# shapes_file DECISION: where the node records its shapes, beside its decision file:
# `.attention_decision.json` -> `.attention_decision.seen.json` (comfyui_node/seen.py seen_path and
# common/seen_shapes.cpp derive the same name; the watcher hands it to autotune as --seen-file).
shapes_file() {
    local dir='' base=${1##*/} stem
    case $1 in */*) dir=${1%/*}/ ;; esac
    stem=${base#"${base%%[!.]*}"}  # leading dots do not start an extension
    if [[ $stem == *.* ]]; then
        printf '%s%s.seen.%s\n' "$dir" "${base%.*}" "${base##*.}"
    else
        printf '%s%s.seen.json\n' "$dir" "$base"
    fi
}

background_job() {
    local comfy_pid=$1 comfy_start status started seen_file decision seen last=
    bg_child='' bg_nap=''
    # First: a signal before these traps finds nothing started yet, and just ends the job.
    trap 'log "signalled; stopping"; stop_child; exit 143' TERM
    trap 'log "hung up; stopping"; stop_child; exit 129' HUP
    log() { printf '[pod_start %(%F %T)T] %s\n' -1 "$*" >&2; }
    stop_child() {
        [ -z "$bg_nap" ] || kill "$bg_nap" 2>/dev/null
        if [ -n "$bg_child" ]; then
            kill -TERM "$bg_child" 2>/dev/null  # timeout passes it on, and SIGKILL after kill_after
            wait "$bg_child" 2>/dev/null
            bg_child=
        fi
    }
    comfy_start=$(proc_start "$comfy_pid") || return 0
    export AUTOTUNE_COMFYUI_DIR=$autotune_comfyui_dir AUTOTUNE_BUDGET=$budget  # as in step 1
    comfy_running() { [ "$(proc_start "$comfy_pid")" = "$comfy_start" ]; }
    nap() {
        sleep "$interval" &
        bg_nap=$!
        wait "$bg_nap"
        bg_nap=
    }
    # run LIMIT COMMAND...: COMMAND under timeout while ComfyUI runs, and its status; when
    # ComfyUI exits first, stops COMMAND and ends the job.
    run() {
        local limit=$1
        shift
        timeout --kill-after="$kill_after" "$limit" "$@" < /dev/null &
        bg_child=$!
        while proc_start "$bg_child" > /dev/null; do
            if ! comfy_running; then
                log "ComfyUI (pid $comfy_pid) exited; stopping autotune"
                stop_child
                exit 0
            fi
            nap
        done
        wait "$bg_child"
        status=$?
        bg_child=
        return "$status"
    }

    log "autotune${autotune_args[*]:+ ${autotune_args[*]}} (budget ${budget}s) in the background, beside ComfyUI (pid $comfy_pid)"
    started=$SECONDS
    run "$((budget + grace))" "$autotune_bin" "${autotune_args[@]}"
    say_status "$?" "$((SECONDS - started))" autotune "its budget (${budget}s + ${grace}s grace)"

    # The node's decision file, as the node finds it: COMFYUI_ATTENTION_DECISION from the settings
    # (sourced over this environment, as step 2 does for ComfyUI), else the node's default.
    # shellcheck source=/dev/null
    decision=$(. "$env_settings" > /dev/null 2>&1
        printf '%s' "${COMFYUI_ATTENTION_DECISION:-/workspace/venv/.attention_decision.json}")
    seen_file=$(shapes_file "$decision")
    log "watching $seen_file: autotune tune --seen runs after each change (the node writes it after a prompt)"
    # `last` starts empty, so shapes recorded before the watch (while the full tune ran, or in an
    # earlier boot: the file survives restarts) are tuned at once.
    while comfy_running; do
        seen=$(stat -c '%y %s %i' -- "$seen_file" 2>/dev/null) || seen=
        if [ -n "$seen" ] && [ "$seen" != "$last" ]; then
            last=$seen  # a change during the tune below starts another one after it
            log "$seen_file changed; autotune tune --seen"
            started=$SECONDS
            run "$((budget + grace))" "$autotune_bin" "${autotune_args[@]}" tune --seen --seen-file "$seen_file" -q
            say_status "$?" "$((SECONDS - started))" "autotune tune --seen" "its budget (${budget}s + ${grace}s grace)"
        fi
        nap
    done
    log "ComfyUI (pid $comfy_pid) exited; the watcher stops"
}

# start_background: starts background_job, in a grandchild so that ComfyUI (this process after
# exec) gets no child it does not know about; sets bg_pid.
start_background() {
    bg_pid=
    if ! mkdir -p "$(dirname "$bg_log")" 2>/dev/null || ! : >> "$bg_log" 2>/dev/null; then
        log "cannot write $bg_log (AUTOTUNE_BACKGROUND_LOG); the background tune logs nowhere"
        bg_log=/dev/null
    fi
    bg_pid=$(background_job "$$" < /dev/null > "$bg_log" 2>&1 & echo $!)
    trap 'stop_background; exit 143' TERM
    trap 'stop_background; exit 130' INT
    trap 'stop_background; exit 129' HUP
}
stop_background() {
    [ -z "${bg_pid:-}" ] || kill -TERM "$bg_pid" 2>/dev/null
}

# --- 1. tune (never fatal) -------------------------------------------------------------------
if ! [ -x "$autotune_bin" ] && ! command -v "$autotune_bin" >/dev/null 2>&1; then
    log "autotune not found ('$autotune_bin'); starting ComfyUI with its own defaults"
elif [ "$background" = 0 ]; then
    log "running $autotune_bin (budget ${budget}s)"
    started=$SECONDS
    AUTOTUNE_COMFYUI_DIR=$autotune_comfyui_dir AUTOTUNE_BUDGET=$budget \
        timeout --kill-after="$kill_after" "$((budget + grace))" "$autotune_bin" "${autotune_args[@]}"
    status=$?
    say_status "$status" "$((SECONDS - started))" autotune "its budget (${budget}s + ${grace}s grace)"
    [ "$status" -eq 0 ] || log "starting ComfyUI anyway"
else
    log "running $autotune_bin --no-tune (cache or static table; the tune runs beside ComfyUI)"
    started=$SECONDS
    AUTOTUNE_COMFYUI_DIR=$autotune_comfyui_dir AUTOTUNE_BUDGET=$budget \
        timeout --kill-after="$kill_after" "$start_limit" "$autotune_bin" "${autotune_args[@]}" --no-tune
    status=$?
    say_status "$status" "$((SECONDS - started))" "autotune --no-tune" "AUTOTUNE_START_LIMIT (${start_limit}s)"
    [ "$status" -eq 0 ] || log "starting ComfyUI anyway"
    if [ "${COMFYUI_NO_EXEC:-0}" = 1 ]; then
        log "COMFYUI_NO_EXEC=1: no background tune"
    else
        # Before step 2, so the tune sees the user's environment. Once the settings are sourced,
        # COMFYUI_ATTENTION_MECHANISM equals AUTOTUNE_WRITTEN_MECHANISM, which autotune reads as
        # its own earlier output, and a user's override of the mechanism would be lost.
        start_background
        log "tuning in the background (log: $bg_log); the node applies the result between prompts," \
            "ComfyUI's flags change at the next start"
    fi
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
