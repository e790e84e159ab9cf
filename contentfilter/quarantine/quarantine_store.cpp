// The on-disk quarantine (see quarantine_store.hpp).
#include "contentfilter/quarantine/quarantine_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>

#include "common/util/fd_io.hpp"

namespace mailsan::filter {
namespace fs = std::filesystem;
namespace {

using util::last_errno;
using util::write_all;

constexpr const char* kMessageFile = "message.eml";
constexpr const char* kRecordFile = "record.json";
constexpr std::string_view kTmpSuffix = ".tmp";
// A record is envelope and report text; anything this large is not ours.
constexpr std::size_t kMaxRecordBytes = 16 * 1024 * 1024;

// Owns one descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // close() reports the late write errors of some file systems (NFS).
  std::error_code close() {
    int fd = std::exchange(fd_, -1);
    if (fd >= 0 && ::close(fd) != 0) return last_errno();
    return {};
  }

 private:
  int fd_;
};

std::error_code fsync_fd(int fd) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return last_errno();
  }
  return {};
}

std::error_code fsync_dir(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return last_errno();
  if (auto ec = fsync_fd(fd.get())) return ec;
  return fd.close();
}

// Creates `path` (it must not exist), lets fill write it, fsyncs and closes.
template <class Fill>
std::error_code write_new_file(const fs::path& path, Fill&& fill) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) return last_errno();
  if (auto ec = fill(fd.get())) return ec;
  if (auto ec = fsync_fd(fd.get())) return ec;
  return fd.close();
}

std::error_code copy_spool(int fd, const MessageSpool& message) {
  std::error_code write_error;
  auto read_error = message.for_each_chunk(64 * 1024, [&](std::string_view piece) {
    write_error = write_all(fd, piece);
    return !write_error;
  });
  return write_error ? write_error : read_error;
}

// The whole file, or nullopt when it cannot be read or is too large.
std::optional<std::string> read_small_file(const fs::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) return std::nullopt;
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > kMaxRecordBytes) return std::nullopt;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

QuarantineStore::QuarantineStore(fs::path dir) : dir_(std::move(dir)) {}

std::error_code QuarantineStore::put(const QuarantineRecord& record, const MessageSpool& message) {
  if (!valid_quarantine_id(record.id)) return std::make_error_code(std::errc::invalid_argument);
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return ec;
  const fs::path final_dir = dir_ / record.id;
  const fs::path tmp_dir = dir_ / (record.id + std::string(kTmpSuffix));
  if (fs::exists(fs::symlink_status(final_dir, ec)))
    return std::make_error_code(std::errc::file_exists);
  // An ID.tmp is a put() or remove() that a crash cut short.
  fs::remove_all(tmp_dir, ec);
  if (ec) return ec;
  if (::mkdir(tmp_dir.c_str(), 0700) != 0) return last_errno();

  auto write_entry = [&]() -> std::error_code {
    const std::string json = encode_quarantine_record(record);
    if (auto e =
            write_new_file(tmp_dir / kMessageFile, [&](int fd) { return copy_spool(fd, message); }))
      return e;
    if (auto e = write_new_file(tmp_dir / kRecordFile, [&](int fd) { return write_all(fd, json); }))
      return e;
    if (auto e = fsync_dir(tmp_dir)) return e;
    // rename() onto an existing directory succeeds when that one is empty;
    // the check above makes that a race with another put() of the same
    // random id, which does not happen.
    if (::rename(tmp_dir.c_str(), final_dir.c_str()) != 0) return last_errno();
    return fsync_dir(dir_);
  };
  ec = write_entry();
  if (ec) {
    std::error_code ignored;
    fs::remove_all(tmp_dir, ignored);
  }
  return ec;
}

std::optional<QuarantineRecord> QuarantineStore::get(std::string_view id) const {
  if (!valid_quarantine_id(id)) return std::nullopt;
  auto text = read_small_file(dir_ / std::string(id) / kRecordFile);
  if (!text) return std::nullopt;
  auto record = decode_quarantine_record(*text);
  // A record copied into another entry's directory is not that entry.
  if (!record || record->id != id) return std::nullopt;
  return record;
}

fs::path QuarantineStore::message_path(std::string_view id) const {
  if (!valid_quarantine_id(id)) return {};
  return dir_ / std::string(id) / kMessageFile;
}

std::error_code QuarantineStore::remove(std::string_view id) {
  if (!valid_quarantine_id(id)) return std::make_error_code(std::errc::invalid_argument);
  const fs::path entry = dir_ / std::string(id);
  const fs::path tmp_dir = dir_ / (std::string(id) + std::string(kTmpSuffix));
  std::error_code ec;
  fs::remove_all(tmp_dir, ec);
  if (ec) return ec;
  // Out of sight first, so that a crash half way through the deletion
  // leaves no half entry that list() would show.
  if (::rename(entry.c_str(), tmp_dir.c_str()) != 0) return last_errno();
  fs::remove_all(tmp_dir, ec);
  if (ec) return ec;
  return fsync_dir(dir_);
}

std::vector<QuarantineRecord> QuarantineStore::list() const {
  std::vector<QuarantineRecord> out;
  std::error_code ec;
  fs::directory_iterator it(dir_, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // ID.tmp and anything else that is not an id fail here.
    if (!valid_quarantine_id(name)) continue;
    if (auto record = get(name)) out.push_back(std::move(*record));
  }
  std::sort(out.begin(), out.end(), [](const QuarantineRecord& a, const QuarantineRecord& b) {
    if (a.time != b.time) return a.time > b.time;
    return a.id > b.id;
  });
  return out;
}

}  // namespace mailsan::filter
