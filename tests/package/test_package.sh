#!/bin/bash
# The Debian package and `make install`, end to end, following packaging/README-install.md
# ("Install on a KVM host") step by step:
#
#   tests/package/test_package.sh [--root DIR] [BUILD_DIR | virtnat_VERSION_debN_ARCH.deb]  (as root)
#
# With BUILD_DIR (default build/) it takes the newest BUILD_DIR/virtnat_*_debN_*.deb (`make
# deb` makes it; N the Debian release of the root) and also tests `make install` from that
# build.
#
# Where: a fresh root that is a copy-on-write copy of this machine (an overlay mount whose
# lower layer is / and whose upper layer is a tmpfs), or with --root of the Debian system in
# DIR (the Debian 13 chroot of `scripts/debian-chroot run-root DEB`, which holds the packages
# the .deb depends on), entered with chroot, in a private mount
# namespace and a network namespace of its own. The package is installed there with apt and
# dpkg, its scripts run there, nftables and iptables act on that network namespace only, and
# everything is gone when the test ends: this machine's files, firewall, libvirt and services
# are never touched. (debootstrap would download a whole Debian per run; the overlay needs no
# network and has the dependencies that scripts/install-deps installed here.) Traces of a
# virtnat of this machine (the lab's empty /etc/virtnat, a /run/virtnat) are deleted in the
# copy first, so the test starts from a root without virtnat.
#
# Output: "ok N - ..." / "not ok N - ..." lines, then "N passed, M failed". Exit 0 when all
# passed, 1 otherwise, 77 when not root.
# shellcheck disable=SC2016,SC2119,SC2120  # bash -c scripts get their own $1; helpers called via check
set -uo pipefail

TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$TEST_DIR/../.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "test_package: needs root (mount namespaces, overlayfs, dpkg)" >&2
  exit 77
fi

# --- reporting ---------------------------------------------------------------------------
TESTS_RUN=0 TESTS_PASSED=0 TESTS_FAILED=0
note() { echo "# $*"; }
pass() {
  TESTS_RUN=$((TESTS_RUN + 1)) TESTS_PASSED=$((TESTS_PASSED + 1))
  echo "ok $TESTS_RUN - $1"
}
fail() {
  TESTS_RUN=$((TESTS_RUN + 1)) TESTS_FAILED=$((TESTS_FAILED + 1))
  echo "not ok $TESTS_RUN - $1"
  shift
  local text line count
  for text in "$@"; do
    count=0
    while IFS= read -r line; do
      count=$((count + 1))
      [ $count -le 30 ] && echo "#   $line"
    done <<<"$text"
    [ $count -gt 30 ] && echo "#   ... ($((count - 30)) more lines)"
  done
  return 0
}
# check DESCRIPTION COMMAND...: passes when COMMAND exits 0.
check() {
  local description=$1 out rc
  shift
  out=$("$@" 2>&1)
  rc=$?
  if [ $rc -eq 0 ]; then pass "$description"; else fail "$description" "command: $*" "exit $rc" "$out"; fi
  return $rc
}
# check_not DESCRIPTION COMMAND...: passes when COMMAND fails.
check_not() {
  local description=$1 out rc
  shift
  out=$("$@" 2>&1)
  rc=$?
  if [ $rc -ne 0 ]; then pass "$description"; else fail "$description" "command: $*" "succeeded" "$out"; fi
}
# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
  if [ "$2" == "$3" ]; then pass "$1"; else fail "$1" "expected: $2" "actual:   $3"; fi
}
# check_same DESCRIPTION FILE_A FILE_B: identical content, diff on failure.
check_same() {
  local out
  if out=$(diff -u "$2" "$3" 2>&1); then pass "$1"; else fail "$1" "$out"; fi
}
finish() {
  echo "$TESTS_PASSED passed, $TESTS_FAILED failed"
  [ "$TESTS_FAILED" -eq 0 ]
  exit $?
}
abort() {  # a step the rest depends on failed
  fail "$@"
  finish
}

