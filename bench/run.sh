#!/bin/bash
# bench/run.sh VIRTNAT BENCH_BUILD_DIR: virtnat's benchmarks (`make bench` runs it).
#
# Prints markdown tables and writes them to bench/results.md, plus bench/plot.png.
# Everything runs in network namespaces this script creates and deletes (anonymous ones made
# by vnbench, and a lab from lab/lab.sh with its own prefix); the root namespace's firewall,
# routes and sysctls are never touched. The script runs in a private mount namespace with a
# tmpfs for virtnat's state folders (as /run/virtnat is on a Debian host); the configs live
# on the disk (as /etc/virtnat does). Every loop is bounded in count and time.
#
# Knobs (environment):
#   BENCH_SECTIONS="1 2 3 4"  which parts to run (1 apply, 2 hook, 3 forward add/remove,
#                             status and check, 4 data plane)
#   BENCH_MAX_N=100000        the largest N of parts 1 and 4 (10000 leaves N = 100,000 out)
#   BENCH_QUICK=1             fewer runs and shorter loads (a smoke test, not for results)
#   BENCH_OUT=DIR             where results.md and plot.png go (default: bench/)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)

if [ $# -ne 2 ]; then
  echo "usage: bench/run.sh VIRTNAT BENCH_BUILD_DIR" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "bench: needs root (network namespaces, nftables)" >&2
  exit 1
fi
VIRTNAT=$(readlink -f "$1")
HOOK_BIN=$(dirname "$VIRTNAT")/virtnat-hook  # what an installed hook file runs
BB=$(readlink -f "$2")
VNBENCH="$BB/vnbench"
CONNRATE="$BB/connrate"
NFTTRACE="$BB/nfttrace.so"
NLSEND="$BB/nlsend"
GEN="$BENCH_DIR/gen-config.sh"
DOMAIN_XML="$BENCH_DIR/domain-vm28.xml"
OUT_DIR=${BENCH_OUT:-$BENCH_DIR}
SECTIONS=${BENCH_SECTIONS:-1 2 3 4}
QUICK=${BENCH_QUICK:-0}

for tool in "$VIRTNAT" "$HOOK_BIN" "$VNBENCH" "$CONNRATE" "$NFTTRACE" "$NLSEND"; do
  [ -e "$tool" ] || {
    echo "bench: $tool is missing (build first)" >&2
    exit 1
  }
done
missing=()
for command in nft iptables iptables-restore iperf3 gnuplot jq conntrack ip unshare awk; do
  command -v "$command" >/dev/null || missing+=("$command")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: missing commands: ${missing[*]} (see bench/README.md for the Debian packages)" >&2
  exit 1
fi

# A private mount namespace, so the tmpfs below is seen by nobody else and goes away with us.
if [ -z "${VNBENCH_MOUNTNS:-}" ]; then
  exec unshare --mount --propagation private -- env VNBENCH_MOUNTNS=1 bash "$0" "$@"
fi

if [ "$QUICK" = 1 ]; then
  RUNS=3 BIG_RUNS=1 HOOK_CYCLES=30 FWD_RUNS=3 ROUNDS=1 CONN_SECONDS=1 IPERF_SECONDS=1 TRACE_RUNS=1
else
  RUNS=5 BIG_RUNS=3 HOOK_CYCLES=200 FWD_RUNS=20 ROUNDS=3 CONN_SECONDS=2 IPERF_SECONDS=2 TRACE_RUNS=3
fi
MAX_N=${BENCH_MAX_N:-100000}
APPLY_NS="100 1000 10000"
[ "$MAX_N" -le 10000 ] || APPLY_NS="$APPLY_NS $MAX_N"
CONN_PARALLEL=8

WORK=$(mktemp -d /tmp/virtnat-bench.XXXXXX)
RUN="$WORK/run" # virtnat's state folders: a tmpfs, like /run
ETC="$WORK/etc" # the configs: on the disk, like /etc
mkdir -p "$RUN" "$ETC"
mount -t tmpfs -o size=512m,mode=0700 virtnat-bench "$RUN"
RESULTS="$WORK/results.md"
LAB_PREFIX="vnb$$"
export LAB_PREFIX
LAB_UP=0
SERVER_PID=""

cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  if [ "$LAB_UP" = 1 ]; then bash "$REPO_DIR/lab/lab.sh" down >/dev/null 2>&1 || true; fi
  umount "$RUN" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

START_TIME=$(date +%s)
log() { echo "bench: [$(($(date +%s) - START_TIME))s] $*" >&2; }
# out TEXT...: a line of the results (stdout and results.md)
out() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

# field LINE KEY: the value of KEY=VALUE in a vnbench output line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }
f1() { awk -v v="$1" 'BEGIN { printf "%.1f", v }'; }
f2() { awk -v v="$1" 'BEGIN { printf "%.2f", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }'; }
mb() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1024 }'; }
verdict() { if [ "$1" = 1 ]; then echo "**met**"; else echo "**missed**"; fi; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }' && echo 1 || echo 0; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }' && echo 1 || echo 0; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }' && echo 1 || echo 0; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

TARGETS=() # rows of the summary: "| target | measured | floor or reference | verdict |"

# ---------------------------------------------------------------- header
{
  echo "# virtnat benchmarks"
  echo
  echo "Measured by \`make bench\` ($(date -u '+%Y-%m-%d %H:%M UTC')) on $(nproc) cores, kernel $(uname -r)," \
    "$(nft --version | head -1), $(iptables --version | head -1)," \
    "virtnat $("$VIRTNAT" --version | awk '{print $2, $3, $4}') (Release build)."
  echo "Medians of several runs taken side by side in this one run; this shared machine is noisy,"
  echo "so compare the ratios, not single absolute times. Every run of an apply starts in a fresh,"
  echo "empty network namespace; virtnat's state folder is on a tmpfs (as /run/virtnat is), the"
  echo "config on the disk. How the numbers are made: bench/README.md. Load average at the start:"
  echo "$(cut -d' ' -f1-3 /proc/loadavg) (anything above ~0.5 on this 2-core machine means other work competed)."
  echo
} | tee "$RESULTS"

