#!/usr/bin/env bash
# The cache index over its life and under concurrency (README: "microcache_index",
# "microcache_purge"), on a private nginx with two workers in front of a proxy origin whose
# pages carry Surrogate-Key tags (the origin matters here only for its tags):
#  1. the index survives `nginx -s reload`: a tag purge right after it goes through the index
#     and finds the entries stored before it;
#  2. after a restart it is read back from the cache files in the background: purges walk the
#     cache directory until then, use the index after, and find the tags stored before the
#     restart, also once the sweep has gone round (nginx's cache loader, which gives the zone
#     its nodes back, starts only a minute after nginx);
#  3. concurrent purges of one tag, in both workers, report added up exactly the entries
#     removed;
#  4. a purge running while nginx reloads ends in its old worker, and what the new workers
#     store meanwhile is indexed;
#  5. purges racing stores of the same keys leave each entry either gone or indexed under the
#     tags its cache file holds;
#  6. a full index: caching goes on, purges walk and say so, and a purge of the zone makes the
#     index usable again.
#
#   scripts/test-index.sh NGINX_BINARY MODULE_SO [PORT]
set -euo pipefail

nginx=$(realpath "$1")
module=$(realpath "$2")
port=${3:-1996}
here=$(dirname "$0")
# shellcheck source=scripts/lib/private-nginx.sh
. "$here/lib/private-nginx.sh"
# shellcheck source=scripts/lib/testing.sh
. "$here/lib/testing.sh"
private_nginx_dir /dev/shm
dir=$nginx_dir
base=http://127.0.0.1:$port
log=$dir/logs/error.log
mkdir -p "$dir/www/e/big"
head -c 100000 /dev/zero >"$dir/www/e/big/1"
chmod -R a+rX "$dir/www"

# write_conf INDEX_SIZE [EXTRA]: EXTRA goes into the server block.
write_conf() {
    { private_nginx_main "$module"; cat; } >"$dir/conf/nginx.conf" <<CONF
events { worker_connections 1024; }
http {
    access_log off;
    proxy_temp_path $dir/tmp;
    proxy_cache_path $dir/cache levels=1:2 keys_zone=ix:16m;
    microcache_index ix size=$1;
    map \$http_x_limit_rate \$client_rate { "" 0; default \$http_x_limit_rate; }
    server {
        listen unix:$dir/origin.sock;
        location / {
            add_header Surrogate-Key "all \$arg_tags \$http_x_tags";
            return 200 "\$uri\n";
        }
        location /e/big/ {
            root $dir/www;
            add_header Surrogate-Key "all \$arg_tags \$http_x_tags";
        }
    }
    server {
        # One socket per worker: concurrent connections reach both workers.
        listen 127.0.0.1:$port reuseport;
        microcache on;
        location /e/ {
            proxy_pass http://unix:$dir/origin.sock;
            proxy_cache ix;
            proxy_cache_key \$microcache_key;
            proxy_cache_valid 200 10m;
            # A request naming more tags is rendered and stored again: a new version of a
            # cached key.
            proxy_cache_bypass \$http_x_tags;
            add_header X-Cache \$upstream_cache_status;
            # A slow client, which keeps its request open after nginx stored the response.
            limit_rate \$client_rate;
        }
        location /purge/ { microcache_purge ix; }
        location = /purgeall { microcache_purge ix "*"; }
        location = /status { microcache_status; }
        ${2:-}
    }
}
CONF
}