# --- arguments ---------------------------------------------------------------------------
ARGS=("$@")
LOWER=/  # the system the test root is a copy-on-write copy of
if [ "${1:-}" == "--root" ] && [ $# -ge 2 ]; then
  LOWER=$(cd "$2" && pwd) || exit 2
  shift 2
fi
# The Debian release of that system: the package built for it, and the names of its libraries.
# shellcheck source=/dev/null
RELEASE=$(. "$LOWER/etc/os-release" && echo "${VERSION_ID%%.*}")
ARG=${1:-$REPO_DIR/build}
BUILD_DIR=""
if [ -f "$ARG" ]; then
  DEB=$(cd "$(dirname "$ARG")" && pwd)/$(basename "$ARG")
elif [ -d "$ARG" ]; then
  BUILD_DIR=$(cd "$ARG" && pwd)
  newest_deb() { find "$BUILD_DIR" -maxdepth 1 -name "$1" -printf '%T@ %p\n' | sort -rn | head -n 1 | cut -d' ' -f2-; }
  DEB=$(newest_deb "virtnat_*_deb${RELEASE}_*.deb")
  [ -n "$DEB" ] || DEB=$(newest_deb 'virtnat_*.deb')
  [ -n "$DEB" ] || abort "a .deb in $BUILD_DIR" "run \`make deb\` first (make package-test does)"
else
  echo "usage: $0 [--root DIR] [BUILD_DIR | virtnat_VERSION_debN_ARCH.deb]" >&2
  exit 2
fi

# --- outer part: enter a private mount namespace and a network namespace -----------------
if [ -z "${VIRTNAT_PKGTEST_MNT:-}" ]; then
  note "package: $DEB, installed in a copy of $LOWER (Debian $RELEASE)"
  mnt=$(mktemp -d /tmp/virtnat-pkgtest.XXXXXX)
  VIRTNAT_PKGTEST_MNT=$mnt unshare --mount --propagation private --net \
    bash "${BASH_SOURCE[0]}" "${ARGS[@]}"
  rc=$?
  rmdir "$mnt" 2>/dev/null  # only the empty mount point is left on this machine
  exit $rc
fi

# --- the fresh root ------------------------------------------------------------------------
MNT=$VIRTNAT_PKGTEST_MNT
R=$MNT/root  # the root the package is installed in
mount -t tmpfs -o mode=0700 virtnat-pkgtest "$MNT" || abort "tmpfs on $MNT"
mkdir -p "$MNT"/{upper,work,root,files}
mount -t overlay virtnat-pkgtest -o "lowerdir=$LOWER,upperdir=$MNT/upper,workdir=$MNT/work" "$R" ||
  abort "overlay root (lowerdir=$LOWER) on $R"
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount -t sysfs sysfs "$R/sys" 2>/dev/null || true
mount -t tmpfs -o mode=0755 run "$R/run" && mkdir -p "$R/run/lock"
# The source tree and the build folder, copy-on-write as well (also when they are on another
# file system than /): make install re-runs cmake and writes install_manifest.txt there.
overlay_dir() {  # DIR NAME
  if ! mkdir -p "$MNT/$2-upper" "$MNT/$2-work" "$R$1" ||
    ! mount -t overlay "virtnat-pkgtest-$2" \
      -o "lowerdir=$1,upperdir=$MNT/$2-upper,workdir=$MNT/$2-work" "$R$1"; then
    abort "overlay of $1 in the test root"
  fi
}
overlay_dir "$REPO_DIR" repo
if [ -n "$BUILD_DIR" ] && [[ $BUILD_DIR != "$REPO_DIR"/* ]]; then
  overlay_dir "$BUILD_DIR" build
fi
ip link set lo up

# in_root COMMAND...: run in the fresh root, with a clean environment.
in_root() {
  chroot "$R" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LC_ALL=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive "$@"
}
# No Recommends (libvirt-daemon-system, bash-completion): the root has no network to fetch them.
APT=(apt-get -y -q --no-install-recommends -o Dpkg::Use-Pty=0)

# A root without virtnat: purge a package of this machine's and delete its traces, in the
# copy only.
if in_root dpkg-query -W -f='${Status}' virtnat 2>/dev/null | grep -q "installed\|config-files"; then
  note "this machine has the virtnat package: purged in the test root"
  in_root dpkg --purge virtnat >/dev/null 2>&1
fi
# Every path named *virtnat* in the system folders of the root (not /work, /tmp, /root), not
# what is inside one (/var/cache/virtnat-lab holds the trixie chroots).
virtnat_paths() {
  in_root find /etc /usr /var /opt /srv /run -iname '*virtnat*' -print -prune 2>/dev/null | sort
}
traces=$(virtnat_paths)
if [ -n "$traces" ]; then
  note "traces of virtnat on this machine, deleted in the test root: $(tr "\n" " " <<<"$traces")"
  # shellcheck disable=SC2086
  in_root rm -rf $traces
fi
virtnat_paths >"$MNT/files/paths-before"
check_eq "the test root (Debian $RELEASE) has no virtnat" "" "$(cat "$MNT/files/paths-before")"
nft -s list ruleset >"$MNT/files/ruleset-before" 2>&1

cp "$DEB" "$R/tmp/" || abort "copy the package into the root"
PKG=/tmp/$(basename "$DEB")
VERSION=$(dpkg-deb -f "$DEB" Version)

# --- the package as built -----------------------------------------------------------------
depends=$(dpkg-deb -f "$DEB" Depends)
case $RELEASE in  # dpkg-shlibdeps' names on each release
  12) release_libs="libtomlplusplus3 libfmt9" ;;
  13) release_libs="libtomlplusplus3t64 libfmt10" ;;
  *) release_libs="" ;;
esac
for dep in libvirt0 libnftables1 libnftnl11 libmnl0 libnl-route-3-200 libpugixml1v5 \
  $release_libs dnsmasq-base iptables nftables; do
  if grep -qE "(^|, )$dep( |,|$)" <<<"$depends"; then pass "Depends: $dep"; else fail "Depends: $dep" "$depends"; fi
done
check_eq "conffiles: /etc/virtnat/virtnat.toml" "/etc/virtnat/virtnat.toml" \
  "$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles 2>/dev/null)"
dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|' >"$MNT/files/contents"
for path in /usr/sbin/virtnat /usr/sbin/virtnat-hook /usr/lib/systemd/system/virtnat.service \
  /usr/share/man/man8/virtnat.8.gz /usr/share/bash-completion/completions/virtnat \
  /usr/share/doc/virtnat/examples/virtnat.toml /etc/virtnat/virtnat.toml; do
  check "the package holds $path" grep -qx "$path" "$MNT/files/contents"
done
mkdir -p "$MNT/files/control"
dpkg-deb -e "$DEB" "$MNT/files/control"
for script in postinst prerm postrm; do
  check "$script is valid sh" sh -n "$MNT/files/control/$script"
done

# --- 1. Install from source: make install (of this machine's build, in a copy of it) -----
if [ -n "$BUILD_DIR" ] && [ "$LOWER" == / ]; then
  make_install() { in_root make -C "$REPO_DIR" install BUILD="$BUILD_DIR" "$@"; }
  if check "make install PREFIX=/usr DESTDIR=/tmp/stage" make_install PREFIX=/usr DESTDIR=/tmp/stage; then
    for path in /usr/sbin/virtnat /usr/lib/systemd/system/virtnat.service \
      /usr/share/man/man8/virtnat.8.gz /usr/share/bash-completion/completions/virtnat \
      /usr/share/doc/virtnat/examples/virtnat.toml /etc/virtnat/virtnat.toml; do
      check "make install DESTDIR: $path" test -f "$R/tmp/stage$path"
    done
    check "make install DESTDIR: the same files as the package" \
      diff <(grep -v '/$' "$MNT/files/contents" | sort) \
      <(cd "$R/tmp/stage" && find . -type f | sed 's|^\./|/|' | sort)
  fi
  if check "make install PREFIX=/opt/vn" make_install PREFIX=/opt/vn; then
    check "make install PREFIX: the config in PREFIX/etc/virtnat" test -f "$R/opt/vn/etc/virtnat/virtnat.toml"
    check "make install PREFIX: the unit runs PREFIX/sbin/virtnat" \
      grep -qx "ExecStartPre=/opt/vn/sbin/virtnat apply" "$R/opt/vn/lib/systemd/system/virtnat.service"
    check "make install PREFIX: the binary checks that config" \
      in_root /opt/vn/sbin/virtnat --config /opt/vn/etc/virtnat/virtnat.toml check
    in_root rm -rf /opt/vn
  fi
  check_not "make install with PREFIX and DESTDIR wrote no /etc/virtnat" test -e "$R/etc/virtnat"

  # The README's source install: make install (PREFIX /usr/local), then uninstall.
  if check "make install" make_install; then
    check_eq "virtnat is /usr/local/sbin/virtnat" /usr/local/sbin/virtnat "$(in_root sh -c 'command -v virtnat')"
    check "the unit runs /usr/local/sbin/virtnat" \
      grep -qx "ExecStart=/usr/local/sbin/virtnat watch" "$R/usr/local/lib/systemd/system/virtnat.service"
    check "make install: /etc/virtnat/virtnat.toml is the example" \
      cmp "$R/etc/virtnat/virtnat.toml" "$REPO_DIR/packaging/virtnat.toml"
    check "make install: virtnat check" in_root virtnat check
    check_eq "make install: man -w virtnat" /usr/local/share/man/man8/virtnat.8.gz \
      "$(in_root sh -c 'readlink -f "$(man -w virtnat)"' 2>&1)"  # Debian: /usr/local/man -> share/man
    echo "# edited by the admin" >>"$R/etc/virtnat/virtnat.toml"
    cp "$R/etc/virtnat/virtnat.toml" "$MNT/files/edited.toml"
    make_install >/dev/null 2>&1
    check_same "make install again keeps an existing /etc/virtnat/virtnat.toml" \
      "$MNT/files/edited.toml" "$R/etc/virtnat/virtnat.toml"
    # 5. Uninstall (from source), as the README says. install_manifest.txt is that of the
    # last make install, which kept the config: the README deletes /etc/virtnat explicitly.
    check "uninstall from source (README)" in_root bash -c "
      virtnat down && virtnat hook uninstall &&
      xargs rm -f < '$BUILD_DIR/install_manifest.txt' &&
      rm -rf /etc/virtnat /run/virtnat /usr/local/share/doc/virtnat /usr/local/share/cockpit/virtnat"
    virtnat_paths >"$MNT/files/paths-after-source"
    check_same "uninstall from source: no path named *virtnat* is left" \
      "$MNT/files/paths-before" "$MNT/files/paths-after-source"
  fi
fi

# --- 1. Install the package: apt install ./virtnat_VERSION_ARCH.deb ------------------------
install_package() {  # PACKAGE_PATH_IN_ROOT
  local out
  out=$(in_root "${APT[@]}" install "$1" 2>&1) || abort "apt install $1" "$out"
  pass "apt install $1"
}
install_package "$PKG"
nft -s list ruleset >"$MNT/files/ruleset-after-install" 2>&1
check_same "installing changed no firewall rule" "$MNT/files/ruleset-before" "$MNT/files/ruleset-after-install"
check_eq "installing enabled no service" "" "$(in_root find /etc/systemd/system -name virtnat.service)"
in_root dpkg -L virtnat | sort >"$MNT/files/package-files"

check_eq "virtnat is /usr/sbin/virtnat" /usr/sbin/virtnat "$(in_root sh -c 'command -v virtnat')"
version_line=$(in_root virtnat --version 2>&1)
if [[ $version_line =~ ^virtnat\ ([^ ]+)\ \(commit\ ([0-9a-f]{7,40}|unknown)\)$ ]] &&
  [ "${BASH_REMATCH[1]}" == "$VERSION" ]; then
  pass "virtnat --version: $version_line"
else
  fail "virtnat --version shows version $VERSION and the commit" "$version_line"
fi
check "virtnat check: the installed /etc/virtnat/virtnat.toml" in_root virtnat check
check "virtnat check: the example in /usr/share/doc" \
  in_root virtnat --config /usr/share/doc/virtnat/examples/virtnat.toml check
check_same "/etc/virtnat/virtnat.toml is the example" \
  "$R/usr/share/doc/virtnat/examples/virtnat.toml" "$R/etc/virtnat/virtnat.toml"
check "dpkg knows /etc/virtnat/virtnat.toml as a conffile" \
  bash -c "chroot '$R' dpkg-query -W -f='\${Conffiles}' virtnat | grep -q ' /etc/virtnat/virtnat.toml '"
check "the unit runs /usr/sbin/virtnat" \
  grep -qx "ExecStart=/usr/sbin/virtnat watch" "$R/usr/lib/systemd/system/virtnat.service"

# man page: found by man, lists every command, and is exactly what gen-man makes of the
# installed binary's --help (so man and --help cannot disagree).
check_eq "man -w virtnat" /usr/share/man/man8/virtnat.8.gz "$(in_root man -w virtnat 2>&1)"
in_root env MANWIDTH=200 man -P cat virtnat >"$MNT/files/man.txt" 2>/dev/null
read -ra commands <<<"$(in_root virtnat --help |
  awk '/^Subcommands:/ { s = 1; next } s && /^  [a-z]/ { printf "%s ", $1 } s && /^$/ { s = 0 }')"
missing=()
for command in "${commands[@]}"; do grep -q "virtnat $command" "$MNT/files/man.txt" || missing+=("$command"); done
check_eq "man virtnat documents every command of --help (${#commands[@]})" "" "${missing[*]}"
zcat "$R/usr/share/man/man8/virtnat.8.gz" >"$MNT/files/installed.8"
date=$(sed -n 's/^\.TH VIRTNAT 8 "\([^"]*\)".*/\1/p' "$MNT/files/installed.8")
in_root python3 "$REPO_DIR/packaging/gen-man" /usr/sbin/virtnat --date "$date" >"$MNT/files/regenerated.8"
check_same "the man page is what gen-man makes of the installed binary's --help" \
  "$MNT/files/regenerated.8" "$MNT/files/installed.8"

# bash completion: the file bash-completion loads, and what it offers.
COMPLETION=/usr/share/bash-completion/completions/virtnat
check "bash completion registers virtnat" in_root bash -c "source $COMPLETION && complete -p virtnat"
complete_line() {  # LINE -> the words completion offers, space separated
  in_root bash -c 'source "$1"; COMP_LINE=$2; COMP_POINT=${#COMP_LINE}; _virtnat; echo "${COMPREPLY[*]}"' \
    bash "$COMPLETION" "$1" 2>&1
}
check_eq "completion: commands" "${commands[*]}" "$(complete_line "virtnat ")"
check_eq "completion: forward subcommands" "add remove list" "$(complete_line "virtnat forward ")"
check_eq "completion: options" "--protocol" "$(complete_line "virtnat forward add --pro")"
check_eq "completion: host names of the config" "web1 db1" "$(complete_line "virtnat host lookup ")"
check_eq "completion: network names of the config" "nat_bridge" "$(complete_line "virtnat network start ")"
check_eq "completion: hosts of the --config on the line" "web1:" \
  "$(complete_line "virtnat --config /usr/share/doc/virtnat/examples/virtnat.toml forward add w")"

# --- 2. The first network (provider external: no libvirtd in the test root) ---------------
check "virtnat init --force --provider external --public-address 203.0.113.10" \
  in_root virtnat init --force --provider external --public-address 203.0.113.10
check "virtnat check" in_root virtnat check
check "virtnat hook install" in_root virtnat hook install
HOOKS=/etc/libvirt/hooks
for kind in qemu.d network.d; do
  check "hook $kind/virtnat runs /usr/sbin/virtnat-hook" \
    grep -q '^#!/usr/sbin/virtnat-hook --hook-state-dir=/run/virtnat$' "$R$HOOKS/$kind/virtnat"
done
check "virtnat apply" in_root virtnat apply
check "table inet virtnat installed" nft list table inet virtnat
check "virtnat status" in_root virtnat status

# --- 3. The first forward ---------------------------------------------------------------
check "virtnat forward add lxdev01:22 2222 --source 198.51.100.0/24" \
  in_root virtnat forward add lxdev01:22 2222 --source 198.51.100.0/24
check "forward add wrote conf.d/50-cli.toml" test -f "$R/etc/virtnat/conf.d/50-cli.toml"
check "virtnat forward list shows it" bash -c "chroot '$R' virtnat forward list | grep -q 'lxdev01.*22.*50-cli.toml'"
check "the kernel has the forward" bash -c "nft list table inet virtnat | grep -q 2222"
check_eq "completion: forward remove offers it" "lxdev01:22" "$(complete_line "virtnat forward remove ")"
check_eq "completion: and its public port" "2222" "$(complete_line "virtnat forward remove lxdev01:22 ")"

# --- 3b. The hook, as libvirt runs it ---------------------------------------------------
# With vm_lifecycle = "libvirt" a forward is open only while its VM runs. libvirt executes the
# hook file, whose first line makes the kernel run /usr/sbin/virtnat-hook (the domain XML on
# stdin; empty here, the VM is found by its name).
check_eq "virtnat-hook alone prints its usage and exits 2" 2 "$(in_root virtnat-hook >/dev/null 2>&1; echo $?)"
# shellcheck disable=SC2317  # vm_hook and dnat_has_2222 are called through check
vm_hook() {  # OPERATION SUBOPERATION: the qemu hook for the VM lxdev01
  in_root bash -c "'$HOOKS/qemu.d/virtnat' lxdev01 $1 $2 - </dev/null"
}
sed -i 's/^vm_lifecycle = .*/vm_lifecycle = "libvirt"/' "$R/etc/virtnat/virtnat.toml"
check "vm_lifecycle = \"libvirt\": virtnat apply" in_root virtnat apply
# shellcheck disable=SC2317
dnat_has_2222() { nft list map inet virtnat fwd_dnat | grep -q ' 2222 : '; }
check_not "the forward is closed while lxdev01 does not run (no fwd_dnat element)" dnat_has_2222
check "hook qemu.d/virtnat lxdev01 start begin" vm_hook start begin
check "the hook opened the forward" dnat_has_2222
check "hook qemu.d/virtnat lxdev01 stopped end" vm_hook stopped end
check_not "the hook closed the forward" dnat_has_2222
check "hook qemu.d/virtnat lxdev01 start begin, again" vm_hook start begin

# --- 4. Upgrade: the same package with a higher version -----------------------------------
NEW_VERSION="$VERSION+pkgtest1"
dpkg-deb -R "$DEB" "$MNT/files/upgrade"
sed -i "s/^Version: .*/Version: $NEW_VERSION/" "$MNT/files/upgrade/DEBIAN/control"
dpkg-deb -b "$MNT/files/upgrade" "$R/tmp/virtnat_upgrade.deb" >/dev/null
nft -s list table inet virtnat >"$MNT/files/table-before-upgrade"
cp "$R/etc/virtnat/virtnat.toml" "$MNT/files/config-before-upgrade"
cp "$R/etc/virtnat/conf.d/50-cli.toml" "$MNT/files/cli-before-upgrade"
install_package /tmp/virtnat_upgrade.deb
check_eq "upgraded to $NEW_VERSION" "$NEW_VERSION" "$(in_root dpkg-query -W -f='${Version}' virtnat)"
check_same "upgrade kept the config" "$MNT/files/config-before-upgrade" "$R/etc/virtnat/virtnat.toml"
check_same "upgrade kept conf.d/50-cli.toml" "$MNT/files/cli-before-upgrade" "$R/etc/virtnat/conf.d/50-cli.toml"
nft -s list table inet virtnat >"$MNT/files/table-after-upgrade" 2>&1
check_same "upgrade left the kernel's table as it was" "$MNT/files/table-before-upgrade" "$MNT/files/table-after-upgrade"
check "upgrade kept the hooks" test -f "$R$HOOKS/qemu.d/virtnat" -a -f "$R$HOOKS/network.d/virtnat"

# --- 5. Uninstall: apt remove, then apt purge --------------------------------------------
# What virtnat adds to its neighbours (README "Living with other firewalls"), beside rules and
# a zone of the admin's own: the purge removes the first and keeps the second.
# Docker: DOCKER-USER as dockerd makes it (FORWARD jumps there, policy DROP), in iptables and
# ip6tables; `virtnat apply` puts its accept rules on top in iptables (the network is
# IPv4-only), the same shapes go into ip6tables by hand (a dual-stack network's). The
# admin's rules: an accept for another bridge, and a rule that carries the comment "virtnat"
# but is none of virtnat's shapes.
for tool in iptables ip6tables; do
  in_root $tool -w -N DOCKER-USER
  in_root $tool -w -A DOCKER-USER -j RETURN
  in_root $tool -w -A FORWARD -j DOCKER-USER
  in_root $tool -w -P FORWARD DROP
done
in_root iptables -w -A DOCKER-USER -i br-admin -j ACCEPT
in_root ip6tables -w -A DOCKER-USER -i br-admin -j ACCEPT
# ufw, enabled in the test's network namespace (its sysctl file emptied: none is written),
# with rules of the admin's: one with another comment, one without, and one with the comment
# "virtnat" in a shape virtnat never adds. Its files are restored afterwards.
mkdir -p "$MNT/files/ufw-before"
cp -a "$R/etc/ufw" "$MNT/files/ufw-before/ufw"
cp -a "$R/etc/default/ufw" "$MNT/files/ufw-before/default-ufw"
sed -i 's|^IPT_SYSCTL=.*|IPT_SYSCTL=/dev/null|' "$R/etc/default/ufw"
check "ufw enable (test namespace)" in_root ufw --force enable
in_root ufw allow in on eth9 to any port 22 proto tcp comment admin >/dev/null
in_root ufw route allow in on br-admin >/dev/null
in_root ufw allow 8080/tcp comment virtnat >/dev/null
check "virtnat apply with Docker's chains and ufw there" in_root virtnat apply
ours_in_docker_user() {  # TOOL: virtnat's rules in DOCKER-USER, exactly as virtnat inserts them
  in_root "$1" -w -S DOCKER-USER | grep -E -- '^-A DOCKER-USER -[io] [^ ]+ -m comment --comment "?virtnat"? -j ACCEPT$'
}
check "apply put virtnat's rules on top of DOCKER-USER" ours_in_docker_user iptables
BRIDGE=$(ours_in_docker_user iptables | head -n 1 | cut -d' ' -f4)
for direction in -o -i; do
  in_root ip6tables -w -I DOCKER-USER 1 "$direction" "$BRIDGE" -m comment --comment virtnat -j ACCEPT
done
check "virtnat's rules in ip6tables' DOCKER-USER" ours_in_docker_user ip6tables
# After apply: apply itself takes every rule with comment "virtnat" in DOCKER-USER for its own.
in_root iptables -w -A DOCKER-USER -s 192.0.2.0/24 -m comment --comment virtnat -j DROP
in_root ip6tables -w -A DOCKER-USER -s 2001:db8::/32 -m comment --comment virtnat -j DROP
virtnat_ufw_tuples() {  # the tuples of ufw's user rules with comment virtnat
  sed -n 's/^### tuple ### \(.*\) comment=766972746e6174$/\1/p' "$R/etc/ufw/user.rules" "$R/etc/ufw/user6.rules"
}
check "apply added virtnat's ufw rules for $BRIDGE" bash -c "grep -q 'comment=766972746e6174' '$R/etc/ufw/user.rules' &&
  chroot '$R' iptables -w -S ufw-user-forward | grep -q -- '-i $BRIDGE -j ACCEPT'"
# firewalld, not running: the zone file virtnat's zone has after `firewall-cmd --permanent
# --zone=virtnat --add-interface=BRIDGE` (and the .old copy firewalld keeps of the file it
# rewrote), beside a zone of the admin's.
ZONES=/etc/firewalld/zones
mkdir -p "$R$ZONES"
cat >"$R$ZONES/virtnat.xml" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<zone target="ACCEPT">
  <short>virtnat</short>
  <description>virtnat's bridges (added and removed by virtnat). Guests reach the host's DHCP, DHCPv6, DNS and ICMP, nothing else of the host. Forwarded traffic is accepted here: virtnat's own nftables table filters it by each network's mode.</description>
  <service name="dhcp"/>
  <service name="dhcpv6"/>
  <service name="dns"/>
  <protocol value="icmp"/>
  <protocol value="ipv6-icmp"/>
  <rule priority="32767">
    <reject/>
  </rule>
  <interface name="$BRIDGE"/>
</zone>
EOF
grep -v '<interface ' "$R$ZONES/virtnat.xml" >"$R$ZONES/virtnat.xml.old"
cat >"$R$ZONES/admin.xml" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>admin</short>
  <interface name="br-admin"/>
</zone>
EOF
check "virtnat's firewalld zone file and its .old copy in place" \
  test -f "$R$ZONES/virtnat.xml" -a -f "$R$ZONES/virtnat.xml.old"

# As `systemctl enable virtnat` would have done.
in_root mkdir -p /etc/systemd/system/multi-user.target.wants
in_root ln -s /usr/lib/systemd/system/virtnat.service /etc/systemd/system/multi-user.target.wants/virtnat.service
check "apt remove virtnat" in_root "${APT[@]}" remove virtnat
check_not "remove: the binary is gone" test -e "$R/usr/sbin/virtnat"
check_not "remove: hook qemu.d/virtnat deleted" test -e "$R$HOOKS/qemu.d/virtnat"
check_not "remove: hook network.d/virtnat deleted" test -e "$R$HOOKS/network.d/virtnat"
check "remove: the config stays" test -f "$R/etc/virtnat/virtnat.toml" -a -f "$R/etc/virtnat/conf.d/50-cli.toml"
check "remove: the kernel's table stays (running VMs keep their network)" nft list table inet virtnat
check_eq "remove: the table's name is recorded for the purge" virtnat "$(cat "$R/var/lib/virtnat/purge-table" 2>&1)"

# The shim rule virtnat keeps in libvirt's chains, next to a rule of libvirt's own: the purge
# deletes the first and leaves the second.
nft -f - <<'EOF'
table ip libvirt_network {
  chain guest_input {
    ct status dnat counter accept comment "virtnat-shim: accept connections virtnat forwarded"
    oifname "nbr0" counter reject comment "libvirt's own"
  }
}
EOF
# The same in IPv6 (libvirt's chains of a network with IPv6).
nft -f - <<'EOF'
table ip6 libvirt_network {
  chain guest_input {
    ct status dnat counter accept comment "virtnat-shim: accept connections virtnat forwarded"
    oifname "nbr0" counter reject comment "libvirt's own"
  }
}
EOF
for tool in iptables ip6tables; do
  in_root $tool -w -N LIBVIRT_FWI
  in_root $tool -w -A LIBVIRT_FWI -m conntrack --ctstate DNAT -m comment --comment virtnat-shim -j ACCEPT
  in_root $tool -w -A LIBVIRT_FWI -o nbr0 -j REJECT
done

check "apt purge virtnat" in_root "${APT[@]}" purge virtnat
check_not "purge: table inet virtnat deleted" nft list table inet virtnat
check_not "purge: the shim rule in ip libvirt_network guest_input deleted" \
  bash -c "nft list chain ip libvirt_network guest_input | grep -q virtnat-shim"
check "purge: libvirt's own nftables rule stays" \
  bash -c "nft list chain ip libvirt_network guest_input | grep -q \"libvirt's own\""
check_not "purge: the shim rule in iptables' LIBVIRT_FWI deleted" \
  bash -c "chroot '$R' iptables -w -S LIBVIRT_FWI | grep -q virtnat-shim"
check "purge: libvirt's own iptables rule stays" \
  bash -c "chroot '$R' iptables -w -S LIBVIRT_FWI | grep -q REJECT"
check_not "purge: the shim rule in ip6 libvirt_network guest_input deleted" \
  bash -c "nft list chain ip6 libvirt_network guest_input | grep -q virtnat-shim"
check "purge: libvirt's own nftables rule stays (ip6)" \
  bash -c "nft list chain ip6 libvirt_network guest_input | grep -q \"libvirt's own\""
check_not "purge: the shim rule in ip6tables' LIBVIRT_FWI deleted" \
  bash -c "chroot '$R' ip6tables -w -S LIBVIRT_FWI | grep -q virtnat-shim"
check "purge: libvirt's own ip6tables rule stays" \
  bash -c "chroot '$R' ip6tables -w -S LIBVIRT_FWI | grep -q REJECT"
for tool in iptables ip6tables; do
  check_not "purge: virtnat's rules in $tool's DOCKER-USER deleted" ours_in_docker_user $tool
  check "purge: the admin's accept in $tool's DOCKER-USER stays" \
    bash -c "chroot '$R' $tool -w -S DOCKER-USER | grep -qx -- '-A DOCKER-USER -i br-admin -j ACCEPT'"
  check "purge: the admin's rule with comment virtnat in $tool's DOCKER-USER stays" \
    bash -c "chroot '$R' $tool -w -S DOCKER-USER | grep -q -- '-m comment --comment \"\\?virtnat\"\\? -j DROP'"
  check "purge: Docker's RETURN in $tool's DOCKER-USER stays" \
    bash -c "chroot '$R' $tool -w -S DOCKER-USER | grep -qx -- '-A DOCKER-USER -j RETURN'"
  check_eq "purge: $tool's FORWARD policy is still Docker's DROP" "-P FORWARD DROP" \
    "$(in_root $tool -w -S FORWARD | head -n 1)"
done
check_eq "purge: of the ufw rules with comment virtnat, only the admin's (not virtnat's shape) stays" \
  "allow tcp 8080 0.0.0.0/0 any 0.0.0.0/0 in
allow tcp 8080 ::/0 any ::/0 in" "$(virtnat_ufw_tuples)"
check_not "purge: ufw's chains have no rule for $BRIDGE" \
  bash -c "chroot '$R' iptables -w -S | grep -E -- '^-A ufw-user-.* -[io] $BRIDGE '"
check "purge: the admin's ufw rules stay (files and kernel)" bash -c "
  grep -q 'in_eth9 comment=61646d696e' '$R/etc/ufw/user.rules' &&
  grep -q 'route:allow any any 0.0.0.0/0 any 0.0.0.0/0 in_br-admin\$' '$R/etc/ufw/user.rules' &&
  chroot '$R' iptables -w -S ufw-user-forward | grep -q -- '-i br-admin -j ACCEPT' &&
  chroot '$R' iptables -w -S ufw-user-input | grep -q -- '-i eth9 -p tcp -m tcp --dport 22 -j ACCEPT'"
check_not "purge: virtnat's firewalld zone file deleted (firewalld not running)" test -e "$R$ZONES/virtnat.xml"
check_not "purge: and firewalld's .old copy of it" test -e "$R$ZONES/virtnat.xml.old"
check "purge: the admin's firewalld zone stays" grep -q br-admin "$R$ZONES/admin.xml"
check_eq "purge: dpkg forgot virtnat" "" \
  "$(in_root dpkg-query -W -f='${Status}' virtnat 2>/dev/null | grep installed)"
for path in /etc/virtnat /run/virtnat /var/lib/virtnat \
  /etc/systemd/system/multi-user.target.wants/virtnat.service; do
  check_not "purge: $path deleted" test -e "$R$path" -o -L "$R$path"
done
left=()
while IFS= read -r path; do
  [ -d "$R$path" ] && [[ $path != *virtnat* ]] && continue  # /usr, /usr/share/doc, ...
  if [ -e "$R$path" ] || [ -L "$R$path" ]; then left+=("$path"); fi
done <"$MNT/files/package-files"
check_eq "purge: every path of dpkg -L virtnat is gone ($(wc -l <"$MNT/files/package-files"))" "" "${left[*]}"
virtnat_paths >"$MNT/files/paths-after"
check_same "purge: no path named *virtnat* is left" "$MNT/files/paths-before" "$MNT/files/paths-after"
# The neighbours' state of the test: ufw off and its files as they were, the admin's zone gone
# (the chains go with the tables below).
in_root ufw disable >/dev/null
rm -rf "$R/etc/ufw" && cp -a "$MNT/files/ufw-before/ufw" "$R/etc/ufw"
cp -a "$MNT/files/ufw-before/default-ufw" "$R/etc/default/ufw"
check "ufw's files restored" bash -c "diff -r '${LOWER%/}/etc/ufw' '$R/etc/ufw' && diff '${LOWER%/}/etc/default/ufw' '$R/etc/default/ufw'"
rm -f "$R$ZONES/admin.xml"
nft delete table ip libvirt_network
nft delete table ip6 libvirt_network
in_root iptables -w -F LIBVIRT_FWI && in_root iptables -w -X LIBVIRT_FWI && nft delete table ip filter
in_root ip6tables -w -F LIBVIRT_FWI && in_root ip6tables -w -X LIBVIRT_FWI && nft delete table ip6 filter

# --- 5b. apt purge on an installed package ------------------------------------------------
install_package "$PKG"
check "again: virtnat init --force, apply, hook install" in_root bash -c "
  virtnat init --force --provider external --public-address 203.0.113.10 &&
  virtnat apply && virtnat hook install"
# network.d/virtnat as a source install at /usr/local would have written it: not the
# package's to delete.
sed -i '1s|^#!/usr/sbin/|#!/usr/local/sbin/|' "$R$HOOKS/network.d/virtnat"
# A firewalld zone of the admin's that happens to be named virtnat: not virtnat's (it lacks
# the description virtnat gives its zone), so the purge keeps it.
mkdir -p "$R$ZONES"
cat >"$R$ZONES/virtnat.xml" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>virtnat</short>
  <description>The admin's own zone.</description>
  <interface name="br-admin"/>
</zone>
EOF
check "apt purge virtnat (installed)" in_root "${APT[@]}" purge virtnat
check "purge: a firewalld zone named virtnat that virtnat did not write stays" \
  grep -q "The admin's own zone" "$R$ZONES/virtnat.xml"
rm -f "$R$ZONES/virtnat.xml"
rmdir "$R$ZONES"
check_not "purge: table inet virtnat deleted" nft list table inet virtnat
check_not "purge: the package's hook qemu.d/virtnat deleted" test -e "$R$HOOKS/qemu.d/virtnat"
check "purge: a hook that runs another virtnat binary stays" test -e "$R$HOOKS/network.d/virtnat"
in_root rm -f "$HOOKS/network.d/virtnat"
virtnat_paths >"$MNT/files/paths-after-2"
check_same "purge: no path named *virtnat* is left" "$MNT/files/paths-before" "$MNT/files/paths-after-2"
nft -s list ruleset >"$MNT/files/ruleset-end" 2>&1
check_same "the ruleset is as before the install" "$MNT/files/ruleset-before" "$MNT/files/ruleset-end"

# Files the whole test left in the root, besides dpkg's and apt's records, logs and caches,
# the build folder (make install runs the build) and ufw's files (restored, and checked
# to be as before): none.
leftovers=$(cd "$MNT/upper" && find . -type f \
  -not -path './var/lib/dpkg/*' -not -path './var/lib/apt/*' -not -path './var/log/*' \
  -not -path './var/cache/*' -not -path './tmp/*' -not -path "./${REPO_DIR#/}/*" \
  -not -path './etc/ufw/*' -not -path './etc/default/ufw' \
  -not -path "./${BUILD_DIR#/}/*" -not -path './root/*' | sed 's|^\.||' | sort)
check_eq "no other file changed in the root" "" "$leftovers"

finish