# The cost of starting a process at all, and of starting virtnat (used by several sections).
TRUE_LINE=$("$VNBENCH" --runs 20 --warmup 2 --label true -- /bin/true)
VERSION_LINE=$("$VNBENCH" --runs 20 --warmup 2 --label version -- "$VIRTNAT" --version)

APPLY_DAT="$WORK/apply.dat"
CONN_DAT="$WORK/conn.dat"
: >"$APPLY_DAT"
: >"$CONN_DAT"

# ruleset_of CONFIG FILE: the ruleset text virtnat would install, from `virtnat plan` in a fresh
# namespace (everything before "# Compared with the kernel").
ruleset_of() {
  unshare --net "$VIRTNAT" --config "$1" --state-dir "$RUN/plan" plan 2>/dev/null |
    awk '/^# Compared with the kernel:/ { exit } { print }' | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' >"$2"
  rm -rf "$RUN/plan"
  [ -s "$2" ] || {
    echo "bench: virtnat plan printed no ruleset for $1" >&2
    exit 1
  }
}

# ---------------------------------------------------------------- 1. apply from scratch
section_apply() {
  log "1. apply from scratch"
  out "## 1. Apply from scratch"
  out
  out "N tcp forwards (one port each) to 50 guests of one nat network, provider external,"
  out "\`vm_lifecycle = \"ignore\"\`; each run in a fresh namespace. Median wall time of $RUNS runs (after"
  out "one warm-up; $BIG_RUNS at N = 100,000) and the median peak RSS, from posix_spawn to exit."
  out "**kernel floor**: the very batch apply sends (saved with VIRTNAT_SAVE_BATCH) sent again by"
  out "bench/nlsend, a minimal libmnl program: the kernel's own cost of the transaction, plus a process"
  out "start. (c) \`nft -f\` of the exact ruleset text virtnat installs (from \`virtnat plan\`). (b) one"
  out "\`iptables-restore\` of the same forwards as linear rules. (a) one \`iptables\` process per rule as"
  out "vm-tools and libvirt-hook-qemu do (\`-t nat -A PREROUTING ... -j DNAT\` and \`-I FORWARD ... -j"
  out "ACCEPT\` per forward, from \`sh\`), measured up to N = 1,000 and extrapolated beyond."
  out
  local n dir line v_ms v_rss nft_ms nft_rss rst_ms ipt_ms ipt_note fl_ms runs t100="" t1000=""
  local rows=()
  for n in $APPLY_NS; do
    dir="$ETC/apply$n"
    mkdir -p "$dir"
    "$GEN" toml "$n" ignore >"$dir/virtnat.toml"
    "$GEN" iptables-restore "$n" >"$dir/rules"
    ruleset_of "$dir/virtnat.toml" "$dir/ruleset.nft"
    # Sanity: apply installs N DNAT elements (and leaves its batch for the kernel floor).
    local got
    got=$(unshare --net bash -c "VIRTNAT_SAVE_BATCH='$dir/batch' '$VIRTNAT' --config '$dir/virtnat.toml' --state-dir '$RUN/check' apply >/dev/null 2>&1 &&
      nft list map inet virtnat fwd_dnat | grep -o '198\.51\.100\.[0-9]* \. tcp \. [0-9]*' | wc -l")
    rm -rf "$RUN/check"
    [ "$got" = "$n" ] && [ -s "$dir/batch" ] || {
      echo "bench: apply of $n forwards installed $got DNAT elements" >&2
      exit 1
    }
    runs=$RUNS
    [ "$n" -lt 100000 ] || runs=$BIG_RUNS
    log "  N=$n: virtnat apply, the kernel floor, nft -f, iptables-restore"
    line=$("$VNBENCH" --runs "$runs" --warmup 1 --netns each --pre "rm -rf '$RUN/st'" --label "apply$n" \
      -- "$VIRTNAT" --config "$dir/virtnat.toml" --state-dir "$RUN/st" apply)
    v_ms=$(field "$line" median_ms) v_rss=$(field "$line" rss_kb)
    line=$("$VNBENCH" --runs "$runs" --warmup 1 --netns each --label "floor$n" -- "$NLSEND" "$dir/batch")
    fl_ms=$(field "$line" median_ms)
    line=$("$VNBENCH" --runs "$runs" --warmup 1 --netns each --label "nft$n" -- nft -f "$dir/ruleset.nft")
    nft_ms=$(field "$line" median_ms) nft_rss=$(field "$line" rss_kb)
    line=$("$VNBENCH" --runs "$runs" --warmup 1 --netns each --label "restore$n" -- iptables-restore "$dir/rules")
    rst_ms=$(field "$line" median_ms)
    if [ "$n" -le 1000 ]; then
      log "  N=$n: one iptables process per rule ($((2 * n)) processes a run)"
      "$GEN" iptables-script "$n" >"$dir/rules.sh"
      # 2,000 processes take 20-40 s a run here: 3 runs at N = 1,000 keep the whole bounded.
      local ipt_runs=$RUNS
      [ "$n" -le 100 ] || ipt_runs=$((RUNS < 3 ? RUNS : 3))
      line=$("$VNBENCH" --runs "$ipt_runs" --netns each --max-seconds 90 --min-runs 1 --label "iptables$n" \
        -- sh "$dir/rules.sh")
      ipt_ms=$(field "$line" median_ms)
      ipt_note="$(f1 "$ipt_ms")"
      if [ "$n" = 100 ]; then t100=$ipt_ms; else t1000=$ipt_ms; fi
    else
      # Linear through the two measured points: the cost per forward between N=100 and 1,000.
      ipt_ms=$(awk -v a="$t100" -v b="$t1000" -v n="$n" 'BEGIN { printf "%.1f", b + (b - a) * (n - 1000) / 900 }')
      ipt_note="~$(f1 "$ipt_ms") (extrapolated)"
    fi
    rows+=("| $n | **$(f1 "$v_ms")** | $(mb "$v_rss") | $(f1 "$fl_ms") | $(ratio "$v_ms" "$fl_ms") | $(f1 "$nft_ms") | $(f2 "$(awk -v a="$v_ms" -v b="$nft_ms" 'BEGIN { print a / b }')")x | $(f1 "$rst_ms") | $ipt_note |")
    echo "$n $v_ms $nft_ms $rst_ms $ipt_ms $fl_ms $v_rss" >>"$APPLY_DAT"
    eval "APPLY_MS_$n=$v_ms APPLY_RSS_$n=$v_rss NFT_MS_$n=$nft_ms NFT_RSS_$n=$nft_rss FLOOR_MS_$n=$fl_ms"
  done
  out "| N | virtnat apply ms | peak RSS MiB | kernel floor (nlsend) ms | apply / floor | (c) nft -f ms | apply / nft -f | (b) iptables-restore ms | (a) iptables per rule ms |"
  out "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  local row
  for row in "${rows[@]}"; do out "$row"; done
  out
  out "apply / nft -f below 1 means virtnat is faster. Peak RSS of nft -f at N = 10,000:"
  out "$(mb "$NFT_RSS_10000") MiB."
  out
  local share floor_ratio
  share=$(awk -v a="$APPLY_MS_10000" -v b="$NFT_MS_10000" 'BEGIN { printf "%.2f", a / b }')
  floor_ratio=$(awk -v a="$APPLY_MS_10000" -v b="$FLOOR_MS_10000" 'BEGIN { printf "%.2f", a / b }')
  TARGETS+=("| apply 10,000 from scratch <= 0.25 x nft -f of the same ruleset | $(f1 "$APPLY_MS_10000") ms = ${share} x nft -f ($(f1 "$NFT_MS_10000") ms) | kernel floor $(f1 "$FLOOR_MS_10000") ms = $(f2 "$(awk -v a="$FLOOR_MS_10000" -v b="$NFT_MS_10000" 'BEGIN { print a / b }')") x nft -f | $(verdict "$(le "$share" 0.25)") |")
  TARGETS+=("| (aim) apply 10,000 within 1.5 x the kernel floor | ${floor_ratio} x | nlsend of the same batch: $(f1 "$FLOOR_MS_10000") ms | $(verdict "$(le "$floor_ratio" 1.5)") |")
  TARGETS+=("| peak RSS of apply 10,000 <= 40 MiB | $(mb "$APPLY_RSS_10000") MiB | nft -f: $(mb "$NFT_RSS_10000") MiB | $(verdict "$(le "$(mb "$APPLY_RSS_10000")" 40)") |")

  # Growth from 100 to the largest N.
  local last
  last=$(echo $APPLY_NS | awk '{ print $NF }')
  out "### Growth with N"
  out
  out "| N | apply ms | x N = 100 | µs per forward above N = 100 | peak RSS MiB | kernel floor ms | x N = 100 |"
  out "|---:|---:|---:|---:|---:|---:|---:|"
  for n in $APPLY_NS; do
    eval "local a=\$APPLY_MS_$n r=\$APPLY_RSS_$n f=\$FLOOR_MS_$n"
    out "| $n | $(f1 "$a") | $(ratio "$a" "$APPLY_MS_100") | $(awk -v a="$a" -v b="$APPLY_MS_100" -v n="$n" 'BEGIN { if (n > 100) printf "%.1f", 1000 * (a - b) / (n - 100); else print "-" }') | $(mb "$r") | $(f1 "$f") | $(ratio "$f" "$FLOOR_MS_100") |"
  done
  out
  eval "TARGETS+=(\"| scale: N = $last | apply \$(f1 \"\$APPLY_MS_$last\") ms, peak RSS \$(mb \"\$APPLY_RSS_$last\") MiB, \$(ratio \"\$APPLY_MS_$last\" \"\$APPLY_MS_100\") N = 100 | kernel floor \$(f1 \"\$FLOOR_MS_$last\") ms | reported |\")"

  # Where the time of apply goes, for N = 10,000: nfttrace.so times each transaction.
  log "  phases of apply, N=10000 ($TRACE_RUNS traced runs)"
  local dir10="$ETC/apply10000"
  rm -f "$WORK/apply.raw" "$WORK/apply.trace"
  "$VNBENCH" --runs "$TRACE_RUNS" --netns each --pre "rm -rf '$RUN/st'" --raw "$WORK/apply.raw" \
    --env "LD_PRELOAD=$NFTTRACE" --env "NFTTRACE_FILE=$WORK/apply.trace" --label trace \
    -- "$VIRTNAT" --config "$dir10/virtnat.toml" --state-dir "$RUN/st" apply >/dev/null
  out "### Where the time of \`virtnat apply\` goes (N = 10,000)"
  out
  out "Median of $TRACE_RUNS runs; an LD_PRELOAD wrapper (bench/nfttrace.cpp) timestamps the start,"
  out "exit() and every transaction (a netlink batch: the kernel applies it inside sendmsg); the"
  out "rest is virtnat's own code: reading and validating the config, the desired state, building"
  out "the batch, reading the generation, writing the memo, the hook's files and the snapshot."
  out
  out "| phase | median ms | share |"
  out "|---|---:|---:|"
  awk -f "$BENCH_DIR/phases.awk" "$WORK/apply.raw" "$WORK/apply.trace" | tee -a "$RESULTS"
  out
  log "  the same pieces as separate processes"
  local libs
  libs=$(ldd "$VIRTNAT" | grep -c '=>' || true)
  line=$("$VNBENCH" --runs "$RUNS" --netns each --label nftcheck -- nft -c -f "$dir10/ruleset.nft")
  out "| the same pieces, measured as separate processes | median ms |"
  out "|---|---:|"
  out "| \`/bin/true\` (the cost of spawning any process) | $(f1 "$(field "$TRUE_LINE" median_ms)") |"
  out "| \`virtnat --version\` (start and exit only; virtnat loads $libs shared libraries) | $(f1 "$(field "$VERSION_LINE" median_ms)") |"
  out "| nlsend of apply's 10,000-forward batch: the kernel's own cost (with a process start) | $(f1 "$FLOOR_MS_10000") |"
  out "| \`nft -c -f\` of the 10,000-forward text: parse and evaluate only, no commit | $(f1 "$(field "$line" median_ms)") |"
  out "| \`nft -f\` of the same text: parse, evaluate and commit | $(f1 "$NFT_MS_10000") |"
  out
  if command -v perf >/dev/null && perf --version >/dev/null 2>&1; then
    rm -rf "$RUN/st"
    if unshare --net perf record -q -F 999 -o "$WORK/apply.perf" \
      "$VIRTNAT" --config "$dir10/virtnat.toml" --state-dir "$RUN/st" apply >/dev/null 2>&1; then
      out "Hottest functions of one \`virtnat apply\` of 10,000 forwards (\`perf record\`, self time;"
      out "kernel time under page faults and malloc is mostly fresh memory, slow in this VM):"
      out
      out "| share | object | function |"
      out "|---:|---|---|"
      perf report -i "$WORK/apply.perf" --no-children --stdio -g none --sort dso,sym 2>/dev/null |
        awk '/^ *[0-9.]+%/ && n < 12 { n++; share = $1; dso = $2; $1 = ""; $2 = ""; $3 = "";
             sub(/^ +/, ""); gsub(/\|/, "\\|"); if (length($0) > 90) $0 = substr($0, 1, 90) "...";
             printf "| %s | %s | `%s` |\n", share, dso, $0 }' | tee -a "$RESULTS"
      out
    fi
  fi
}

