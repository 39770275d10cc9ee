#!/bin/bash
# The web console test: virtnat's Cockpit page in a real browser against a real cockpit-ws,
# with real connections between the lab's network namespaces.
#
#   bash tests/web/run.sh BUILD_DIR [--screenshots DIR]
#
# Exit 0: all passed; 1: a failure; 77: not root (skipped). Prints "N passed, M failed" (and
# ", K skipped") at the end.
#
# What runs where, all inside namespaces this test creates and removes:
#   - the lab (tests/lab/lib.sh: lab.sh up): host, guests g1/g2, LAN clients c1/c2;
#   - a private libvirtd in the lab's host namespace (lab/libvirt.sh), when `virtnat vm list`
#     exists: a libvirt network with DHCP, three QEMU domains (two running, one shut off);
#   - Debian's cockpit-ws on 127.0.0.1:9090 of the lab's host namespace (--no-tls,
#     --local-session=cockpit-bridge), with BUILD_DIR first on its PATH, the page installed
#     from BUILD_DIR (cmake --install --component web-console) found through XDG_DATA_DIRS,
#     and the test's config and state folder in VIRTNAT_CONFIG / VIRTNAT_STATE_DIR;
#   - Debian's chromium, headless, driven by puppeteer-core (tests/web/drive.mjs) in the
#     same namespace. npm installs puppeteer-core (package-lock.json) into a cache folder
#     (VIRTNAT_WEB_CACHE, default ~/.cache/virtnat-web) before the lab starts; nothing
#     downloads a browser.
# Screenshots of each view: BUILD_DIR/web-screenshots/web-*.png (--screenshots docs to
# refresh the ones the README shows).
set -uo pipefail

WEB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD_ARG=${1:-}
shift || true
SHOTS=""
while [ $# -gt 0 ]; do
  case $1 in
    --screenshots) SHOTS=$2; shift 2 ;;
    *) echo "usage: $0 BUILD_DIR [--screenshots DIR]" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "# the web console test needs root (network namespaces); skipped"
  exit 77
fi

# shellcheck source=tests/lab/lib.sh
source "$WEB_DIR/../lab/lib.sh" "$BUILD_ARG"
# shellcheck source=tests/lab/libvirt_lib.sh
source "$WEB_DIR/../lab/libvirt_lib.sh"

T_START=$EPOCHREALTIME
TESTS_SKIPPED=0
COCKPIT_WS=${COCKPIT_WS:-/usr/lib/cockpit/cockpit-ws}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
PORT=9090
BASE_URL="http://127.0.0.1:$PORT"
SHOTS=${SHOTS:-$BUILD_DIR/web-screenshots}
mkdir -p "$SHOTS" && SHOTS=$(cd "$SHOTS" && pwd)
USE_LIBVIRT=0
WS_PID=""
DRIVER_PID=""

