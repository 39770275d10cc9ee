# Thin wrapper over CMake. `make test` and `make demo` are the README's two set-up commands.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: all deps build test unit-test lab-test sanitize demo lab-up lab-down format clean

all: build

deps:
	bash scripts/install-deps

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	cmake --build $(BUILD) -j $(JOBS)

# Every test: unit tests, the bad-input corpus and the lab tests with real packets.
test: deps build sanitize
	cd $(BUILD) && ctest --output-on-failure

unit-test: build
	cd $(BUILD) && ctest --output-on-failure -L unit

# Unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize:
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DVIRTNAT_SANITIZE=ON
	cmake --build $(BUILD)-asan -j $(JOBS) --target virtnat_unit_tests
	cd $(BUILD)-asan && ctest --output-on-failure -L unit

demo: deps build
	bash lab/demo.sh $(BUILD)/virtnat

lab-up: build
	bash lab/lab.sh up
lab-down:
	bash lab/lab.sh down

format:
	find src tests tools bench -name '*.cpp' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(BUILD)-asan