# ---------------------------------------------------------------- 2. hook latency
section_hook() {
  log "2. hook latency"
  out "## 2. The installed hook"
  out
  out "N forwards installed (\`vm_lifecycle = \"libvirt\"\`, host names = domain names; the libvirt"
  out "connection of apply is libvirt's built-in test driver, so no libvirtd is needed), then"
  out "$HOOK_CYCLES cycles of the installed hook as libvirt runs it: \`virtnat-hook --hook-state-dir=DIR"
  out ".../qemu.d/virtnat vm28 start begin -\` and \`... stopped end -\`, each with a real domain XML"
  out "(bench/domain-vm28.xml) on stdin, for vm28, which has 10 forwards. Whole process, posix_spawn"
  out "to exit, all cycles in one namespace; checked first that start adds vm28's 10 DNAT elements"
  out "and stopped removes them. virtnat-hook reads hook-index.json and hosts/vm28.nft (the netlink"
  out "batch apply precomputed), sends it, and records the running set; stopped also ends the"
  out "forwards' tracked connections (none here: no dump then). Its libraries (\`ldd\`):"
  out "$(ldd "$HOOK_BIN" | awk '{ print $1 }' | grep -v vdso | paste -sd' ' | sed 's/ /, /g')."
  out
  local n dir rows=()
  for n in 100 10000; do
    dir="$ETC/hook$n"
    mkdir -p "$dir"
    "$GEN" toml "$n" libvirt test:///default >"$dir/virtnat.toml"
    local v="'$VIRTNAT' --config '$dir/virtnat.toml' --state-dir '$RUN/hook$n'"
    local count="nft list map inet virtnat fwd_dnat | grep -o '10\.1\.1\.28 \. [0-9]*' | wc -l"
    local h="'$HOOK_BIN' '--hook-state-dir=$RUN/hook$n' /etc/libvirt/hooks/qemu.d/virtnat vm28"
    rm -rf "$RUN/hook$n"
    log "  N=$n: $HOOK_CYCLES start/stopped cycles, beside /bin/true and nlsend"
    local lines
    lines=$("$VNBENCH" --runs "$HOOK_CYCLES" --warmup 3 --netns once --max-seconds 150 --min-runs 20 \
      --setup "$v apply >/dev/null 2>&1" \
      --setup "test \$($count) = 0" \
      --setup "$h start begin - <'$DOMAIN_XML' && test \$($count) = 10" \
      --setup "$h stopped end - <'$DOMAIN_XML' && test \$($count) = 0" \
      --stdin "$DOMAIN_XML" --label "hook$n" \
      -- "$HOOK_BIN" "--hook-state-dir=$RUN/hook$n" /etc/libvirt/hooks/qemu.d/virtnat vm28 start begin - \
      --- "$HOOK_BIN" "--hook-state-dir=$RUN/hook$n" /etc/libvirt/hooks/qemu.d/virtnat vm28 stopped end - \
      --- /bin/true \
      --- "$NLSEND" --host "$RUN/hook$n/hosts/vm28.nft" start \
      --- "$NLSEND" --host "$RUN/hook$n/hosts/vm28.nft" stop)
    local s t u p q
    s=$(sed -n 1p <<<"$lines") t=$(sed -n 2p <<<"$lines") u=$(sed -n 3p <<<"$lines")
    p=$(sed -n 4p <<<"$lines") q=$(sed -n 5p <<<"$lines")
    local tm
    tm=$(field "$u" median_ms)
    rows+=("| $n | $(field "$s" n) | **$(f1 "$(field "$s" median_ms)")** | $(f1 "$(field "$s" p99_ms)") | **$(f1 "$(field "$t" median_ms)")** | $(f1 "$(field "$t" p99_ms)") | $(f1 "$tm") | $(ratio "$(field "$s" median_ms)" "$tm") / $(ratio "$(field "$t" median_ms)" "$tm") | $(f1 "$(field "$p" median_ms)") / $(f1 "$(field "$q" median_ms)") | $(mb "$(field "$s" rss_kb)") |")
    eval "HOOK_START_$n=$(field "$s" median_ms) HOOK_STOP_$n=$(field "$t" median_ms) HOOK_TRUE_$n=$tm"
  done
  out "| N installed | cycles | start median ms | start p99 | stopped median ms | stopped p99 | /bin/true ms (same runs) | start / stopped vs /bin/true | nlsend start / stop ms | peak RSS MiB |"
  out "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  local row
  for row in "${rows[@]}"; do out "$row"; done
  out
  out "/bin/true runs in the same cycles (the cost of spawning any process right then); nlsend sends"
  out "the same start and stop batches from hosts/vm28.nft with nothing else: the kernel's cost plus"
  out "a process start."
  out
  local r_start r_stop worst_ratio
  r_start=$(awk -v a="$HOOK_START_10000" -v b="$HOOK_START_100" 'BEGIN { printf "%.2f", a / b }')
  r_stop=$(awk -v a="$HOOK_STOP_10000" -v b="$HOOK_STOP_100" 'BEGIN { printf "%.2f", a / b }')
  worst_ratio=$(awk -v a="$HOOK_START_100" -v b="$HOOK_STOP_100" -v c="$HOOK_START_10000" -v d="$HOOK_STOP_10000" \
    -v t1="$HOOK_TRUE_100" -v t2="$HOOK_TRUE_10000" 'BEGIN { m = a / t1; if (b / t1 > m) m = b / t1; if (c / t2 > m) m = c / t2; if (d / t2 > m) m = d / t2; printf "%.2f", m }')
  out "N = 10,000 / N = 100: start ${r_start}x, stopped ${r_stop}x."
  out
  TARGETS+=("| hook start and stopped <= 2.0 x spawning /bin/true (N = 100 and 10,000) | start $(f1 "$HOOK_START_100") / $(f1 "$HOOK_START_10000") ms, stopped $(f1 "$HOOK_STOP_100") / $(f1 "$HOOK_STOP_10000") ms; worst ${worst_ratio} x | /bin/true $(f1 "$HOOK_TRUE_100") / $(f1 "$HOOK_TRUE_10000") ms | $(verdict "$(le "$worst_ratio" 2.0)") |")
  local rmax
  rmax=$(awk -v a="$r_start" -v b="$r_stop" 'BEGIN { print (a > b ? a : b) }')
  TARGETS+=("| hook at N = 10,000 <= 1.2 x N = 100 | start ${r_start}x, stopped ${r_stop}x | | $(verdict "$(le "$rmax" 1.2)") |")

  log "  phases of the hook (20 traced cycles for each N)"
  for n in 100 10000; do
    dir="$ETC/hook$n"
    rm -rf "$RUN/hookt$n" "$WORK/hook$n.raw" "$WORK/hook$n.trace"
    "$VNBENCH" --runs 20 --netns once --setup "'$VIRTNAT' --config '$dir/virtnat.toml' --state-dir '$RUN/hookt$n' apply >/dev/null 2>&1" \
      --stdin "$DOMAIN_XML" --raw "$WORK/hook$n.raw" --label hs \
      --env "LD_PRELOAD=$NFTTRACE" --env "NFTTRACE_FILE=$WORK/hook$n.trace" \
      -- "$HOOK_BIN" "--hook-state-dir=$RUN/hookt$n" /etc/libvirt/hooks/qemu.d/virtnat vm28 start begin - \
      --- "$HOOK_BIN" "--hook-state-dir=$RUN/hookt$n" /etc/libvirt/hooks/qemu.d/virtnat vm28 stopped end - >/dev/null
    awk -v tsv=1 -v stride=2 -v pick=1 -v label=hs -f "$BENCH_DIR/phases.awk" "$WORK/hook$n.raw" "$WORK/hook$n.trace" >"$WORK/hook$n.start.tsv"
    awk -v tsv=1 -v stride=2 -v pick=2 -v label=hs.2 -f "$BENCH_DIR/phases.awk" "$WORK/hook$n.raw" "$WORK/hook$n.trace" >"$WORK/hook$n.stop.tsv"
  done
  out "### Where the time of the hook goes"
  out
  out "Median of 20 traced cycles per N (bench/nfttrace.cpp as LD_PRELOAD, which itself adds a"
  out "little to the start). Before the transaction the hook reads hook-index.json, the domain"
  out "XML and hosts/vm28.nft and takes the state lock; after it, it writes running.json and logs"
  out "to syslog."
  out
  out "| phase | start, N = 100 | start, N = 10,000 | stopped, N = 100 | stopped, N = 10,000 |"
  out "|---|---:|---:|---:|---:|"
  paste "$WORK/hook100.start.tsv" "$WORK/hook10000.start.tsv" "$WORK/hook100.stop.tsv" "$WORK/hook10000.stop.tsv" |
    awk -F'\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $4, $6, $8 }' | tee -a "$RESULTS"
  out
  out "All in ms."
  out
}

