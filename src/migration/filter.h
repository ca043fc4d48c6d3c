// Which source items a migration takes: --include and --exclude globs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ferry::migration {

// A shell-style pattern over '/'-separated paths: '*' matches within one part, '?' one
// character, '[abc]', '[a-z]' and '[!a]' a character class, '**' any number of whole parts.
// A pattern without '/' is matched against the last part only (so "*.tmp" matches at any depth).
class Glob {
 public:
  // Code::kInvalidInput for an empty pattern or an unclosed '['.
  static Result<Glob> Parse(std::string_view pattern);
  bool Matches(std::string_view path) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  bool whole_path_ = false;
  bool literal_ = false;  // no wildcard, class or escape: a plain comparison
};

// An item is taken when no exclude pattern matches it or any folder above it, and, if include
// patterns are given, a file matches at least one (folders are not subject to includes).
class Filter {
 public:
  static Result<Filter> Parse(const std::vector<std::string>& include,
                              const std::vector<std::string>& exclude);
  bool Excluded(std::string_view path) const;
  bool Included(std::string_view path, bool is_folder) const;

 private:
  std::vector<Glob> include_;
  std::vector<Glob> exclude_;
};

}  // namespace ferry::migration
