#include "migration/filter.h"

#include <fmt/format.h>

#include <cstdint>
#include <vector>

namespace ferry::migration {

namespace {

// The index just past the ']' closing the class that starts at p[0] == '[', or npos. A ']'
// right after "[" or "[!" belongs to the class.
size_t ClassEnd(std::string_view p) {
  size_t i = 1;
  if (i < p.size() && (p[i] == '!' || p[i] == '^')) ++i;
  if (i < p.size() && p[i] == ']') ++i;
  size_t close = p.find(']', i);
  return close == std::string_view::npos ? close : close + 1;
}

// Matches the class at the start of `p` (REQUIRES: closed) against `c`; advances `p` past it.
bool MatchClass(std::string_view& p, char c) {
  size_t end = ClassEnd(p);
  std::string_view body = p.substr(1, end - 2);
  p.remove_prefix(end);
  bool negate = !body.empty() && (body[0] == '!' || body[0] == '^');
  if (negate) body.remove_prefix(1);
  bool matched = false;
  for (size_t i = 0; i < body.size(); ++i) {
    if (i + 2 < body.size() && body[i + 1] == '-') {
      matched |= c >= body[i] && c <= body[i + 2];
      i += 2;
    } else {
      matched |= c == body[i];
    }
  }
  return matched != negate;
}

// Matches pattern suffix `p` against path suffix `s`. Every (p, s) pair is decided once, in
// `memo` (indexed by the suffixes' lengths), so stars cannot make it exponential.
class Matcher {
 public:
  Matcher(std::string_view pattern, std::string_view path)
      : pattern_(pattern), path_(path), memo_((pattern.size() + 1) * (path.size() + 1), -1) {}

  bool Match() { return Here(pattern_, path_); }

 private:
  bool Here(std::string_view p, std::string_view s) {
    int8_t& known = memo_[p.size() * (path_.size() + 1) + s.size()];
    if (known < 0) known = Decide(p, s) ? 1 : 0;
    return known == 1;
  }

  bool Decide(std::string_view p, std::string_view s) {
    if (p.empty()) return s.empty();
    if (p.starts_with("**")) {
      std::string_view rest = p.substr(2);
      if (rest.starts_with('/')) {
        // "**/" matches zero or more whole parts.
        rest.remove_prefix(1);
        if (Here(rest, s)) return true;
        for (size_t i = 0; i < s.size(); ++i) {
          if (s[i] == '/' && Here(rest, s.substr(i + 1))) return true;
        }
        return false;
      }
      for (size_t i = 0; i <= s.size(); ++i) {
        if (Here(rest, s.substr(i))) return true;
      }
      return false;
    }
    char pc = p.front();
    if (pc == '*') {
      std::string_view rest = p.substr(1);
      for (size_t i = 0; i <= s.size(); ++i) {
        if (Here(rest, s.substr(i))) return true;
        if (i < s.size() && s[i] == '/') break;
      }
      return false;
    }
    if (s.empty()) return false;
    if (pc == '?') {
      return s.front() != '/' && Here(p.substr(1), s.substr(1));
    }
    if (pc == '[') {
      std::string_view after = p;
      if (s.front() == '/' || !MatchClass(after, s.front())) return false;
      return Here(after, s.substr(1));
    }
    if (pc == '\\' && p.size() > 1) p.remove_prefix(1);
    return p.front() == s.front() && Here(p.substr(1), s.substr(1));
  }

  std::string_view pattern_, path_;
  std::vector<int8_t> memo_;
};

bool MatchHere(std::string_view p, std::string_view s) { return Matcher(p, s).Match(); }

}  // namespace

Result<Glob> Glob::Parse(std::string_view pattern) {
  if (pattern.empty()) return Status(Code::kInvalidInput, "an empty glob matches nothing");
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      ++i;
      continue;
    }
    if (pattern[i] == '[') {
      size_t end = ClassEnd(pattern.substr(i));
      if (end == std::string_view::npos) {
        return Status(
            Code::kInvalidInput,
            fmt::format("bad glob '{}': '[' at position {} is never closed", pattern, i + 1));
      }
      i += end - 1;
    }
  }
  Glob glob;
  std::string_view p = pattern;
  while (p.starts_with('/')) p.remove_prefix(1);  // "/build" means from the root
  glob.whole_path_ = p.find('/') != std::string_view::npos || pattern.starts_with('/');
  glob.pattern_ = std::string(p);
  glob.literal_ = p.find_first_of("*?[\\") == std::string_view::npos;
  return glob;
}

bool Glob::Matches(std::string_view path) const {
  if (!whole_path_) {
    size_t slash = path.rfind('/');
    if (slash != std::string_view::npos) path.remove_prefix(slash + 1);
  }
  return literal_ ? path == pattern_ : MatchHere(pattern_, path);
}

Result<Filter> Filter::Parse(const std::vector<std::string>& include,
                             const std::vector<std::string>& exclude) {
  Filter filter;
  for (const auto& p : include) {
    Result<Glob> g = Glob::Parse(p);
    if (!g.ok()) return Status(Code::kInvalidInput, "--include: " + g.status().message());
    filter.include_.push_back(*g);
  }
  for (const auto& p : exclude) {
    Result<Glob> g = Glob::Parse(p);
    if (!g.ok()) return Status(Code::kInvalidInput, "--exclude: " + g.status().message());
    filter.exclude_.push_back(*g);
  }
  return filter;
}

bool Filter::Excluded(std::string_view path) const {
  if (exclude_.empty()) return false;
  for (size_t end = path.find('/');; end = path.find('/', end + 1)) {
    std::string_view prefix = end == std::string_view::npos ? path : path.substr(0, end);
    for (const Glob& g : exclude_) {
      if (g.Matches(prefix)) return true;
    }
    if (end == std::string_view::npos) return false;
  }
}

bool Filter::Included(std::string_view path, bool is_folder) const {
  if (Excluded(path)) return false;
  if (include_.empty() || is_folder) return true;
  for (const Glob& g : include_) {
    if (g.Matches(path)) return true;
  }
  return false;
}

}  // namespace ferry::migration
