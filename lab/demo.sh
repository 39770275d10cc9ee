#!/bin/bash
# A guided tour of virtnat in the namespace lab: `make demo` runs
#   bash lab/demo.sh build/virtnat
# It builds a small lab (a KVM host, two guests, a LAN with two clients, all network
# namespaces on this machine), lets virtnat install port forwards, proves them with real
# connections, and removes everything again, whatever happens.
set -uo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 PATH/TO/virtnat" >&2
  exit 2
fi
VIRTNAT_BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
VNPEER="$(dirname "$VIRTNAT_BIN")/vnpeer"
LAB_SH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab.sh"
export LAB_PREFIX="${LAB_PREFIX:-vnlab}"
P=$LAB_PREFIX

for bin in "$VIRTNAT_BIN" "$VNPEER"; do
  [ -x "$bin" ] || { echo "demo: $bin is missing; build first (make build)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (it creates network namespaces)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/virtnat-demo.XXXXXX")
export VIRTNAT_CONFIG="$WORK/etc/virtnat.toml"
export VIRTNAT_STATE_DIR="$WORK/state"
mkdir -p "$WORK/etc" "$VIRTNAT_STATE_DIR"
SERVERS=()
SURPRISES=0
STEP=0

cleanup() {
  local pid
  for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${SERVERS[@]}"; do wait "$pid" 2>/dev/null || true; done
  bash "$LAB_SH" down >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() {
  STEP=$((STEP + 1))
  echo
  echo "== Step $STEP: $1"
  shift
  local line
  for line in "$@"; do echo "   $line"; done
  echo
}

say() { echo "   $*"; }

# host CMD...: show a command typed on the KVM host, then run it there.
host() {
  echo "   [kvm-host]# $*"
  local bin=$1
  shift
  [ "$bin" = virtnat ] && bin=$VIRTNAT_BIN
  ip netns exec "$P-host" "$bin" "$@" 2>&1 | sed 's/^/   | /'
  return "${PIPESTATUS[0]}"
}

# try NODE PROTO ADDR PORT EXPECT WHAT: a connection from a lab machine, with its meaning.
#   EXPECT is "answer" or "nothing".
try() {
  local node=$1 proto=$2 addr=$3 port=$4 expect=$5 what=$6 out rc
  echo "   [$node]\$ vnpeer connect --$proto $addr $port"
  out=$(ip netns exec "$P-$node" "$VNPEER" connect "--$proto" "$addr" "$port" --timeout-ms 1500 2>&1)
  rc=$?
  echo "   | $out"
  if [ $rc -eq 0 ]; then
    read -r who lport peer <<<"$out"
    say "-> $who answered on its port $lport and saw the connection come from $peer. $what"
    [ "$expect" = answer ] || { say "!! expected no answer here"; SURPRISES=$((SURPRISES + 1)); }
  else
    say "-> no answer ($out). $what"
    [ "$expect" = nothing ] || { say "!! expected an answer here"; SURPRISES=$((SURPRISES + 1)); }
  fi
  echo
}

serve() { # NODE NAME ARGS...
  local node=$1 name=$2 log="$WORK/$1.log"
  shift 2
  ip netns exec "$P-$node" "$VNPEER" serve --name "$name" "$@" >"$log" 2>&1 &
  SERVERS+=($!)
  for _ in $(seq 1 100); do
    grep -q '^ready' "$log" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "demo: the test server on $node did not start:" >&2
  cat "$log" >&2
  exit 1
}

cat <<'EOF'
virtnat demo
============
virtnat turns one config file into one nftables table that gives KVM guests on a NAT
bridge their way out (masquerade) and publishes chosen guest ports on the host's
public address (port forwards). This demo shows it with real connections between
network namespaces on this machine; nothing outside them is touched.
EOF

step "Build the lab" \
  "Six network namespaces stand in for real machines:" \
  "  $P-host  the KVM host: bridge nbr0 10.1.1.1/24 for the guests, uplink 198.51.100.1" \
  "  $P-g1    guest lxdev01 10.1.1.28      $P-g2  guest lxdev02 10.1.1.29" \
  "  $P-c1    LAN client 198.51.100.10     $P-c2  LAN client 198.51.100.20" \
  "  $P-lan   the LAN switch between the host's uplink and the clients"
echo "   # bash lab/lab.sh up"
bash "$LAB_SH" up 2>&1 | sed 's/^/   | /'
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "demo: lab.sh up failed" >&2; exit 1; }

step "Start small test servers" \
  "vnpeer stands in for real services: it answers every connection with" \
  "\"NAME PORT CLIENT-ADDRESS\", so we can see who answered and whom it saw."
