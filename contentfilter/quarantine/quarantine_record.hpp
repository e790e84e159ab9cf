// What the quarantine keeps about one message besides the message itself
// (SPEC §3): its envelope, the verdict and the scanners' report, and the
// quarantine id that names it on disk and in Redis. Pure: JSON in and out,
// no I/O beyond the random bytes of a new id.
//
// Written by mailsan-filter when it quarantines (record.json beside the
// message, and the same JSON in Redis for every MX to see); read by
// mailsanctl to list, show and release entries.
//
// SECURITY: a record holds addresses, parameters and XFORWARD values that an
// Internet client chose, and report text from the scanners. Encoding never
// fails on them: bytes that are not UTF-8 are replaced (U+FFFD), control
// bytes are escaped by JSON. Decoding accepts only the exact shape written
// here, since a record read back from the shared Redis may have been written
// by anyone who can reach it. Ids become path components under
// quarantine_dir and arguments on mailsanctl's command line, so
// valid_quarantine_id() admits exactly the shape new_quarantine_id()
// produces: digits, 'T', '-' and lower-case hex, nothing that could name
// another directory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailsan::filter {

struct QuarantineRecord {
  std::string id;
  std::string hostname;                        // the MX whose quarantine_dir holds the message
  std::int64_t time = 0;                       // unix seconds
  std::string sender;                          // MAIL FROM address, empty for <>
  std::vector<std::string> sender_parameters;  // "SIZE=123", "BODY=8BITMIME", verbatim
  struct Recipient {
    std::string address;
    std::vector<std::string> parameters;  // "NOTIFY=NEVER", "ORCPT=rfc822;x@y", verbatim
    bool operator==(const Recipient&) const = default;
  };
  std::vector<Recipient> recipients;  // only those the message was quarantined for
  std::string helo;
  std::vector<std::pair<std::string, std::string>> xforward;  // NAME, ADDR, ... decoded
  std::string reason;      // "virus Eicar-Signature", "spam 12.5 (reject 10 for bob@example.com)"
  std::string report;      // the scanners' findings, multi-line text
  std::uint64_t size = 0;  // bytes of the message as stored

  bool operator==(const QuarantineRecord&) const = default;
};

// One JSON object, on one line. Never throws for any content (invalid UTF-8
// becomes U+FFFD).
std::string encode_quarantine_record(const QuarantineRecord& record);

// The record, or nullopt unless `json` is an object with every field above
// present with its type (time a signed 64-bit integer, size a non-negative
// one) and an id that valid_quarantine_id() accepts. Fields it does not know
// are ignored, so that a newer filter's records still list. Never throws.
std::optional<QuarantineRecord> decode_quarantine_record(std::string_view json);

// "YYYYMMDDTHHMMSS-" (UTC) followed by 16 lower-case hex digits of random
// bytes: sorts by time, and two MXes quarantining in the same second do not
// collide. Times before 1970 or after 9999 are clamped into that range.
std::string new_quarantine_id(std::int64_t unix_time);
// The same with the random part given, for tests.
std::string new_quarantine_id(std::int64_t unix_time, std::uint64_t random_bits);

// Exactly the shape above: 8 digits, 'T', 6 digits, '-', 16 of [0-9a-f].
bool valid_quarantine_id(std::string_view id);

}  // namespace mailsan::filter
