// JSON text that never throws: a name or message that is not valid UTF-8 (a Latin-1 file name,
// an OS error quoting one) comes out with U+FFFD in place of the bad bytes instead of aborting
// the command.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace ferry {

// `json` as text, compact (indent -1) or indented.
inline std::string JsonText(const nlohmann::json& json, int indent = -1) {
  return json.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ferry
