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
  static constexpr std::uint64_t kNone = ~std::uint64_t{0};

  // limit: the boundary lines allowed; 0 for no limit.
  explicit BoundaryLineCounter(std::uint64_t limit = 0) : limit_(limit) {}

  void feed(std::string_view bytes);
  std::uint64_t count() const { return count_; }
  // Where the first boundary line past the limit starts: the message before
  // it holds at most `limit` parts. kNone while the limit is not passed.
  std::uint64_t cut() const { return cut_; }

 private:
  enum class State { line_start, one_dash, two_dashes, in_line };
  std::uint64_t limit_;
  State state_ = State::line_start;
  std::uint64_t count_ = 0;
  std::uint64_t offset_ = 0;      // bytes fed so far
  std::uint64_t line_start_ = 0;  // offset of the line being read
  std::uint64_t cut_ = kNone;
};

inline std::uint64_t boundary_lines(std::string_view message) {
  BoundaryLineCounter counter;
  counter.feed(message);
  return counter.count();
}

}  // namespace mailsan::clamav
