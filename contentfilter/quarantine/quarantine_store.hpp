// The quarantine on this MX's disk (SPEC §3): one directory per message
// under quarantine_dir,
//   DIR/ID/message.eml   the message as the spool held it (dot-unstuffed,
//                        CRLF line endings)
//   DIR/ID/record.json   encode_quarantine_record()
// Synchronous file-system calls: mailsan-filter calls put() off its I/O
// thread; mailsanctl calls the rest.
//
// An entry appears whole or not at all: put() writes DIR/ID.tmp/, fsyncs both
// files and the directory, then renames it to DIR/ID and fsyncs DIR, so a
// crash leaves at most an ID.tmp that list() skips and the next put() of that
// id or remove() clears. remove() renames the entry to ID.tmp before
// deleting it, for the same reason.
//
// SECURITY: ids come from mailsanctl's command line and from the shared
// Redis. Every method checks them with valid_quarantine_id() first, so no id
// can name a path outside DIR. Entries are created 0700 / 0600: they hold
// viruses and other people's mail.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

#include "contentfilter/quarantine/quarantine_record.hpp"
#include "contentfilter/spool/message_spool.hpp"

namespace mailsan::filter {

class QuarantineStore {
 public:
  explicit QuarantineStore(std::filesystem::path dir);

  const std::filesystem::path& dir() const { return dir_; }

  // Stores the message under record.id (DIR is created when missing).
  // errc::invalid_argument for an invalid id, errc::file_exists when the id
  // is taken; otherwise the errno of the call that failed, and nothing
  // visible is left behind.
  std::error_code put(const QuarantineRecord& record, const MessageSpool& message);

  // The record of entry `id`; nullopt when the id is invalid, the entry does
  // not exist, or its record.json is unreadable or names another id.
  std::optional<QuarantineRecord> get(std::string_view id) const;

  // DIR/ID/message.eml, or an empty path for an invalid id. The file need
  // not exist.
  std::filesystem::path message_path(std::string_view id) const;

  // Deletes the entry. errc::invalid_argument for an invalid id,
  // errc::no_such_file_or_directory when there is no such entry.
  std::error_code remove(std::string_view id);

  // Every readable entry, newest first (ties by id, descending). Skips
  // *.tmp, names that are not ids, and entries whose record does not
  // decode. An unreadable DIR lists as empty.
  std::vector<QuarantineRecord> list() const;

 private:
  std::filesystem::path dir_;
};

}  // namespace mailsan::filter
