#include "config/diagnostics.h"

#include <fmt/format.h>

namespace virtnat {

std::string Diagnostic::ToString() const {
  std::string location = where.file;
  if (where.line > 0) location += fmt::format(":{}", where.line);
  if (!where.field.empty()) location += ": " + where.field;
  return location + ": " + message;
}

void Diagnostics::Error(const SourceLocation& where, std::string message) {
  errors_.push_back({where, std::move(message)});
}

void Diagnostics::Warning(const SourceLocation& where, std::string message) {
  warnings_.push_back({where, std::move(message)});
}

}  // namespace virtnat
