// The SPAMC/SPAMD protocol of SpamAssassin's spamd (spamd/PROTOCOL,
// protocol 1.5), pure: request heads are strings, responses are parsed from
// bytes by an incremental state machine, nothing here does I/O. Used by
// SpamdClient, which moves the bytes, and by the fuzz target
// test/fuzz/spamd_response.cpp.
//
// A request is "SYMBOLS SPAMC/1.5\r\n", headers ("Content-length: N",
// "User: bob"), an empty line, then the N bytes of the message, which the
// caller streams after the head. A response is "SPAMD/1.1 0 EX_OK\r\n",
// headers ("Content-length: N", "Spam: True ; 1000.0 / 5.0", "DidSet:
// local"), an empty line and a body: for SYMBOLS the comma-separated names of
// the rules that hit, for PROCESS the rewritten message. An error is one
// line with a sysexits code ("SPAMD/1.0 76 Bad header line: ...") after
// which spamd closes the connection; so does PING's "SPAMD/1.5 0 PONG".
//
// SECURITY: spamd is a local, trusted daemon, but the bytes it sends back are
// shaped by the message, which anyone on the Internet writes, and a broken
// or impostor peer may send anything. Everything kept is bounded: a line is
// at most 8 KiB, a response at most 64 headers, a body at most the caller's
// limit. Rule names end up in a header we write, so they are reduced to
// [A-Za-z0-9_]; the status message ends up in log lines and reports, so bytes
// outside printable ASCII become '?'. Scores must be finite numbers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailsan::filter {

enum class SpamdCommand {
  check,    // is it spam, and its score
  symbols,  // the same, and the names of the rules that hit
  process,  // the same, and the message as spamd rewrote it
  ping,     // is spamd alive ("PONG")
  tell,     // learn the message as spam or ham (spamd --allow-tell)
};

std::string_view spamd_command_name(SpamdCommand command);

enum class SpamdMessageClass { spam, ham };

// What TELL asks for: learn the message into the local database (Bayes) as
// spam or ham ("Set: local"), or forget it ("Remove: local").
struct SpamdTell {
  SpamdMessageClass message_class = SpamdMessageClass::spam;
  bool set_local = true;
  bool remove_local = false;
};

// The value sent as "User:": spamd uses it for per-user preferences, and
// with --virtual-config-dir as a directory name. Bytes outside what spamd
// itself keeps in such a name ([-A-Za-z0-9+_.,@=]) become '_', as does a
// leading dot (no "..": the name never leaves that directory), and it is cut
// at 256 bytes.
std::string spamd_user_value(std::string_view user);

// The request head: command line, Content-length (except for PING), User
// (when `user` is not empty), the TELL headers for TELL, and the empty line.
// The caller sends the content_length bytes of the message after it.
std::string encode_spamd_request(SpamdCommand command, std::string_view user,
                                 std::uint64_t content_length, const SpamdTell& tell = {});

// sysexits.h names for spamd's codes: 0 "EX_OK", 64 "EX_USAGE", ..., 76
// "EX_PROTOCOL", 78 "EX_CONFIG"; "EX_?" for others.
std::string_view sysexits_name(int code);

struct SpamdResponse {
  std::string version;  // "1.1", "1.5", "1.0"
  int code = -1;        // sysexits: 0 EX_OK, 64..78 the errors
  std::string message;  // "EX_OK", "PONG", "Bad header line: ..."
  // From "Spam: True ; 1000.0 / 5.0" (CHECK, SYMBOLS, PROCESS).
  bool has_spam_header = false;
  bool spam = false;
  double score = 0;
  double threshold = 0;
  std::optional<std::uint64_t> content_length;
  // SYMBOLS: the rules that hit, as spamd lists them, each reduced to
  // [A-Za-z0-9_] (at most 128 bytes).
  std::vector<std::string> rules;
  // The body, or its first max_kept_body bytes (PROCESS: the processed
  // message); body_bytes counts all of it.
  std::string body;
  std::uint64_t body_bytes = 0;
  // TELL: what spamd did ("local", "remote").
  std::vector<std::string> did_set;
  std::vector<std::string> did_remove;

  bool ok() const { return code == 0; }
};

class SpamdResponseParser {
 public:
  enum class Status { incomplete, complete, error };

  struct Limits {
    std::size_t max_line_bytes = 8 * 1024;  // counts the line end
    std::size_t max_headers = 64;
    std::uint64_t max_body = 16 * 1024 * 1024;  // more is an error
    // Of the body, only this much is kept (PROCESS needs only the head of
    // the rewritten message); the rest is counted and dropped.
    std::uint64_t max_kept_body = 16 * 1024 * 1024;
  };

  // The command decides where the response ends: PING and every error after
  // the status line, CHECK and TELL after the headers, SYMBOLS and PROCESS
  // after Content-length bytes of body (or at the end of the stream when
  // spamd sends no Content-length).
  explicit SpamdResponseParser(SpamdCommand command) : SpamdResponseParser(command, Limits{}) {}
  SpamdResponseParser(SpamdCommand command, Limits limits);

  // Consumes bytes from the front of `bytes` until the response is
  // complete, an error is found or the bytes run out; `consumed` tells how
  // many were used (after complete, the rest is not part of the response).
  // Lines end in CRLF; a bare LF is accepted too. Once complete or in error,
  // feed() consumes nothing and returns the same status.
  Status feed(std::string_view bytes, std::size_t& consumed);
  // The peer closed the connection: completes a body that runs to the end
  // of the stream, and makes anything unfinished an error.
  Status finish();
  Status status() const { return status_; }

  // After Status::complete.
  const SpamdResponse& response() const { return response_; }
  SpamdResponse take() { return std::move(response_); }
  // After Status::error: why, for the log.
  std::string_view error() const { return error_; }

 private:
  enum class State { status_line, headers, body, done };

  Status fail(std::string why);
  Status complete();
  bool take_line(std::string_view& bytes, std::size_t& consumed, std::string_view& line);
  Status on_status_line(std::string_view line);
  Status on_header_line(std::string_view line);
  Status end_of_headers();

  SpamdCommand command_;
  Limits limits_;
  State state_ = State::status_line;
  Status status_ = Status::incomplete;
  std::string line_;
  bool line_ready_ = false;
  std::size_t headers_ = 0;
  SpamdResponse response_;
  std::string error_;
};

// What PROCESS's rewritten message tells beyond the Spam: header, read from
// its head (up to the first empty line): the rules from the "tests=" list of
// spamd's X-Spam-Status header (the default add_header format), and spamd's
// own X-Spam-Level and X-Spam-Report header lines ("Name: value", folded
// lines joined by CRLF and a tab), which a report_safe 0 setup adds.
// Header lines longer than 8 KiB in all are left out.
struct SpamdProcessedHead {
  std::vector<std::string> rules;
  std::vector<std::string> headers;
};
SpamdProcessedHead parse_spamd_processed_head(std::string_view message);

// A rule name reduced to [A-Za-z0-9_] (other bytes become '_'), at most 128
// bytes; empty stays empty.
std::string sanitize_rule_name(std::string_view name);

}  // namespace mailsan::filter
