#include "common/clamav/engine.hpp"

#include <clamav.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <vector>

#include "common/clamav/mime_parts.hpp"
#include "common/log/log.hpp"
#include "common/util/ascii.hpp"

namespace mailsan::clamav {

namespace {

// libclamav's own messages (mostly about malformed input it met while
// parsing mail) go to our log, not to stderr in its format.
void forward_message(enum cl_msg severity, const char* /*fullmsg*/, const char* msg,
                     void* /*context*/) {
  std::string_view text = msg ? msg : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  log::Line(severity == CL_MSG_ERROR ? log::Level::warning : log::Level::debug, "clamav_message")
      .kv("message", text);
}

void init_library() {
  static std::once_flag once;
  static cl_error_t status = CL_SUCCESS;
  std::call_once(once, [] {
    cl_set_clcb_msg(forward_message);
    status = cl_init(CL_INIT_DEFAULT);
  });
  if (status != CL_SUCCESS)
    throw std::runtime_error(std::string("cl_init: ") + cl_strerror(status));
}

// Called by libclamav before each file it scans, the message itself and
// every file unpacked from it. A cancelled scan is stopped by reporting the
// file as infected: unlike "clean" (CL_BREAK), that result is never put in
// the engine's cache of clean files, so a cut-short scan cannot make a
// later one miss anything.
cl_error_t check_cancelled(int /*fd*/, const char* /*type*/, void* context) {
  const auto* cancel = static_cast<const std::atomic<bool>*>(context);
  return cancel && cancel->load(std::memory_order_relaxed) ? CL_VIRUS : CL_CLEAN;
}

struct EngineFree {
  void operator()(cl_engine* e) const { cl_engine_free(e); }
};

void set_limit(cl_engine* e, cl_engine_field field, long long value, const char* name,
               const std::string& dir) {
  if (cl_error_t rc = cl_engine_set_num(e, field, value); rc != CL_SUCCESS)
    throw std::runtime_error(dir + ": cannot set " + name + ": " + cl_strerror(rc));
}

cl_scan_options scan_options() {
  cl_scan_options o{};
  // As clamd by default: every parser on; the heuristics that come with
  // the loaded signatures (phishing). Of the optional alerts only "exceeds
  // max": without it libclamav says CL_CLEAN for a scan a limit cut short,
  // and a message it did not finish must never pass as scanned. It is
  // reported only when no signature matched (no heuristic precedence).
  o.general = CL_SCAN_GENERAL_HEURISTICS;
  o.parse = ~0u;
  o.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
  return o;
}

// libclamav's "Heuristics.Limits.Exceeded.MaxScanTime" and its kin, by the
// name of our option for that limit.
constexpr std::string_view kLimitPrefix = "Heuristics.Limits.Exceeded.";

std::string limit_option(std::string_view limit) {
  if (limit == "MaxScanTime") return "max_scan_time";
  if (limit == "MaxScanSize") return "max_scan_size";
  if (limit == "MaxFileSize") return "max_file_size";
  if (limit == "MaxRecursion") return "max_recursion";
  if (limit == "MaxFiles") return "max_files";
  return "libclamav " + std::string(limit);  // one we set no option for
}

ScanResult result_of(cl_error_t rc, const char* virname, const std::atomic<bool>* cancel) {
  if (cancel && cancel->load(std::memory_order_relaxed)) return ScanResult::error("cancelled");
  if (rc == CL_CLEAN) return ScanResult::clean();
  if (rc == CL_VIRUS) {
    std::string_view name = virname && *virname ? virname : "unnamed";
    if (name.substr(0, kLimitPrefix.size()) == kLimitPrefix)
      return ScanResult::incomplete(limit_option(name.substr(kLimitPrefix.size())));
    return ScanResult::virus(std::string(name));
  }
  // Older libclamav returned the limit itself.
  if (rc == CL_ETIMEOUT) return ScanResult::incomplete("max_scan_time");
  if (rc == CL_EMAXSIZE) return ScanResult::incomplete("max_scan_size");
  if (rc == CL_EMAXFILES) return ScanResult::incomplete("max_files");
  if (rc == CL_EMAXREC) return ScanResult::incomplete("max_recursion");
  return ScanResult::error(std::string("libclamav: ") + cl_strerror(rc));
}

// The spool file as libclamav's map handle, read with pread: a map of its
// first bytes only, which leaves the descriptor's offset alone.
void* as_handle(int fd) {
  return reinterpret_cast<void*>(static_cast<std::intptr_t>(fd));
}

off_t pread_fd(void* handle, void* buffer, std::size_t count, off_t offset) {
  int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(handle));
  for (;;) {
    ssize_t n = ::pread(fd, buffer, count, offset);
    if (n >= 0 || errno != EINTR) return n;
  }
}

// A message with more parts than max_mime_parts is scanned only up to the
// first boundary line past the bound: a virus in the parts within it is
// still found, at the cost of at most max_mime_parts parts; the rest is
// not looked at, so finding nothing makes the scan incomplete, not clean.
ScanResult cut_short(ScanResult result) {
  if (result.kind == ScanResult::Kind::virus || result.kind == ScanResult::Kind::error)
    return result;
  return ScanResult::incomplete("max_mime_parts");
}

}  // namespace

