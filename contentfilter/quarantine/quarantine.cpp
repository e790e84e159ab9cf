// The quarantine's files and index together (see quarantine.hpp).
#include "contentfilter/quarantine/quarantine.hpp"

#include <cstdlib>

#include "common/log/log.hpp"
#include "common/redis/client.hpp"

namespace mailsan::filter {
namespace asio = boost::asio;

asio::awaitable<IndexReply> RedisClientIndexConnection::command(std::vector<std::string> argv) {
  std::vector<std::string_view> views(argv.begin(), argv.end());
  redis::Result r = co_await client_.command(std::span<const std::string_view>(views));
  IndexReply out;
  if (r.ec)
    out.error = r.ec.message();
  else
    out.reply = std::move(r.reply);
  co_return out;
}

std::string quarantine_index_key(std::string_view prefix) {
  std::string key(prefix);
  key += "quarantine";
  return key;
}

std::string quarantine_record_key(std::string_view prefix, std::string_view id) {
  std::string key(prefix);
  key += "quarantine:";
  key += id;
  return key;
}

namespace {

// "ZADD key: ERR ..." for an error or unexpected reply, else the transport's
// reason.
std::string failure(const IndexReply& r, std::string_view verb, std::string_view key) {
  if (!r.reply) return r.error;
  return std::string(verb) + " " + std::string(key) + ": " +
         (r.reply->is_error() ? r.reply->str : std::string("unexpected reply"));
}

}  // namespace

Quarantine::Quarantine(std::filesystem::path dir, std::string redis_prefix,
                       QuarantineIndexConnection& index)
    : store_(std::move(dir)), prefix_(std::move(redis_prefix)), index_(index) {}

asio::awaitable<QuarantinePutResult> Quarantine::put(QuarantineRecord record,
                                                     const MessageSpool& message) {
  QuarantinePutResult out;
  out.files = store_.put(record, message);
  if (out.files) co_return out;
  out.indexed = co_await add_to_index(record, &out.index_error);
  co_return out;
}

asio::awaitable<void> Quarantine::withdraw(std::string id) {
  if (std::error_code ec = store_.remove(id))
    log::warning("quarantine_withdraw_failed").kv("id", id).kv("error", ec.message());
  std::string error;
  if (!co_await remove_from_index(id, &error))
    log::warning("quarantine_index_failed").kv("id", id).kv("error", error);
}

asio::awaitable<bool> Quarantine::add_to_index(const QuarantineRecord& record, std::string* error) {
  const std::string index = index_key();
  const std::string key = record_key(record.id);
  std::vector<std::string> z_argv{"ZADD", index, std::to_string(record.time), record.id};
  IndexReply z = co_await index_.command(std::move(z_argv));
  if (!z.reply || z.reply->is_error()) {
    *error = failure(z, "ZADD", index);
    co_return false;
  }
  std::vector<std::string> s_argv{"SET", key, encode_quarantine_record(record)};
  IndexReply s = co_await index_.command(std::move(s_argv));
  if (!s.reply || s.reply->is_error()) {
    *error = failure(s, "SET", key);
    co_return false;
  }
  co_return true;
}

asio::awaitable<QuarantineIndexListing> Quarantine::list_index() {
  QuarantineIndexListing out;
  const std::string key = index_key();
  std::vector<std::string> r_argv{"ZREVRANGE", key, "0", "-1", "WITHSCORES"};
  IndexReply r = co_await index_.command(std::move(r_argv));
  if (!r.reply || r.reply->type != redis::Reply::Type::array || r.reply->elements.size() % 2 != 0) {
    out.error = failure(r, "ZREVRANGE", key);
    co_return out;
  }
  std::vector<QuarantineIndexEntry> entries;
  const auto& elements = r.reply->elements;
  for (std::size_t i = 0; i + 1 < elements.size(); i += 2) {
    const std::string& id = elements[i].str;
    if (!valid_quarantine_id(id)) {
      out.skipped.push_back(id);
      continue;
    }
    const double score = std::strtod(elements[i + 1].str.c_str(), nullptr);
    entries.push_back({id, static_cast<std::int64_t>(score)});
  }
  out.entries = std::move(entries);
  co_return out;
}

asio::awaitable<IndexLookup> Quarantine::indexed_record(std::string id, QuarantineRecord* record,
                                                        std::string* error) {
  if (!valid_quarantine_id(id)) co_return IndexLookup::missing;
  const std::string key = record_key(id);
  std::vector<std::string> r_argv{"GET", key};
  IndexReply r = co_await index_.command(std::move(r_argv));
  if (r.reply && r.reply->is_nil()) co_return IndexLookup::missing;
  if (!r.reply || r.reply->type != redis::Reply::Type::string) {
    *error = failure(r, "GET", key);
    co_return IndexLookup::failed;
  }
  auto decoded = decode_quarantine_record(r.reply->str);
  if (!decoded || decoded->id != id) co_return IndexLookup::unreadable;
  *record = std::move(*decoded);
  co_return IndexLookup::found;
}

asio::awaitable<std::optional<long long>> Quarantine::remove_from_index(std::string id,
                                                                        std::string* error) {
  if (!valid_quarantine_id(id)) {
    *error = "not a quarantine id";
    co_return std::nullopt;
  }
  const std::string index = index_key();
  const std::string key = record_key(id);
  std::vector<std::string> zrem_argv{"ZREM", index, id};
  IndexReply zrem = co_await index_.command(std::move(zrem_argv));
  if (!zrem.reply || zrem.reply->type != redis::Reply::Type::integer) {
    *error = zrem.reply ? "ZREM " + index + ": " + zrem.reply->str : zrem.error;
    co_return std::nullopt;
  }
  std::vector<std::string> del_argv{"DEL", key};
  IndexReply del = co_await index_.command(std::move(del_argv));
  if (!del.reply || del.reply->type != redis::Reply::Type::integer) {
    *error = del.reply ? "DEL " + key + ": " + del.reply->str : del.error;
    co_return std::nullopt;
  }
  co_return zrem.reply->integer + del.reply->integer;
}

}  // namespace mailsan::filter
