# shellcheck shell=bash
# Sourced by staging/run.sh, bench/lib/common.sh and scripts/lib/php-fpm.sh: the pid files of
# processes this project started. Processes are only ever stopped by such a PID, never by name.

# owned_pid FILE DIR: prints the PID in FILE if that process is ours, i.e. its command line
# names a file inside DIR (guards against stale pid files and reused PIDs).
owned_pid() {
    local f=$1 dir=$2 pid
    [ -s "$f" ] || return 1
    pid=$(tr -dc 0-9 <"$f")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$dir/" || return 1
    echo "$pid"
}

# stop_owned FILE DIR TIMEOUT: SIGTERM (fast shutdown, for nginx and php-fpm alike) to the
# process in FILE if it is ours, SIGKILL if it is still there after TIMEOUT seconds; FILE is
# removed. Prints the PID it stopped (nothing when none was running).
stop_owned() {
    local f=$1 dir=$2 timeout=$3 pid i
    pid=$(owned_pid "$f" "$dir") || { rm -f "$f"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "pid $pid ($f) did not stop in ${timeout}s: SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
    echo "$pid"
}
