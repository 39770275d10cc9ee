// Runs an external program by absolute path with an argument vector: never through a shell.
#pragma once

#include <string>
#include <vector>

namespace virtnat {

struct ProcessResult {
  int exit_status = -1;  // -1 when it could not run or was killed
  std::string output;    // stdout and stderr together
};

ProcessResult RunProgram(const std::vector<std::string>& argv);

}  // namespace virtnat
