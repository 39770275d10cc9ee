# Thin wrapper over CMake. `make test` and `make demo` are the README's two set-up commands.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: all deps build test unit-test web-test lab-test sanitize demo lab-up lab-down format clean fuzz fuzz-smoke bench
.PHONY: install deb deb12 deb13 package-test lab-libvirt11 check-builds golden

all: build

deps:
	bash scripts/install-deps

# -Werror in developer and CI builds (VIRTNAT_WERROR); a plain cmake build has it off.
WERROR ?= ON

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DVIRTNAT_WERROR=$(WERROR)
	cmake --build $(BUILD) -j $(JOBS)

# Every test: unit tests, the bad-input corpus, the lab tests with real packets, the package,
# and each fuzz target for 20 seconds.
test: deps build sanitize
	cd $(BUILD) && ctest --output-on-failure
	$(MAKE) package-test
	$(MAKE) lab-libvirt11
	$(MAKE) fuzz-smoke

# The web console's browser test alone (also in `make test` as the ctest test web_console).
web-test: build
	bash tests/web/run.sh $(BUILD)

unit-test: build
	cd $(BUILD) && ctest --output-on-failure -L unit

# Rewrites the golden files (tests/golden: per scenario a config and what virtnat renders for
# it) from what the code renders now, for a diff to review before committing.
golden:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DVIRTNAT_WERROR=$(WERROR)
	cmake --build $(BUILD) -j $(JOBS) --target virtnat_unit_tests
	VIRTNAT_GOLDEN_UPDATE=1 $(BUILD)/tests/virtnat_unit_tests --gtest_filter='Golden*'
	git diff --stat tests/golden
	git status --short tests/golden

# Unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize:
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DVIRTNAT_SANITIZE=ON -DVIRTNAT_WERROR=$(WERROR)
	cmake --build $(BUILD)-asan -j $(JOBS) --target virtnat_unit_tests
	cd $(BUILD)-asan && ctest --output-on-failure -L unit

# libFuzzer targets (fuzz/, clang): each for FUZZ_TIME seconds (default 300), or 20 for smoke.
fuzz:
	bash scripts/fuzz

fuzz-smoke:
	bash scripts/fuzz --smoke

demo: deps build
	bash lab/demo.sh $(BUILD)/virtnat

lab-up: build
	bash lab/lab.sh up
lab-down:
	bash lab/lab.sh down

format:
	find src tests tools bench -name '*.cpp' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-deb13

# Benchmarks (bench/README.md): a Release build of virtnat in build-release, the bench tools
# in build-bench, then bench/run.sh prints markdown tables and writes bench/results.md and
# bench/plot.png. A Release build has -Werror off (GCC 12's false -Wrestrict at -O3).
bench: deps
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release
	cmake --build build-release -j $(JOBS) --target virtnat virtnat-hook
	cmake -S bench -B build-bench -DCMAKE_BUILD_TYPE=Release
	cmake --build build-bench -j $(JOBS)
	bash bench/run.sh build-release/virtnat build-bench

# Install the binary, the systemd unit, the man page, bash completion and the example config
# (an existing /etc/virtnat/virtnat.toml is kept): PREFIX (default /usr/local), DESTDIR to
# stage. packaging/README-install.md.
PREFIX ?= /usr/local
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)" --strip

# The Debian packages (CPack, packaging/CMakeLists.txt), one per release, each depending on
# its release's libraries: $(BUILD)/virtnat_VERSION_deb12_ARCH.deb built here, and
# $(BUILD)-deb13/virtnat_VERSION_deb13_ARCH.deb built in a cached Debian 13 chroot from a
# copy of this working tree (scripts/debian-chroot; the chroot is made once, ~5 minutes).
deb: deb12 deb13
	@ls -l $(BUILD)/virtnat_*_deb12_*.deb $(BUILD)-deb13/virtnat_*_deb13_*.deb
deb12: build
	cd $(BUILD) && cpack -G DEB
deb13:
	JOBS=$(JOBS) WERROR=$(WERROR) bash scripts/debian-chroot deb . $(BUILD)-deb13

# Installs each .deb on its release (Debian 12: a copy-on-write copy of this machine;
# Debian 13: of a cached trixie chroot with the package's dependencies), follows
# packaging/README-install.md step by step and purges it (as root).
package-test: deps deb
	bash tests/package/test_releases.sh $(BUILD) $(BUILD)-deb13

# Debian 13's libvirt 11 (nftables firewall backend) with virtnat's Debian 13 package, both in
# a cached trixie chroot (scripts/debian-chroot libvirt-root), real QEMU domains and packets.
lab-libvirt11: deps build deb13
	bash tests/lab/test_libvirt11.sh $(BUILD) "$$(ls -t $(BUILD)-deb13/virtnat_*_deb13_*.deb | head -n 1)"

# The packagers' builds with -Werror off: Release, and Debian's dpkg-buildflags with build type
# None, in /tmp/virtnat-check-builds (not in make test: two builds of the whole tree;
# CHECK_BUILDS_ARGS=--trixie adds both in the Debian 13 chroot, GCC 14).
check-builds:
	JOBS=$(JOBS) bash scripts/check-builds $(CHECK_BUILDS_ARGS)
