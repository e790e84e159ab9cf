// The quarantine, whole (SPEC §3, §4): the files on this MX's disk
// (QuarantineStore) and their index in the Redis shared by every MX, so that
// `mailsanctl quarantine list` on any MX shows what every MX holds:
//   PREFIX "quarantine"     sorted set, score = record time, member = id
//   PREFIX "quarantine:" ID string, the record's JSON
// The message itself stays in the quarantine_dir of the MX named in the
// record. mailsan-filter puts entries (and withdraws one the next hop did not
// take); mailsanctl lists, shows, releases and deletes them. Both go through
// this type, so the keys, the record encoding and the order of the steps are
// written once.
//
// Redis is reached through a QuarantineIndexConnection: the filter's adapter
// wraps its async redis::Client (RedisClientIndexConnection, below);
// mailsanctl's wraps its blocking connection and runs these coroutines on an
// io_context of its own.
//
// The keys carry no hash tag: each command touches one key, so they work
// unchanged on Redis Cluster. Ids are checked with valid_quarantine_id()
// before they become keys or paths; a key never holds raw client input.
//
// SECURITY: the index is shared: a member that is not an id is skipped (and
// reported), never used as a path, and a record is accepted only when it
// decodes and names the id it is stored under.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/redis/reply.hpp"
#include "contentfilter/quarantine/quarantine_record.hpp"
#include "contentfilter/quarantine/quarantine_store.hpp"
#include "contentfilter/spool/message_spool.hpp"

namespace mailsan::redis {
class Client;
}

namespace mailsan::filter {

// One answer from the index's Redis: a reply (an error reply is a reply), or
// why there is none.
struct IndexReply {
  std::optional<redis::Reply> reply;
  std::string error;  // transport failure, when there is no reply
};

// How the quarantine sends one command to Redis.
class QuarantineIndexConnection {
 public:
  virtual ~QuarantineIndexConnection() = default;
  virtual boost::asio::awaitable<IndexReply> command(std::vector<std::string> argv) = 0;
};

// The daemons' adapter: the shared async client.
class RedisClientIndexConnection : public QuarantineIndexConnection {
 public:
  explicit RedisClientIndexConnection(redis::Client& client) : client_(client) {}
  boost::asio::awaitable<IndexReply> command(std::vector<std::string> argv) override;

 private:
  redis::Client& client_;
};

std::string quarantine_index_key(std::string_view prefix);
std::string quarantine_record_key(std::string_view prefix, std::string_view id);

struct QuarantineIndexEntry {
  std::string id;
  std::int64_t time = 0;  // the sorted set's score
};

struct QuarantineIndexListing {
  // Newest first; nullopt when Redis failed (then `error` says why).
  std::optional<std::vector<QuarantineIndexEntry>> entries;
  std::vector<std::string> skipped;  // members that are not quarantine ids
  std::string error;
};

enum class IndexLookup { found, missing, unreadable, failed };

struct QuarantinePutResult {
  // The files: when set, nothing was kept and the message must not go on.
  std::error_code files;
  // The index: a failure leaves the entry listed on this host only.
  bool indexed = false;
  std::string index_error;
};

class Quarantine {
 public:
  Quarantine(std::filesystem::path dir, std::string redis_prefix, QuarantineIndexConnection& index);

  QuarantineStore& store() { return store_; }
  const QuarantineStore& store() const { return store_; }
  // The prefix may change on a reload; the directory only with a restart.
  void set_redis_prefix(std::string prefix) { prefix_ = std::move(prefix); }
  std::string index_key() const { return quarantine_index_key(prefix_); }
  std::string record_key(std::string_view id) const { return quarantine_record_key(prefix_, id); }

  // Files first, whole or not at all, then the index entry.
  boost::asio::awaitable<QuarantinePutResult> put(QuarantineRecord record,
                                                  const MessageSpool& message);
  // Undoes put() for a message that will be retried (the next hop did not
  // take it): files and index entry go, so the retry does not leave a second
  // copy. Failures are only logged: a stale entry is harmless.
  boost::asio::awaitable<void> withdraw(std::string id);

  // The index, newest first.
  boost::asio::awaitable<QuarantineIndexListing> list_index();
  // The record stored under the id's record key; *error on failed.
  boost::asio::awaitable<IndexLookup> indexed_record(std::string id, QuarantineRecord* record,
                                                     std::string* error);
  // ZADD and SET; false with *error on a failure.
  boost::asio::awaitable<bool> add_to_index(const QuarantineRecord& record, std::string* error);
  // ZREM and DEL: the number of members and keys removed, or nullopt with
  // *error on a failure.
  boost::asio::awaitable<std::optional<long long>> remove_from_index(std::string id,
                                                                     std::string* error);

 private:
  QuarantineStore store_;
  std::string prefix_;
  QuarantineIndexConnection& index_;
};

}  // namespace mailsan::filter
