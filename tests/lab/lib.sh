# shellcheck shell=bash
# Helpers for the virtnat lab tests. Source it from a test script that got the build
# folder as $1:
#
#   source "$(dirname "$0")/lib.sh" "$1"
#   lab_start                      # lab up + cleanup trap; temp config and state folders
#   write_config <<'EOF' ... EOF   # base config (settings + network nat_bridge) + what stdin adds
#   { lab_settings ...; lab_network provider=libvirt ...; lab_hosts; } >"$CONFIG"  # a variant
#   start_server g1 lxdev01 --tcp 22 --udp 53
#   expect_reply c1 tcp 198.51.100.1 2222 "lxdev01 22 198.51.100.10"
#   expect_no_reply c2 tcp 198.51.100.1 2223 timeout
#   finish                         # prints "N passed, M failed", exits non-zero on a failure
#
# Nodes: host g1 g2 lan c1 c2 (or a full namespace name). Output is TAP-like:
# "ok N - what" / "not ok N - what" with "# " lines of detail.

set -uo pipefail
# grep_q: "grep -q" that reads all its input. With pipefail, grep -q exiting at the first match
# can kill the writer with SIGPIPE and fail a pipeline whose answer was yes.
grep_q() { grep "$@" >/dev/null; }

LAB_TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LAB_TESTS_DIR/../.." && pwd)
LAB_SH="$REPO_DIR/lab/lab.sh"
# lab_settings, lab_network, lab_host(s), lab_forward: the lab's configs from one definition.
# shellcheck source=lab/lab-config.sh
source "$REPO_DIR/lab/lab-config.sh"

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
BUILD_DIR=$(cd "$1" && pwd)
VIRTNAT="$BUILD_DIR/virtnat"
VNPEER="$BUILD_DIR/vnpeer"

# A prefix of our own, so a test never collides with a demo lab or another run.
export LAB_PREFIX="${LAB_PREFIX:-vnt$$}"
HOST_NS="$LAB_PREFIX-host"
TABLE=virtnat

TESTS_RUN=0
TESTS_PASSED=0
TESTS_FAILED=0
SERVER_PIDS=()
WORK_DIR=""
CONFIG=""
CONF_DIR=""

# ------------------------------------------------------------------ reporting

note() { echo "# $*"; }

pass() {
  TESTS_RUN=$((TESTS_RUN + 1))
  TESTS_PASSED=$((TESTS_PASSED + 1))
  echo "ok $TESTS_RUN - $1"
}

fail() { # DESCRIPTION [DETAIL...]
  TESTS_RUN=$((TESTS_RUN + 1))
  TESTS_FAILED=$((TESTS_FAILED + 1))
  echo "not ok $TESTS_RUN - $1"
  shift
  local line
  for line in "$@"; do
    while IFS= read -r l; do echo "#   $l"; done <<<"$line"
  done
}

# check DESCRIPTION COMMAND...: passes when COMMAND exits 0.
check() {
  local desc=$1 out rc
  shift
  out=$("$@" 2>&1)
  rc=$?
  if [ $rc -eq 0 ]; then
    pass "$desc"
  else
    fail "$desc" "command: $*" "exit $rc" "$out"
  fi
  return $rc
}

# check_exit DESCRIPTION EXPECTED_STATUS COMMAND...
check_exit() {
  local desc=$1 want=$2 out rc
  shift 2
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -eq "$want" ]; then
    pass "$desc"
  else
    fail "$desc" "command: $*" "exit $rc, expected $want" "$out"
  fi
  [ "$rc" -eq "$want" ]
}

# check_same DESCRIPTION FILE_A FILE_B: the two files are byte-identical.
check_same() {
  if cmp -s "$2" "$3"; then
    pass "$1"
  else
    fail "$1" "$(diff -u "$2" "$3" | head -60)"
  fi
}

finish() {
  if [ "$TESTS_FAILED" -gt 0 ] && [ -n "$WORK_DIR" ] && ns_exists "$HOST_NS"; then
    note "ruleset in $HOST_NS at the end:"
    ip netns exec "$HOST_NS" nft list ruleset 2>&1 | sed 's/^/#   /'
  fi
  echo "1..$TESTS_RUN"
  echo "$TESTS_PASSED passed, $TESTS_FAILED failed"
  if [ "$TESTS_FAILED" -gt 0 ] || [ "$TESTS_PASSED" -eq 0 ]; then
    exit 1
  fi
  exit 0
}

