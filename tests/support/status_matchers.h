// Test helpers for Status and Result: a failure shows the error instead of dereferencing it.
#pragma once

#include <gtest/gtest.h>

#include "base/status.h"

namespace ferry::testing {

inline const Status& StatusOf(const Status& status) { return status; }
template <typename T>
const Status& StatusOf(const Result<T>& result) {
  return result.status();
}

template <typename T>
::testing::AssertionResult IsOk(const char* text, const T& value) {
  const Status& status = StatusOf(value);
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << text << ": " << status.ToString();
}

}  // namespace ferry::testing

// The expression (a Status or a Result, evaluated once) is OK; otherwise the test fails (ASSERT_:
// and stops) with the error.
#define EXPECT_OK(expr) EXPECT_PRED_FORMAT1(::ferry::testing::IsOk, expr)
#define ASSERT_OK(expr) ASSERT_PRED_FORMAT1(::ferry::testing::IsOk, expr)

#define FERRY_CONCAT_INNER(a, b) a##b
#define FERRY_CONCAT(a, b) FERRY_CONCAT_INNER(a, b)
// `lhs = value of expr`, or the test stops with the error. `lhs` may declare: auto x, T x.
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(FERRY_CONCAT(ferry_result_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(result, lhs, expr) \
  auto result = (expr);                              \
  ASSERT_OK(result);                                 \
  lhs = std::move(result).value()