# fill NAME N [QUERY]: the pages /e/NAME/1 .. /e/NAME/N, cached, 8 requests at a time.
fill() { curl -sf --no-progress-meter --parallel --parallel-max 8 "$base/e/$1/[1-$2]${3:+?$3}" >/dev/null; }
purge_tag() { curl -s -X PURGE -H "Surrogate-Key: $1" "$base/purge/"; }
purge_all() { curl -s -X PURGE "$base/purgeall" >/dev/null; }
# json NAME: the first value of NAME in the JSON on stdin, a number or a string.
json() { grep -o "\"$1\":\"\{0,1\}[^\",}]*" | head -1 | sed 's/.*:"\{0,1\}//'; }
# index NAME: a figure of the index in microcache_status (state, entries, overflowed, ...).
index() { curl -s "$base/status" | json "$1"; }
# files NAME: the cache files of the pages /e/NAME/...
files() { { grep -rlaF "KEY: httpGET127.0.0.1/e/$1/" "$dir/cache" || true; } | wc -l; }
# summary ANSWER: "PURGED/INDEX" of a purge's answer.
summary() { echo "$(json purged <<<"$1")/$(json index <<<"$1")"; }
log_lines() { wc -l <"$log"; }
# purging_workers FROM TAG: the workers whose purges of TAG purged entries, per the log lines
# after line FROM.
purging_workers() {
    tail -n +"$(($1 + 1))" "$log" | grep "hard purge of \"tag:$2\": [1-9]" \
        | sed 's/^[^]]*\] \([0-9]*\)#.*/\1/' | sort -u | wc -l
}
wait_ready() {
    for _ in $(seq 300); do [ "$(index state)" = ready ] && return 0; sleep 0.1; done
    return 1
}

write_conf 4m
private_nginx_start "$nginx"

section "1. the index survives nginx -s reload"
fill r 200 tags=grp-r
entries=$(index entries)
write_conf 4m "location = /added { return 204; }"
check "reloaded" "the old workers are gone" private_nginx_reload "$nginx"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/added")
check "the new configuration answers" "/added: $code" [ "$code" = 204 ]
check "the index kept its entries" "$entries before, $(index entries) after" [ "$(index entries)" = "$entries" ]
answer=$(purge_tag grp-r)
check "a tag purge right after the reload uses the index and finds the entries stored before" \
    "$answer; $(files r) files left" [ "$(summary "$answer")/$(files r)" = 200/used/0 ]

section "2. after a restart the index is read back from the cache files"
purge_all
fill s0 1500 tags=grp-s0
fill s1 1500 tags=grp-s1
fill s2 1500 tags=grp-s2
private_nginx_stop
started=$SECONDS
from=$(log_lines)
private_nginx_start "$nginx"
answer=""
for _ in $(seq 200); do answer=$(purge_tag grp-s0) && [ -n "$answer" ] && break; sleep 0.01; done
check "a purge while the index is read back walks the cache directory" "$answer" \
    [ "$(summary "$answer")/$(files s0)" = 1500/walk/0 ]
wait_ready || true
check "the index is read back in the background" \
    "state $(index state) after $((SECONDS - started)) s, $(index entries) entries" [ "$(index state)" = ready ]
# By a worker: nginx's cache loader, which exits a minute after the start, would leave the
# rebuild behind.
reader=$(tail -n +"$((from + 1))" "$log" | grep 'rebuilding the index' | sed 's/^[^]]*\] \([0-9]*\)#.*/\1/')
check "by a worker process" "process ${reader:-none}: $(ps -o args= -p "${reader:-1}" || true)" \
    grep -qx "${reader:-none}" <(private_nginx_workers)
answer=$(purge_tag grp-s1)
check "then purges use it and find the tags stored before the restart" "$answer" \
    [ "$(summary "$answer")/$(files s1)" = 1500/used/0 ]
# The sweep drops the records of entries the cache no longer has (here those of grp-s0,
# read back before the walk deleted them), but the zone has no nodes for the files on disk
# until nginx's cache loader has run, a minute after the start: the records of those files
# stay. In 3 s the workers sweep a tenth of the index.
sleep 3
answer=$(purge_tag grp-s2)
check "the sweep keeps the records of files nginx has not loaded yet" "$answer" \
    [ "$(summary "$answer")/$(files s2)" = 1500/used/0 ]

