# shellcheck shell=bash
# Other firewalls beside virtnat (issue 12): firewalld, dockerd and ufw from Debian, each
# really running inside a lab network namespace, in a private mount namespace of its own.
# Source it after lib.sh (and after libvirt_lib.sh when a test uses both), then start what
# the test needs AFTER lab_start / lv_start (the first start chains its cleanup in front of
# the EXIT trap that is set at that moment):
#
#   source "$(dirname "$0")/lib.sh" "$1"
#   source "$(dirname "$0")/coexist_lib.sh"
#   lab_start
#   cx_firewalld_start "$HOST_NS"           # dbus-daemon + firewalld --nofork; waits for "running"
#   cx_firewall_cmd --zone=trusted --add-interface=nbr0
#   cx_firewalld_reload                     # firewall-cmd --reload
#   cx_firewalld_stop                       # or leave it to the EXIT trap
#
#   cx_dockerd_start "$HOST_NS"             # dockerd 20.10 (own containerd); waits for the API
#                                           # and the DOCKER-USER chain
#   cx_docker ps                            # the docker CLI against that daemon
#   cx_dockerd_restart                      # TERM, wait, start again (iptables state kept)
#   cx_dockerd_stop                         # also removes docker0 and Docker's iptables rules
#
#   cx_ufw_enable "$HOST_NS"                # ufw --force enable (default forward policy DROP)
#   cx_ufw allow 22/tcp                     # ufw inside the same private /etc/ufw and /lib/ufw
#   cx_ufw_disable                          # ufw --force disable, then its chains removed
#
#   cx_exec firewalld|docker|ufw CMD...     # any command in that daemon's mount + net namespace
#   cx_dump_ruleset NETNS PREFIX            # nft list ruleset > PREFIX.nft, nft -j (jq) > PREFIX.json
#   cx_cleanup                              # stops everything that still runs (idempotent)
#
# Each start prints "# <what> is up in NS after S s" and sets CX_SECONDS (also
# CX_FIREWALLD_SECONDS, CX_DOCKERD_SECONDS, CX_UFW_SECONDS). Starts return non-zero (after
# printing the daemon's log as "# " lines) when the daemon does not come up in time.
#
# How it is isolated: a holder process (`sleep infinity`) is started with
# `ip netns exec NS unshare -m --propagation private`; the daemon and every helper command
# run with `nsenter -t HOLDER -m -n`. In that mount namespace tmpfs and bind mounts cover
# exactly the paths the daemon writes:
#   firewalld: tmpfs /run/dbus, /run/firewalld, /var/log; a private copy of /etc/firewalld.
#              dbus-daemon --system --fork, then firewalld --nofork --nopid.
#   dockerd:   tmpfs /var/lib/docker, /var/lib/containerd, /run/docker, /run/containerd,
#              /etc/docker; cgroup2 on /sys/fs/cgroup (the namespace's own sysfs mount);
#              socket /run/docker/docker.sock, pid file /run/docker/docker.pid (never the
#              host's /run/docker.sock). ip_forward is set to 0 in NS first, so that dockerd
#              turns it on and sets the FORWARD policy to DROP, as on a fresh host.
#   ufw:       private copies of /etc/ufw, /etc/default/ufw and /lib/ufw (its state); the
#              sysctl file ufw applies on enable is an empty private one.
# Outside the namespaces only missing, empty mount-point folders are created (e.g. /run/docker,
# /var/lib/docker); they stay, like lab/libvirt.sh's. Work files live in $CX_WORK (under /tmp),
# removed by cx_cleanup unless LAB_KEEP is set.
# Stopping ends every process of the daemon's mount namespace (found by the namespace, so
# nothing started inside is missed) and the mounts go with it.

CX_DOCKER_CLI=/usr/bin/docker # Debian's docker.io (a /usr/local/bin/docker may be another one)
CX_WORK=""
CX_SECONDS=""
CX_FIREWALLD_SECONDS=""
CX_DOCKERD_SECONDS=""
CX_UFW_SECONDS=""
CX_TRAP_SET=0
CX_PREV_EXIT_TRAP=""
declare -A CX_HOLDER=() # role (firewalld, docker, ufw) -> holder pid
declare -A CX_MNTNS=()  # role -> the holder's mount namespace (as readlink /proc/PID/ns/mnt)
declare -A CX_NETNS=()  # role -> network namespace name
declare -A CX_SAVED=()  # role:what -> values saved at start, restored at stop

