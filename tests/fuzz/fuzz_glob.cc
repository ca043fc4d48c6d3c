// libFuzzer target: --include/--exclude globs, matched against a path. The input is the
// pattern, a newline, then the path.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "migration/filter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t nl = text.find('\n');
  std::string_view pattern = text.substr(0, nl);
  std::string_view path = nl == std::string_view::npos ? "" : text.substr(nl + 1);
  auto glob = ferry::migration::Glob::Parse(pattern);
  if (glob.ok()) (void)glob->Matches(path);
  auto filter = ferry::migration::Filter::Parse({std::string(pattern)}, {std::string(pattern)});
  if (filter.ok()) (void)filter->Included(path, false);
  return 0;
}
