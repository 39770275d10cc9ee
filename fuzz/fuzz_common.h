// Shared by the fuzz targets: what counts as an expected failure, and checks of the promises
// the headers make. Anything else that escapes a target (another exception, a crash, a
// sanitizer report, a failed FUZZ_CHECK) is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "base/errors.h"

namespace virtnat::fuzz {

[[noreturn]] inline void CheckFailed(const char* file, int line, const char* what) {
  std::fprintf(stderr, "virtnat fuzz: %s:%d: check failed: %s\n", file, line, what);
  std::abort();  // libFuzzer saves the input as a crash
}

// Reads every byte of a message, so that one built from freed or uninitialised memory is
// reported here rather than never.
inline void ConsumeMessage(std::string_view message) {
  volatile std::size_t sum = 0;
  for (char c : message) sum = sum + static_cast<unsigned char>(c);
}

// Runs `body` and returns true when it returned. BadInput and RuntimeFailure are the documented
// ways to refuse an input: they return false. Any other exception is left uncaught on purpose:
// std::terminate then aborts at the throw, so the report's stack shows where it was thrown.
template <typename Body>
bool RunExpectingRefusal(Body&& body) {
  try {
    body();
    return true;
  } catch (const BadInput& error) {
    ConsumeMessage(error.what());
  } catch (const RuntimeFailure& error) {
    ConsumeMessage(error.what());
  }
  return false;
}

inline std::string AsString(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// Splits `text` at every line that is exactly `marker` (the marker lines are dropped, the other
// lines keep their '\n'); at most `max_parts` parts, later markers stay in the last part.
inline std::vector<std::string> SplitAtMarkerLines(const std::string& text, std::string_view marker,
                                                   std::size_t max_parts) {
  std::vector<std::string> parts(1);
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    std::size_t line_end = end == std::string::npos ? text.size() : end;
    std::size_t next = end == std::string::npos ? text.size() : end + 1;
    if (std::string_view(text).substr(start, line_end - start) == marker &&
        parts.size() < max_parts)
      parts.emplace_back();
    else
      parts.back().append(text, start, next - start);
    start = next;
  }
  return parts;
}

}  // namespace virtnat::fuzz

#define FUZZ_CHECK(condition) \
  ((condition) ? (void)0 : ::virtnat::fuzz::CheckFailed(__FILE__, __LINE__, #condition))