cx_note() { echo "# $*"; }

# cx_elapsed START: seconds since START (an $EPOCHREALTIME value), e.g. 1.42
cx_elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

# cx_wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds; 1 on timeout.
cx_wait_for() {
  local timeout=$1 start=$EPOCHREALTIME
  shift
  while ! "$@" >/dev/null 2>&1; do
    if awk -v a="$start" -v b="$EPOCHREALTIME" -v t="$timeout" 'BEGIN { exit !(b - a >= t) }'; then
      return 1
    fi
    sleep 0.1
  done
}

cx__require() {
  local bin
  if [ "$(id -u)" -ne 0 ]; then
    cx_note "coexist_lib: needs root (namespaces)"
    return 1
  fi
  for bin in "$@" nsenter unshare setsid ip nft iptables jq; do
    if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "$bin" ]; then
      cx_note "coexist_lib: $bin is missing (run scripts/install-deps)"
      return 1
    fi
  done
}

cx__netns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx -- "$1"; }

cx__prepare() { # ROLE NETNS BINARIES...: checks, work folder, EXIT trap
  local role=$1 ns=$2
  shift 2
  cx__require "$@" || return 1
  cx__netns_exists "$ns" || {
    cx_note "coexist_lib: no network namespace $ns"
    return 1
  }
  if [ -n "${CX_HOLDER[$role]:-}" ]; then
    cx_note "coexist_lib: $role already runs (in ${CX_NETNS[$role]}); stop it first"
    return 1
  fi
  if [ -z "$CX_WORK" ]; then
    CX_WORK=$(mktemp -d "${TMPDIR:-/tmp}/virtnat-cx.XXXXXX") || return 1
  fi
  if [ "$CX_TRAP_SET" = 0 ]; then
    # Chain in front of whatever EXIT trap the test has now (lab_cleanup, lv_cleanup).
    local current
    current=$(trap -p EXIT)
    if [ -n "$current" ]; then
      eval "set -- $current"
      CX_PREV_EXIT_TRAP=$3
    fi
    trap cx__on_exit EXIT
    CX_TRAP_SET=1
  fi
  rm -rf "${CX_WORK:?}/$role"
  mkdir -p "$CX_WORK/$role"
}

cx__on_exit() {
  local rc=$?
  cx_cleanup
  if [ -n "$CX_PREV_EXIT_TRAP" ]; then
    (exit "$rc")
    eval "$CX_PREV_EXIT_TRAP"
  fi
  exit "$rc"
}

# cx__holder_start ROLE NETNS: the process that owns ROLE's private mount namespace in NETNS.
cx__holder_start() {
  local role=$1 ns=$2 pidfile="$CX_WORK/$1/holder.pid" pid="" own_mnt
  own_mnt=$(readlink /proc/self/ns/mnt)
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # $$ and $1 belong to the inner sh (which execs sleep: same pid)
  setsid -f ip netns exec "$ns" unshare -m --propagation private \
    sh -c 'echo $$ >"$1.tmp" && mv "$1.tmp" "$1" && exec sleep infinity' sh "$pidfile" \
    </dev/null >/dev/null 2>&1
  for _ in $(seq 1 100); do
    pid=$(cat "$pidfile" 2>/dev/null) || pid=""
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ] &&
      [ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" != "$own_mnt" ]; then
      CX_HOLDER[$role]=$pid
      CX_MNTNS[$role]=$(readlink "/proc/$pid/ns/mnt")
      CX_NETNS[$role]=$ns
      return 0
    fi
    sleep 0.02
  done
  cx_note "coexist_lib: the namespace holder of $role did not start"
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  return 1
}

# cx_exec ROLE CMD...: run CMD inside ROLE's mount + network namespace (ROLE: firewalld,
# docker, ufw), in / (the private mounts hide nothing under /tmp).
cx_exec() {
  local role=$1
  shift
  if [ -z "${CX_HOLDER[$role]:-}" ]; then
    echo "cx_exec: $role is not started" >&2
    return 1
  fi
  nsenter -t "${CX_HOLDER[$role]}" -m -n --wd=/ -- "$@"
}

