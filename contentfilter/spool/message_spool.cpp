// The message spool (see message_spool.hpp). Called by the proxy session
// while it receives DATA, by the scanners that read the message back, by the
// downstream replay, and by the quarantine store that copies it to disk.
//
// SECURITY: the bytes are the untrusted message; they are only stored and
// handed back, never interpreted here. The temporary file is created
// unlinked (O_TMPFILE, or mkstemp followed at once by unlink) with mode 0600,
// so no other local user can open it by name and nothing is left behind when
// the process dies.
#include "contentfilter/spool/message_spool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>

#include "common/util/fd_io.hpp"

namespace mailsan::filter {
namespace {

using util::last_errno;
using util::write_all;

// An unlinked file in dir, or -1 with errno set. O_TMPFILE never gives the
// file a name; file systems without it (EOPNOTSUPP, EISDIR on old kernels,
// EINVAL) get a named file that is unlinked before anyone else can use it.
int open_unlinked_file(const std::filesystem::path& dir) {
#ifdef O_TMPFILE
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return -1;
#endif
  std::string name = (dir / "mailsan-spool.XXXXXX").string();
  // mkstemp creates the file 0600 already; O_CLOEXEC keeps it out of any
  // child process.
  int named = ::mkostemp(name.data(), O_CLOEXEC);
  if (named < 0) return -1;
  if (::unlink(name.c_str()) != 0) {
    int saved = errno;
    ::close(named);
    errno = saved;
    return -1;
  }
  return named;
}

}  // namespace

MessageSpool::MessageSpool(std::size_t memory_limit, std::filesystem::path temp_dir)
    : memory_limit_(memory_limit), temp_dir_(std::move(temp_dir)) {}

MessageSpool::~MessageSpool() {
  reset();
}

std::error_code MessageSpool::append(std::string_view bytes) {
  if (error_) return error_;
  if (bytes.empty()) return {};
  if (fd_ < 0 && memory_.size() + bytes.size() <= memory_limit_) {
    memory_.append(bytes);
    size_ += bytes.size();
    return {};
  }
  if (fd_ < 0) {
    // Past the limit: everything held so far moves to the file, which from
    // now on holds the whole message.
    int fd = open_unlinked_file(temp_dir_);
    if (fd < 0) return error_ = last_errno();
    if (auto ec = write_all(fd, memory_)) {
      ::close(fd);
      return error_ = ec;
    }
    fd_ = fd;
    // Give the memory back: a large message must not cost its limit twice.
    std::string().swap(memory_);
  }
  if (auto ec = write_all(fd_, bytes)) return error_ = ec;
  size_ += bytes.size();
  return {};
}

std::size_t MessageSpool::read(std::uint64_t offset, char* out, std::size_t length) const {
  if (offset >= size_ || length == 0) return 0;
  if (length > size_ - offset) length = static_cast<std::size_t>(size_ - offset);
  if (fd_ < 0) {
    memory_.copy(out, length, static_cast<std::size_t>(offset));
    return length;
  }
  std::size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd_, out + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

std::error_code MessageSpool::for_each_chunk(
    std::size_t chunk, const std::function<bool(std::string_view)>& visit) const {
  if (chunk == 0) return std::make_error_code(std::errc::invalid_argument);
  if (fd_ < 0) {
    std::string_view rest = memory_;
    while (!rest.empty()) {
      std::string_view piece = rest.substr(0, chunk);
      rest.remove_prefix(piece.size());
      if (!visit(piece)) break;
    }
    return {};
  }
  std::string buffer(std::min(chunk, size_), '\0');
  std::uint64_t offset = 0;
  while (offset < size_) {
    std::size_t want = std::min<std::uint64_t>(buffer.size(), size_ - offset);
    ssize_t n = ::pread(fd_, buffer.data(), want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_errno();
    }
    // The file is shorter than what was appended: someone truncated it, or
    // the disk lost it. Either way the message is not all there.
    if (n == 0) return std::make_error_code(std::errc::io_error);
    offset += static_cast<std::uint64_t>(n);
    if (!visit(std::string_view(buffer.data(), static_cast<std::size_t>(n)))) break;
  }
  return {};
}

void MessageSpool::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  // clear() keeps the capacity; swap returns it, so one large message does
  // not pin its memory for the life of the session.
  std::string().swap(memory_);
  size_ = 0;
  error_.clear();
}

}  // namespace mailsan::filter
