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
#                             4 data plane)
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
GEN="$BENCH_DIR/gen-config.sh"
DOMAIN_XML="$BENCH_DIR/domain-vm28.xml"
OUT_DIR=${BENCH_OUT:-$BENCH_DIR}
SECTIONS=${BENCH_SECTIONS:-1 2 3 4}
QUICK=${BENCH_QUICK:-0}

for tool in "$VIRTNAT" "$VNBENCH" "$CONNRATE" "$NFTTRACE"; do
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
  RUNS=3 HOOK_CYCLES=30 FWD_RUNS=3 ROUNDS=1 CONN_SECONDS=1 IPERF_SECONDS=1 TRACE_RUNS=1
else
  RUNS=5 HOOK_CYCLES=200 FWD_RUNS=20 ROUNDS=3 CONN_SECONDS=2 IPERF_SECONDS=2 TRACE_RUNS=3
fi
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

TARGETS=() # rows of the summary: "| target | measured | verdict |"

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
  out "one warm-up) and the median peak RSS, from posix_spawn to exit. (a) runs one \`iptables\`"
  out "process per rule as vm-tools and libvirt-hook-qemu do (\`-t nat -A PREROUTING ... -j DNAT\`"
  out "and \`-I FORWARD ... -j ACCEPT\` per forward, from \`sh\`, so without their Python around it);"
  out "(b) one \`iptables-restore\` of the same rules; (c) \`nft -f\` of the exact ruleset text"
  out "virtnat installs (from \`virtnat plan\`). \`iptables\` is Debian's default, the nf_tables backend."
  out
  local n dir line v_ms v_rss nft_ms nft_rss rst_ms rst_rss ipt_ms ipt_rss ipt_note t100="" t1000=""
  local rows=()
  for n in 100 1000 10000; do
    dir="$ETC/apply$n"
    mkdir -p "$dir"
    "$GEN" toml "$n" ignore >"$dir/virtnat.toml"
    "$GEN" iptables-restore "$n" >"$dir/rules"
    ruleset_of "$dir/virtnat.toml" "$dir/ruleset.nft"
    # Sanity: apply installs N DNAT elements; nft -f and iptables-restore accept their input.
    local got
    got=$(unshare --net bash -c "'$VIRTNAT' --config '$dir/virtnat.toml' --state-dir '$RUN/check' apply >/dev/null 2>&1 &&
      nft list map inet virtnat fwd_dnat | grep -o '198\.51\.100\.1 \. tcp \. [0-9]*' | wc -l")
    rm -rf "$RUN/check"
    [ "$got" = "$n" ] || {
      echo "bench: apply of $n forwards installed $got DNAT elements" >&2
      exit 1
    }
    log "  N=$n: virtnat apply"
    line=$("$VNBENCH" --runs "$RUNS" --warmup 1 --netns each --pre "rm -rf '$RUN/st'" --label "apply$n" \
      -- "$VIRTNAT" --config "$dir/virtnat.toml" --state-dir "$RUN/st" apply)
    v_ms=$(field "$line" median_ms) v_rss=$(field "$line" rss_kb)
    log "  N=$n: nft -f, iptables-restore"
    line=$("$VNBENCH" --runs "$RUNS" --warmup 1 --netns each --label "nft$n" -- nft -f "$dir/ruleset.nft")
    nft_ms=$(field "$line" median_ms) nft_rss=$(field "$line" rss_kb)
    line=$("$VNBENCH" --runs "$RUNS" --warmup 1 --netns each --label "restore$n" -- iptables-restore "$dir/rules")
    rst_ms=$(field "$line" median_ms) rst_rss=$(field "$line" rss_kb)
    if [ "$n" -le 1000 ]; then
      log "  N=$n: one iptables process per rule ($((2 * n)) processes a run)"
      "$GEN" iptables-script "$n" >"$dir/rules.sh"
      # 2,000 processes take 20-40 s a run here: 3 runs at N = 1,000 keep the whole under 10 min.
      local ipt_runs=$RUNS
      [ "$n" -le 100 ] || ipt_runs=$((RUNS < 3 ? RUNS : 3))
      line=$("$VNBENCH" --runs "$ipt_runs" --netns each --max-seconds 90 --min-runs 1 --label "iptables$n" \
        -- sh "$dir/rules.sh")
      ipt_ms=$(field "$line" median_ms) ipt_rss=$(field "$line" rss_kb)
      ipt_note="$(f1 "$ipt_ms") ($(field "$line" n) runs)"
      if [ "$n" = 100 ]; then t100=$ipt_ms; else t1000=$ipt_ms; fi
    else
      # Linear through the two measured points: the cost per forward between N=100 and 1,000.
      ipt_ms=$(awk -v a="$t100" -v b="$t1000" 'BEGIN { printf "%.1f", b + (b - a) * 9000 / 900 }')
      ipt_rss=""
      ipt_note="~$(f1 "$ipt_ms") (extrapolated)"
    fi
    rows+=("| $n | **$(f1 "$v_ms")** | $(mb "$v_rss") | $ipt_note | $(f1 "$rst_ms") | $(f1 "$nft_ms") | $(ratio "$ipt_ms" "$v_ms") | $(ratio "$rst_ms" "$v_ms") | $(ratio "$nft_ms" "$v_ms") |")
    echo "$n $v_ms $nft_ms $rst_ms $ipt_ms" >>"$APPLY_DAT"
    eval "APPLY_MS_$n=$v_ms NFT_MS_$n=$nft_ms NFT_RSS_$n=$nft_rss RST_RSS_$n=$rst_rss IPT_RSS_$n=${ipt_rss:-0}"
  done
  out "| N | virtnat apply ms | virtnat peak RSS MiB | (a) iptables per rule ms | (b) iptables-restore ms | (c) nft -f ms | (a) / virtnat | (b) / virtnat | (c) / virtnat |"
  out "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  local row
  for row in "${rows[@]}"; do out "$row"; done
  out
  out "A ratio above 1x means virtnat is that many times faster, below 1x slower. (a) at N = 1,000 is"
  out "the median of at most 3 runs (each runs 2,000 processes). (a) at N = 10,000 is extrapolated"
  out "linearly from the N = 100 and N = 1,000 measurements (the cost per added forward between them,"
  out "times 9,000 more forwards); running 20,000 processes would take minutes. Peak RSS of the other"
  out "tools at N = 10,000: nft -f $(mb "$NFT_RSS_10000") MiB, iptables-restore $(mb "$RST_RSS_10000") MiB;"
  out "one iptables process (N = 1,000): $(mb "$IPT_RSS_1000") MiB."
  out
  TARGETS+=("| 1. apply 10,000 forwards from scratch < 30 ms | $(f1 "$APPLY_MS_10000") ms | $(verdict "$(lt "$APPLY_MS_10000" 30)") |")
  local speedup
  speedup=$(awk -v a="$NFT_MS_10000" -v b="$APPLY_MS_10000" 'BEGIN { printf "%.2f", a / b }')
  TARGETS+=("| 1. apply 10,000 >= 4x faster than nft -f of the same text | $(f2 "$speedup")x | $(verdict "$(ge "$speedup" 4)") |")

  # Where the time of apply goes, for N = 10,000: nfttrace.so times every libnftables call.
  log "  phases of apply, N=10000 ($TRACE_RUNS traced runs)"
  local dir10="$ETC/apply10000"
  rm -f "$WORK/apply.raw" "$WORK/apply.trace"
  "$VNBENCH" --runs "$TRACE_RUNS" --netns each --pre "rm -rf '$RUN/st'" --raw "$WORK/apply.raw" \
    --env "LD_PRELOAD=$NFTTRACE" --env "NFTTRACE_FILE=$WORK/apply.trace" --label trace \
    -- "$VIRTNAT" --config "$dir10/virtnat.toml" --state-dir "$RUN/st" apply >/dev/null
  out "### Where the time of \`virtnat apply\` goes (N = 10,000)"
  out
  out "Median of $TRACE_RUNS runs, each libnftables call timed by an LD_PRELOAD wrapper"
  out "(bench/nfttrace.cpp); the rest is virtnat's own code between those calls."
  out
  out "| phase | median ms | share |"
  out "|---|---:|---:|"
  awk -f "$BENCH_DIR/phases.awk" "$WORK/apply.raw" "$WORK/apply.trace" | tee -a "$RESULTS"
  out
  log "  the same pieces as separate processes"
  local check_lines list_line
  check_lines=""
  for n in 100 1000 10000; do
    line=$("$VNBENCH" --runs "$RUNS" --label "check$n" -- "$VIRTNAT" --config "$ETC/apply$n/virtnat.toml" check)
    check_lines+="| \`virtnat check\`, N = $n: read and validate the config once (apply does it twice) | $(f1 "$(field "$line" median_ms)") |"$'\n'
  done
  line=$("$VNBENCH" --runs "$RUNS" --netns each --label nftcheck -- nft -c -f "$dir10/ruleset.nft")
  local nft_check_ms
  nft_check_ms=$(field "$line" median_ms)
  list_line=$("$VNBENCH" --runs 3 --netns once --setup "nft -f '$dir10/ruleset.nft'" --label list \
    -- nft -j list table inet virtnat --- nft -j -p list table inet virtnat --- nft list table inet virtnat)
  local libs
  libs=$(ldd "$VIRTNAT" | grep -c '=>' || true)
  out "| the same pieces, measured as separate processes | median ms |"
  out "|---|---:|"
  out "| \`/bin/true\` (the cost of spawning any process) | $(f1 "$(field "$TRUE_LINE" median_ms)") |"
  out "| \`virtnat --version\` (start and exit only; virtnat loads $libs shared libraries) | $(f1 "$(field "$VERSION_LINE" median_ms)") |"
  printf '%s' "$check_lines" | tee -a "$RESULTS"
  out "| \`nft -c -f\` of the 10,000-forward text: parse and evaluate only, no commit | $(f1 "$nft_check_ms") |"
  out "| \`nft -f\` of the same text: parse, evaluate and commit | $(f1 "$NFT_MS_10000") |"
  out "| \`nft -j list table\` of the installed 10,000-forward table (what apply re-reads) | $(f1 "$(field "$(sed -n 1p <<<"$list_line")" median_ms)") |"
  out "| \`nft -j -p list table\` (the same with numeric protocols: no /etc/protocols look-up per element) | $(f1 "$(field "$(sed -n 2p <<<"$list_line")" median_ms)") |"
  out "| \`nft list table\` (text) | $(f1 "$(field "$(sed -n 3p <<<"$list_line")" median_ms)") |"
  out
  if command -v strace >/dev/null; then
    local opens
    rm -rf "$RUN/st"
    opens=$(unshare --net strace -f -qq -e trace=openat -o "$WORK/apply.strace" \
      "$VIRTNAT" --config "$dir10/virtnat.toml" --state-dir "$RUN/st" apply >/dev/null 2>&1 &&
      grep -c '/etc/protocols' "$WORK/apply.strace" || true)
    out "One \`virtnat apply\` of 10,000 forwards opens /etc/protocols ${opens:-?} times (strace): libnftables'"
    out "JSON output names the protocol of every element with getprotobynumber()."
    out
  fi
  if command -v perf >/dev/null && perf --version >/dev/null 2>&1; then
    rm -rf "$RUN/st"
    if unshare --net perf record -q -F 999 -o "$WORK/apply.perf" \
      "$VIRTNAT" --config "$dir10/virtnat.toml" --state-dir "$RUN/st" apply >/dev/null 2>&1; then
      out "Hottest functions of one \`virtnat apply\` of 10,000 forwards (\`perf record\`, self time;"
      out "kernel time under malloc is mostly page faults of fresh heap):"
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
  out "## 2. Hook latency"
  out
  out "N forwards installed (\`vm_lifecycle = \"libvirt\"\`, host names = domain names; the libvirt"
  out "connection of apply is libvirt's built-in test driver, so no libvirtd is needed), then"
  out "$HOOK_CYCLES cycles of the installed hook as libvirt runs it: \`virtnat-hook --hook-state-dir=DIR"
  out ".../qemu.d/virtnat vm28 start begin -\` and \`... stopped end -\` (virtnat-hook is virtnat's hook"
  out "without the command line and the libvirt client library), each with a real domain XML"
  out "(bench/domain-vm28.xml) on stdin, for vm28, which has 10"
  out "forwards. Whole process, posix_spawn to exit, all cycles in one namespace; checked first that"
  out "start adds vm28's 10 DNAT elements and stopped removes them."
  out
  local n dir line_start line_stop rows=() med100 med10k
  for n in 100 10000; do
    dir="$ETC/hook$n"
    mkdir -p "$dir"
    "$GEN" toml "$n" libvirt test:///default >"$dir/virtnat.toml"
    local v="'$VIRTNAT' --config '$dir/virtnat.toml' --state-dir '$RUN/hook$n'"
    local count="nft list map inet virtnat fwd_dnat | grep -o '10\.1\.1\.28 \. [0-9]*' | wc -l"
    rm -rf "$RUN/hook$n"
    log "  N=$n: $HOOK_CYCLES start/stopped cycles"
    local lines
    lines=$("$VNBENCH" --runs "$HOOK_CYCLES" --warmup 3 --netns once --max-seconds 120 --min-runs 20 \
      --setup "$v apply >/dev/null 2>&1" \
      --setup "test \$($count) = 0" \
      --setup "$v hook qemu vm28 start begin - <'$DOMAIN_XML' && test \$($count) = 10" \
      --setup "$v hook qemu vm28 stopped end - <'$DOMAIN_XML' && test \$($count) = 0" \
      --stdin "$DOMAIN_XML" --label "hook$n" \
      -- "$HOOK_BIN" "--hook-state-dir=$RUN/hook$n" /etc/libvirt/hooks/qemu.d/virtnat vm28 start begin - \
      --- "$HOOK_BIN" "--hook-state-dir=$RUN/hook$n" /etc/libvirt/hooks/qemu.d/virtnat vm28 stopped end -)
    line_start=$(sed -n 1p <<<"$lines")
    line_stop=$(sed -n 2p <<<"$lines")
    rows+=("| $n | $(field "$line_start" n) | **$(f1 "$(field "$line_start" median_ms)")** | $(f1 "$(field "$line_start" p99_ms)") | **$(f1 "$(field "$line_stop" median_ms)")** | $(f1 "$(field "$line_stop" p99_ms)") | $(mb "$(field "$line_start" rss_kb)") |")
    eval "HOOK_START_$n=$(field "$line_start" median_ms) HOOK_STOP_$n=$(field "$line_stop" median_ms)"
  done
  out "| N installed | cycles | start median ms | start p99 ms | stopped median ms | stopped p99 ms | peak RSS MiB |"
  out "|---:|---:|---:|---:|---:|---:|---:|"
  local row
  for row in "${rows[@]}"; do out "$row"; done
  out
  local worst r_start r_stop
  worst=$(awk -v a="$HOOK_START_100" -v b="$HOOK_START_10000" -v c="$HOOK_STOP_100" -v d="$HOOK_STOP_10000" \
    'BEGIN { m = a; if (b > m) m = b; if (c > m) m = c; if (d > m) m = d; print m }')
  r_start=$(awk -v a="$HOOK_START_10000" -v b="$HOOK_START_100" 'BEGIN { printf "%.2f", a / b }')
  r_stop=$(awk -v a="$HOOK_STOP_10000" -v b="$HOOK_STOP_100" 'BEGIN { printf "%.2f", a / b }')
  out "N = 10,000 / N = 100: start ${r_start}x, stopped ${r_stop}x."
  out
  TARGETS+=("| 2. hook median < 3 ms (start and stopped, both N) | worst $(f1 "$worst") ms | $(verdict "$(lt "$worst" 3)") |")
  local rmax
  rmax=$(awk -v a="$r_start" -v b="$r_stop" 'BEGIN { print (a > b ? a : b) }')
  TARGETS+=("| 2. hook at N = 10,000 <= 1.2x N = 100 | start ${r_start}x, stopped ${r_stop}x | $(verdict "$(le "$rmax" 1.2)") |")

  # The floor: what starting a process costs with virtnat's libraries, and the hook's very
  # transaction sent by a minimal libnftables program (startprobe) and by the nft command.
  log "  start-up floor and the hook's transaction alone"
  local probes
  probes=$("$VNBENCH" --runs 50 --warmup 3 --label probe -- /bin/true --- "$BB/startprobe-plain" \
    --- "$BB/startprobe-nftables" --- "$BB/startprobe-libvirt" --- "$VIRTNAT" --version)
  local txn=() elements
  for n in 100 10000; do
    elements="$RUN/hook$n/hosts/vm28.elements"
    [ -s "$elements" ] || {
      echo "bench: $elements is missing" >&2
      exit 1
    }
    awk -F'\t' '{ e[$1] = e[$1] (e[$1] == "" ? "" : ", ") $2 }
      END { for (s in e) printf "add element inet virtnat %s { %s }\n", s, e[s] }' "$elements" >"$WORK/start$n.nft"
    awk -F'\t' '{ k = $2; sub(/ : .*/, "", k); e[$1] = e[$1] (e[$1] == "" ? "" : ", ") $2
                  d[$1] = d[$1] (d[$1] == "" ? "" : ", ") k }
      END { for (s in e) printf "add element inet virtnat %s { %s }\ndelete element inet virtnat %s { %s }\n", s, e[s], s, d[s] }' \
      "$elements" >"$WORK/stop$n.nft"
    dir="$ETC/hook$n"
    txn+=("$("$VNBENCH" --runs 50 --warmup 3 --netns once --max-seconds 60 \
      --setup "'$VIRTNAT' --config '$dir/virtnat.toml' --state-dir '$RUN/hookp$n' apply >/dev/null 2>&1" \
      --label "txn$n" -- "$BB/startprobe-nftables" "$WORK/start$n.nft" --- "$BB/startprobe-nftables" "$WORK/stop$n.nft" \
      --- nft -f "$WORK/start$n.nft" --- nft -f "$WORK/stop$n.nft")")
  done
  local p
  p() { field "$(sed -n "${1}p" <<<"$probes")" median_ms; }
  t() { field "$(sed -n "${2}p" <<<"${txn[$1]}")" median_ms; }
  out "The floor under these numbers (medians of 50 runs, ms):"
  out
  out "| process | median ms |"
  out "|---|---:|"
  out "| \`/bin/true\` | $(f1 "$(p 1)") |"
  out "| bench/startprobe-plain: an empty C++ program | $(f1 "$(p 2)") |"
  out "| startprobe-nftables: the same, linked with libnftables ($(ldd "$BB/startprobe-nftables" | grep -c '=>' || true) shared libraries) | $(f1 "$(p 3)") |"
  out "| startprobe-libvirt: linked with libnftables and libvirt ($(ldd "$BB/startprobe-libvirt" | grep -c '=>' || true) shared libraries) | $(f1 "$(p 4)") |"
  out "| \`virtnat --version\` ($(ldd "$VIRTNAT" | grep -c '=>' || true) shared libraries) | $(f1 "$(p 5)") |"
  out
  out "The hook's own transaction (the commands \`hook qemu vm28 start/stopped\` send, built from"
  out "hosts/vm28.elements) sent by startprobe-nftables (start-up + one libnftables call) and by"
  out "\`nft -f\`, 50 cycles in a namespace with N forwards installed:"
  out
  out "| N installed | startprobe start | startprobe stopped | nft -f start | nft -f stopped |"
  out "|---:|---:|---:|---:|---:|"
  out "| 100 | $(f1 "$(t 0 1)") | $(f1 "$(t 0 2)") | $(f1 "$(t 0 3)") | $(f1 "$(t 0 4)") |"
  out "| 10000 | $(f1 "$(t 1 1)") | $(f1 "$(t 1 2)") | $(f1 "$(t 1 3)") | $(f1 "$(t 1 4)") |"
  out

  log "  phases of the hook (20 traced cycles for each N)"
  for n in 100 10000; do
    dir="$ETC/hook$n"
    rm -rf "$RUN/hookt$n" "$WORK/hook$n.raw" "$WORK/hook$n.trace"
    "$VNBENCH" --runs 20 --netns once --setup "'$VIRTNAT' --config '$dir/virtnat.toml' --state-dir '$RUN/hookt$n' apply >/dev/null 2>&1" \
      --stdin "$DOMAIN_XML" --raw "$WORK/hook$n.raw" --label hs \
      --env "LD_PRELOAD=$NFTTRACE" --env "NFTTRACE_FILE=$WORK/hook$n.trace" \
      -- "$VIRTNAT" --config "$dir/virtnat.toml" --state-dir "$RUN/hookt$n" hook qemu vm28 start begin - \
      --- "$VIRTNAT" --config "$dir/virtnat.toml" --state-dir "$RUN/hookt$n" hook qemu vm28 stopped end - >/dev/null
    awk -v tsv=1 -v stride=2 -v pick=1 -v label=hs -f "$BENCH_DIR/phases.awk" "$WORK/hook$n.raw" "$WORK/hook$n.trace" >"$WORK/hook$n.start.tsv"
    awk -v tsv=1 -v stride=2 -v pick=2 -v label=hs.2 -f "$BENCH_DIR/phases.awk" "$WORK/hook$n.raw" "$WORK/hook$n.trace" >"$WORK/hook$n.stop.tsv"
  done
  out "### Where the time of the hook goes"
  out
  out "Median of 20 traced cycles per N; each libnftables call timed by an LD_PRELOAD wrapper"
  out "(bench/nfttrace.cpp). Before the nft call the hook reads hook-index.json, the domain XML and"
  out "hosts/vm28.elements; after it, it updates running.json under the lock (stopped: also ends"
  out "the forwards' conntrack entries) and logs to syslog."
  out
  out "| phase | start, N = 100 | start, N = 10,000 | stopped, N = 100 | stopped, N = 10,000 |"
  out "|---|---:|---:|---:|---:|"
  paste "$WORK/hook100.start.tsv" "$WORK/hook10000.start.tsv" "$WORK/hook100.stop.tsv" "$WORK/hook10000.stop.tsv" |
    awk -F'\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $4, $6, $8 }' | tee -a "$RESULTS"
  out
  out "All in ms."
  out
}

