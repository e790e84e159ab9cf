#include "contentfilter/smtp/data_decoder.hpp"

namespace mailsan::filter::smtp {

void DataDecoder::reset() {
  state_ = State::line_start;
  error_.clear();
  too_large_ = false;
  bytes_ = 0;
  lines_ = 0;
  line_bytes_ = 0;
  longest_line_ = 0;
}

void DataDecoder::note_error(const char* what) {
  if (error_.empty()) error_ = what;
}

void DataDecoder::end_line() {
  ++lines_;
  if (line_bytes_ > longest_line_) longest_line_ = line_bytes_;
  line_bytes_ = 0;
}

// One step of output. The size limit cuts both outputs at the same step, so
// where they stop does not depend on how the input was split into reads.
void DataDecoder::emit(std::string_view wire, std::string_view unstuffed,
                       std::string& unstuffed_out, std::string& wire_out) {
  line_bytes_ += wire.size();
  std::uint64_t before = bytes_;
  bytes_ += unstuffed.size();
  if (too_large_) return;
  if (size_limit_ != 0 && bytes_ > size_limit_) {
    too_large_ = true;
    // A run of text (wire == unstuffed) keeps the part that fits.
    if (wire == unstuffed) {
      auto fits = static_cast<std::size_t>(size_limit_ - before);
      unstuffed_out.append(unstuffed.substr(0, fits));
      wire_out.append(wire.substr(0, fits));
    }
    return;
  }
  unstuffed_out.append(unstuffed);
  wire_out.append(wire);
}

DataDecoder::Status DataDecoder::feed(std::string_view in, std::size_t& consumed,
                                      std::string& unstuffed_out, std::string& wire_out) {
  consumed = 0;
  // Each case either consumes a byte or changes state_ so that another case
  // takes the same byte; none does both, so the loop always moves forward.
  while (consumed < in.size() && state_ != State::done) {
    char c = in[consumed];
    switch (state_) {
      case State::line_start:
        if (c == '.') {
          ++consumed;
          state_ = State::dot;
        } else {
          state_ = State::text;
        }
        break;

      case State::text: {
        std::size_t end = consumed;
        while (end < in.size() && in[end] != '\r' && in[end] != '\n') ++end;
        if (end > consumed) {
          std::string_view run = in.substr(consumed, end - consumed);
          emit(run, run, unstuffed_out, wire_out);
          consumed = end;
          break;
        }
        ++consumed;
        if (c == '\r') {
          emit("\r", "\r", unstuffed_out, wire_out);
          state_ = State::cr;
        } else {
          // A bare LF ends nothing: the line goes on, so a "." after it is
          // text, as it is for any receiver that requires CRLF.
          note_error("bare LF in message");
          emit("\n", "\n", unstuffed_out, wire_out);
        }
        break;
      }

      case State::cr:
        if (c == '\n') {
          ++consumed;
          emit("\n", "\n", unstuffed_out, wire_out);
          end_line();
          state_ = State::line_start;
        } else {
          note_error("bare CR in message");
          state_ = State::text;
        }
        break;

      case State::dot:
        if (c == '\r') {
          ++consumed;
          state_ = State::dot_cr;
        } else {
          // Not the marker: the line starts with a dot, which goes.
          emit(".", "", unstuffed_out, wire_out);
          state_ = State::text;
        }
        break;

      case State::dot_cr:
        if (c == '\n') {
          ++consumed;
          state_ = State::done;
        } else {
          note_error("bare CR in message");
          emit(".", "", unstuffed_out, wire_out);
          emit("\r", "\r", unstuffed_out, wire_out);
          state_ = State::text;
        }
        break;

      case State::done:
        break;
    }
  }
  return state_ == State::done ? Status::done : Status::more;
}

}  // namespace mailsan::filter::smtp