serve g1 lxdev01 --tcp 22
serve g2 lxdev02 --tcp 80 --udp 53
serve c1 c1 --tcp 7000
say "lxdev01 listens on tcp 22 (think ssh), lxdev02 on tcp 80 and udp 53 (web and dns),"
say "and the LAN client c1 on tcp 7000."

cat >"$VIRTNAT_CONFIG" <<'EOF'
[settings]
public_address = "198.51.100.1"   # where forwards listen by default
vm_lifecycle = "ignore"           # forwards are always active (no libvirt in the lab)

[[network]]
name = "nat_bridge"
mode = "nat"
provider = "external"             # the bridge exists; virtnat only does the firewall
bridge = "nbr0"
address = "10.1.1.1/24"
dhcp_range = "10.1.1.100-10.1.1.254"
domain = "devops.test"

[[network.host]]
name = "lxdev01"
address = "10.1.1.28"
mac = "02:FF:0A:0A:06:1C"

[[network.host]]
name = "lxdev02"
address = "10.1.1.29"

[[forward]]
host = "lxdev01"
port = "2222"
to_port = "22"
description = "ssh to lxdev01"

[[forward]]
host = "lxdev02"
protocol = "udp"
port = "5353"
to_port = "53"
description = "dns on lxdev02"
EOF
step "The config" \
  "One file describes the network, its hosts and the forwards: 198.51.100.1:2222 -> lxdev01:22" \
  "and udp 198.51.100.1:5353 -> lxdev02:53. (The demo points VIRTNAT_CONFIG at a temp file;" \
  "the default is /etc/virtnat/virtnat.toml.)"
sed 's/^/   | /' "$VIRTNAT_CONFIG"

step "Check the config" "virtnat check validates everything and reports every error as FILE:LINE: field: problem."
host virtnat check && say "-> the config is valid." || SURPRISES=$((SURPRISES + 1))

step "Before apply: nothing is forwarded yet"
try c1 tcp 198.51.100.1 2222 nothing "The host has nothing on port 2222 yet."

step "See what apply would do" "virtnat plan prints the ruleset and how it differs from the kernel's."
host virtnat plan || SURPRISES=$((SURPRISES + 1))

step "Apply" "The whole table goes in as one nftables transaction: all of it or nothing."
host virtnat apply && say "-> installed." || SURPRISES=$((SURPRISES + 1))
echo "   [kvm-host]# nft list tables"
ip netns exec "$P-host" nft list tables | sed 's/^/   | /'

step "Connections from the LAN go through"
try c1 tcp 198.51.100.1 2222 answer "The forward works, and lxdev01 sees the real client."
try c1 udp 198.51.100.1 5353 answer "UDP is forwarded too."
try c1 tcp 198.51.100.1 22 nothing "Only the published port is open: 22 on the host address is not lxdev01's."

step "Guests reach the LAN through the host (masquerade)"
try g1 tcp 198.51.100.10 7000 answer "c1 sees the host's address, not the guest's private one."

step "Add a forward from the command line" \
  "The argument order is that of virsh-instance-port-forward: GUEST:PORT PUBLIC-PORT." \
  "virtnat writes it to conf.d/50-cli.toml beside the config and applies at once."
try c1 tcp 198.51.100.1 8080 nothing "Port 8080 is not published yet."
host virtnat forward add lxdev02:80 8080 || SURPRISES=$((SURPRISES + 1))
try c1 tcp 198.51.100.1 8080 answer "Now it is."
host virtnat forward list || SURPRISES=$((SURPRISES + 1))

step "Status" "Every forward has its own counters: the ones we used show packets."
host virtnat status || SURPRISES=$((SURPRISES + 1))

step "Remove the forward" "It closes at once; the others keep working."
host virtnat forward remove lxdev02:80 8080 || SURPRISES=$((SURPRISES + 1))
try c1 tcp 198.51.100.1 8080 nothing "8080 is closed again."
try c1 tcp 198.51.100.1 2222 answer "2222 still works."

step "Take it all down" "virtnat down deletes its own table and nothing else."
host virtnat down || SURPRISES=$((SURPRISES + 1))
echo "   [kvm-host]# nft list tables"
ip netns exec "$P-host" nft list tables | sed 's/^/   | /'
say "-> (no table inet virtnat left)"
try c1 tcp 198.51.100.1 2222 nothing "The forward is gone."

step "Clean up" "The lab's namespaces, servers and temp files are removed (also on Ctrl-C or error)."
cleanup
trap - EXIT
if [ "$SURPRISES" -eq 0 ]; then
  echo "   Demo finished: everything behaved as described."
  exit 0
fi
echo "   Demo finished with $SURPRISES surprise(s): see the lines marked !! above."
exit 1
