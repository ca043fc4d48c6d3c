// Small inline SVG charts for the HTML report: no script, no external resource.
#pragma once

#include <string>
#include <vector>

namespace ferry::cli {

struct Series {
  std::string name;
  std::vector<double> values;
  std::string color;
};

// A line chart of `series` over x. Returns an <svg> element whose data-points attribute counts
// the points drawn.
std::string LineChart(const std::string& id, const std::string& title, const std::vector<double>& x,
                      const std::vector<Series>& series, const std::string& x_unit,
                      const std::string& y_unit);

// Vertical bars, one group per label; the series are stacked.
std::string StackedBarChart(const std::string& id, const std::string& title,
                            const std::vector<std::string>& labels,
                            const std::vector<Series>& series, const std::string& y_unit);

// Horizontal bars, one per label, longest first as given, each in its colour of `colors` (red
// where none is given). `unit` is a plural noun ("items"), written singular beside a value of 1.
std::string HorizontalBarChart(const std::string& id, const std::string& title,
                               const std::vector<std::string>& labels,
                               const std::vector<double>& values, const std::string& unit,
                               const std::vector<std::string>& colors = {});

}  // namespace ferry::cli
