// The two ways a virtnat operation fails, which every layer throws and the front doors turn
// into exit statuses: bad input (2) and a failure of the system (1).
#pragma once

#include <stdexcept>

namespace virtnat {

// Bad input: a config, an argument, a hook's stdin. what() is the whole message, one line per
// error, naming the file, line and field where it can. Nothing was changed.
class BadInput : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failure of the system (a daemon, the kernel, a file).
class RuntimeFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace virtnat
