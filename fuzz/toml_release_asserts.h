// Force-included with VIRTNAT_FUZZ_TOML_HEADER_ONLY=ON: toml++'s debug assertions off, as in the
// library Debian ships. toml++ 3.3.0 asserts on some invalid TOML (e.g. "[`a]") that the shipped
// library reports as a syntax error; that is not virtnat's to fix.
#pragma once
#define TOML_ASSERT(expr) static_cast<void>(0)
