// The hashing cost of a large upload: each 8 MiB block needs its own MD5 (checked by the service
// in transit) and feeds the whole file's MD5. Two OpenSSL passes against one Md5Pair pass.
//   cmake --build build --target md5_bench && build/md5_bench
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "base/encoding.h"
#include "base/md5_pair.h"

namespace {

const std::string& Block() {
  static const std::string block = [] {
    std::mt19937 rng(1);
    std::string s(8 << 20, '\0');
    for (char& c : s) c = char(rng());
    return s;
  }();
  return block;
}

void TwoOpenSslPasses(benchmark::State& state) {
  ferry::Md5 whole;
  for (auto _ : state) {
    whole.Update(Block());
    benchmark::DoNotOptimize(ferry::Md5::Of(Block()));
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(Block().size()));
}
BENCHMARK(TwoOpenSslPasses);

void OneOpenSslPass(benchmark::State& state) {
  ferry::Md5 whole;
  for (auto _ : state) whole.Update(Block());
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(Block().size()));
}
BENCHMARK(OneOpenSslPass);

void Md5PairPass(benchmark::State& state) {
  ferry::Md5Pair pair;
  for (auto _ : state) {
    pair.Update(Block().data(), Block().size());
    benchmark::DoNotOptimize(pair.FinishBlock());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(Block().size()));
}
BENCHMARK(Md5PairPass);

}  // namespace

BENCHMARK_MAIN();
