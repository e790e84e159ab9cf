// The message after DATA (RFC 5321 §4.1.1.4, §4.5.2) on the server side:
// finding the end-of-data marker and undoing dot-stuffing. Pure and
// incremental, fed whatever each read returned, so it is fuzzed
// (test/fuzz/filter_data_decoder.cpp). The proxy's connection code calls it
// between its 354 and its reply to the message.
//
// SECURITY: the message comes from any Internet client through Postfix. The
// data ends at CRLF "." CRLF and at nothing else: "\n.\n", "\r\n.\n",
// "\n.\r\n" or "\r.\r" are message text here, because a proxy or MTA that
// ended the data at one of them where its peer did not would let a client
// smuggle a second message into the stream (SMTP smuggling, 2023). A bare LF
// or bare CR anywhere in the message is therefore an error; it does not stop
// the scan, so the proxy still finds the real end and answers in step with
// its client. Memory is bounded: the decoder holds at most two bytes, and
// past the size limit it stops producing output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mailsan::filter::smtp {

class DataDecoder {
 public:
  enum class Status { more, done };

  // size_limit: message_size_limit in unstuffed bytes, CRLFs included; 0
  // for none.
  explicit DataDecoder(std::uint64_t size_limit = 0) : size_limit_(size_limit) {}

  // Reads from the front of `in` until the end-of-data marker or the end of
  // `in`, and appends what it read to the two outputs:
  //  - unstuffed_out: the message as the scanners see it, the leading '.'
  //    of every line that starts with one removed (RFC 5321 §4.5.2: "..x"
  //    becomes ".x", ".x" becomes "x");
  //  - wire_out: the bytes as received, still dot-stuffed, for replaying
  //    downstream.
  // Line ends are kept as they came in both. Neither output contains the
  // final ".\r\n", so wire_out followed by ".\r\n" is exactly the bytes
  // consumed; the CRLF before the dot belongs to the last line and is kept.
  // A message that is only ".\r\n" is empty. On Status::done, `consumed`
  // stops right after that LF and the rest of `in` is the next command; on
  // Status::more it is in.size(). After done, feed() consumes nothing until
  // reset(). Outputs stop growing once too_large() is true.
  Status feed(std::string_view in, std::size_t& consumed, std::string& unstuffed_out,
              std::string& wire_out);

  // The first error in the message ("bare LF in message", "bare CR in
  // message"), or empty. It does not end the data: check it at done and
  // reject the message then.
  std::string_view error() const { return error_; }
  // True once the message passed the size limit; check it at done.
  bool too_large() const { return too_large_; }
  bool done() const { return state_ == State::done; }

  // Unstuffed bytes so far, counted past the size limit too.
  std::uint64_t bytes() const { return bytes_; }
  // CRLF-terminated lines so far (a bare LF or CR does not end a line).
  std::uint64_t lines() const { return lines_; }
  // The longest line in its wire form, CRLF included. RFC 5321 §4.5.3.1.6
  // sets 1000; longer lines are not an error, since Postfix passes them.
  std::uint64_t longest_line() const {
    return line_bytes_ > longest_line_ ? line_bytes_ : longest_line_;
  }

  // Ready for the next message; keeps the size limit.
  void reset();

 private:
  enum class State {
    line_start,  // after CRLF, or at the start of the message
    text,
    cr,      // after a CR inside a line
    dot,     // after a '.' at line_start, held back: it may begin the marker
    dot_cr,  // after ".\r" at line_start, both held back
    done,
  };

  void emit(std::string_view wire, std::string_view unstuffed, std::string& unstuffed_out,
            std::string& wire_out);
  void end_line();
  void note_error(const char* what);

  std::uint64_t size_limit_;
  State state_ = State::line_start;
  std::string error_;
  bool too_large_ = false;
  std::uint64_t bytes_ = 0;
  std::uint64_t lines_ = 0;
  std::uint64_t line_bytes_ = 0;
  std::uint64_t longest_line_ = 0;
};

}  // namespace mailsan::filter::smtp