# ---------------------------------------------------------------- 3. forward add / remove, status, check
section_forward() {
  log "3. forward add/remove, status and check at 100 and 10000"
  out "## 3. \`forward add\`, \`forward remove\`, \`status\` and \`check\` with 100 and 10,000 forwards"
  out
  out "Alternating \`virtnat forward add vm28:5002 40000\` and \`virtnat forward remove vm28:5002 40000\`"
  out "in one namespace after an apply of the N-forward config, then \`virtnat status\` and"
  out "\`virtnat check\`, $FWD_RUNS runs each (fewer if they pass 200 s). Add and remove include their"
  out "edit of conf.d/50-cli.toml (on the disk) and the element transaction; all of them read every"
  out "config file (and hash it, for the config snapshot in the state folder). Checked first that add"
  out "opens port 40000 and remove closes it."
  out
  local n rows=() lines
  for n in 100 10000; do
    local dir="$ETC/forward$n"
    mkdir -p "$dir"
    "$GEN" toml "$n" ignore >"$dir/virtnat.toml"
    rm -rf "$dir/conf.d" "$RUN/forward$n"
    local v="'$VIRTNAT' --config '$dir/virtnat.toml' --state-dir '$RUN/forward$n'"
    local has="nft list map inet virtnat fwd_dnat | grep -c '40000 : 10\.1\.1\.28 \. 5002'"
    lines=$("$VNBENCH" --runs "$FWD_RUNS" --netns once --max-seconds 200 --min-runs 5 \
      --setup "$v apply >/dev/null 2>&1" \
      --setup "$v forward add vm28:5002 40000 >/dev/null && test \$($has) = 1" \
      --setup "$v forward remove vm28:5002 40000 >/dev/null && test \$($has) = 0" \
      --raw "$WORK/forward$n.raw" --label "fwd$n" \
      -- "$VIRTNAT" --config "$dir/virtnat.toml" --state-dir "$RUN/forward$n" forward add vm28:5002 40000 \
      --- "$VIRTNAT" --config "$dir/virtnat.toml" --state-dir "$RUN/forward$n" forward remove vm28:5002 40000 \
      --- "$VIRTNAT" --config "$dir/virtnat.toml" --state-dir "$RUN/forward$n" status \
      --- "$VIRTNAT" --config "$dir/virtnat.toml" --state-dir "$RUN/forward$n" check)
    local k name
    for k in 1 2 3 4; do
      name=$(echo "forward add|forward remove|status|check" | cut -d'|' -f$k)
      local l
      l=$(sed -n "${k}p" <<<"$lines")
      eval "CMD_${k}_$n=$(field "$l" median_ms) CMD_RSS_${k}_$n=$(field "$l" rss_kb) CMD_P99_${k}_$n=$(field "$l" p99_ms) CMD_N_${k}_$n=$(field "$l" n)"
    done
  done
  out "| command | N = 100 median ms | N = 10,000 median ms | p99 at 10,000 | 10,000 / 100 | peak RSS at 10,000 MiB |"
  out "|---|---:|---:|---:|---:|---:|"
  local k name ratios=()
  for k in 1 2 3 4; do
    name=$(echo "\`forward add\`|\`forward remove\`|\`status\`|\`check\`" | cut -d'|' -f$k)
    eval "local a=\$CMD_${k}_100 b=\$CMD_${k}_10000 p=\$CMD_P99_${k}_10000 r=\$CMD_RSS_${k}_10000"
    out "| $name | $(f1 "$a") | **$(f1 "$b")** | $(f1 "$p") | $(ratio "$b" "$a") | $(mb "$r") |"
    ratios[$k]=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')
  done
  out
  out "\`status\` prints a table row per forward (10,000 rows, with the kernel's counters) and checks"
  out "every forward against the host's other firewalls (doctor's probes): work that grows with N by"
  out "its nature; its floor is listed below."
  out
  TARGETS+=("| forward add / remove at 10,000 <= 1.5 x at 100 | add ${ratios[1]}x ($(f1 "$CMD_1_10000") ms), remove ${ratios[2]}x ($(f1 "$CMD_2_10000") ms) | at 100: $(f1 "$CMD_1_100") / $(f1 "$CMD_2_100") ms | $(verdict "$(le "$(awk -v a="${ratios[1]}" -v b="${ratios[2]}" 'BEGIN { print (a > b ? a : b) }')" 1.5)") |")
  TARGETS+=("| check at 10,000 <= 1.5 x at 100 | ${ratios[4]}x ($(f1 "$CMD_4_10000") ms) | at 100: $(f1 "$CMD_4_100") ms | $(verdict "$(le "${ratios[4]}" 1.5)") |")
  TARGETS+=("| status at 10,000 <= 1.5 x at 100 | ${ratios[3]}x ($(f1 "$CMD_3_10000") ms) | at 100: $(f1 "$CMD_3_100") ms; see section 3 | $(verdict "$(le "${ratios[3]}" 1.5)") |")

  log "  phases of forward add/remove at 10000, perf of status"
  local dir="$ETC/forward10000"
  rm -f "$WORK/fwdt.raw" "$WORK/fwdt.trace"
  "$VNBENCH" --runs "$TRACE_RUNS" --netns once --setup "'$VIRTNAT' --config '$dir/virtnat.toml' --state-dir '$RUN/fwdt' apply >/dev/null 2>&1" \
    --raw "$WORK/fwdt.raw" --label fwdt \
    --env "LD_PRELOAD=$NFTTRACE" --env "NFTTRACE_FILE=$WORK/fwdt.trace" \
    -- "$VIRTNAT" --config "$dir/virtnat.toml" --state-dir "$RUN/fwdt" forward add vm28:5002 40000 \
    --- "$VIRTNAT" --config "$dir/virtnat.toml" --state-dir "$RUN/fwdt" forward remove vm28:5002 40000 >/dev/null
  out "### Where the time of \`forward add\` and \`forward remove\` goes (N = 10,000)"
  out
  out "Median of $TRACE_RUNS traced runs each. Before the transaction: read and hash the config files,"
  out "read the config snapshot (its 10,000 forwards stay encoded), parse the CLI file, validate the"
  out "new forward against the forwards that share its ports; after it: the memo's journal, the"
  out "host's hook file, the CLI file and the snapshot (written from the old one's bytes)."
  out
  out "| phase | forward add | forward remove |"
  out "|---|---:|---:|"
  awk -v tsv=1 -v stride=2 -v pick=1 -v label=fwdt -f "$BENCH_DIR/phases.awk" "$WORK/fwdt.raw" "$WORK/fwdt.trace" >"$WORK/fwdt.add.tsv"
  awk -v tsv=1 -v stride=2 -v pick=2 -v label=fwdt.2 -f "$BENCH_DIR/phases.awk" "$WORK/fwdt.raw" "$WORK/fwdt.trace" >"$WORK/fwdt.rm.tsv"
  paste "$WORK/fwdt.add.tsv" "$WORK/fwdt.rm.tsv" | awk -F'\t' '{ printf "| %s | %s | %s |\n", $1, $2, $4 }' | tee -a "$RESULTS"
  out
  if command -v perf >/dev/null && perf --version >/dev/null 2>&1; then
    if unshare --net bash -c "'$VIRTNAT' --config '$dir/virtnat.toml' --state-dir '$RUN/fwdp' apply >/dev/null 2>&1 &&
        '$VIRTNAT' --config '$dir/virtnat.toml' --state-dir '$RUN/fwdp' status >/dev/null 2>&1 &&
        perf record -q -F 999 -g -o '$WORK/status.perf' '$VIRTNAT' --config '$dir/virtnat.toml' --state-dir '$RUN/fwdp' status >/dev/null 2>&1"; then
      out "Where \`status\` at 10,000 spends its time (\`perf record\`, the largest inclusive shares of"
      out "virtnat's own functions):"
      out
      out "| share | function |"
      out "|---:|---|"
      perf report -i "$WORK/status.perf" --children --stdio -g none --sort sym 2>/dev/null |
        awk '/^ *[0-9.]+%/ && /virtnat::/ && !/inlined/ && n < 12 { n++; share = $1; $1 = ""; $2 = ""; $3 = "";
             sub(/^ +/, ""); gsub(/\|/, "\\|"); if (length($0) > 80) $0 = substr($0, 1, 80) "...";
             printf "| %s | `%s` |\n", share, $0 }' | tee -a "$RESULTS"
      out
    fi
    rm -rf "$RUN/fwdp"
  fi
}

