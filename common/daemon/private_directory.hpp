// Directories a daemon writes to (spool, quarantine, scanner temp files),
// made before it drops root and checked after, as the user it runs as.
//
// Why two steps: a daemon started as root that created its directories as
// root:root 0755 would find them unwritable once it runs as `user`, and
// would learn it only from the first message it cannot store. So a missing
// directory is created mode 0700 and owned by the run-as user, and whether
// that user can really create files there is tried at start-up, so a wrong
// owner or mode ends start-up with a message naming the option, the path
// and the user.
#pragma once

#include <string>

namespace mailsan::daemon {

// Call before drop_privileges(user). Creates `path` when missing (missing
// parents too, as the caller), mode 0700, owned by `user` and its group
// (empty user: by the caller). An existing directory is left as it is: its
// owner and mode are the administrator's choice, checked by the next call.
// Throws std::runtime_error("OPTION = PATH: reason").
void prepare_private_directory(const std::string& option, const std::string& path,
                               const std::string& user);

// Call after drop_privileges(): creates and removes a file in `path` as the
// current user. Throws std::runtime_error("OPTION = PATH: not writable by
// user 'NAME' (owner OWNER, mode 0NNN): reason") when that fails.
void check_private_directory(const std::string& option, const std::string& path);

}  // namespace mailsan::daemon
