// Async DNS for the daemons: c-ares driven by Asio, never a blocking call.
//
// A, AAAA, TXT, MX and PTR queries with a per-try timeout and retries, the
// servers from /etc/resolv.conf or the config ("127.0.0.1:5353", port
// included), TCP when a UDP answer is truncated, a cache that honours TTLs
// within configured bounds (negative answers too), and one lookup shared by
// identical concurrent queries.
//
// Single-threaded: use from the executor's thread only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/cidr.hpp"

namespace mailsan::dns {

enum class RecordType { a, aaaa, txt, mx, ptr };

enum class Status {
  ok,        // records present
  nxdomain,  // the name does not exist
  nodata,    // the name exists, no records of this type
  servfail,  // the server failed (SERVFAIL)
  refused,   // the server refused (REFUSED)
  timeout,   // no answer after every try
  error,     // anything else (malformed name, bad reply, ...)
};
std::string_view to_string(Status status);

struct MxRecord {
  std::uint16_t preference = 0;
  std::string host;  // without the trailing dot
};

struct Answer {
  Status status = Status::error;
  std::vector<net::IpAddress> addresses;  // A, AAAA
  std::vector<std::string> texts;         // TXT (a record's strings joined), PTR names
  std::vector<MxRecord> mx;               // MX, in the order received
  std::uint32_t ttl = 0;                  // seconds this answer may be cached
  bool from_cache = false;
};

struct ResolverOptions {
  std::vector<std::string> servers;         // "HOST:PORT" or "HOST" (port 53); empty: resolv.conf
  std::chrono::milliseconds timeout{2000};  // per try and server
  // Each try asks every server once; a lookup gives up after
  // timeout × tries × servers when nothing answers.
  int tries = 2;
  std::chrono::seconds min_ttl{30};  // cache bounds for positive answers
  std::chrono::seconds max_ttl{86400};
  std::chrono::seconds negative_ttl{300};  // cap for NXDOMAIN/NODATA (SOA minimum if lower)
  std::size_t cache_entries = 100000;      // least recently used entries are dropped
  // The clock cache expiry is measured with; empty: steady_clock::now. Tests
  // set one to expire entries without sleeping. (Initialised so that
  // ResolverOptions{{...}} stays free of -Wmissing-field-initializers.)
  std::function<std::chrono::steady_clock::time_point()> clock = nullptr;
};

struct ResolverStats {
  std::uint64_t queries = 0;  // query() calls
  std::uint64_t sent = 0;     // lookups that went to a server
  std::uint64_t cache_hits = 0;
  std::uint64_t coalesced = 0;  // joined a lookup already in flight
  std::uint64_t timeouts = 0;   // lookups nothing answered (cancelled callers not counted)
  std::uint64_t failures = 0;   // servfail, refused, error (malformed names included)
  std::uint64_t cancelled = 0;  // callers cancelled while their lookup went on
};

class Resolver {
 public:
  // Throws std::invalid_argument for a malformed server entry and
  // std::runtime_error when c-ares cannot start.
  Resolver(boost::asio::any_io_executor ex, ResolverOptions options);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Never throws; failures are in Answer::status. Supports per-operation
  // cancellation: a cancelled caller gets Status::timeout at once, while the
  // lookup itself goes on for the others waiting on it and for the cache.
  // A cached answer has from_cache set and ttl the seconds it has left.
  // Queries still waiting when the Resolver is destroyed get Status::error.
  boost::asio::awaitable<Answer> query(std::string_view name, RecordType type);

  const ResolverStats& stats() const;
  void clear_cache();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mailsan::dns
