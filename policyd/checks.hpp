// The policy checks a daemon runs, in SPEC §2.1 order, built from one
// configuration. The same function builds the pipeline at start and on
// every reload (SIGHUP, a whitelist file that changed); the daemon swaps the
// new pipeline in and requests in flight keep the old one.
#pragma once

#include <memory>

#include "policyd/pipeline/pipeline.hpp"
#include "policyd/pipeline/services.hpp"
#include "policyd/policyd_config.hpp"

namespace mailsan::policyd {

// A check's constructor, as registered below: nullptr when the
// configuration switches the check off (it then costs nothing per request).
// Throws std::invalid_argument for a setting the options table could not
// check on its own.
using CheckFactory = std::shared_ptr<Check> (*)(const PolicydConfig&, CheckServices&);

// Throws std::invalid_argument (naming the option) when a check cannot be
// built from `config`.
std::shared_ptr<const Pipeline> build_pipeline(const PolicydConfig& config,
                                               CheckServices& services);

}  // namespace mailsan::policyd
