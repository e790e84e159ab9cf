// How many MIME parts a message may hold, counted before libclamav sees it:
// libclamav's mail parser writes every part to a temporary file and scans
// it, about a tenth of a millisecond or more per part, and checks neither
// its file count nor its time limit while it does (libclamav 1.4), so a
// message of a million one-line parts would hold a worker for minutes.
//
// Counts lines that may be a boundary delimiter: "--" and then anything
// but white space. That is an upper bound on the parts of every nesting
// level (a "-----" ruler counts too, a "-- " signature separator does not)
// and needs no parsing. Pure: fed the message in pieces of any size, in
// order; called by the engine on a scan pool worker.
//
// SECURITY: the bytes are untrusted mail; the counter keeps a few bits of
// state and never allocates.
#pragma once

#include <cstdint>
#include <string_view>

namespace mailsan::clamav {

class BoundaryLineCounter {
 public:
  void feed(std::string_view bytes);
  std::uint64_t count() const { return count_; }

 private:
  enum class State { line_start, one_dash, two_dashes, in_line };
  State state_ = State::line_start;
  std::uint64_t count_ = 0;
};

inline std::uint64_t boundary_lines(std::string_view message) {
  BoundaryLineCounter counter;
  counter.feed(message);
  return counter.count();
}

}  // namespace mailsan::clamav
