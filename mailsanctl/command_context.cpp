// Shared helpers of the mailsanctl commands (see command_context.hpp).
#include "mailsanctl/command_context.hpp"

#include <ctime>
#include <filesystem>

#include "common/config/option_table.hpp"

namespace mailsan::ctl {

bool load_filter_config(const CommandContext& ctx, filter::FilterConfig& config) {
  auto table = filter::make_option_table(config);
  std::error_code ec;
  if (!ctx.config_given && !std::filesystem::exists(ctx.config_path, ec)) return true;
  try {
    config::load_file(table, ctx.config_path);
  } catch (const config::ConfigError& e) {
    ctx.err << "mailsanctl: " << e.what() << "\n";
    return false;
  }
  return true;
}

redis::Options redis_settings(const config::CommonConfig& config) {
  redis::Options o = config::redis_options(config);
  o.connect_timeout = o.command_timeout;
  return o;
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out.push_back(c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c));
      ++i;
      continue;
    }
    // The length of a well-formed UTF-8 sequence starting with c, 0 if none.
    std::size_t length = c >= 0xc2 && c <= 0xdf   ? 2
                         : c >= 0xe0 && c <= 0xef ? 3
                         : c >= 0xf0 && c <= 0xf4 ? 4
                                                  : 0;
    bool ok = length != 0 && i + length <= text.size();
    for (std::size_t k = 1; ok && k < length; ++k)
      ok = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    if (ok) {
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      // Overlong forms, surrogates, beyond U+10FFFF, and the C1 controls
      // U+0080..U+009F, which some terminals obey.
      if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0) || (c == 0xf0 && c1 < 0x90) ||
          (c == 0xf4 && c1 >= 0x90) || (c == 0xc2 && c1 < 0xa0))
        ok = false;
    }
    if (!ok) {
      out.push_back('?');
      ++i;
      continue;
    }
    out.append(text.substr(i, length));
    i += length;
  }
  return out;
}

std::string iso_time(std::int64_t unix_time) {
  std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_time);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace mailsan::ctl