Engine::Engine(const std::string& dir, const EngineLimits& limits)
    : dir_(dir), max_mime_parts_(limits.max_mime_parts) {
  auto started = std::chrono::steady_clock::now();
  init_library();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw std::runtime_error(dir + ": no such directory");
  std::unique_ptr<cl_engine, EngineFree> engine(cl_engine_new());
  if (!engine) throw std::runtime_error(dir + ": cl_engine_new failed");
  set_limit(engine.get(), CL_ENGINE_MAX_SCANSIZE, static_cast<long long>(limits.max_scan_size),
            "max_scan_size", dir);
  set_limit(engine.get(), CL_ENGINE_MAX_FILESIZE, static_cast<long long>(limits.max_file_size),
            "max_file_size", dir);
  set_limit(engine.get(), CL_ENGINE_MAX_RECURSION, limits.max_recursion, "max_recursion", dir);
  set_limit(engine.get(), CL_ENGINE_MAX_FILES, limits.max_files, "max_files", dir);
  set_limit(engine.get(), CL_ENGINE_MAX_SCANTIME, limits.max_scan_time.count(), "max_scan_time",
            dir);
  cl_engine_set_clcb_pre_cache(engine.get(), check_cancelled);

  unsigned loaded = 0;
  cl_error_t rc = cl_load(dir.c_str(), engine.get(), &loaded, CL_DB_STDOPT);
  // An empty directory is CL_EOPEN ("no supported database files") to
  // libclamav; to an operator both are the same mistake.
  if ((rc == CL_SUCCESS || rc == CL_EOPEN) && loaded == 0)
    throw std::runtime_error(dir + ": no signatures");
  if (rc != CL_SUCCESS) throw std::runtime_error(dir + ": cannot load: " + cl_strerror(rc));
  if ((rc = cl_engine_compile(engine.get())) != CL_SUCCESS)
    throw std::runtime_error(dir + ": cannot compile: " + cl_strerror(rc));
  engine_ = engine.release();
  signatures_ = loaded;
  build_time_ = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
}

Engine::~Engine() {
  cl_engine_free(engine_);
}

ScanResult Engine::scan_memory(const char* data, std::size_t size,
                               const std::atomic<bool>* cancel) const {
  if (size == 0) return result_of(CL_CLEAN, nullptr, cancel);
  BoundaryLineCounter parts(max_mime_parts_);
  if (max_mime_parts_ != 0) parts.feed({data, size});
  if (parts.cut() != BoundaryLineCounter::kNone)
    return cut_short(scan_map(cl_fmap_open_memory(data, parts.cut()), cancel));
  return scan_map(cl_fmap_open_memory(data, size), cancel);
}

ScanResult Engine::scan_map(cl_fmap_t* map, const std::atomic<bool>* cancel) const {
  if (!map) return ScanResult::error("libclamav: cannot map the message");
  const char* virname = nullptr;
  unsigned long scanned = 0;
  cl_scan_options options = scan_options();
  // libclamav takes the context as void* but only hands it back to the
  // callback, which reads it as const.
  void* context = const_cast<std::atomic<bool>*>(cancel);
  cl_error_t rc = cl_scanmap_callback(map, nullptr, &virname, &scanned, engine_, &options, context);
  cl_fmap_close(map);
  return result_of(rc, virname, cancel);
}

