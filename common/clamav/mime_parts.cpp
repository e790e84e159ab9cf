#include "common/clamav/mime_parts.hpp"

namespace mailsan::clamav {

void BoundaryLineCounter::feed(std::string_view bytes) {
  for (char c : bytes) {
    std::uint64_t at = offset_++;
    if (c == '\n') {
      state_ = State::line_start;
      line_start_ = at + 1;
      continue;
    }
    switch (state_) {
      case State::line_start:
        state_ = c == '-' ? State::one_dash : State::in_line;
        break;
      case State::one_dash:
        state_ = c == '-' ? State::two_dashes : State::in_line;
        break;
      case State::two_dashes:
        if (c != ' ' && c != '\t' && c != '\r' && ++count_ == limit_ + 1 && limit_ != 0)
          cut_ = line_start_;
        state_ = State::in_line;
        break;
      case State::in_line:
        break;
    }
  }
}

}  // namespace mailsan::clamav
