// Collects every config error so that a check reports them all at once.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "model/model.h"

namespace virtnat {

struct Diagnostic {
  SourceLocation where;
  std::string message;
  std::string ToString() const;  // "FILE:LINE: FIELD: message"
};

class Diagnostics {
 public:
  void Error(const SourceLocation& where, std::string message);
  void Warning(const SourceLocation& where, std::string message);
  bool HasErrors() const { return !errors_.empty(); }
  const std::vector<Diagnostic>& errors() const { return errors_; }
  const std::vector<Diagnostic>& warnings() const { return warnings_; }

 private:
  std::vector<Diagnostic> errors_;
  std::vector<Diagnostic> warnings_;
};

// Thrown for bad input (exit status 2); what() is the whole message, one line per error.
class BadInput : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown for failures of the system (exit status 1).
class RuntimeFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace virtnat