ScanResult Engine::scan_fd(int fd, const std::atomic<bool>* cancel) const {
  // libclamav reads the file with pread from offset 0, but the descriptor
  // is shared with its owner, who may append with write(): whatever a
  // parser inside does to the offset, the owner finds it where it was.
  off_t offset = ::lseek(fd, 0, SEEK_CUR);
  if (offset < 0)
    return ScanResult::error(std::string("cannot scan the spool file: ") + std::strerror(errno));
  if (max_mime_parts_ != 0) {
    BoundaryLineCounter parts(max_mime_parts_);
    char buffer[65536];
    off_t at = 0;
    // Stops at the first boundary line past the bound: the rest need not
    // be read.
    while (parts.cut() == BoundaryLineCounter::kNone) {
      off_t n = pread_fd(as_handle(fd), buffer, sizeof buffer, at);
      if (n < 0)
        return ScanResult::error(std::string("cannot read the spool file: ") +
                                 std::strerror(errno));
      if (n == 0) break;
      parts.feed({buffer, static_cast<std::size_t>(n)});
      at += n;
    }
    if (parts.cut() != BoundaryLineCounter::kNone)
      return cut_short(
          scan_map(cl_fmap_open_handle(as_handle(fd), 0, parts.cut(), pread_fd, 1), cancel));
  }
  const char* virname = nullptr;
  unsigned long scanned = 0;
  cl_scan_options options = scan_options();
  void* context = const_cast<std::atomic<bool>*>(cancel);
  cl_error_t rc = cl_scandesc_callback(fd, nullptr, &virname, &scanned, engine_, &options, context);
  if (::lseek(fd, offset, SEEK_SET) != offset)
    return ScanResult::error(std::string("cannot restore the spool file offset: ") +
                             std::strerror(errno));
  return result_of(rc, virname, cancel);
}

namespace {

// The file names libclamav loads from a directory (its CLI_DBEXT list, as
// of 1.4): others there (freshclam.dat, files being written aside) do not
// make a reload.
bool is_database_name(std::string_view name) {
  static constexpr std::string_view kSuffixes[] = {
      ".db",  ".hdb", ".hdu", ".fp",   ".mdb",  ".mdu", ".hsb",  ".hsu", ".sfp", ".msb",
      ".msu", ".ndb", ".ndu", ".ldb",  ".ldu",  ".sdb", ".zmd",  ".rmd", ".pdb", ".gdb",
      ".wdb", ".cbc", ".ftm", ".cfg",  ".cvd",  ".cld", ".cud",  ".cdb", ".cat", ".crb",
      ".idb", ".ioc", ".yar", ".yara", ".pwdb", ".ign", ".ign2", ".imp"};
  for (std::string_view suffix : kSuffixes)
    if (util::iends_with(name, suffix)) return true;
  return false;
}

struct FileState {
  std::string name;
  ino_t inode = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  bool operator==(const FileState&) const = default;
};

std::int64_t nanoseconds(const timespec& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// The database files of dir, by name; nullopt when dir cannot be read.
std::optional<std::vector<FileState>> database_files(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return std::nullopt;
  std::vector<FileState> files;
  while (dirent* e = ::readdir(d)) {
    if (!is_database_name(e->d_name)) continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, 0) != 0) continue;
    files.push_back(
        {e->d_name, st.st_ino, st.st_size, nanoseconds(st.st_mtim), nanoseconds(st.st_ctim)});
  }
  ::closedir(d);
  std::sort(files.begin(), files.end(),
            [](const FileState& a, const FileState& b) { return a.name < b.name; });
  return files;
}

}  // namespace

// cl_statchkdir alone misses changes: it finds a file by its inode (which a
// file written aside and renamed over a removed one may reuse), compares
// modification times to the second, and does not notice a file removed.
// Our own list of the files, with nanosecond times, catches those.
struct DatabaseWatch::Stat {
  cl_stat stat{};
  bool valid = false;
  std::vector<FileState> files;
};

DatabaseWatch::DatabaseWatch(const std::string& dir) : dir_(dir), stat_(std::make_unique<Stat>()) {
  init_library();
  reset();
}

DatabaseWatch::~DatabaseWatch() {
  if (stat_->valid) cl_statfree(&stat_->stat);
}

bool DatabaseWatch::changed() const {
  // A directory that could not be read last time counts as changed, so
  // that the caller tries again (and reports why it still cannot).
  if (!stat_->valid) return true;
  if (cl_statchkdir(&stat_->stat) != 0) return true;
  auto now = database_files(dir_);
  return !now || *now != stat_->files;
}

void DatabaseWatch::reset() {
  if (stat_->valid) cl_statfree(&stat_->stat);
  stat_->stat = cl_stat{};
  // Listed first: a change between the two is seen as one next time.
  auto files = database_files(dir_);
  // cl_statinidir frees what it allocated when it fails.
  stat_->valid = files && cl_statinidir(dir_.c_str(), &stat_->stat) == CL_SUCCESS;
  stat_->files = files ? std::move(*files) : std::vector<FileState>{};
}

}  // namespace mailsan::clamav
