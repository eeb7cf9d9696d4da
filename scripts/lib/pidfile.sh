# Sourced by staging/run.sh and bench/lib/common.sh: the pid files of processes this project
# started. Processes are only ever stopped by such a PID, never by name.

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
