// `mailsanctl quarantine ...` (see quarantine_command.hpp).
#include "mailsanctl/quarantine_command.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "contentfilter/quarantine/quarantine.hpp"
#include "contentfilter/quarantine/quarantine_record.hpp"
#include "contentfilter/quarantine/quarantine_store.hpp"
#include "mailsanctl/redis_sync.hpp"
#include "mailsanctl/reinject.hpp"
#include "mailsanctl/run_sync.hpp"

namespace mailsan::ctl {
namespace {

using filter::QuarantineRecord;

// Headers shown by `show` stop here even without the empty line.
constexpr std::size_t kMaxHeaderBytes = 256 * 1024;
// Recipients named on one `list` line; the rest are counted.
constexpr std::size_t kListedRecipients = 5;

// mailsanctl's way to the quarantine index: its blocking connection,
// connected on first use. A failed connect fails every command with the
// same reason, as the index is then out of reach for this run.
class SyncIndexConnection : public filter::QuarantineIndexConnection {
 public:
  explicit SyncIndexConnection(redis::Options settings) : settings_(std::move(settings)) {}
  // Connects unless connected; false with the reason when Redis is out of
  // reach.
  bool connect(std::string* error) {
    if (!redis_ && connect_error_.empty()) {
      redis_ = SyncRedis::connect(settings_, &connect_error_);
      if (!redis_ && connect_error_.empty()) connect_error_ = "cannot connect";
    }
    if (!redis_) *error = connect_error_;
    return redis_ != nullptr;
  }
  boost::asio::awaitable<filter::IndexReply> command(std::vector<std::string> argv) override {
    filter::IndexReply out;
    if (!connect(&out.error)) co_return out;
    std::vector<std::string_view> views(argv.begin(), argv.end());
    out.reply = redis_->command(std::span<const std::string_view>(views));
    if (!out.reply) out.error = redis_->error();
    co_return out;
  }

 private:
  redis::Options settings_;
  std::unique_ptr<SyncRedis> redis_;
  std::string connect_error_;
};

// What each subcommand works with.
struct Context {
  CommandContext& ctx;
  filter::FilterConfig config;
  std::optional<SyncIndexConnection> index;
  std::optional<filter::Quarantine> quarantine;
  std::string host;  // this MX, as records name it

