// The body of one message while it is scanned and relayed (SPEC §3): in
// memory up to spool_memory_limit, then in an unlinked temporary file, never
// more than message_size_limit. Holds the message dot-unstuffed, with its
// line endings as received (CRLF), which is what the scanners read and what
// is stuffed again on the way downstream.
//
// Not thread-safe; a scanner on a worker thread reads it only while the
// session that owns it waits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>

namespace mailsan::filter {

class MessageSpool {
 public:
  // temp_dir: where the file goes once memory_limit is passed (it is
  // unlinked at once, O_TMPFILE where the file system has it).
  MessageSpool(std::size_t memory_limit, std::filesystem::path temp_dir);
  ~MessageSpool();
  MessageSpool(const MessageSpool&) = delete;
  MessageSpool& operator=(const MessageSpool&) = delete;

  // Appends bytes; an error (disk full, ...) leaves the spool unusable and
  // the message must be tempfailed.
  std::error_code append(std::string_view bytes);
  std::size_t size() const { return size_; }
  bool in_memory() const { return fd_ < 0; }
  // The whole message while in_memory().
  std::string_view memory() const { return memory_; }
  // The file while !in_memory() (for scanners that take a descriptor).
  int fd() const { return fd_; }
  // Reads [offset, offset + length) into out (pread on the file); returns
  // the bytes read, 0 at the end.
  std::size_t read(std::uint64_t offset, char* out, std::size_t length) const;
  // Calls visit with consecutive pieces of the message from the start, at
  // most chunk bytes each, until the end or visit returns false.
  std::error_code for_each_chunk(std::size_t chunk,
                                 const std::function<bool(std::string_view)>& visit) const;
  // Clears the message for the next transaction; the file, if any, is closed.
  void reset();

 private:
  std::size_t memory_limit_;
  std::filesystem::path temp_dir_;
  std::string memory_;
  int fd_ = -1;
  std::size_t size_ = 0;
  // The first append() failure; every later append() returns it until
  // reset(), since the file may hold part of a write that size_ does not.
  std::error_code error_;
};

}  // namespace mailsan::filter