# ------------------------------------------------------------------ the lab

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep_q -x -- "$1"; }

# node_ns NODE: c1 -> ${LAB_PREFIX}-c1; a full namespace name stays as it is.
node_ns() {
  case "$1" in
    host | g1 | g2 | lan | c1 | c2) echo "$LAB_PREFIX-$1" ;;
    *) echo "$1" ;;
  esac
}

# in_ns NODE COMMAND...: run a command inside a node.
in_ns() {
  local n
  n=$(node_ns "$1")
  shift
  ip netns exec "$n" "$@"
}

lab_cleanup() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${SERVER_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  SERVER_PIDS=()
  bash "$LAB_SH" down >/dev/null 2>&1 || true
  if [ -n "$WORK_DIR" ] && [ -z "${LAB_KEEP:-}" ]; then
    rm -rf "$WORK_DIR"
  fi
}

# lab_start: checks the prerequisites, builds the lab, makes the temp config and state folders.
lab_start() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "# lab tests need root (network namespaces); skipped"
    exit 77
  fi
  local bin
  for bin in "$VIRTNAT" "$VNPEER"; do
    if [ ! -x "$bin" ]; then
      echo "Bail out! $bin is missing (build first)"
      echo "0 passed, 1 failed"
      exit 1
    fi
  done
  trap lab_cleanup EXIT
  trap 'exit 130' INT TERM
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/virtnat-lab.XXXXXX")
  CONF_DIR="$WORK_DIR/etc"
  CONFIG="$CONF_DIR/virtnat.toml"
  export VIRTNAT_STATE_DIR="$WORK_DIR/state"
  mkdir -p "$CONF_DIR" "$VIRTNAT_STATE_DIR"
  if ! bash "$LAB_SH" up >"$WORK_DIR/lab-up.log" 2>&1; then
    echo "Bail out! lab.sh up failed:"
    sed 's/^/# /' "$WORK_DIR/lab-up.log"
    echo "0 passed, 1 failed"
    exit 1
  fi
  note "lab $LAB_PREFIX is up; config $CONFIG; state $VIRTNAT_STATE_DIR"
}

# write_config: the lab's base config (settings + the nat network with lxdev01 and
# lxdev02), followed by whatever TOML arrives on stdin (forwards, usually: a heredoc, or
# lab_forward's tables, which bring their own blank line).
write_config() {
  local input=""
  if [ ! -t 0 ]; then
    input=$(cat && echo .)
    input=${input%.}
  fi
  {
    cat "$LAB_NETWORK_TOML"
    [[ $input == $'\n'* ]] || echo
    printf '%s' "$input"
  } >"$CONFIG"
}

# virtnat ARGS...: the product, run inside the lab's host namespace with the test config.
virtnat() {
  ip netns exec "$HOST_NS" "$VIRTNAT" --config "$CONFIG" "$@"
}

# virtnat_with FILE ARGS...: the product with another config, in the lab's host namespace.
virtnat_with() {
  local file=$1
  shift
  ip netns exec "$HOST_NS" "$VIRTNAT" --config "$file" "$@"
}

