#!/usr/bin/env bash
# Bad input: every case under cases/ (a bad config) and every line of cli_cases.txt (a bad
# command line) must exit 2 with one-line messages naming the problem, and change neither
# the kernel's ruleset nor any file.
#
#   bash tests/badinput/run.sh BUILD_DIR
#
# Everything that may touch nftables runs inside network namespaces of its own (one per
# worker; the cases are shared among up to 4 workers), deleted at the end. A known-good config
# (good/) is installed there first, so a ruleset with the same table exists when each case
# runs; the case must leave it exactly as it was, and must change no file under its config
# folder or its (separate, empty) state folder.
#
# A config case is a folder cases/NN-name/ with virtnat.toml (optionally conf.d/*.toml), a
# file `expect` (one literal substring of stderr per line) and optionally `lineformat` (an
# extended regex every stderr line must match, for cases that can have no FILE:LINE). Both
# `virtnat --config DIR/virtnat.toml check` and `... apply` run; every stderr line must be
# `DIR/FILE:LINE: FIELD: message` with FILE the path as given.
# A command-line case is a line of cli_cases.txt (see there); its stderr must be exactly one
# line `virtnat: REASON`.
# Output: "ok N name" / "not ok N name: reason" per case (with "#" detail lines after a
# failure), then "N passed, M failed". Exit 0 when all passed, 1 otherwise, 77 when not root.
set -uo pipefail

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VIRTNAT="$(cd "$1" && pwd)/virtnat"
if [ ! -x "$VIRTNAT" ]; then
  echo "run.sh: $VIRTNAT not found; build first" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "run.sh: skipped: needs root for a network namespace" >&2
  exit 77
fi

CONFIG_LINE_RE='^[^:]+:[0-9]+: [^:]+: .+$'
CLI_LINE_RE='^virtnat: .+$'

WORKERS=$(nproc 2>/dev/null || echo 1)
[ "$WORKERS" -gt 4 ] && WORKERS=4
[ "$WORKERS" -lt 1 ] && WORKERS=1
NS_PREFIX="vnbad$$"
WORK=$(mktemp -d /tmp/virtnat-badinput.XXXXXX)
PIDS=()
cleanup() {
  local k pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  wait
  for ((k = 0; k < WORKERS; k++)); do ip netns del "$NS_PREFIX-$k" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
unset VIRTNAT_CONFIG VIRTNAT_STATE_DIR

# ------------------------------------------------------------------ helpers (per worker)
# NS, GOOD, GOOD_STATE, GOOD_RULESET, RULES_NOW, FILES_NOW, REASONS and DETAILS belong to the
# worker running them.

# nsenter joins only the network namespace: cheaper than `ip netns exec`, same firewall.
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }

ruleset() { in_ns nft -s list ruleset 2>&1; }

# Every file and folder under the given folders: type, mode, inode, size, mtime, then the
# sha256 of each file, so a rewrite with the same content counts as a change too.
files() { find "$@" -printf '%y %m %i %s %T@ %p\n' -type f -exec sha256sum {} + 2>&1; }

apply_good() {
  in_ns "$VIRTNAT" --config "$GOOD/virtnat.toml" --state-dir "$GOOD_STATE" apply \
    >"$GOOD.out" 2>&1
}

# Makes sure the good ruleset is in place and records the files a case starts from. Applying
# an unchanged good config again would be a no-op, so it only happens when the last case left
# the ruleset different (then the namespace's own ruleset is flushed first).
prepare() { # CONFDIR STATEDIR
  if [ "$RULES_NOW" != "$GOOD_RULESET" ]; then
    in_ns nft flush ruleset
    apply_good
    RULES_NOW=$(ruleset)
    if [ "$RULES_NOW" != "$GOOD_RULESET" ]; then
      REASONS+=("setup: could not restore the known-good ruleset: $(head -3 "$GOOD.out")")
      return 1
    fi
  fi
  FILES_NOW=$(files "$1" "$2")
}