  const filter::QuarantineStore& store() const { return quarantine->store(); }
  filter::QuarantineStore& store() { return quarantine->store(); }
  std::ostream& warn() const { return ctx.err << "mailsanctl: warning: "; }
  std::ostream& error() const { return ctx.err << "mailsanctl: "; }
};

using filter::IndexLookup;

// The index, newest first; nullopt with *error on a Redis failure. Members
// that are not ids are skipped with a warning: the index is shared, and a
// bad member must not become a path.
std::optional<std::vector<filter::QuarantineIndexEntry>> read_index(Context& q,
                                                                    std::string* error) {
  filter::QuarantineIndexListing listing = run_sync(q.quarantine->list_index());
  for (const auto& id : listing.skipped)
    q.warn() << "skipping '" << printable(id) << "' in " << q.quarantine->index_key()
             << ": not a quarantine id\n";
  if (!listing.entries) *error = listing.error;
  return std::move(listing.entries);
}

IndexLookup read_indexed_record(Context& q, std::string_view id, QuarantineRecord* record,
                                std::string* error) {
  return run_sync(q.quarantine->indexed_record(std::string(id), record, error));
}

std::optional<long long> remove_from_index(Context& q, std::string_view id, std::string* error) {
  return run_sync(q.quarantine->remove_from_index(std::string(id), error));
}

// ---- list ----------------------------------------------------------------

struct ListedEntry {
  std::string id;
  std::int64_t time = 0;
  std::optional<QuarantineRecord> record;  // nullopt: indexed, but its record is gone or bad
};

std::string envelope_summary(const QuarantineRecord& r) {
  std::string out = "<" + printable(r.sender) + "> ";
  for (std::size_t i = 0; i < r.recipients.size() && i < kListedRecipients; ++i) {
    if (i > 0) out += ',';
    out += printable(r.recipients[i].address);
  }
  if (r.recipients.size() > kListedRecipients)
    out += ",(+" + std::to_string(r.recipients.size() - kListedRecipients) + ")";
  return out;
}

void print_list_line(std::ostream& out, const ListedEntry& e) {
  out << e.id << "  " << iso_time(e.time) << "  ";
  if (!e.record) {
    out << "?  (no readable record in Redis)\n";
    return;
  }
  const QuarantineRecord& r = *e.record;
  out << printable(r.hostname) << "  " << envelope_summary(r) << "  " << printable(r.reason)
      << "\n";
}

// An array of records as encode_quarantine_record() writes them; entries
// without a readable record are named on stderr instead.
void print_list_json(Context& q, const std::vector<ListedEntry>& entries) {
  nlohmann::json array = nlohmann::json::array();
  for (const auto& e : entries) {
    if (e.record)
      array.push_back(nlohmann::json::parse(filter::encode_quarantine_record(*e.record)));
    else
      q.warn() << e.id << " is in the Redis index without a readable record\n";
  }
  q.ctx.out << array.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

int list(Context& q, bool json) {
  std::vector<ListedEntry> entries;
  std::set<std::string> seen;
  std::string redis_error;
  std::optional<std::vector<filter::QuarantineIndexEntry>> index;
  if (q.index->connect(&redis_error)) index = read_index(q, &redis_error);
  bool lookup_failed = false;
  if (index) {
    for (auto& ie : *index) {
      QuarantineRecord record;
      IndexLookup found = read_indexed_record(q, ie.id, &record, &redis_error);
      if (found == IndexLookup::failed) {
        lookup_failed = true;
        break;
      }
      seen.insert(ie.id);
      ListedEntry e{ie.id, ie.time, std::nullopt};
      if (found == IndexLookup::found) {
        e.time = record.time;
        e.record = std::move(record);
      }
      entries.push_back(std::move(e));
    }
  }
  if (lookup_failed) {
    // Half an index is worse than none: fall back as if Redis were down.
    index.reset();
    entries.clear();
  }
  if (!index) {
    seen.clear();
    q.warn() << "Redis at " << q.config.redis << ": " << redis_error << "; listing only "
             << q.store().dir().string() << " on this host\n";
  }

  // Entries of this host that the index does not have: quarantined while
  // Redis was down, or the only ones when it is down now.
  std::error_code ec;
  if (!std::filesystem::is_directory(q.store().dir(), ec) && !index)
    q.warn() << q.store().dir().string() << " is not a readable directory\n";
  std::size_t unindexed = 0;
  for (auto& record : q.store().list()) {
    if (seen.count(record.id)) continue;
    ++unindexed;
    std::string id = record.id;
    std::int64_t time = record.time;
    entries.push_back({std::move(id), time, std::move(record)});
  }
  if (index && unindexed > 0)
    q.warn() << unindexed << " entr" << (unindexed == 1 ? "y" : "ies") << " in "
             << q.store().dir().string() << " missing from the Redis index\n";

  std::stable_sort(entries.begin(), entries.end(), [](const ListedEntry& a, const ListedEntry& b) {
    if (a.time != b.time) return a.time > b.time;
    return a.id > b.id;
  });
  if (json) {
    print_list_json(q, entries);
  } else {
    for (const auto& e : entries) print_list_line(q.ctx.out, e);
  }
  return kExitOk;
}

// ---- show ----------------------------------------------------------------

std::string with_parameters(const std::string& address, const std::vector<std::string>& params) {
  std::string out = "<" + printable(address) + ">";
  for (const auto& p : params) out += " " + printable(p);
  return out;
}

void print_record(std::ostream& out, const QuarantineRecord& r) {
  out << "id:         " << r.id << "\n"
      << "time:       " << iso_time(r.time) << "\n"
      << "host:       " << printable(r.hostname) << "\n"
      << "reason:     " << printable(r.reason) << "\n"
      << "size:       " << r.size << "\n"
      << "helo:       " << printable(r.helo) << "\n"
      << "sender:     " << with_parameters(r.sender, r.sender_parameters) << "\n";
  for (const auto& rcpt : r.recipients)
    out << "recipient:  " << with_parameters(rcpt.address, rcpt.parameters) << "\n";
  if (!r.xforward.empty()) {
    out << "xforward:  ";
    for (const auto& [name, value] : r.xforward) out << " " << printable(name + "=" + value);
    out << "\n";
  }
  out << "report:\n";
  std::string_view report = r.report;
  while (!report.empty()) {
    auto nl = report.find('\n');
    std::string_view line = report.substr(0, nl);
    if (line.ends_with('\r')) line.remove_suffix(1);
    out << "  " << printable(line) << "\n";
    if (nl == std::string_view::npos) break;
    report.remove_prefix(nl + 1);
  }
}

// The message's header section, up to the empty line, as lines.
bool print_headers(std::ostream& out, const std::filesystem::path& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot open " + path.string();
    return false;
  }
  std::string line;
  std::size_t bytes = 0;
  while (bytes < kMaxHeaderBytes && std::getline(in, line)) {
    bytes += line.size() + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;
    // Folded lines start with a tab; printable() would turn it into '?'.
    std::replace(line.begin(), line.end(), '\t', ' ');
    out << printable(line) << "\n";
  }
  return true;
}

// Says why an entry is not in this host's directory: another MX holds it
// (from the Redis index), its record is damaged, or there is none.
void explain_missing(Context& q, std::string_view id, const char* verb) {
  std::string error;
  QuarantineRecord record;
  IndexLookup found = read_indexed_record(q, id, &record, &error);
  if (found == IndexLookup::found && record.hostname != q.host) {
    q.error() << "quarantine entry " << id << " is held by " << printable(record.hostname)
              << ", not by this host (" << printable(q.host) << "): " << verb << " it there\n";
    return;
  }
  std::error_code ec;
  if (std::filesystem::exists(q.store().dir() / std::string(id), ec)) {
    q.error() << "quarantine entry " << id << " in " << q.store().dir().string()
              << " has no readable record.json\n";
    return;
  }
  q.error() << "no quarantine entry " << id << " in " << q.store().dir().string();
  if (found == IndexLookup::failed)
    q.ctx.err << " (and Redis at " << q.config.redis << ": " << error << ")";
  if (found == IndexLookup::found || found == IndexLookup::unreadable)
    q.ctx.err << " (the Redis index still lists it; 'delete' clears that)";
  q.ctx.err << "\n";
}

int show(Context& q, const std::string& id) {
  auto record = q.store().get(id);
  if (!record) {
    explain_missing(q, id, "show");
    return kExitFailed;
  }
  print_record(q.ctx.out, *record);
  const auto path = q.store().message_path(id);
  q.ctx.out << "message:    " << path.string() << "\n\n";
  std::string error;
  if (!print_headers(q.ctx.out, path, &error)) {
    q.error() << error << "\n";
    return kExitFailed;
  }
  return kExitOk;
}

// ---- release and delete ----------------------------------------------------

// An exclusive flock on DIR/ID for the time of a release or delete, so that
// two operators releasing one entry at once cannot deliver it twice. The
// lock goes with the descriptor.
class EntryLock {
 public:
  enum class Status { locked, missing, busy, failed };

