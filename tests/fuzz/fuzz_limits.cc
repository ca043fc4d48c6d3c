// libFuzzer target: --max-bandwidth and --max-ops rates and --schedule timetables. A schedule
// that parses must answer for every minute of the week with no limit, a pause, or a rate
// within the parser's bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "transfer/limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto rate = ferry::transfer::ParseRate(text);
  if (rate.ok() && !(*rate >= 0 && *rate <= 1e15)) std::abort();
  auto ops = ferry::transfer::ParseOpsRate(text);
  if (ops.ok() && !(*ops >= 0 && *ops <= 1e9)) std::abort();
  auto schedule = ferry::transfer::Schedule::Parse(text);
  if (schedule.ok()) {
    for (int minute = -1; minute <= 10080; minute += 7) {
      auto limit = schedule->LimitAt(minute);
      if (limit && !(*limit >= 0 && *limit <= 1e15)) std::abort();
    }
  }
  return 0;
}