# ---------------------------------------------------------------- 4. data plane
H="" G1="" C1=""
in_ns() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

# install VARIANT: plain | virtnat-N | iptables-N in the lab's host namespace (ours).
install_variant() {
  in_ns "$H" nft flush ruleset
  in_ns "$H" conntrack -F >/dev/null 2>&1 || true
  rm -rf "$RUN/dp"
  case "$1" in
    plain) ;;
    virtnat-*) in_ns "$H" "$VIRTNAT" --config "$ETC/dp${1#virtnat-}/virtnat.toml" --state-dir "$RUN/dp" apply >/dev/null 2>&1 ;;
    iptables-*) in_ns "$H" iptables-restore "$ETC/dp${1#iptables-}/rules" ;;
  esac
}

# target VARIANT: "ADDRESS PORT" the client connects to.
target_of() {
  case "$1" in
    plain) echo "10.1.1.28 5001" ;;
    *) echo "198.51.100.1 $("$GEN" probe-port "${1#*-}")" ;;
  esac
}

start_server() { # connrate | iperf3: a server on g1:5001; returns once it listens
  local log="$WORK/server.log" i
  : >"$log"
  # Not through in_ns: $! must be the server itself (ip netns exec execs it) to kill it.
  if [ "$1" = connrate ]; then
    ip netns exec "$G1" "$CONNRATE" serve --port 5001 --seconds 60 >"$log" 2>&1 &
  else
    ip netns exec "$G1" iperf3 -s -1 -p 5001 >"$log" 2>&1 &
  fi
  SERVER_PID=$!
  for i in $(seq 1 100); do
    if [ -n "$(in_ns "$G1" ss -Hltn 'sport = :5001')" ]; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "bench: $1 server in g1 did not start: $(cat "$log")" >&2
  exit 1
}

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}