bail() {
  echo "Bail out! $1"
  [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/# /' "$2"
  echo "0 passed, 1 failed"
  exit 1
}

skip() { # DESCRIPTION REASON
  TESTS_RUN=$((TESTS_RUN + 1))
  TESTS_SKIPPED=$((TESTS_SKIPPED + 1))
  echo "ok $TESTS_RUN - $1 # SKIP $2"
  echo "# skipped: $2"
}

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

web_finish() {
  echo "1..$TESTS_RUN"
  note "timing: $(elapsed "$T_START") s in all"
  local skipped=""
  [ "$TESTS_SKIPPED" -gt 0 ] && skipped=", $TESTS_SKIPPED skipped"
  echo "$TESTS_PASSED passed, $TESTS_FAILED failed$skipped"
  if [ "$TESTS_FAILED" -gt 0 ] || [ "$TESTS_PASSED" -eq 0 ]; then exit 1; fi
  exit 0
}

# ------------------------------------------------------------------ prerequisites
for tool in node npm jq nft "$CHROMIUM" "$COCKPIT_WS" cockpit-bridge; do
  command -v "$tool" >/dev/null 2>&1 || bail "$tool is missing (run scripts/install-deps)"
done
[ -d /usr/share/cockpit/base1 ] || bail "cockpit's base1 (cockpit.js) is missing: install cockpit-bridge"

# puppeteer-core from npm, pinned by package-lock.json, in a cache folder keyed by the lock.
export PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROMIUM_DOWNLOAD=1
CACHE_ROOT=${VIRTNAT_WEB_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/virtnat-web}
LOCK_KEY=$(cat "$WEB_DIR/package.json" "$WEB_DIR/package-lock.json" | sha256sum | cut -c1-16)
MODULES="$CACHE_ROOT/$LOCK_KEY"
t=$EPOCHREALTIME
if [ ! -f "$MODULES/node_modules/puppeteer-core/package.json" ]; then
  mkdir -p "$MODULES"
  cp "$WEB_DIR/package.json" "$WEB_DIR/package-lock.json" "$MODULES/"
  if ! (cd "$MODULES" && npm ci --no-audit --no-fund --loglevel=error) >"$MODULES/npm.log" 2>&1; then
    log=$(mktemp)
    cp "$MODULES/npm.log" "$log"
    rm -rf "$MODULES"
    bail "npm ci of tests/web/package-lock.json failed:" "$log"
  fi
  note "npm ci: puppeteer-core $(jq -r .version "$MODULES/node_modules/puppeteer-core/package.json") into $MODULES in $(elapsed "$t") s"
else
  note "puppeteer-core $(jq -r .version "$MODULES/node_modules/puppeteer-core/package.json") from the cache $MODULES"
fi

# Does this virtnat have `vm list` (and is there a libvirtd to show VMs of)?
VM_LIST=0
"$VIRTNAT" vm list --help >/dev/null 2>&1 && VM_LIST=1
LIBVIRT_TOOLS=1
for tool in libvirtd virtlogd virsh qemu-system-x86_64 dnsmasq nsenter unshare busybox udhcpc; do
  command -v "$tool" >/dev/null 2>&1 || LIBVIRT_TOOLS=0
done
[ "$VM_LIST" = 1 ] && [ "$LIBVIRT_TOOLS" = 1 ] && USE_LIBVIRT=1

# ------------------------------------------------------------------ the lab and its config
lab_start

{
  lab_forward ssh
  lab_forward dns
  lab_forward range source='["198.51.100.0/24"]' description="web range, LAN only"
} | write_config
start_server g1 lxdev01 --tcp 22,9000-9002
start_server g2 lxdev02 --tcp 22,80 --udp 53
check "virtnat apply installs the lab config" virtnat apply

# ------------------------------------------------------------------ libvirt (VMs)
WEBNET_MAC=52:54:00:09:09:05
if [ "$USE_LIBVIRT" = 1 ]; then
  t=$EPOCHREALTIME
  lv_start "$HOST_NS"
  lv_define_network - <<'EOF'
<network>
  <name>webnet</name>
  <bridge name='vbr9' stp='on' delay='0'/>
  <domain name='web.test'/>
  <ip address='10.9.9.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='10.9.9.100' end='10.9.9.200'/>
      <host mac='52:54:00:09:09:05' name='vm1' ip='10.9.9.5'/>
    </dhcp>
  </ip>
</network>
EOF
  lv_virsh -q net-start webnet >/dev/null 2>&1 || lv_bail "cannot start libvirt network webnet"
  lv_wait_network_active webnet 20 || lv_bail "libvirt network webnet did not become active"
  # vm1 on the libvirt network (its address comes from a DHCP lease), lxdev01 bridged to the
  # lab's nbr0 with lxdev01's MAC (a virtnat host by MAC), vm-off never started.
  lv_define_domain vm1 "$WEBNET_MAC" network:webnet || lv_bail "cannot define vm1"
  lv_define_domain lxdev01 02:ff:0a:0a:06:1c nbr0 || lv_bail "cannot define lxdev01"
  lv_define_domain vm-off 52:54:00:09:09:07 network:webnet || lv_bail "cannot define vm-off"
  lv_virsh -q start vm1 >/dev/null 2>&1 || lv_bail "cannot start vm1" "$LV_STATE/log/libvirtd.log"
  lv_virsh -q start lxdev01 >/dev/null 2>&1 || lv_bail "cannot start lxdev01"
  if ! lv_wait_domain_running vm1 || ! lv_wait_domain_running lxdev01; then
    lv_bail "the domains did not start"
  fi
  note "timing: libvirtd, network webnet and 3 domains in $(elapsed "$t") s"
fi

# The cleanup: the browser and cockpit-ws first, then libvirt and the lab.
# shellcheck disable=SC2317 # run by the EXIT trap
web_cleanup() {
  local rc=$?
  exec 7>&- 8<&- 2>/dev/null
  local pid
  for pid in $DRIVER_PID $WS_PID; do kill "$pid" 2>/dev/null || true; done
  for pid in $DRIVER_PID $WS_PID; do wait "$pid" 2>/dev/null || true; done
  if [ "$USE_LIBVIRT" = 1 ]; then
    (exit "$rc")
    lv_cleanup
  else
    lab_cleanup
  fi
  return "$rc"
}
trap web_cleanup EXIT
trap 'exit 130' INT TERM

# in_host CMD...: a command in the lab's host namespace; with libvirt also in its mount
# namespace, where /run/libvirt is the private libvirtd's.
in_host() {
  if [ "$USE_LIBVIRT" = 1 ]; then lv_exec "$@"; else ip netns exec "$HOST_NS" "$@"; fi
}

# ------------------------------------------------------------------ the page and cockpit-ws
PREFIX="$WORK_DIR/prefix"
if [ -f "$BUILD_DIR/cockpit/cmake_install.cmake" ] &&
  cmake --install "$BUILD_DIR" --component web-console --prefix "$PREFIX" >"$WORK_DIR/install.log" 2>&1 &&
  [ -f "$PREFIX/share/cockpit/virtnat/manifest.json" ]; then
  pass "cmake --install --component web-console puts the page in share/cockpit/virtnat ($(cd "$PREFIX/share/cockpit/virtnat" && echo *))"
else
  note "BUILD_DIR was configured before cockpit/ existed: the page is copied from the source tree"
  mkdir -p "$PREFIX/share/cockpit/virtnat"
  cp "$REPO_DIR"/cockpit/{manifest.json,index.html,virtnat.js,virtnat.css} "$PREFIX/share/cockpit/virtnat/"
fi

t=$EPOCHREALTIME
in_host env PATH="$BUILD_DIR:$PATH" XDG_DATA_DIRS="$PREFIX/share:/usr/local/share:/usr/share" \
  VIRTNAT_CONFIG="$CONFIG" VIRTNAT_STATE_DIR="$VIRTNAT_STATE_DIR" \
  "$COCKPIT_WS" --no-tls --local-session=cockpit-bridge --address 127.0.0.1 --port "$PORT" \
  >"$WORK_DIR/cockpit-ws.log" 2>&1 &
WS_PID=$!
for _ in $(seq 1 100); do
  ip netns exec "$HOST_NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null && break
  kill -0 "$WS_PID" 2>/dev/null || bail "cockpit-ws exited:" "$WORK_DIR/cockpit-ws.log"
  sleep 0.1
done
note "cockpit-ws listens on $BASE_URL inside $HOST_NS after $(elapsed "$t") s"

# The driver: drive.mjs reads JSON commands on fd 7 and answers on fd 8.
mkfifo "$WORK_DIR/to-driver" "$WORK_DIR/from-driver"
ip netns exec "$HOST_NS" env VIRTNAT_WEB_MODULES="$MODULES" CHROMIUM="$CHROMIUM" HOME="$WORK_DIR" \
  node "$WEB_DIR/drive.mjs" "$BASE_URL" "$SHOTS" <"$WORK_DIR/to-driver" >"$WORK_DIR/from-driver" \
  2>"$WORK_DIR/driver.log" &
DRIVER_PID=$!
exec 7>"$WORK_DIR/to-driver" 8<"$WORK_DIR/from-driver"

# drive JSON: one command to the browser; the answer in $R. Fails when ok is not true.
R=""
drive() {
  printf '%s\n' "$1" >&7
  if ! IFS= read -r -t 300 R <&8; then
    R='{"ok":false,"error":"the browser driver did not answer"}'
    return 1
  fi
  [ "$(jq -r .ok <<<"$R")" = true ]
}
# q JQ_FILTER: a value from the last answer.
q() { jq -r "$1" <<<"$R"; }
driver_failed() { fail "$1" "driver: $(q .error 2>/dev/null || echo "$R")" "$(tail -n 20 "$WORK_DIR/driver.log" 2>/dev/null)"; }
shot() { drive "$(jq -cn --arg n "$1" --argjson f "${2:-false}" '{cmd:"screenshot",name:$n,full:$f}')" && note "screenshot $(q .file)"; }
forward_row() { # KEY: the row's JSON of the forwards table in the last rows answer
  jq -c --arg k "$1" '.rows[] | select(.data.forward == $k)' <<<"$R"
}
status_json() { virtnat status --json 2>/dev/null; }
conf_digest() { find "$CONF_DIR" -type f -print0 | sort -z | xargs -0 sha256sum; }

# ------------------------------------------------------------------ Cockpit's menu
note "Cockpit: the menu and the page"
t=$EPOCHREALTIME
if [ -d /usr/share/cockpit/shell ]; then
  if drive '{"cmd":"shell"}' && [ "$(q .menu)" = true ]; then
    pass "Cockpit's menu has \"Port forwarding\" ($(q .href), after $(q .menuSeconds) s) and opens the page (\"$(q .title)\", after $(q .seconds) s)"
    shot web-shell
  else
    driver_failed "Cockpit's menu has \"Port forwarding\""
  fi
else
  skip "Cockpit's menu has \"Port forwarding\"" "no Cockpit shell (cockpit-system) installed"
fi

t=$EPOCHREALTIME
if drive '{"cmd":"open"}'; then
  pass "the page loads from cockpit-ws and shows virtnat's status ($(elapsed "$t") s)"
else
  driver_failed "the page loads from cockpit-ws and shows virtnat's status"
  web_finish
fi
drive '{"cmd":"text","selector":"#health"}'
has_text "the page says virtnat doctor has no findings (nothing blocks virtnat's traffic)" "$(q .text)" "virtnat doctor: no findings"

# ------------------------------------------------------------------ networks
note "networks"
drive '{"cmd":"view","name":"networks"}' && drive '{"cmd":"rows","table":"networks-table"}'
row=$(jq -c '.rows[] | select(.data.network == "nat_bridge") | .text' <<<"$R")
expect_value "the Networks view shows nat_bridge: name, mode, provider, bridge, address, domain, hosts, state" \
  "$(jq -r 'join(" | ")' <<<"${row:-[]}")" "nat_bridge | nat | external | nbr0 | 10.1.1.1/24 | devops.test | 2 | up"
drive '{"cmd":"rows","table":"hosts-table"}'
expect_value "the Hosts table shows lxdev01's FQDN, address and MAC" \
  "$(jq -r '.rows[] | select(.data.host == "lxdev01") | .text | join(" ")' <<<"$R")" \
  "nat_bridge lxdev01 lxdev01.devops.test 10.1.1.28 02:FF:0A:0A:06:1C"
shot web-networks
# Control: what the page shows is virtnat's live answer, not a constant: a second network in
# conf.d appears (without its bridge: "down: no bridge nbr9") and goes again.
mkdir -p "$CONF_DIR/conf.d"
cat >"$CONF_DIR/conf.d/20-web-extra.toml" <<'EOF'
[[network]]
name = "lab_extra"
mode = "isolated"
bridge = "nbr9"
address = "10.9.8.1/24"
EOF
drive '{"cmd":"refreshed","count":2}' && drive '{"cmd":"rows","table":"networks-table"}'
expect_value "control: a network added to conf.d shows up with virtnat's state" \
  "$(jq -r '.rows[] | select(.data.network == "lab_extra") | .text | [.[0], .[3], .[7]] | join(" | ")' <<<"$R")" \
  "lab_extra | nbr9 | down: no bridge nbr9"
rm -f "$CONF_DIR/conf.d/20-web-extra.toml"
drive '{"cmd":"refreshed","count":2}' && drive '{"cmd":"rows","table":"networks-table"}'
expect_value "control: and is gone when the file is" "$(q '[.rows[].data.network] | join(",")')" "nat_bridge"

# ------------------------------------------------------------------ forwards and counters
note "forwards and their counters"
drive '{"cmd":"view","name":"forwards"}' && drive '{"cmd":"rows","table":"forwards-table"}'
row=$(forward_row "tcp 198.51.100.1 2222")
expect_value "the Forwards view shows 2222 -> lxdev01:22: protocol, listen, port, target, to port, open to, state" \
  "$(jq -r '.cols | [.protocol, .listen, .port, .target, .to_port, .open_to, .state] | join(" | ")' <<<"${row:-null}")" \
  "tcp | 198.51.100.1 | 2222 | lxdev01 10.1.1.28 | 22 | WORLD | active"
expect_value "the allowlisted range shows whom it is open to" \
  "$(jq -r '.cols | [.port, .to_port, .open_to] | join(" | ")' <<<"$(forward_row "tcp 198.51.100.1 8000-8002")")" \
  "8000-8002 | 9000-9002 | 198.51.100.0/24"
expect_value "control: no connection yet, the counters of 2222 are 0" \
  "$(jq -r '.cols | .packets + " " + .bytes' <<<"${row:-null}")" "0 0 B"
expect_reply c1 tcp 198.51.100.1 2222 "lxdev01 22 198.51.100.10" "a client connection through 2222 (c1 -> lxdev01:22)"
drive '{"cmd":"refreshed","count":1}' && drive '{"cmd":"rows","table":"forwards-table"}'
row=$(forward_row "tcp 198.51.100.1 2222")
page_packets=$(jq -r '.cols.packets // ""' <<<"${row:-null}")
page_bytes=$(jq -r '.data.state + " " + .cols.bytes' <<<"${row:-null}")
status_json >"$WORK_DIR/status.json"
cli_packets=$(forward_packets "$WORK_DIR/status.json" 2222)
if [[ "$page_packets" =~ ^[0-9]+$ ]] && [ "$page_packets" -gt 0 ] && [ "$page_packets" -le "${cli_packets:-0}" ]; then
  pass "the page's counters of 2222 follow live: $page_packets packets ($page_bytes), status --json says $cli_packets"
else
  fail "the page's counters of 2222 follow live" "page: '$page_packets' packets, status --json: '$cli_packets'"
fi

# ------------------------------------------------------------------ add through the form
note "add a forward through the form"
expect_no_reply c1 tcp 198.51.100.1 8080 any "control: before the form, 198.51.100.1:8080 reaches nobody"
drive '{"cmd":"fill","values":{"add-host":"lxdev02","add-to-port":"80","add-port":"8080","add-protocol":"tcp","add-listen":"","add-source":"","add-description":"web on lxdev02"}}'
t=$EPOCHREALTIME
if drive '{"cmd":"submit"}' && [ "$(q .result)" = "done" ]; then
  pass "the form runs \`$(q .command)\`: $(q .output) ($(elapsed "$t") s)"
else
  fail "the form adds the forward" "$R"
fi
expect_reply c1 tcp 198.51.100.1 8080 "lxdev02 80 198.51.100.10" "after the form, c1 -> 198.51.100.1:8080 reaches lxdev02:80"
has_match "the forward is in conf.d/50-cli.toml (written by virtnat)" "$CONF_DIR/conf.d/50-cli.toml" '^port = "8080"'
drive '{"cmd":"rows","table":"forwards-table"}'
expect_value "the new forward is listed, active" \
  "$(jq -r '.cols | [.target, .to_port, .state, .description] | join(" | ")' <<<"$(forward_row "tcp 198.51.100.1 8080")")" \
  "lxdev02 10.1.1.29 | 80 | active | web on lxdev02"
expect_reply c2 tcp 198.51.100.1 8080 "lxdev02 80 198.51.100.20" "a second client (c2) through 8080, for the counters"
drive '{"cmd":"refreshed","count":1}'
shot web-forwards true

# ------------------------------------------------------------------ bad input
note "bad input: virtnat's message, nothing changed"
conf_digest >"$WORK_DIR/conf-before"
save_table "$WORK_DIR/table-before"
cli_message=$(virtnat forward add lxdev02:80 70000 --protocol tcp 2>&1 >/dev/null)
cli_rc=$?
expect_value "control: virtnat forward add lxdev02:80 70000 on the command line exits 2" "$cli_rc" 2
drive '{"cmd":"fill","values":{"add-host":"lxdev02","add-to-port":"80","add-port":"70000","add-protocol":"tcp","add-description":""}}'
drive '{"cmd":"submit"}'
expect_value "the form shows virtnat's own message beside the public port field" \
  "$(q '.fieldErrors.PUBLICPORT // ""')" "$cli_message"
has_text "the message beside the form says exit status 2 (bad input)" "$(q .error)" "exit status 2"
shot web-add-error
cli_message=$(virtnat forward add lxdev02:80 8081 --source 10.0.0.0/33 2>&1 >/dev/null)
drive '{"cmd":"fill","values":{"add-host":"lxdev02","add-to-port":"80","add-port":"8081","add-source":"10.0.0.0/33"}}'
drive '{"cmd":"submit"}'
expect_value "a bad --source (caught by the config's checks) shows beside the Open to field" \
  "$(q '.fieldErrors["--source"] // ""')" "$cli_message"
conf_digest >"$WORK_DIR/conf-after"
save_table "$WORK_DIR/table-after"
check_same "bad input changed no config file" "$WORK_DIR/conf-before" "$WORK_DIR/conf-after"
check_same "bad input changed nothing in nft list table inet virtnat" "$WORK_DIR/table-before" "$WORK_DIR/table-after"
expect_no_reply c1 tcp 198.51.100.1 8081 any "and 8081 reaches nobody"

# ------------------------------------------------------------------ remove with confirmation
note "remove, with a confirmation"
drive '{"cmd":"fill","values":{"add-host":"","add-to-port":"","add-port":"","add-source":""}}'
if drive '{"cmd":"remove","key":"tcp 198.51.100.1 8080"}' && [ "$(q .dialog)" = true ]; then
  pass "Remove asks first: \"$(q .text)\""
  shot web-remove-confirm
else
  driver_failed "Remove asks for a confirmation"
fi
drive '{"cmd":"cancel"}'
expect_reply c1 tcp 198.51.100.1 8080 "lxdev02 80 " "control: after Cancel, 8080 still reaches lxdev02"
drive '{"cmd":"remove","key":"tcp 198.51.100.1 8080"}'
if drive '{"cmd":"confirm"}' && [ "$(q .result)" = "done" ]; then
  pass "Remove + confirm runs virtnat forward remove"
else
  fail "Remove + confirm runs virtnat forward remove" "$R"
fi
expect_no_reply c1 tcp 198.51.100.1 8080 any "after remove, 198.51.100.1:8080 reaches nobody"
drive '{"cmd":"rows","table":"forwards-table"}'
expect_value "the forward is gone from the page" "$(forward_row "tcp 198.51.100.1 8080")" ""
if grep -q '"8080"' "$CONF_DIR/conf.d/50-cli.toml" 2>/dev/null; then
  fail "the forward is gone from conf.d/50-cli.toml" "$(cat "$CONF_DIR/conf.d/50-cli.toml")"
else
  pass "the forward is gone from conf.d/50-cli.toml"
fi

# ------------------------------------------------------------------ blocked by another table
note "a forward blocked by another table"
nft_host -f - <<'EOF'
table inet web_admin {
  chain admin_forward {
    type filter hook forward priority -5; policy accept;
    ip daddr 10.1.1.28 tcp dport 22 drop
  }
}
EOF
expect_no_reply c1 tcp 198.51.100.1 2222 timeout "control: the admin's table really drops 2222 -> lxdev01:22"
status_json >"$WORK_DIR/status-blocked.json"
if jq -e '[.. | objects | select(has("state")) | .state | tostring | select(startswith("blocked"))] | length > 0' \
  "$WORK_DIR/status-blocked.json" >/dev/null 2>&1; then
  drive '{"cmd":"refreshed","count":1}' && drive '{"cmd":"rows","table":"forwards-table"}'
  has_text "the page shows 2222 as blocked" "$(jq -r '.cols.state' <<<"$(forward_row "tcp 198.51.100.1 2222")")" "blocked"
  shot web-blocked true
else
  skip "the page shows a forward blocked by another table as blocked" "status has no blocked state yet"
fi
nft_host delete table inet web_admin
expect_reply c1 tcp 198.51.100.1 2222 "lxdev01 22 " "without the admin's table 2222 passes again"

# ------------------------------------------------------------------ VMs and interfaces
note "VMs and their interfaces"
if [ "$VM_LIST" = 0 ]; then
  skip "the VMs view shows the interfaces (MAC, IP)" "this virtnat has no \`vm list\`"
elif [ "$USE_LIBVIRT" = 0 ]; then
  skip "the VMs view shows the interfaces (MAC, IP)" "libvirtd, qemu or udhcpc is missing (scripts/install-deps)"
else
  vm_row() { jq -c --arg v "$1" '.rows[] | select(.data.vm == $v)' <<<"$R"; }
  drive '{"cmd":"view","name":"vms"}' && drive '{"cmd":"rows","table":"vms-table"}'
  expect_value "control: before vm1's DHCP, its interface has no address" \
    "$(jq -r '.cols.ip' <<<"$(vm_row vm1)")" "—"
  lease=$(lv_plug_guest vm1 vbr9 "$WEBNET_MAC" && lv_dhcp vm1 10 2>&1)
  expect_value "vm1's network stack (a namespace with its MAC) gets its lease from libvirt's dnsmasq" "$lease" 10.9.9.5
  drive '{"cmd":"view","name":"networks"}'
  drive '{"cmd":"view","name":"vms"}' && drive '{"cmd":"rows","table":"vms-table"}'
  expect_value "vm1: state, type, model, MAC, IP from the lease, source" \
    "$(jq -r '.text | join(" | ")' <<<"$(vm_row vm1)")" \
    "vm1 | running | Virtual network | virtio | 52:54:00:09:09:05 | 10.9.9.5 | network webnet | $(lv_domain_ifaces vm1 | head -n1) | —"
  expect_value "lxdev01: bridged to nbr0, the virtnat host lxdev01 by its MAC, the config's address" \
    "$(jq -r '.text | [.[0], .[1], .[2], .[4], .[5], .[6], .[8]] | join(" | ")' <<<"$(vm_row lxdev01)")" \
    "lxdev01 | running | Bridge to LAN | 02:FF:0A:0A:06:1C | 10.1.1.28 (config) | bridge nbr0 | lxdev01 · nat_bridge"
  expect_value "vm-off is shut off, with its interface and no device" \
    "$(jq -r '.text | [.[0], .[1], .[4], .[7]] | join(" | ")' <<<"$(vm_row vm-off)")" \
    "vm-off | shut off | 52:54:00:09:09:07 | "
  cli=$(in_host "$VIRTNAT" --config "$CONFIG" vm list --json 2>&1)
  expect_value "the page shows what virtnat vm list --json says (vm1's addresses)" \
    "$(jq -r '.[] | select(.name == "vm1") | .interfaces[0].addresses | join(",")' <<<"$cli" 2>&1)" "10.9.9.5"
  shot web-vms
fi

drive '{"cmd":"console"}'
errors=$(q '.lines[] | select(startswith("pageerror") or (startswith("error") and (contains("virtnat") or contains("Refused"))))')
if [ -z "$errors" ]; then
  pass "no script error and no CSP refusal on the page"
else
  fail "no script error and no CSP refusal on the page" "$errors"
fi
drive '{"cmd":"quit"}'
web_finish