# cx__spawn ROLE PIDFILE LOG CMD...: start CMD detached inside ROLE's namespaces; its pid
# (the same process after exec) lands in PIDFILE.
cx__spawn() {
  local role=$1 pidfile=$2 log=$3
  shift 3
  rm -f "$pidfile"
  # shellcheck disable=SC2016
  setsid -f nsenter -t "${CX_HOLDER[$role]}" -m -n --wd=/ -- \
    sh -c 'echo $$ >"$1.tmp" && mv "$1.tmp" "$1" && shift && exec "$@"' sh "$pidfile" "$@" \
    </dev/null >>"$log" 2>&1
  cx_wait_for 5 test -s "$pidfile"
}

# cx__role_pids ROLE: every process in ROLE's mount namespace (the holder included).
cx__role_pids() {
  local want=${CX_MNTNS[$1]:-} pat path pid
  [ -n "$want" ] || return 0
  pat=$(printf '%s' "$want" | sed 's/[][*?\\]/\\&/g')
  while IFS= read -r path; do
    pid=${path#/proc/}
    pid=${pid%%/*}
    [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] || echo "$pid"
  done < <(find /proc -mindepth 3 -maxdepth 3 -path '/proc/[0-9]*/ns/mnt' -lname "$pat" 2>/dev/null)
  return 0
}

# cx__alive PID: runs and is not a zombie.
cx__alive() {
  local line
  [ -e "/proc/$1" ] && read -r line <"/proc/$1/stat" 2>/dev/null || return 1
  line=${line##*) }
  [ "${line%% *}" != Z ]
}

# cx__wait_gone SECONDS PID...: 0 when every PID has ended.
cx__wait_gone() {
  local timeout=$1 start=$EPOCHREALTIME pid alive
  shift
  while :; do
    alive=0
    for pid in "$@"; do cx__alive "$pid" && alive=1; done
    [ $alive = 0 ] && return 0
    awk -v a="$start" -v b="$EPOCHREALTIME" -v t="$timeout" 'BEGIN { exit !(b - a >= t) }' && return 1
    sleep 0.05
  done
}

# cx__stop_pid SECONDS PID: TERM, wait up to SECONDS, then KILL.
cx__stop_pid() {
  [ -n "$2" ] && cx__alive "$2" || return 0
  kill -TERM "$2" 2>/dev/null
  cx__wait_gone "$1" "$2" && return 0
  cx_note "coexist_lib: pid $2 ($(cat "/proc/$2/comm" 2>/dev/null)) ignored TERM for $1 s; killing it"
  kill -KILL "$2" 2>/dev/null
  cx__wait_gone 5 "$2"
}

# cx__holder_stop ROLE: end every process of ROLE's mount namespace (the namespace and its
# mounts go with the last one).
cx__holder_stop() {
  local role=$1 left
  [ -n "${CX_MNTNS[$role]:-}" ] || return 0
  left=$(cx__role_pids "$role")
  if [ -n "$left" ]; then
    # shellcheck disable=SC2086
    kill -TERM $left 2>/dev/null
    # shellcheck disable=SC2086
    if ! cx__wait_gone 5 $left; then
      # shellcheck disable=SC2086
      kill -KILL $left 2>/dev/null
      # shellcheck disable=SC2086
      cx__wait_gone 5 $left
    fi
  fi
  left=$(cx__role_pids "$role")
  [ -z "$left" ] || cx_note "coexist_lib: processes still in $role's mount namespace: $left"
  unset "CX_HOLDER[$role]" "CX_MNTNS[$role]" "CX_NETNS[$role]"
}

cx__fail_start() { # ROLE WHAT LOG: report, clean up, return 1
  cx_note "coexist_lib: $2 did not come up in ${CX_NETNS[$1]:-?}; its log:"
  [ -f "$3" ] && tail -n 40 "$3" | sed 's/^/#   /'
  "cx__stop_$1" quiet
  return 1
}

# cx__mountpoints PATH...: create missing mount-point folders (empty; outside they stay).
cx__mountpoints() {
  local p
  for p in "$@"; do [ -d "$p" ] || mkdir -p "$p"; done
}

# cx__nft ROLE ARGS...: nft in ROLE's network namespace.
cx__nft() { ip netns exec "${CX_NETNS[$1]}" nft "$@"; }

# cx__ipt_snapshot ROLE: which iptables-nft tables exist and the base chains' policies, so
# that stop can remove what the daemon added and nothing else.
cx__ipt_snapshot() {
  local role=$1 ns=${CX_NETNS[$1]} fam tab
  for fam in ip ip6; do
    for tab in filter nat; do
      if ip netns exec "$ns" nft list table "$fam" "$tab" >/dev/null 2>&1; then
        CX_SAVED[$role:table:$fam:$tab]=1
      else
        CX_SAVED[$role:table:$fam:$tab]=0
      fi
    done
  done
  CX_SAVED[$role:policies:ip]=$(ip netns exec "$ns" iptables -S 2>/dev/null | grep '^-P ' | tr '\n' ';')
  CX_SAVED[$role:policies:ip6]=$(ip netns exec "$ns" ip6tables -S 2>/dev/null | grep '^-P ' | tr '\n' ';')
}

# cx__ipt_remove ROLE CHAIN_REGEX IFACE_REGEX: in NS's iptables-nft tables filter and nat
# (IPv4 and IPv6), as one nft transaction per table: delete the rules of the other chains that
# jump to a chain matching CHAIN_REGEX or match an interface name matching IFACE_REGEX, flush
# and delete the chains matching CHAIN_REGEX. Then put back the policies saved by
# cx__ipt_snapshot and delete a table that did not exist before and is now empty.
cx__ipt_remove() {
  local role=$1 chains=$2 ifaces=${3:-'(?!)'} ns=${CX_NETNS[$1]} fam tool tab batch policy
  local -a policies p
  for fam in ip ip6; do
    tool=iptables
    [ "$fam" = ip6 ] && tool=ip6tables
    for tab in filter nat; do
      batch=$(ip netns exec "$ns" nft -j -a list table "$fam" "$tab" 2>/dev/null | jq -r \
        --arg c "^($chains)\$" --arg i "^($ifaces)\$" '
        [.nftables[] | .chain? // empty | select(.name | test($c)) | .name] as $mine
        | (.nftables[] | .rule? // empty
           | select((.chain | test($c)) | not)
           | select(any(.expr[];
               if (.jump // .goto) != null then (.jump // .goto).target | test($c)
               elif .match != null and ((.match.left.meta.key? // "") | IN("iifname", "oifname"))
               then (.match.right | if type == "string" then test($i) else false end)
               else false end))
           | "delete rule \(.family) \(.table) \(.chain) handle \(.handle)"),
          ($mine[] | "flush chain '"$fam $tab"' \(.)"),
          ($mine[] | "delete chain '"$fam $tab"' \(.)")') || continue
      # (nft warns that iptables-nft manages these tables: expected here)
      [ -n "$batch" ] && ip netns exec "$ns" nft -f - <<<"$batch" 2>&1 | grep -v 'managed by iptables-nft' >&2
      if [ "$tab" = filter ]; then
        IFS=';' read -ra policies <<<"${CX_SAVED[$role:policies:$fam]:-}"
        for policy in "${policies[@]}"; do
          read -ra p <<<"$policy"
          [ "${#p[@]}" -eq 3 ] || continue
          ip netns exec "$ns" "$tool" -w -S "${p[1]}" 2>/dev/null | grep -qxF -- "$policy" ||
            ip netns exec "$ns" "$tool" -w -t filter -P "${p[1]}" "${p[2]}" 2>/dev/null
        done
      fi
      # A table the daemon made (via iptables-nft) goes when it holds no rule and no chain
      # of its own any more and its policies are ACCEPT.
      if [ "${CX_SAVED[$role:table:$fam:$tab]:-1}" = 0 ] &&
        ! ip netns exec "$ns" "$tool" -w -t "$tab" -S 2>/dev/null | grep -qvE '^-P [A-Z]+ ACCEPT$'; then
        ip netns exec "$ns" nft delete table "$fam" "$tab" 2>/dev/null
      fi
    done
  done
}

# ------------------------------------------------------------------ firewalld

# cx_firewalld_start NETNS: dbus-daemon --system and firewalld --nofork inside NETNS; returns
# once `firewall-cmd --state` says running.
cx_firewalld_start() {
  local ns=$1 t0=$EPOCHREALTIME d
  cx__prepare firewalld "$ns" dbus-daemon firewalld firewall-cmd || return 1
  d="$CX_WORK/firewalld"
  cp -a /etc/firewalld "$d/etc" || return 1
  cx__mountpoints /run/dbus /run/firewalld /var/log /etc/firewalld
  cx__holder_start firewalld "$ns" || return 1
  # CX_DBUS_DIR=DIR (an outside folder): the bus socket lands there instead of on a tmpfs, so
  # another lab namespace (libvirt's: lv_bind DIR /run/dbus) can reach firewalld too.
  local dbus_dir=${CX_DBUS_DIR:-}
  [ -z "$dbus_dir" ] || mkdir -p "$dbus_dir" || return 1
  # shellcheck disable=SC2016 # $1 and $2 belong to the inner sh
  if ! cx_exec firewalld sh -euc '
    if [ -n "$2" ]; then mount --bind "$2" /run/dbus; else mount -t tmpfs -o mode=0755 cx-dbus /run/dbus; fi
    mount -t tmpfs -o mode=0755 cx-firewalld /run/firewalld
    mount -t tmpfs -o mode=0755 cx-log /var/log
    mount --bind "$1" /etc/firewalld
    ip link set lo up
    dbus-daemon --system --fork
  ' sh "$d/etc" "$dbus_dir" >"$d/setup.log" 2>&1; then
    cx__fail_start firewalld "the private mounts or dbus-daemon" "$d/setup.log"
    return 1
  fi
  cx__spawn firewalld "$d/firewalld.pid" "$d/firewalld.log" firewalld --nofork --nopid ||
    { cx__fail_start firewalld firewalld "$d/firewalld.log"; return 1; }
  CX_SAVED[firewalld:pid]=$(cat "$d/firewalld.pid")
  if ! cx_wait_for 60 cx__firewalld_running; then
    cx__fail_start firewalld firewalld "$d/firewalld.log"
    return 1
  fi
  CX_FIREWALLD_SECONDS=$(cx_elapsed "$t0")
  CX_SECONDS=$CX_FIREWALLD_SECONDS
  cx_note "firewalld $(cx_firewall_cmd --version 2>/dev/null) is up in $ns after ${CX_SECONDS}s (default zone $(cx_firewall_cmd --get-default-zone 2>/dev/null))"
}

cx__firewalld_running() {
  cx__alive "${CX_SAVED[firewalld:pid]}" || return 2
  [ "$(cx_exec firewalld firewall-cmd --state 2>/dev/null)" = running ]
}

# cx_firewall_cmd ARGS...: firewall-cmd inside firewalld's namespaces.
cx_firewall_cmd() { cx_exec firewalld firewall-cmd "$@"; }

# cx_firewalld_reload: firewall-cmd --reload (firewalld rebuilds its tables).
cx_firewalld_reload() { cx_firewall_cmd --reload >/dev/null; }

# cx_firewalld_stop: TERM firewalld (CleanupOnExit removes its tables), then dbus and the
# holder. Tables firewalld left (after a KILL) are deleted.
cx_firewalld_stop() { cx__stop_firewalld; }
cx__stop_firewalld() {
  [ -n "${CX_HOLDER[firewalld]:-}" ] || return 0
  local ns=${CX_NETNS[firewalld]} t
  cx__stop_pid 20 "${CX_SAVED[firewalld:pid]:-}"
  cx__holder_stop firewalld
  for t in "inet firewalld" "ip firewalld" "ip6 firewalld"; do
    # shellcheck disable=SC2086
    ip netns exec "$ns" nft delete table $t 2>/dev/null
  done
  unset "CX_SAVED[firewalld:pid]"
  [ "${1:-}" = quiet ] || cx_note "firewalld stopped in $ns"
}

# ------------------------------------------------------------------ dockerd

# cx_dockerd_start NETNS: dockerd (with its own containerd) inside NETNS; returns once the API
# answers and iptables has the DOCKER-USER chain.
cx_dockerd_start() {
  local ns=$1 t0=$EPOCHREALTIME d
  cx__prepare docker "$ns" dockerd containerd runc "$CX_DOCKER_CLI" || return 1
  d="$CX_WORK/docker"
  cx__mountpoints /var/lib/docker /var/lib/containerd /run/docker /run/containerd /etc/docker
  CX_SAVED[docker:ip_forward]=$(ip netns exec "$ns" cat /proc/sys/net/ipv4/ip_forward)
  cx__holder_start docker "$ns" || return 1
  cx__ipt_snapshot docker
  # shellcheck disable=SC2016 # $p belongs to the inner sh
  if ! cx_exec docker sh -euc '
    for p in /var/lib/docker /var/lib/containerd /run/docker /run/containerd /etc/docker; do
      mount -t tmpfs -o mode=0711 cx-docker "$p"
    done
    mount -t cgroup2 none /sys/fs/cgroup
    ip link set lo up
    sysctl -q -w net.ipv4.ip_forward=0
  ' >"$d/setup.log" 2>&1; then
    cx__fail_start docker "the private mounts" "$d/setup.log"
    return 1
  fi
  cx__dockerd_launch || return 1
  CX_DOCKERD_SECONDS=$(cx_elapsed "$t0")
  CX_SECONDS=$CX_DOCKERD_SECONDS
  cx_note "dockerd $(cx_docker version --format '{{.Server.Version}}' 2>/dev/null) is up in $ns after ${CX_SECONDS}s"
}

cx__dockerd_launch() {
  local d="$CX_WORK/docker"
  # --ip6tables (Docker 20.10: experimental; on by default since Docker 27): Docker's policy
  # DROP in ip6tables too (20.10 makes no DOCKER-USER there). CX_DOCKER_IP6TABLES=0: without.
  local -a ip6=(--experimental --ip6tables)
  [ "${CX_DOCKER_IP6TABLES:-1}" = 1 ] || ip6=()
  cx__spawn docker "$d/dockerd.pid" "$d/dockerd.log" dockerd \
    -H unix:///run/docker/docker.sock --pidfile /run/docker/docker.pid "${ip6[@]}" ||
    { cx__fail_start docker dockerd "$d/dockerd.log"; return 1; }
  CX_SAVED[docker:pid]=$(cat "$d/dockerd.pid")
  if ! cx_wait_for 60 cx__dockerd_ready; then
    cx__fail_start docker dockerd "$d/dockerd.log"
    return 1
  fi
}

cx__dockerd_ready() {
  cx__alive "${CX_SAVED[docker:pid]}" || return 2
  cx_docker version --format '{{.Server.Version}}' >/dev/null 2>&1 &&
    ip netns exec "${CX_NETNS[docker]}" iptables -w -S DOCKER-USER >/dev/null 2>&1
}

# cx_docker ARGS...: Debian's docker CLI against the lab's dockerd.
cx_docker() { cx_exec docker "$CX_DOCKER_CLI" -H unix:///run/docker/docker.sock "$@"; }

# cx_dockerd_restart: TERM dockerd (and its containerd), wait, start it again in the same
# private mounts. The iptables state stays as dockerd left it; on start dockerd puts its
# FORWARD jump to DOCKER-USER back on top. Sets CX_SECONDS (the restart's duration).
cx_dockerd_restart() {
  [ -n "${CX_HOLDER[docker]:-}" ] || { echo "cx_dockerd_restart: dockerd is not started" >&2; return 1; }
  local t0=$EPOCHREALTIME
  cx__dockerd_halt
  cx__dockerd_launch || return 1
  CX_SECONDS=$(cx_elapsed "$t0")
  cx_note "dockerd restarted in ${CX_NETNS[docker]} after ${CX_SECONDS}s"
}

# cx__dockerd_halt: TERM dockerd and wait until it and everything it started have ended
# (the holder stays).
cx__dockerd_halt() {
  local pid left
  cx__stop_pid 20 "${CX_SAVED[docker:pid]:-}"
  left=$(for pid in $(cx__role_pids docker); do [ "$pid" = "${CX_HOLDER[docker]}" ] || echo "$pid"; done)
  if [ -n "$left" ]; then
    # shellcheck disable=SC2086
    kill -TERM $left 2>/dev/null
    # shellcheck disable=SC2086
    cx__wait_gone 10 $left || kill -KILL $left 2>/dev/null
  fi
}

# cx_dockerd_stop: stop dockerd, remove docker0 and Docker's iptables chains and rules, put
# back the FORWARD policy and ip_forward of before the start. CX_DOCKER_KEEP_RULES=1 keeps
# the iptables rules (e.g. to look at them after the daemon is gone).
cx_dockerd_stop() { cx__stop_docker; }
cx__stop_docker() {
  [ -n "${CX_HOLDER[docker]:-}" ] || return 0
  local ns=${CX_NETNS[docker]}
  cx__dockerd_halt
  ip -n "$ns" link del docker0 2>/dev/null
  if [ -z "${CX_DOCKER_KEEP_RULES:-}" ]; then
    cx__ipt_remove docker 'DOCKER|DOCKER-USER|DOCKER-ISOLATION-STAGE-[0-9]+|DOCKER-INGRESS' 'docker0|br-[0-9a-f]+'
  fi
  cx__holder_stop docker
  CX_NETNS[docker]=$ns # for the sysctl below only
  ip netns exec "$ns" sysctl -q -w "net.ipv4.ip_forward=${CX_SAVED[docker:ip_forward]:-0}" >/dev/null 2>&1
  unset "CX_NETNS[docker]" "CX_SAVED[docker:pid]"
  [ "${1:-}" = quiet ] || cx_note "dockerd stopped in $ns"
}

# ------------------------------------------------------------------ ufw

# cx_ufw_enable NETNS: `ufw --force enable` inside NETNS with private /etc/ufw,
# /etc/default/ufw and /lib/ufw (Debian's defaults: input and forward policy DROP).
cx_ufw_enable() {
  local ns=$1 t0=$EPOCHREALTIME d
  cx__prepare ufw "$ns" ufw ip6tables || return 1
  d="$CX_WORK/ufw"
  cp -a /etc/ufw "$d/etc" && cp -a /lib/ufw "$d/lib" && cp -a /etc/default/ufw "$d/default" || return 1
  : >"$d/sysctl.conf"
  sed -i "s|^IPT_SYSCTL=.*|IPT_SYSCTL=/etc/ufw/cx-sysctl.conf|" "$d/default"
  cp "$d/sysctl.conf" "$d/etc/cx-sysctl.conf"
  cx__holder_start ufw "$ns" || return 1
  cx__ipt_snapshot ufw
  # shellcheck disable=SC2016
  if ! cx_exec ufw sh -euc '
    mount --bind "$1/etc" /etc/ufw
    mount --bind "$1/lib" /lib/ufw
    mount --bind "$1/default" /etc/default/ufw
    ip link set lo up
    ufw --force enable
  ' sh "$d" >"$d/enable.log" 2>&1 || ! cx_wait_for 10 cx__ufw_active; then
    cx__fail_start ufw "ufw --force enable" "$d/enable.log"
    return 1
  fi
  CX_UFW_SECONDS=$(cx_elapsed "$t0")
  CX_SECONDS=$CX_UFW_SECONDS
  cx_note "ufw $(cx_ufw version 2>/dev/null | awk 'NR == 1 { print $2 }') is enabled in $ns after ${CX_SECONDS}s"
}

cx__ufw_active() {
  cx_ufw status 2>/dev/null | grep -q '^Status: active' &&
    ip netns exec "${CX_NETNS[ufw]}" iptables -w -S ufw-before-forward >/dev/null 2>&1
}

# cx_ufw ARGS...: ufw inside its private configuration (e.g. cx_ufw allow 22/tcp).
cx_ufw() { cx_exec ufw ufw "$@"; }

# cx_ufw_disable: `ufw --force disable`, then the ufw-* chains, their jumps and the tables
# ufw made are removed and the policies of before are back.
cx_ufw_disable() { cx__stop_ufw; }
cx__stop_ufw() {
  [ -n "${CX_HOLDER[ufw]:-}" ] || return 0
  local ns=${CX_NETNS[ufw]}
  cx_ufw --force disable >/dev/null 2>&1
  cx__ipt_remove ufw 'ufw[0-9]?-[A-Za-z0-9-]+'
  cx__holder_stop ufw
  [ "${1:-}" = quiet ] || cx_note "ufw disabled in $ns"
}

# ------------------------------------------------------------------ everything

# cx_cleanup: stop whatever still runs, remove the work folder (unless LAB_KEEP).
cx_cleanup() {
  cx__stop_firewalld quiet
  cx__stop_docker quiet
  cx__stop_ufw quiet
  if [ -n "$CX_WORK" ] && [ -z "${LAB_KEEP:-}" ]; then
    rm -rf "$CX_WORK"
    CX_WORK=""
  fi
  return 0
}

# cx_dump_ruleset NETNS FILE_PREFIX: `nft -j list ruleset` into PREFIX.json (pretty, one
# stable layout) and `nft list ruleset` into PREFIX.nft.
cx_dump_ruleset() {
  local ns=$1 prefix=$2 rc
  # (nft warns on stderr that iptables-nft manages ip filter/nat: expected, not shown)
  ip netns exec "$ns" nft list ruleset >"$prefix.nft" 2>"$prefix.err"
  rc=$?
  grep -v 'managed by iptables-nft' "$prefix.err" >&2
  rm -f "$prefix.err"
  [ $rc -eq 0 ] || return 1
  ip netns exec "$ns" nft -j list ruleset 2>/dev/null | jq . >"$prefix.json"
}

