#include "common/clamav/mime_parts.hpp"

namespace mailsan::clamav {

void BoundaryLineCounter::feed(std::string_view bytes) {
  for (char c : bytes) {
    if (c == '\n') {
      state_ = State::line_start;
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
        if (c != ' ' && c != '\t' && c != '\r') ++count_;
        state_ = State::in_line;
        break;
      case State::in_line:
        break;
    }
  }
}

}  // namespace mailsan::clamav
