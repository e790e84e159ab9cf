// The ClamAV engine in process (libclamav): the RAII owner of one compiled
// cl_engine, loaded from a signature directory with the limits given, and
// the watch on that directory that tells when it changed.
//
// Called by the scan pool's worker threads (scan_memory, scan_fd: blocking,
// never on an I/O thread) and by whoever builds engines (start-up, the
// reload thread). A compiled engine is immutable and scanned by many
// threads at once; a new database means a new Engine, never a change to one
// in use.
//
// SECURITY: the bytes scanned are untrusted mail; libclamav parses them
// (archives, documents, executables) within the limits set here. Virus names
// come from the signature database and are passed on as they are; whoever
// puts them in a reply or a header sanitises them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

struct cl_engine;
struct cl_fmap;
typedef struct cl_fmap cl_fmap_t;

namespace mailsan::clamav {

// CL_ENGINE_MAX_SCANSIZE, _MAX_FILESIZE, _MAX_RECURSION, _MAX_FILES,
// _MAX_SCANTIME, and our own bound on MIME parts (mime_parts.hpp), checked
// before libclamav is called, which then sees only the parts within it.
struct EngineLimits {
  std::uint64_t max_scan_size = 104857600;
  std::uint64_t max_file_size = 26214400;
  std::uint32_t max_recursion = 20;
  std::uint32_t max_files = 10000;
  std::chrono::milliseconds max_scan_time{15000};
  std::uint64_t max_mime_parts = 1000;  // 0: no bound
};

struct ScanResult {
  // incomplete: a limit stopped the scan before all of the message was
  // looked at, and nothing was found in what was; text names the limit
  // ("max_scan_time", "max_mime_parts", ...). Never the same as clean.
  enum class Kind { clean, virus, error, incomplete };
  Kind kind = Kind::error;
  std::string text;  // the virus name, the limit reached, or why the scan failed

  static ScanResult clean() { return {Kind::clean, {}}; }
  static ScanResult virus(std::string name) { return {Kind::virus, std::move(name)}; }
  static ScanResult error(std::string why) { return {Kind::error, std::move(why)}; }
  static ScanResult incomplete(std::string limit) { return {Kind::incomplete, std::move(limit)}; }
};

class Engine {
 public:
  // Loads every database in dir (CL_DB_STDOPT) and compiles the engine.
  // Throws std::runtime_error "DIR: REASON" for a missing directory, one in
  // which no signature loads ("no signatures"), or a load or compile error.
  Engine(const std::string& dir, const EngineLimits& limits);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const std::string& dir() const { return dir_; }
  unsigned signatures() const { return signatures_; }
  // How long loading and compiling took.
  std::chrono::milliseconds build_time() const { return build_time_; }

  // Scans one complete message or file. Blocking; safe from many threads
  // at once. When *cancel becomes true, the scan stops at the next file it
  // unpacks and reports an error "cancelled". A message with more possible
  // MIME parts than max_mime_parts is scanned only up to the first part
  // past the bound, and a scan that reaches one of libclamav's limits
  // ends: both are incomplete unless a virus was found.
  ScanResult scan_memory(const char* data, std::size_t size,
                         const std::atomic<bool>* cancel = nullptr) const;
  // fd: a regular file, read with pread from offset 0 to its end, whatever
  // its file offset (which is left alone).
  ScanResult scan_fd(int fd, const std::atomic<bool>* cancel = nullptr) const;

 private:
  // Scans and closes map (null: an error).
  ScanResult scan_map(cl_fmap_t* map, const std::atomic<bool>* cancel) const;

  std::string dir_;
  std::uint64_t max_mime_parts_ = 0;
  cl_engine* engine_ = nullptr;
  unsigned signatures_ = 0;
  std::chrono::milliseconds build_time_{0};
};

// Watches a signature directory (cl_statinidir/cl_statchkdir, and a list
// of its database files of our own): changed() is true once any database
// file there was added, removed, replaced or modified since the last
// reset(). Blocking (it stats the files); not thread-safe.
class DatabaseWatch {
 public:
  // A directory that cannot be read (now or at a later reset) counts as
  // changed at every check, until it can be read again.
  explicit DatabaseWatch(const std::string& dir);
  ~DatabaseWatch();
  DatabaseWatch(const DatabaseWatch&) = delete;
  DatabaseWatch& operator=(const DatabaseWatch&) = delete;

  bool changed() const;
  // Takes the directory as it is now as the new reference.
  void reset();

 private:
  struct Stat;
  std::string dir_;
  std::unique_ptr<Stat> stat_;
};

}  // namespace mailsan::clamav
