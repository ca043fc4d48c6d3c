// The media type (Content-Type) of a file from its name's extension, from a table built into
// ferry, so results do not depend on the host's /etc/mime.types.
#pragma once

#include <string_view>

namespace ferry {

inline constexpr std::string_view kDefaultContentType = "application/octet-stream";

// "index.HTML" -> "text/html"; a name without a known extension (or a dotfile) ->
// kDefaultContentType.
std::string_view GuessContentType(std::string_view path);

}  // namespace ferry
