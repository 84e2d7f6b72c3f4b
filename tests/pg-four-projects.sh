#!/bin/bash
# Four projects indexed into one PostgreSQL database: one after another, then all at once
# (issue 18's measure of the PostgreSQL write lock). Usage: tests/pg-four-projects.sh CODEDB
# CORPUS_DIR (e.g. target/corpora/django-5.1.4). Needs psql and the PostgreSQL server at
# 127.0.0.1:5432 (user postgres, trust); uses and drops the database team_server_bench.
# Also prints the share of the machine's CPU time left idle in each phase (`idle_*`): runs
# that wait for each other's locks leave cores idle; runs held back only by the CPU do not.
set -u
busy() { read -r _ a b c idle _ < /proc/stat; echo "$((a + b + c)) $idle"; }
idle_share() { echo "scale=3; ($4 - $2) / ($3 - $1 + $4 - $2)" | bc; }
C="$(realpath "$1")"; B="$(mktemp -d)"; trap 'rm -rf "$B"' EXIT
for i in 1 2 3 4; do cp -r "$2" "$B/p$i"; done
U=postgres://postgres@127.0.0.1:5432/team_server_bench
reset() { psql -q -h 127.0.0.1 -U postgres -d postgres -c 'DROP DATABASE IF EXISTS team_server_bench' -c 'CREATE DATABASE team_server_bench'; $C schema sync --db $U >/dev/null 2>&1; }
reset
c0=$(busy); s=$(date +%s.%N); for i in 1 2 3 4; do $C index $B/p$i --db $U --json > $B/seq$i.json 2>$B/seq$i.err; done; e=$(date +%s.%N); c1=$(busy)
seq=$(echo "$e - $s" | bc); echo "sequential_s=$seq idle_sequential=$(idle_share $c0 $c1)"
psql -tA -h 127.0.0.1 -U postgres -d team_server_bench -c 'select count(*) from files'
reset
c0=$(busy); s=$(date +%s.%N); for i in 1 2 3 4; do $C index $B/p$i --db $U --json > $B/par$i.json 2>$B/par$i.err & done; wait; e=$(date +%s.%N); c1=$(busy)
par=$(echo "$e - $s" | bc); echo "concurrent_s=$par idle_concurrent=$(idle_share $c0 $c1)"
psql -tA -h 127.0.0.1 -U postgres -d team_server_bench -c 'select count(*) from files'
echo "ratio=$(echo "scale=3; $par / $seq" | bc)"
psql -q -h 127.0.0.1 -U postgres -d postgres -c 'DROP DATABASE IF EXISTS team_server_bench'