  EntryLock(const std::filesystem::path& entry, std::string* error) {
    fd_ = ::open(entry.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd_ < 0) {
      status_ = errno == ENOENT ? Status::missing : Status::failed;
      *error = std::strerror(errno);
      return;
    }
    while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EINTR) continue;
      status_ = errno == EWOULDBLOCK ? Status::busy : Status::failed;
      *error = std::strerror(errno);
      return;
    }
    status_ = Status::locked;
  }
  ~EntryLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  EntryLock(const EntryLock&) = delete;
  EntryLock& operator=(const EntryLock&) = delete;
  Status status() const { return status_; }

 private:
  int fd_ = -1;
  Status status_ = Status::failed;
};

// Takes the lock on entry `id`; false (after saying why) when the entry is
// busy or the lock cannot be taken. A missing entry is the caller's
// question.
bool lock_entry(Context& q, const std::string& id, std::optional<EntryLock>& lock) {
  std::string error;
  lock.emplace(q.store().dir() / id, &error);
  switch (lock->status()) {
    case EntryLock::Status::locked:
    case EntryLock::Status::missing:
      return true;
    case EntryLock::Status::busy:
      q.error() << "quarantine entry " << id
                << " is being released or deleted by another mailsanctl\n";
      return false;
    case EntryLock::Status::failed:
      break;
  }
  q.error() << "cannot lock " << (q.store().dir() / id).string() << ": " << error << "\n";
  return false;
}

// After the files are gone: the index entries too. A failure is reported;
// the caller decides what it means for the exit code.
bool forget_in_index(Context& q, std::string_view id) {
  std::string error;
  if (remove_from_index(q, id, &error)) return true;
  q.warn() << "the Redis index still lists " << id << " (Redis at " << q.config.redis << ": "
           << error << "); run 'mailsanctl quarantine delete " << id << "' once Redis is back\n";
  return false;
}

int release(Context& q, const std::string& id) {
  std::optional<EntryLock> lock;
  if (!lock_entry(q, id, lock)) return kExitFailed;
  // Read under the lock: a release that finished meanwhile has removed it.
  auto record = q.store().get(id);
  if (!record) {
    explain_missing(q, id, "release");
    return kExitFailed;
  }
  ReinjectSettings settings;
  settings.next_hop = q.config.next_hop;
  settings.helo_name = q.host;
  settings.timeout = q.config.next_hop_timeout;
  ReinjectOutcome outcome = reinject(*record, q.store().message_path(id), settings);
  if (!outcome.delivered) {
    q.error() << "release " << id << " failed: " << outcome.error << "; the entry is kept\n";
    return kExitFailed;
  }
  q.ctx.out << "released " << id << ": " << outcome.reply << "\n";
  if (auto ec = q.store().remove(id)) {
    // Delivered, so a second release would deliver it twice: say so loudly.
    q.error() << "the message was delivered, but removing " << id << " from "
              << q.store().dir().string() << " failed: " << ec.message()
              << "; delete it, do not release it again\n";
    return kExitFailed;
  }
  // The release itself is done and cannot be repeated; a stale index entry
  // is only a warning (delete clears it later).
  forget_in_index(q, id);
  return kExitOk;
}