# expect_refused DESCRIPTION FILE PATTERN...: `virtnat check` of FILE exits 2 and its
# output matches every extended regex PATTERN.
expect_refused() {
  local desc=$1 file=$2 out rc pattern missing=()
  shift 2
  out=$(virtnat_with "$file" check 2>&1)
  rc=$?
  for pattern in "$@"; do
    grep -Eq -- "$pattern" <<<"$out" || missing+=("$pattern")
  done
  if [ $rc -eq 2 ] && [ ${#missing[@]} -eq 0 ]; then
    pass "$desc (exit 2: $(tr '\n' ' ' <<<"$out"))"
  else
    fail "$desc" "command: virtnat --config $file check" "exit $rc, expected 2" \
      "missing in the output: ${missing[*]:-(nothing)}" "$out"
  fi
}

# no_match / has_match DESCRIPTION TEXT_FILE REGEX: no line (some line) of the file matches.
no_match() {
  local hits
  hits=$(grep -E -- "$3" "$2")
  if [ -z "$hits" ]; then pass "$1"; else fail "$1" "lines matching /$3/:" "$hits"; fi
}
has_match() {
  if grep -Eq -- "$3" "$2"; then pass "$1"; else fail "$1" "no line matches /$3/ in:" "$(cat "$2")"; fi
}

# has_text / lacks_text DESCRIPTION TEXT FIXED_STRING: TEXT contains (does not contain) it.
has_text() {
  if grep -qF -- "$3" <<<"$2"; then pass "$1"; else fail "$1" "missing: $3" "$2"; fi
}
lacks_text() {
  if grep -qF -- "$3" <<<"$2"; then fail "$1" "unexpected: $3" "$2"; else pass "$1"; fi
}

# expect_value DESCRIPTION ACTUAL EXPECTED
expect_value() {
  if [ "$2" = "$3" ]; then pass "$1 ($2)"; else fail "$1" "expected '$3', got '$2'"; fi
}

# Links of the lab's host namespace: link_exists IFACE; link_master / link_alias IFACE print
# IFACE's master and alias (empty if none).
link_exists() { ip -n "$HOST_NS" link show dev "$1" >/dev/null 2>&1; }
link_master() {
  ip -n "$HOST_NS" -o link show dev "$1" 2>/dev/null | sed -n 's/.* master \([^ ]*\) .*/\1/p'
}
link_alias() { ip -n "$HOST_NS" -o link show dev "$1" 2>/dev/null | sed -n 's/.* alias \(.*\)$/\1/p'; }

# delete_namespaces NS...: ends the processes of each namespace that exists and deletes it
# (guest namespaces a test made beside the lab's).
delete_namespaces() {
  local name pid
  for name in "$@"; do
    ns_exists "$name" || continue
    for pid in $(ip netns pids "$name" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    ip netns del "$name" 2>/dev/null || true
  done
}

# nft_host ARGS...: nft inside the host namespace (read-only use in the tests).
nft_host() {
  ip netns exec "$HOST_NS" nft "$@"
}

# save_table FILE: `nft -s list table inet $TABLE` in the host namespace into FILE;
# fails (and leaves the error in FILE) when the table cannot be listed.
save_table() {
  nft_host -s list table inet "$TABLE" >"$1" 2>&1
}

# start_server NODE NAME [--tcp PORTLIST] [--udp PORTLIST]: a vnpeer server in the
# background; returns once it has bound every port.
start_server() {
  local node=$1 name=$2 log
  shift 2
  log="$WORK_DIR/server-$node-$name.log"
  ip netns exec "$(node_ns "$node")" "$VNPEER" serve --name "$name" "$@" >"$log" 2>&1 &
  SERVER_PIDS+=($!)
  for _ in $(seq 1 100); do
    if grep -q "^ready " "$log" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "${SERVER_PIDS[-1]}" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "Bail out! vnpeer server $name in $node did not start:"
  sed 's/^/# /' "$log"
  exit 1
}

# peer_connect NODE PROTO ADDR PORT [TIMEOUT_MS [VNPEER OPTIONS...]]: prints what
# vnpeer connect printed (e.g. extra options --sport 40000 or --bind ADDR).
peer_connect() {
  local node=$1 proto=$2 addr=$3 port=$4 timeout=${5:-1500}
  shift 4
  [ $# -gt 0 ] && shift
  ip netns exec "$(node_ns "$node")" "$VNPEER" connect "--$proto" "$addr" "$port" --timeout-ms "$timeout" "$@" 2>&1
}

# expect_reply NODE PROTO ADDR PORT EXPECTED_SUBSTRING [DESCRIPTION]
expect_reply() { expect_reply_via peer_connect "$@"; }

# expect_no_reply NODE PROTO ADDR PORT [MODE] [DESCRIPTION]
#   MODE any (default): timeout, refused or unreachable all count as "nothing";
#   timeout: must get nothing at all (dropped); rejected: must be refused or unreachable.
expect_no_reply() { expect_no_reply_via peer_connect "$@"; }

# expect_reply_via / expect_no_reply_via CONNECTOR ...: the same, with the connection opened
# by CONNECTOR NODE PROTO ADDR PORT TIMEOUT_MS (peer_connect; guest_lib.sh's vg_connect).
expect_reply_via() {
  local connect=$1 node=$2 proto=$3 addr=$4 port=$5 want=$6 out rc
  local desc=${7:-"$node -> $proto $addr:$port answers '$want'"}
  out=$("$connect" "$node" "$proto" "$addr" "$port" 2000)
  rc=$?
  if [ $rc -eq 0 ] && [[ "$out" == *"$want"* ]]; then
    pass "$desc (got: $out)"
    return 0
  fi
  fail "$desc" "expected a reply containing '$want', got: $out (exit $rc)"
  return 1
}

expect_no_reply_via() {
  local connect=$1 node=$2 proto=$3 addr=$4 port=$5 mode=${6:-any} out rc ok=0
  local desc=${7:-"$node -> $proto $addr:$port gets nothing ($mode)"}
  out=$("$connect" "$node" "$proto" "$addr" "$port" 1500)
  rc=$?
  if [ $rc -ne 0 ]; then
    case "$mode:$out" in
      any:timeout | any:refused | any:unreachable) ok=1 ;;
      timeout:timeout) ok=1 ;;
      rejected:refused | rejected:unreachable) ok=1 ;;
    esac
  fi
  if [ $ok -eq 1 ]; then
    pass "$desc (got: $out)"
    return 0
  fi
  fail "$desc" "expected no reply ($mode), got: $out (exit $rc)"
  return 1
}

# forward_packets STATUS_JSON_FILE PORT: the packet count that `virtnat status --json`
# reports for the forward whose public port (or range) covers PORT; empty if none.
# Looks at every JSON object that has a "packets" field and a public port field
# ("port", "public_port" or "listen_port"; a number, "2222" or "8000-8002").
forward_packets() {
  if command -v jq >/dev/null 2>&1; then
    jq -r --argjson p "$2" '
      [ .. | objects | select(has("packets"))
        | select((.public_port // .listen_port // .port) as $v
                 | ($v | tostring | split("-") | map(tonumber)) as $r
                 | ($r[0] <= $p and $p <= ($r[1] // $r[0])))
        | .packets ] | add // empty' "$1"
  else
    python3 - "$1" "$2" <<'PY'
import json, sys
data = json.load(open(sys.argv[1])); port = int(sys.argv[2]); total = None
def walk(o):
    global total
    if isinstance(o, dict):
        v = o.get("public_port", o.get("listen_port", o.get("port")))
        if "packets" in o and v is not None:
            r = [int(x) for x in str(v).split("-")]
            if r[0] <= port <= r[-1]:
                total = (total or 0) + int(o["packets"])
        for x in o.values(): walk(x)
    elif isinstance(o, list):
        for x in o: walk(x)
walk(data)
print("" if total is None else total)
PY
  fi
}

# ------------------------------------------------------------------ the mode matrix (issue 4)

# expect_exact NODE ADDR PORT EXPECTED DESCRIPTION [PROTO]: a TCP (or PROTO) connection whose
# answer is exactly EXPECTED ("NAME PORT PEERADDR").
expect_exact() {
  local node=$1 addr=$2 port=$3 want=$4 desc=$5 proto=${6:-tcp} out rc
  out=$(peer_connect "$node" "$proto" "$addr" "$port" 2000)
  rc=$?
  if [ $rc -eq 0 ] && [ "$out" = "$want" ]; then
    pass "$desc (got: $out)"
  else
    fail "$desc" "command: vnpeer connect --$proto $addr $port in $node" "expected exactly '$want', got: $out (exit $rc)"
  fi
}

# brnf_detect: BRNF_SETTINGS = the br_netfilter settings to test in the lab's host namespace:
# 0 and 1 when br_netfilter exists there (LAB_BR_NETFILTER=0|1 pins one), else "absent".
brnf_detect() {
  BRNF_SETTINGS=(absent)
  if in_ns host test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
    if [ -n "${LAB_BR_NETFILTER:-}" ]; then
      BRNF_SETTINGS=("$LAB_BR_NETFILTER")
    else
      BRNF_SETTINGS=(0 1)
    fi
  fi
}
BRNF_SETTINGS=(absent)

# set_brnf 0|1|absent: bridged frames kept out of (0) or passed through (1) the inet hooks,
# inside the lab's host namespace only.
set_brnf() {
  [ "$1" = absent ] && return 0
  local knob
  for knob in iptables ip6tables arptables; do
    in_ns host sysctl -q -w "net.bridge.bridge-nf-call-$knob=$1" >/dev/null
  done
}

# mode_matrix MODE --tag TAG --gateway ADDR --guest NODE,NAME,ADDR --guest NODE,NAME,ADDR
#             [--forward PORT]... [--udp] [--udp-forward PORT]
# The whole matrix of issue 4 for one network in MODE (nat, routed, isolated, open, or none:
# no virtnat rules at all, the kernel's behaviour and the control that every failing probe can
# succeed), with real connections in both directions, once per setting in BRNF_SETTINGS:
#   host <-> guests and guest <-> guest: always.
#   guests -> outside (c1, 198.51.100.10): nat masqueraded (c1 sees 198.51.100.1); routed,
#     open, none: not masqueraded (c1 sees the guest's address); isolated: nothing.
#   outside -> guests (c1 with a route to the subnet via the host): routed, open, none: yes,
#     not NATed; nat, isolated: no new connection.
#   through a forward on 198.51.100.1: nat, routed: the i-th --forward PORT reaches the i-th
#     guest's port 22 (from c1, then c2); none: the first one reaches nobody.
# What the lab must run: on each guest a vnpeer named NAME serving tcp 22 (and udp 53 with
# --udp), on c1 a vnpeer "c1" serving tcp 7000 (and udp 7000), on the host a vnpeer "hostsrv"
# serving tcp 7100 (and udp 7100); c1 routes the guests' subnet via 198.51.100.1. --udp repeats
# every probe of the first guest over UDP; --udp-forward PORT is a UDP forward to its port 53.
mode_matrix() {
  local mode=$1 tag="" gw="" guests=() forwards=() udp=0 udp_forward=""
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      --tag) tag=$2; shift 2 ;;
      --gateway) gw=$2; shift 2 ;;
      --guest) guests+=("$2"); shift 2 ;;
      --forward) forwards+=("$2"); shift 2 ;;
      --udp) udp=1; shift ;;
      --udp-forward) udp_forward=$2; shift 2 ;;
      *) echo "mode_matrix: unknown argument $1" >&2; return 2 ;;
    esac
  done
  if [ ${#guests[@]} -ne 2 ] || [ -z "$gw" ]; then
    echo "mode_matrix: needs --gateway and two --guest NODE,NAME,ADDR" >&2
    return 2
  fi
  local n1 name1 a1 n2 name2 a2 brnf t
  IFS=, read -r n1 name1 a1 <<<"${guests[0]}"
  IFS=, read -r n2 name2 a2 <<<"${guests[1]}"
  for brnf in "${BRNF_SETTINGS[@]}"; do
    set_brnf "$brnf"
    t="[${tag:-$mode}, br_netfilter $brnf]"
    note "$t"

    # host <-> guests
    expect_exact host "$a1" 22 "$name1 22 $gw" "$t host -> $name1 ($a1:22)"
    expect_exact host "$a2" 22 "$name2 22 $gw" "$t host -> $name2 ($a2:22)"
    expect_exact "$n1" "$gw" 7100 "hostsrv 7100 $a1" "$t $name1 -> the host's server on $gw:7100"
    expect_exact "$n2" "$gw" 7100 "hostsrv 7100 $a2" "$t $name2 -> the host's server on $gw:7100"
    if [ $udp = 1 ]; then
      expect_exact host "$a1" 53 "$name1 53 $gw" "$t host -> $name1 (udp $a1:53)" udp
      expect_exact "$n1" "$gw" 7100 "hostsrv 7100 $a1" "$t $name1 -> the host's server on udp $gw:7100" udp
    fi

    # guest <-> guest
    expect_exact "$n1" "$a2" 22 "$name2 22 $a1" "$t guest to guest: $name1 -> $name2:22"
    expect_exact "$n2" "$a1" 22 "$name1 22 $a2" "$t guest to guest: $name2 -> $name1:22"
    if [ $udp = 1 ]; then
      expect_exact "$n2" "$a1" 53 "$name1 53 $a2" "$t guest to guest: $name2 -> $name1 udp 53" udp
    fi

    # guests -> outside
    case $mode in
      nat)
        expect_exact "$n1" 198.51.100.10 7000 "c1 7000 198.51.100.1" "$t $name1 -> c1: reaches the LAN masqueraded as 198.51.100.1"
        expect_exact "$n2" 198.51.100.10 7000 "c1 7000 198.51.100.1" "$t $name2 -> c1: reaches the LAN masqueraded as 198.51.100.1"
        [ $udp = 1 ] && expect_exact "$n1" 198.51.100.10 7000 "c1 7000 198.51.100.1" "$t $name1 -> c1 udp: masqueraded as 198.51.100.1" udp
        ;;
      routed | open | none)
        expect_exact "$n1" 198.51.100.10 7000 "c1 7000 $a1" "$t $name1 -> c1: reaches the LAN not masqueraded (c1 sees $a1)"
        expect_exact "$n2" 198.51.100.10 7000 "c1 7000 $a2" "$t $name2 -> c1: reaches the LAN not masqueraded (c1 sees $a2)"
        [ $udp = 1 ] && expect_exact "$n1" 198.51.100.10 7000 "c1 7000 $a1" "$t $name1 -> c1 udp: not masqueraded (c1 sees $a1)" udp
        ;;
      isolated)
        expect_no_reply "$n1" tcp 198.51.100.10 7000 any "$t $name1 -> c1: the guests do not reach the outside"
        expect_no_reply "$n2" tcp 198.51.100.10 7000 any "$t $name2 -> c1: the guests do not reach the outside"
        [ $udp = 1 ] && expect_no_reply "$n1" udp 198.51.100.10 7000 any "$t $name1 -> c1 udp: the guests do not reach the outside"
        ;;
    esac

    # outside -> guests, with a route on the LAN
    case $mode in
      routed | open | none)
        expect_exact c1 "$a1" 22 "$name1 22 198.51.100.10" "$t c1 (routed via the host) -> $a1:22 gets in, not NATed"
        expect_exact c1 "$a2" 22 "$name2 22 198.51.100.10" "$t c1 (routed via the host) -> $a2:22 gets in, not NATed"
        [ $udp = 1 ] && expect_exact c1 "$a1" 53 "$name1 53 198.51.100.10" "$t c1 (routed via the host) -> udp $a1:53 gets in, not NATed" udp
        ;;
      nat | isolated)
        expect_no_reply c1 tcp "$a1" 22 any "$t c1 (routed via the host) -> $a1:22 gets no new connection in"
        expect_no_reply c1 tcp "$a2" 22 any "$t c1 (routed via the host) -> $a2:22 gets no new connection in"
        [ $udp = 1 ] && expect_no_reply c1 udp "$a1" 53 any "$t c1 (routed via the host) -> udp $a1:53 gets nothing in"
        ;;
    esac

    # through a forward
    case $mode in
      nat | routed)
        [ ${#forwards[@]} -ge 1 ] && expect_exact c1 198.51.100.1 "${forwards[0]}" "$name1 22 198.51.100.10" "$t forward: c1 -> 198.51.100.1:${forwards[0]} reaches $name1:22"
        [ ${#forwards[@]} -ge 2 ] && expect_exact c2 198.51.100.1 "${forwards[1]}" "$name2 22 198.51.100.20" "$t forward: c2 -> 198.51.100.1:${forwards[1]} reaches $name2:22"
        [ -n "$udp_forward" ] && expect_exact c1 198.51.100.1 "$udp_forward" "$name1 53 198.51.100.10" "$t forward: c1 -> udp 198.51.100.1:$udp_forward reaches $name1:53" udp
        ;;
      none)
        [ ${#forwards[@]} -ge 1 ] && expect_no_reply c1 tcp 198.51.100.1 "${forwards[0]}" any "$t control: no forward yet, 198.51.100.1:${forwards[0]} reaches nobody"
        [ -n "$udp_forward" ] && expect_no_reply c1 udp 198.51.100.1 "$udp_forward" any "$t control: no forward yet, udp 198.51.100.1:$udp_forward reaches nobody"
        ;;
    esac
  done
  return 0
}

# ------------------------------------------------------------------ IPv6 (issue 14)
# Documentation and ULA prefixes only. The LAN is 2001:db8:100::/64: the host's uplink has
# LAB6_PUB (its public_address6) and LAB6_PUB2 (deprecated, so never picked as a source
# address, but still answering), c1 and c2 have ::10 and ::20. nbr0 (10.1.1.0/24) gets
# LAB6_GW; g1 and g2 get LAB6_G1 and LAB6_G2 with a default route via LAB6_GW.
LAB6_PUB=2001:db8:100::1
LAB6_PUB2=2001:db8:100::2
LAB6_C1=2001:db8:100::10
LAB6_C2=2001:db8:100::20
LAB6_GW=fd00:1:1::1
LAB6_G1=fd00:1:1::28 # lxdev01: an explicit address6
LAB6_G2=fd00:1:1::1d # lxdev02: derived from 10.1.1.29 (last octet 29 = 0x1d)

# addr6_add NODE DEV ADDR/PREFIX [ip addr options]: an IPv6 address without duplicate-address
# detection (nodad), so it is usable at once.
addr6_add() {
  local n=$1 dev=$2 addr=$3
  shift 3
  ip -n "$(node_ns "$n")" -6 addr add "$addr" dev "$dev" nodad "$@"
}

# no_dad NODE: new links of NODE skip duplicate-address detection (their link-local address
# is usable at once). Inside NODE's namespace only; call it before its links are made.
no_dad() {
  local knob
  for knob in all default; do
    in_ns "$1" sysctl -q -w "net.ipv6.conf.$knob.accept_dad=0" >/dev/null
  done
}

# fast_rs NODE: new links of NODE send a router solicitation every second until a router
# advertisement answers (the default: three, 4 s apart, which a bridge port still listening
# under STP loses). Inside NODE's namespace only; call it before its links are made.
fast_rs() {
  local setting
  for setting in router_solicitations=-1 router_solicitation_interval=1 router_solicitation_max_interval=1; do
    in_ns "$1" sysctl -q -w "net.ipv6.conf.default.$setting" >/dev/null || return 1
  done
}

# wait_dad NODE...: waits (up to 5 s) until no IPv6 address of the nodes is tentative (the
# link-local addresses of links made before no_dad); fails if one still is.
wait_dad() {
  local n pending
  for _ in $(seq 1 50); do
    pending=0
    for n in "$@"; do
      if [ -n "$(ip -n "$(node_ns "$n")" -6 addr show tentative 2>/dev/null)" ]; then pending=1; fi
    done
    [ $pending = 0 ] && return 0
    sleep 0.1
  done
  return 1
}

# wait_bridge_port IFACE: the host namespace's bridge port IFACE forwards frames (STP lets a
# new port listen and learn first); waits up to 15 s.
wait_bridge_port() {
  for _ in $(seq 1 150); do
    if bridge -n "$HOST_NS" link show dev "$1" 2>/dev/null | grep_q "state forwarding"; then return 0; fi
    sleep 0.1
  done
  return 1
}

# lab6_setup: makes the lab dual-stack (see LAB6_* above); IPv6 forwarding in the host
# namespace only. Returns non-zero if a step failed.
lab6_setup() {
  in_ns host sysctl -q -w net.ipv6.conf.all.forwarding=1 >/dev/null &&
    addr6_add host uplink "$LAB6_PUB/64" &&
    addr6_add host uplink "$LAB6_PUB2/64" preferred_lft 0 &&
    addr6_add host nbr0 "$LAB6_GW/64" &&
    addr6_add c1 eth0 "$LAB6_C1/64" &&
    addr6_add c2 eth0 "$LAB6_C2/64" &&
    addr6_add g1 eth0 "$LAB6_G1/64" &&
    addr6_add g2 eth0 "$LAB6_G2/64" &&
    ip -n "$(node_ns g1)" -6 route add default via "$LAB6_GW" &&
    ip -n "$(node_ns g2)" -6 route add default via "$LAB6_GW" &&
    wait_dad host g1 g2 lan c1 c2
}

# start_server6 NODE NAME [vnpeer serve options]: like start_server, a vnpeer bound to "::"
# (IPv6 only: vnpeer sets IPV6_V6ONLY), beside the IPv4 server of the same NAME.
start_server6() {
  local node=$1 name=$2 log
  shift 2
  log="$WORK_DIR/server6-$node-$name.log"
  ip netns exec "$(node_ns "$node")" "$VNPEER" serve --name "$name" --bind :: "$@" >"$log" 2>&1 &
  SERVER_PIDS+=($!)
  for _ in $(seq 1 100); do
    if grep -q "^ready " "$log" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "${SERVER_PIDS[-1]}" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "Bail out! vnpeer IPv6 server $name in $node did not start:"
  sed 's/^/# /' "$log"
  exit 1
}

# start_server46 NODE NAME [options]: the same server on IPv4 (0.0.0.0) and on IPv6 (::).
start_server46() {
  start_server "$@"
  start_server6 "$@"
}

# dhcp6 NODE [SECONDS [IFACE]]: one DHCPv6 exchange with Debian's isc-dhcp-client
# (`dhclient -6`) on NODE's IFACE (eth0); puts the address it was given on it and prints it
# (nothing if none). Lease, DUID, pid and script files live in the test's folder; the client
# is ended afterwards.
dhcp6() {
  local ns secs=${2:-15} iface=${3:-eth0} dir
  ns=$(node_ns "$1")
  dir="$WORK_DIR/dhclient6-$ns"
  mkdir -p "$dir"
  printf 'timeout %s;\nretry 1;\n' "$secs" >"$dir/dhclient.conf"
  # dhclient's event script: configure the address and write it down (into @FILE@: dhclient
  # gives its script an environment of its own).
  # shellcheck disable=SC2016 # the script's own variables, expanded when dhclient runs it
  printf '%s\n' '#!/bin/sh' \
    'case "$reason" in' \
    '  BOUND6 | RENEW6 | REBIND6 | REBOOT6)' \
    '    if [ -n "$new_ip6_address" ]; then' \
    '      ip -6 addr replace "$new_ip6_address/${new_ip6_prefixlen:-128}" dev "$interface" nodad' \
    '      echo "$new_ip6_address" >"@FILE@"' \
    '    fi ;;' \
    'esac' \
    'exit 0' | sed "s|@FILE@|$dir/address|" >"$dir/script"
  chmod +x "$dir/script"
  rm -f "$dir/address"
  # -1: try once; -D LL: a DUID that holds the MAC; without -d it goes to the background once
  # bound, and its pid file ends it.
  ip netns exec "$ns" timeout "$((secs + 5))" \
    dhclient -6 -1 -v -D LL -cf "$dir/dhclient.conf" -lf "$dir/leases" -pf "$dir/pid" \
    -sf "$dir/script" "$iface" >"$dir/log" 2>&1
  if [ -s "$dir/pid" ]; then kill "$(cat "$dir/pid")" 2>/dev/null || true; fi
  cat "$dir/address" 2>/dev/null
}

# resolve4 NODE NAME SERVER: the IPv4 addresses (A) busybox nslookup gets, one per line.
resolve4() {
  ip netns exec "$(node_ns "$1")" timeout 4 busybox nslookup -type=a "$2" "$3" 2>&1 |
    sed -n '/^Name:/,$p' | sed -n 's/^Address:[[:space:]]*\([0-9.]*\).*/\1/p'
}

# resolve6 NODE NAME SERVER: the IPv6 addresses (AAAA) busybox nslookup gets, one per line.
resolve6() {
  ip netns exec "$(node_ns "$1")" timeout 5 busybox nslookup -type=aaaa "$2" "$3" 2>&1 |
    sed -n '/^Name:/,$p' | sed -n 's/^Address:[[:space:]]*\([0-9a-fA-F:]*\).*/\1/p' | grep ':'
}

# ra_default_route NODE: "ROUTER dev IFACE" of the IPv6 default route NODE learnt from a
# router advertisement; empty if none.
ra_default_route() {
  ip -n "$(node_ns "$1")" -6 route show default proto ra 2>/dev/null |
    sed -n 's/^default via \([^ ]*\) dev \([^ ]*\).*/\1 dev \2/p' | head -n 1
}

# await_ra_default_route NODE SECONDS: ra_default_route of NODE, waited for up to SECONDS
# (empty if none came).
await_ra_default_route() {
  local route="" deadline=$((SECONDS + $2))
  while :; do
    route=$(ra_default_route "$1")
    [ -n "$route" ] || [ "$SECONDS" -ge "$deadline" ] && break
    sleep 0.2
  done
  echo "$route"
}

# link_local IFACE: the host namespace's link-local address on IFACE.
link_local() {
  ip -n "$HOST_NS" -6 -o addr show dev "$1" scope link 2>/dev/null |
    sed -n 's/.* inet6 \(fe80[^/]*\)\/.*/\1/p' | head -n 1
}