# run_one LABEL LINE_RE CONFDIR STATEDIR EXPECT_FILE -- ARGS...: runs virtnat in the namespace
# and appends to REASONS what is wrong with the result. RULES_NOW and FILES_NOW hold the state
# before; they are compared with the state after, and updated.
run_one() {
  local label=$1 line_re=$2 conf=$3 state=$4 expect=$5
  shift 6
  local out="$GOOD.stdout" err="$GOOD.stderr" rc
  VIRTNAT_STATE_DIR="$state" in_ns "$VIRTNAT" "$@" >"$out" 2>"$err" </dev/null
  rc=$?
  local rules_after files_after
  rules_after=$(ruleset)
  files_after=$(files "$conf" "$state")
  local problems=()
  [ "$rc" -eq 2 ] || problems+=("exit $rc, not 2")
  if [ ! -s "$err" ]; then
    problems+=("stderr is empty")
  else
    local text lines=0 line bad=""
    text=$(<"$err")
    while IFS= read -r line || [ -n "$line" ]; do
      lines=$((lines + 1))
      [[ "$line" =~ $line_re ]] || bad=${bad:-$line}
    done <"$err"
    [ -z "$bad" ] || problems+=("stderr line does not match $line_re: '$bad'")
    if [ "$line_re" = "$CLI_LINE_RE" ] && [ "$lines" -ne 1 ]; then
      problems+=("stderr has $lines lines, not 1")
    fi
    local want
    while IFS= read -r want || [ -n "$want" ]; do
      [ -n "$want" ] || continue
      [[ "$text" == *"$want"* ]] || problems+=("stderr lacks '$want'")
    done <"$expect"
  fi
  if [ "$rules_after" != "$RULES_NOW" ]; then
    problems+=("ruleset changed: $(diff <(echo "$RULES_NOW") <(echo "$rules_after") |
      grep '^[<>]' | head -4 | tr '\n\t' '  ')")
    RULES_NOW=$rules_after
  fi
  if [ "$files_after" != "$FILES_NOW" ]; then
    problems+=("files changed: $(diff <(echo "$FILES_NOW") <(echo "$files_after") |
      grep '^[<>]' | head -4 | tr '\n' ' ')")
    FILES_NOW=$files_after
  fi
  if [ ${#problems[@]} -gt 0 ]; then
    local p
    for p in "${problems[@]}"; do REASONS+=("$label: $p"); done
    DETAILS+=("$label: virtnat $*")
    while IFS= read -r line; do DETAILS+=("  stderr: $line"); done < <(head -12 "$err")
  fi
}

# Writes the result of one case to FILE: "ok NAME" or "not ok NAME: reasons", then details.
record() { # FILE NAME
  if [ ${#REASONS[@]} -eq 0 ]; then
    echo "ok $2" >"$1"
  else
    local joined d
    joined=$(printf '%s; ' "${REASONS[@]}")
    {
      echo "not ok $2: ${joined%; }"
      for d in "${DETAILS[@]}"; do echo "#   $d"; done
    } >"$1"
  fi
  REASONS=()
  DETAILS=()
}

config_case() { # CASE_DIR RESULT_FILE
  local case_dir=$1 name=${1##*/}
  local dir="$WORKER_DIR/$name"
  local conf="$dir/etc" state="$dir/state" line_re command
  mkdir -p "$conf" "$state"
  [ -f "$case_dir/virtnat.toml" ] && cp -p "$case_dir/virtnat.toml" "$conf/"
  [ -d "$case_dir/conf.d" ] && cp -a "$case_dir/conf.d" "$conf/"
  line_re="^$conf/${CONFIG_LINE_RE#^}"
  [ -f "$case_dir/lineformat" ] && read -r line_re <"$case_dir/lineformat"
  if [ ! -s "$case_dir/expect" ]; then
    REASONS+=("case has no expect file")
  elif prepare "$conf" "$state"; then
    for command in check apply; do
      run_one "$command" "$line_re" "$conf" "$state" "$case_dir/expect" -- \
        --config "$conf/virtnat.toml" "$command"
    done
  fi
  record "$2" "$name"
}

cli_case() { # NUMBER ROW RESULT_FILE
  local args_text=${2%%$'\t'*} want=${2#*$'\t'}
  local dir="$WORKER_DIR/cli-$1"
  local conf="$dir/etc" state="$dir/state" a has_config="" args=()
  mkdir -p "$state"
  cp -a "$HERE/good" "$conf"
  printf '%s\n' "$want" >"$dir/expect"
  read -r -a args <<<"$args_text"
  for a in "${args[@]}"; do
    case "$a" in --config | --config=* | -c) has_config=1 ;; esac
  done
  [ -n "$has_config" ] || args=(--config "$conf/virtnat.toml" "${args[@]}")
  if prepare "$conf" "$state"; then
    run_one "cli" "$CLI_LINE_RE" "$conf" "$state" "$dir/expect" -- "${args[@]}"
  fi
  record "$3" "cli: virtnat ${args_text:-(no arguments)}"
}

# worker K: runs every job whose index is K modulo WORKERS, in namespace NS_PREFIX-K.
worker() {
  local k=$1 i
  NS="$NS_PREFIX-$k"
  WORKER_DIR="$WORK/worker-$k"
  GOOD="$WORKER_DIR/good"
  GOOD_STATE="$WORKER_DIR/good-state"
  REASONS=()
  DETAILS=()
  mkdir -p "$WORKER_DIR" "$GOOD_STATE"
  cp -a "$HERE/good" "$GOOD"
  if ! ip netns add "$NS" || ! apply_good; then
    echo "worker $k: cannot create namespace $NS or apply good/: $(cat "$GOOD.out" 2>/dev/null)" \
      >"$WORKER_DIR/error"
    return 1
  fi
  GOOD_RULESET=$(ruleset)
  if [[ "$GOOD_RULESET" != *"table inet virtnat"* ]]; then
    echo "worker $k: the known-good apply installed no table inet virtnat" >"$WORKER_DIR/error"
    return 1
  fi
  RULES_NOW=$GOOD_RULESET
  for ((i = k; i < ${#JOBS[@]}; i += WORKERS)); do
    case "${JOBS[i]}" in
      config:*) config_case "${JOBS[i]#config:}" "$WORK/result-$i" ;;
      cli:*)
        local rest=${JOBS[i]#cli:}
        cli_case "${rest%%:*}" "${rest#*:}" "$WORK/result-$i"
        ;;
    esac
  done
}

# ------------------------------------------------------------------ jobs
JOBS=()
for case_dir in "$HERE"/cases/*/; do
  JOBS+=("config:${case_dir%/}")
done
cli_number=0
while IFS= read -r row || [ -n "$row" ]; do
  case "$row" in '#'* | '') continue ;; esac
  cli_number=$((cli_number + 1))
  JOBS+=("cli:$cli_number:$row")
done <"$HERE/cli_cases.txt"

for ((k = 0; k < WORKERS; k++)); do
  worker "$k" &
  PIDS+=($!)
done
wait
PIDS=()

PASSED=0
FAILED=0
for ((k = 0; k < WORKERS; k++)); do
  [ -f "$WORK/worker-$k/error" ] && cat "$WORK/worker-$k/error" >&2
done
for ((i = 0; i < ${#JOBS[@]}; i++)); do
  n=$((i + 1))
  result="$WORK/result-$i"
  if [ ! -s "$result" ]; then
    FAILED=$((FAILED + 1))
    echo "not ok $n ${JOBS[i]}: no result (its worker failed)"
    continue
  fi
  first=$(head -1 "$result")
  if [[ "$first" == "ok "* ]]; then
    PASSED=$((PASSED + 1))
    echo "ok $n ${first#ok }"
  else
    FAILED=$((FAILED + 1))
    echo "not ok $n ${first#not ok }"
    tail -n +2 "$result"
  fi
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