section "3. two workers purging the same tag at once"
fill other 300
workers=0
for attempt in 1 2 3; do
    fill c 2000 tags=shared
    stored=$(files c)
    from=$(log_lines)
    pids=()
    for i in 1 2 3 4 5 6; do
        purge_tag shared >"$dir/purge.$i" &
        pids+=($!)
    done
    wait "${pids[@]}"
    total=0
    for i in 1 2 3 4 5 6; do total=$((total + $(json purged <"$dir/purge.$i"))); done
    workers=$(purging_workers "$from" shared)
    [ "$workers" -ge 2 ] && break
done
check "both workers removed entries" "$workers workers, attempt $attempt" [ "$workers" -ge 2 ]
check "the answers add up to exactly the entries removed" \
    "$total reported, $stored stored, $(files c) left" [ "$total/$(files c)" = "$stored/0" ]
check "other entries stay" "$(files other) of 300" [ "$(files other)" = 300 ]

section "4. a purge during a reload"
# The reload is signalled right after the purge starts, so that its worker is told to quit
# while it purges (its log line comes after its "gracefully shutting down"); tried again
# when the purge was over first. A purge of 10,000 entries takes tens of milliseconds, about
# what a reload takes: when no attempt overlaps, that check is skipped, not failed (the
# purge and the stores around the reload are still checked).
overlap=0
for attempt in 1 2 3 4 5 6; do
    fill d 10000 tags=during
    write_conf 4m "location = /added { return 204; } location = /again$attempt { return 204; }"
    from=$(log_lines)
    purge_tag during >"$dir/purge.during" &
    purge=$!
    fill n 300 tags=new &
    filling=$!
    sleep 0.005
    reloaded=0
    private_nginx_hup && reloaded=1
    wait "$purge" "$filling"
    purger=$(tail -n +"$((from + 1))" "$log" | grep 'hard purge of "tag:during"' \
        | sed 's/^[^]]*\] \([0-9]*\)#.*/\1/')
    overlap=$(tail -n +"$((from + 1))" "$log" \
        | grep -E "^[^]]*\] $purger#[0-9]+: (gracefully shutting down|.*hard purge of \"tag:during\")" \
        | head -1 | grep -c 'gracefully shutting down' || true)
    [ "$overlap" = 1 ] && break
done
check "reloaded during the purge" "the old workers are gone" [ "$reloaded" = 1 ]
if [ "$overlap" = 1 ]; then
    pass "the old worker was told to quit while it purged" "worker $purger, attempt $attempt"
else
    skip "the old worker was told to quit while it purged" "each of $attempt purges ended before the reload reached its worker"
fi
answer=$(cat "$dir/purge.during")
check "the purge ends, in its old worker, with every entry" "$answer; $(files d) files left" \
    [ "$(summary "$answer")/$(files d)" = 10000/used/0 ]
answer=$(purge_tag new)
check "what was stored around the reload is indexed" "$answer" [ "$(summary "$answer")/$(files n)" = 300/used/0 ]

section "5. purges racing stores of the same keys"
purge_all
# Storers: every request names a tag of its own (X-Tags: v<storer>-<n>), so each stores a new
# version of one of 8 keys. Purgers: the tag every version has, and the keys one by one; they
# have less to do, so that the race usually ends with some keys stored.
# request URL [CURL CONFIG LINES]: one request of a curl config file, its status on stdout.
request() {
    printf 'next\nurl = "%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code} %%{errormsg}\\n"\n' "$1"
    shift
    printf '%s\n' "$@"
}
for s in 1 2 3 4; do
    for n in $(seq 300); do
        request "$base/e/race/$((n % 8))?tags=race" "header = \"X-Tags: v$s-$n\""
    done >"$dir/store.$s"
done
for p in 1 2; do
    for n in $(seq 120); do
        request "$base/purge/" 'request = "PURGE"' 'header = "Surrogate-Key: race"'
        request "$base/purge/e/race/$((n % 8))?tags=race"
    done >"$dir/purges.$p"