section_dataplane() {
  log "4. data plane (lab $LAB_PREFIX)"
  LAB_UP=1
  bash "$REPO_DIR/lab/lab.sh" up >"$WORK/lab.log" 2>&1 || {
    cat "$WORK/lab.log" >&2
    exit 1
  }
  H="$LAB_PREFIX-host" G1="$LAB_PREFIX-g1" C1="$LAB_PREFIX-c1"
  # Plain routing (the limit) needs the client to know the guests' subnet; only the lab's
  # own client namespace gets this route.
  in_ns "$C1" ip route add 10.1.1.0/24 via 198.51.100.1
  local n
  local dp_ns="1 1000 10000"
  [ "$MAX_N" -le 10000 ] || dp_ns="$dp_ns $MAX_N"
  for n in $dp_ns; do
    mkdir -p "$ETC/dp$n"
    "$GEN" toml "$n" ignore >"$ETC/dp$n/virtnat.toml"
    "$GEN" iptables-restore "$n" >"$ETC/dp$n/rules"
  done
  local variants=(plain virtnat-1 virtnat-1000 virtnat-10000)
  [ "$MAX_N" -le 10000 ] || variants+=("virtnat-$MAX_N")
  variants+=(iptables-1 iptables-1000 iptables-10000)
  declare -A rates=() lat=() fails=() bulk=()
  local round variant target line
  for round in $(seq 1 "$ROUNDS"); do
    for variant in "${variants[@]}"; do
      log "  round $round/$ROUNDS: $variant"
      install_variant "$variant"
      read -r -a target <<<"$(target_of "$variant")"
      start_server connrate
      line=$(in_ns "$C1" "$CONNRATE" client --connect "${target[0]}" --port "${target[1]}" \
        --parallel "$CONN_PARALLEL" --seconds "$CONN_SECONDS")
      stop_server
      rates[$variant]+="$(field "$line" rate) "
      lat[$variant]+="$(field "$line" median_us) "
      fails[$variant]+="$(field "$line" failures) "
      case "$variant" in
        plain | virtnat-1 | virtnat-10000 | iptables-10000)
          start_server iperf3
          line=$(in_ns "$C1" timeout 30 iperf3 -c "${target[0]}" -p "${target[1]}" -t "$IPERF_SECONDS" -J |
            jq -r '.end.sum_received.bits_per_second')
          stop_server
          bulk[$variant]+="$line "
          ;;
      esac
    done
  done
  install_variant plain
  out "## 4. Data plane"
  out
  out "Lab namespaces (lab/lab.sh): client c1 on the LAN -> the host's 198.51.100.1:PORT -> DNAT to"
  out "guest g1 (10.1.1.28:5001). The forward measured is the last of N (for iptables: its DNAT"
  out "rule is the last of N in PREROUTING, and every packet of an established connection walks"
  out "all N FORWARD rules, whose \`--state NEW\` match fails). bench/connrate: $CONN_PARALLEL parallel"
  out "loops of connect, read one byte, close (RST), for ${CONN_SECONDS} s; median of $ROUNDS rounds, the"
  out "variants interleaved. \"plain routing\" has no ruleset at all and connects to the guest's own"
  out "address (the limit)."
  out
  out "| ruleset in the host | forwards | new connections/s | vs virtnat, 1 forward | connect+byte median µs | failed connects |"
  out "|---|---:|---:|---:|---:|---:|"
  local r1 r v
  r1=$(median <<<"${rates[virtnat-1]}")
  for variant in "${variants[@]}"; do
    r=$(median <<<"${rates[$variant]}")
    case "$variant" in
      plain) v="plain routing, no NAT" n="-" ;;
      virtnat-*) v="virtnat (nftables maps)" n=${variant#*-} ;;
      iptables-*) v="iptables, linear rules" n=${variant#*-} ;;
    esac
    out "| $v | $n | **$(awk -v v="$r" 'BEGIN { printf "%.0f", v }')** | $(awk -v a="$r" -v b="$r1" 'BEGIN { printf "%.0f%%", 100 * a / b }') | $(median <<<"${lat[$variant]}") | $(echo "${fails[$variant]}" | awk '{ for (i = 1; i <= NF; i++) s += $i } END { print s + 0 }') |"
    [ "$variant" = plain ] || echo "${variant%%-*} $n $r" >>"$CONN_DAT"
  done
  out
  local share big="" share_big=""
  share=$(awk -v a="$(median <<<"${rates[virtnat-10000]}")" -v b="$r1" 'BEGIN { printf "%.1f", 100 * a / b }')
  if [ "$MAX_N" -gt 10000 ]; then
    share_big=$(awk -v a="$(median <<<"${rates[virtnat-$MAX_N]}")" -v b="$r1" 'BEGIN { printf "%.1f", 100 * a / b }')
    big=", $MAX_N: ${share_big}%"
  fi
  local worst_share=$share
  [ -z "$share_big" ] || worst_share=$(awk -v a="$share" -v b="$share_big" 'BEGIN { print (a < b ? a : b) }')
  TARGETS+=("| data plane: connection rate with 10,000 and $MAX_N forwards >= 95% of 1 forward | 10,000: ${share}%$big | plain routing: $(awk -v a="$(median <<<"${rates[plain]}")" -v b="$r1" 'BEGIN { printf "%.0f%%", 100 * a / b }') | $(verdict "$(ge "$worst_share" 95)") |")
  out "Bulk throughput, one iperf3 TCP stream for ${IPERF_SECONDS} s (median of $ROUNDS):"
  out
  out "| path | Gbit/s | vs plain routing |"
  out "|---|---:|---:|"
  local bplain b
  bplain=$(median <<<"${bulk[plain]}")
  for variant in plain virtnat-1 virtnat-10000 iptables-10000; do
    b=$(median <<<"${bulk[$variant]}")
    case "$variant" in
      plain) v="plain routing, no NAT (the limit)" ;;
      virtnat-1) v="through a virtnat forward (1 installed)" ;;
      virtnat-10000) v="through a virtnat forward (10,000 installed)" ;;
      iptables-10000) v="through an iptables forward (10,000 linear rules)" ;;
    esac
    out "| $v | $(awk -v v="$b" 'BEGIN { printf "%.2f", v / 1e9 }') | $(awk -v a="$b" -v b="$bplain" 'BEGIN { printf "%.0f%%", 100 * a / b }') |"
  done
  out
  echo "plain 0 $(median <<<"${rates[plain]}")" >>"$CONN_DAT"
  bash "$REPO_DIR/lab/lab.sh" down >/dev/null 2>&1 || true
  LAB_UP=0
}

