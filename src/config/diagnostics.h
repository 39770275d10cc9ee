// Collects every config error so that a check reports them all at once.
#pragma once

#include <string>
#include <vector>

#include "base/errors.h"
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

}  // namespace virtnat