done
pids=()
for config in "$dir"/store.* "$dir"/purges.*; do
    # The first "next" separates nothing.
    tail -n +2 "$config" | curl -s --no-progress-meter --parallel --parallel-max 2 -K - >"$config.codes" &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || true; done
codes=$(cut -d' ' -f1 "$dir"/*.codes | sort | uniq -c | awk '{printf "%s%s×%s", (NR > 1 ? ", " : ""), $2, $1}')
unanswered=$(cat "$dir"/*.codes | awk '$1 != 200 && $1 != 404' | head -3)
check "every racing store and purge is answered (200 or 404)" "$codes${unanswered:+; $unanswered}" \
    [ -z "$unanswered" ]
# Each key left in the cache must be indexed under the tags of its cache file: a batch
# purge of each file's own version tag removes exactly that file.
batch=$dir/batch
for f in $(grep -rlaF "KEY: httpGET127.0.0.1/e/race/" "$dir/cache" || true); do
    grep -a -m1 '^Surrogate-Key:' "$f" | grep -o 'v[0-9]*-[0-9]*' | sed 's/^/tag:/'
done >"$batch"
left=$(wc -l <"$batch")
answer=""
[ "$left" = 0 ] || answer=$(curl -s --data-binary @"$batch" "$base/purge/")
exact=$({ grep -o '"target":"tag:v[0-9-]*","purged":1}' <<<"$answer" || true; } | wc -l)
check "every key still cached is indexed under its file's tags" \
    "$left keys cached, $exact purged by their own tag, $(files race) left" [ "$exact/$(files race)" = "$left/0" ]
answer=$(purge_tag race)
check "nothing else is left in the cache or the index" \
    "$answer; index entries $(index entries)" [ "$(json purged <<<"$answer")/$(index entries)" = 0/0 ]
# The request that stores a page first can end last: here its client reads the page in 2 s,
# and another request stores the page again meanwhile. The index must then hold the tags of
# the second version, which is the one in the cache file.
curl -s -o /dev/null -H 'X-Limit-Rate: 50k' -H 'X-Tags: first' "$base/e/big/1" &
slow=$!
sleep 0.5
curl -s -o /dev/null -H 'X-Tags: second' "$base/e/big/1"
wait "$slow"
stored=$({ grep -rah -m1 '^Surrogate-Key:' "$dir/cache" || echo 'no cache file'; } | tr -d '\r')
answer=$(purge_tag second)
check "a store that ends after a later store of the same key leaves the later one's tags" \
    "file: $stored; $answer" [ "$(summary "$answer")/$(files big)" = 1/used/0 ]

section "6. a full index"
private_nginx_stop
write_conf 32k
private_nginx_start "$nginx"
wait_ready || true
fill f 300 tags=full
hits=$(curl -s -w '%header{x-cache}\n' -o /dev/null "$base/e/f/[1-300]?tags=full" | grep -c '^HIT$' || true)
check "caching goes on when the index is full" "$hits of 300 HITs" [ "$hits" = 300 ]
check "the index says it overflowed" "overflowed: $(index overflowed), overflows: $(index overflows)" \
    [ "$(index overflowed)" = true ]
answer=$(purge_tag full)
check "purges walk the cache directory and say so" "$answer" [ "$(summary "$answer")/$(files f)" = 300/walk/0 ]
purge_all
fill g 20 tags=again
answer=$(purge_tag again)
check "a purge of the whole zone makes the index usable again" "$answer" [ "$(summary "$answer")" = 20/used ]

section "The error log"
trouble=$(grep -E '\[(alert|emerg|crit)\]|exited on signal' "$log" | head -3 || true)
check "no worker crashed, nothing alarming" "${trouble:-none}" [ -z "$trouble" ]

finish "scripts/test-index.sh ($nginx)"