int remove(Context& q, const std::string& id) {
  std::optional<EntryLock> lock;
  if (!lock_entry(q, id, lock)) return kExitFailed;
  std::error_code ec = q.store().remove(id);
  const bool removed_here = !ec;
  if (ec && ec != std::errc::no_such_file_or_directory) {
    q.error() << "cannot delete " << id << " from " << q.store().dir().string() << ": "
              << ec.message() << "\n";
    return kExitFailed;
  }

  std::string error;
  if (!q.index->connect(&error)) {
    if (removed_here) {
      q.ctx.out << "deleted " << id << "\n";
      forget_in_index(q, id);
      return kExitFailed;
    }
    q.error() << "no quarantine entry " << id << " in " << q.store().dir().string()
              << " (and Redis at " << q.config.redis << ": " << error << ")\n";
    return kExitFailed;
  }
  if (!removed_here) {
    // Only an index entry: drop it if it is this host's (released or
    // deleted while Redis was down), never another MX's, whose files would
    // then be out of everybody's sight.
    QuarantineRecord record;
    IndexLookup found = read_indexed_record(q, id, &record, &error);
    if (found == IndexLookup::failed) {
      q.error() << "Redis at " << q.config.redis << ": " << error << "\n";
      return kExitFailed;
    }
    if (found == IndexLookup::found && record.hostname != q.host) {
      q.error() << "quarantine entry " << id << " is held by " << printable(record.hostname)
                << ", not by this host (" << printable(q.host) << "): delete it there\n";
      return kExitFailed;
    }
  }
  auto removed = remove_from_index(q, id, &error);
  if (!removed) {
    if (removed_here) q.ctx.out << "deleted " << id << "\n";
    q.error() << "Redis at " << q.config.redis << ": " << error << "\n";
    return kExitFailed;
  }
  if (!removed_here && *removed == 0) {
    q.error() << "no quarantine entry " << id << " in " << q.store().dir().string()
              << " or in the Redis index\n";
    return kExitFailed;
  }
  q.ctx.out << "deleted " << id << (removed_here ? "" : " (index entry only)") << "\n";
  return kExitOk;
}

int usage(const CommandContext& ctx, int code) {
  (code == kExitOk ? ctx.out : ctx.err)
      << "usage: mailsanctl [-c FILE] " << kQuarantineUsage << "\n";
  return code;
}

}  // namespace

int run_quarantine_command(CommandContext& ctx) {
  const auto& args = ctx.args;
  if (args.empty()) return usage(ctx, kExitUsage);
  const std::string& sub = args[0];
  if (sub == "-h" || sub == "--help" || sub == "help") return usage(ctx, kExitOk);

  bool json = false;
  std::string id;
  if (sub == "list") {
    for (std::size_t i = 1; i < args.size(); ++i) {
      if (args[i] != "--json") {
        ctx.err << "mailsanctl: quarantine list: unknown argument '" << printable(args[i]) << "'\n";
        return usage(ctx, kExitUsage);
      }
      json = true;
    }
  } else if (sub == "show" || sub == "release" || sub == "delete") {
    if (args.size() != 2) {
      ctx.err << "mailsanctl: quarantine " << sub << " takes one quarantine id\n";
      return usage(ctx, kExitUsage);
    }
    id = args[1];
    if (!filter::valid_quarantine_id(id)) {
      ctx.err << "mailsanctl: quarantine " << sub << ": '" << printable(id)
              << "' is not a quarantine id (YYYYMMDDTHHMMSS- and 16 hex digits, as "
                 "'quarantine list' shows)\n";
      return kExitUsage;
    }
  } else {
    ctx.err << "mailsanctl: unknown quarantine command '" << printable(sub) << "'\n";
    return usage(ctx, kExitUsage);
  }

  Context q{ctx, {}, std::nullopt, std::nullopt, {}};
  if (!load_filter_config(ctx, q.config)) return kExitUsage;
  q.index.emplace(redis_settings(q.config));
  q.quarantine.emplace(q.config.quarantine_dir, q.config.redis_prefix, *q.index);
  q.host = filter::effective_hostname(q.config);

  if (sub == "list") return list(q, json);
  if (sub == "show") return show(q, id);
  if (sub == "release") return release(q, id);
  return remove(q, id);
}

}  // namespace mailsan::ctl
