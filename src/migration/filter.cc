#include "migration/filter.h"

#include <fmt/format.h>

namespace ferry::migration {

namespace {

// Matches a character class starting at p[0] == '['; advances `p` past it.
bool MatchClass(std::string_view& p, char c) {
  size_t i = 1;
  bool negate = i < p.size() && (p[i] == '!' || p[i] == '^');
  if (negate) ++i;
  bool matched = false;
  bool first = true;
  for (; i < p.size() && (p[i] != ']' || first); ++i, first = false) {
    if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
      matched |= c >= p[i] && c <= p[i + 2];
      i += 2;
    } else {
      matched |= c == p[i];
    }
  }
  p.remove_prefix(i + 1);
  return matched != negate;
}

bool MatchHere(std::string_view p, std::string_view s) {
  while (!p.empty()) {
    if (p.starts_with("**")) {
      std::string_view rest = p.substr(2);
      if (rest.starts_with('/')) {
        // "**/" matches zero or more whole parts.
        rest.remove_prefix(1);
        if (MatchHere(rest, s)) return true;
        for (size_t i = 0; i < s.size(); ++i) {
          if (s[i] == '/' && MatchHere(rest, s.substr(i + 1))) return true;
        }
        return false;
      }
      for (size_t i = 0; i <= s.size(); ++i) {
        if (MatchHere(rest, s.substr(i))) return true;
      }
      return false;
    }
    char pc = p.front();
    if (pc == '*') {
      std::string_view rest = p.substr(1);
      for (size_t i = 0; i <= s.size(); ++i) {
        if (MatchHere(rest, s.substr(i))) return true;
        if (i < s.size() && s[i] == '/') break;
      }
      return false;
    }
    if (s.empty()) return false;
    if (pc == '?') {
      if (s.front() == '/') return false;
      p.remove_prefix(1);
    } else if (pc == '[') {
      if (s.front() == '/' || !MatchClass(p, s.front())) return false;
    } else {
      if (pc == '\\' && p.size() > 1) p.remove_prefix(1);
      if (p.front() != s.front()) return false;
      p.remove_prefix(1);
    }
    s.remove_prefix(1);
  }
  return s.empty();
}

}  // namespace

Result<Glob> Glob::Parse(std::string_view pattern) {
  if (pattern.empty()) return Status(Code::kInvalidInput, "an empty glob matches nothing");
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      ++i;
      continue;
    }
    if (pattern[i] == '[') {
      size_t close = pattern.find(']', i + 2);
      if (close == std::string_view::npos) {
        return Status(Code::kInvalidInput,
                      fmt::format("bad glob '{}': '[' at position {} is never closed", pattern, i + 1));
      }
      i = close;
    }
  }
  Glob glob;
  std::string_view p = pattern;
  while (p.starts_with('/')) p.remove_prefix(1);  // "/build" means from the root
  glob.whole_path_ = p.find('/') != std::string_view::npos || pattern.starts_with('/');
  glob.pattern_ = std::string(p);
  return glob;
}

bool Glob::Matches(std::string_view path) const {
  if (whole_path_) return MatchHere(pattern_, path);
  size_t slash = path.rfind('/');
  return MatchHere(pattern_, slash == std::string_view::npos ? path : path.substr(slash + 1));
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
  for (size_t end = path.find('/'); ; end = path.find('/', end + 1)) {
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