# ---------------------------------------------------------------- run
for section in $SECTIONS; do
  case "$section" in
    1) section_apply ;;
    2) section_hook ;;
    3) section_forward ;;
    4) section_dataplane ;;
    *) echo "bench: unknown section $section" >&2 ;;
  esac
done

if [ ${#TARGETS[@]} -gt 0 ]; then
  out "## Targets"
  out
  out "| target | measured | floor or reference | |"
  out "|---|---|---|---|"
  for row in "${TARGETS[@]}"; do out "$row"; done
  out
fi

mkdir -p "$OUT_DIR"
if [ -s "$APPLY_DAT" ] || [ -s "$CONN_DAT" ]; then
  has_apply=0 has_conn=0
  [ -s "$APPLY_DAT" ] && has_apply=1
  [ -s "$CONN_DAT" ] && has_conn=1
  gnuplot -e "apply_dat='$APPLY_DAT'; conn_dat='$CONN_DAT'; has_apply=$has_apply; has_conn=$has_conn; out='$OUT_DIR/plot.png'" \
    "$BENCH_DIR/plot.gp" &&
    out "![apply time and connection rate against N](plot.png)"
fi
out
out "Total benchmark time: $(($(date +%s) - START_TIME)) s; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
cp "$RESULTS" "$OUT_DIR/results.md"
log "done: $OUT_DIR/results.md, $OUT_DIR/plot.png"