# ---------------------------------------------------------------- 3. forward add / remove
section_forward() {
  log "3. forward add/remove with 10000 installed"
  out "## 3. \`forward add\` and \`forward remove\` with 10,000 forwards installed"
  out
  out "Alternating \`virtnat forward add vm28:5002 40000\` and \`virtnat forward remove vm28:5002 40000\`"
  out "in one namespace after an apply of the 10,000-forward config; each includes its edit of"
  out "conf.d/50-cli.toml (on the disk) and the element transaction. Checked first that add opens"
  out "port 40000 and remove closes it."
  out
  local dir="$ETC/forward"
  mkdir -p "$dir"
  "$GEN" toml 10000 ignore >"$dir/virtnat.toml"
  rm -rf "$dir/conf.d" "$RUN/forward"
  local v="'$VIRTNAT' --config '$dir/virtnat.toml' --state-dir '$RUN/forward'"
  local has="nft list map inet virtnat fwd_dnat | grep -c '40000 : 10\.1\.1\.28 \. 5002'"
  local lines
  lines=$("$VNBENCH" --runs "$FWD_RUNS" --netns once --max-seconds 200 --min-runs 5 \
    --setup "$v apply >/dev/null 2>&1" \
    --setup "$v forward add vm28:5002 40000 >/dev/null && test \$($has) = 1" \
    --setup "$v forward remove vm28:5002 40000 >/dev/null && test \$($has) = 0" \
    --raw "$WORK/forward.raw" --label fwd \
    --env "LD_PRELOAD=$NFTTRACE" --env "NFTTRACE_FILE=$WORK/forward.trace" \
    -- "$VIRTNAT" --config "$dir/virtnat.toml" --state-dir "$RUN/forward" forward add vm28:5002 40000 \
    --- "$VIRTNAT" --config "$dir/virtnat.toml" --state-dir "$RUN/forward" forward remove vm28:5002 40000)
  local add rm_
  add=$(sed -n 1p <<<"$lines")
  rm_=$(sed -n 2p <<<"$lines")
  out "| command | runs | median ms | p99 ms | min ms | peak RSS MiB |"
  out "|---|---:|---:|---:|---:|---:|"
  out "| forward add | $(field "$add" n) | **$(f1 "$(field "$add" median_ms)")** | $(f1 "$(field "$add" p99_ms)") | $(f1 "$(field "$add" min_ms)") | $(mb "$(field "$add" rss_kb)") |"
  out "| forward remove | $(field "$rm_" n) | **$(f1 "$(field "$rm_" median_ms)")** | $(f1 "$(field "$rm_" p99_ms)") | $(f1 "$(field "$rm_" min_ms)") | $(mb "$(field "$rm_" rss_kb)") |"
  out
  out "(These runs carry the LD_PRELOAD timing wrapper; it costs a few microseconds per libnftables call.)"
  out
  local worst
  worst=$(awk -v a="$(field "$add" median_ms)" -v b="$(field "$rm_" median_ms)" 'BEGIN { print (a > b ? a : b) }')
  TARGETS+=("| 3. forward add / remove with 10,000 installed < 10 ms | add $(f1 "$(field "$add" median_ms)") ms, remove $(f1 "$(field "$rm_" median_ms)") ms | $(verdict "$(lt "$worst" 10)") |")
  out "### Where the time of \`forward add\` goes"
  out
  out "| phase | median ms | share |"
  out "|---|---:|---:|"
  awk -v stride=2 -v pick=1 -v label=fwd -f "$BENCH_DIR/phases.awk" "$WORK/forward.raw" "$WORK/forward.trace" | tee -a "$RESULTS"
  out
  out "### Where the time of \`forward remove\` goes"
  out
  out "| phase | median ms | share |"
  out "|---|---:|---:|"
  awk -v stride=2 -v pick=2 -v label=fwd.2 -f "$BENCH_DIR/phases.awk" "$WORK/forward.raw" "$WORK/forward.trace" | tee -a "$RESULTS"
  out
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
    *) echo "198.51.100.1 $((20000 + ${1#*-} - 1))" ;;
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
  for n in 1 1000 10000; do
    mkdir -p "$ETC/dp$n"
    "$GEN" toml "$n" ignore >"$ETC/dp$n/virtnat.toml"
    "$GEN" iptables-restore "$n" >"$ETC/dp$n/rules"
  done
  local variants=(plain virtnat-1 virtnat-1000 virtnat-10000 iptables-1 iptables-1000 iptables-10000)
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
  local share
  share=$(awk -v a="$(median <<<"${rates[virtnat-10000]}")" -v b="$r1" 'BEGIN { printf "%.1f", 100 * a / b }')
  TARGETS+=("| 4. connection rate, virtnat 10,000 forwards >= 95% of 1 forward | ${share}% | $(verdict "$(ge "$share" 95)") |")
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
  out "| target | measured | |"
  out "|---|---|---|"
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
