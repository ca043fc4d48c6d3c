#include "cli/charts.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/text.h"

namespace ferry::cli {

namespace {

constexpr double kWidth = 640, kHeight = 260, kLeft = 64, kRight = 16, kTop = 32, kBottom = 40;

// A round upper bound for an axis, and its tick step.
std::pair<double, double> NiceScale(double max) {
  if (max <= 0) return {1, 0.25};
  double magnitude = std::pow(10, std::floor(std::log10(max)));
  for (double step : {0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0}) {
    double s = step * magnitude;
    if (max / s <= 5) return {std::ceil(max / s) * s, s};
  }
  return {std::ceil(max / magnitude) * magnitude, magnitude};
}

std::string Number(double v) {
  if (v >= 100 || v == std::floor(v)) return fmt::format("{:.0f}", v);
  return fmt::format("{:.2g}", v);
}

std::string Open(const std::string& id, const std::string& title, int points) {
  return fmt::format(
      "<svg class=\"chart\" id=\"{0}\" data-points=\"{1}\" viewBox=\"0 0 {2} {3}\" width=\"{2}\" "
      "height=\"{3}\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">"
      "<title>{4}</title><text x=\"{5}\" y=\"20\" class=\"title\">{4}</text>",
      id, points, kWidth, kHeight, EscapeXml(title), kLeft);
}

std::string YAxis(double top, double step, const std::string& unit) {
  std::string out;
  double plot_h = kHeight - kTop - kBottom;
  for (double v = 0; v <= top + step / 2; v += step) {
    double y = kTop + plot_h * (1 - v / top);
    out += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" class=\"grid\"/>",
                       kLeft, kWidth - kRight, y, y);
    out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" class=\"tick\" text-anchor=\"end\">{}</text>",
                       kLeft - 6, y + 4, Number(v));
  }
  out += fmt::format(
      "<text x=\"12\" y=\"{}\" class=\"unit\" transform=\"rotate(-90 12 {})\" "
      "text-anchor=\"middle\">{}</text>",
      kTop + plot_h / 2, kTop + plot_h / 2, EscapeXml(unit));
  return out;
}

std::string Legend(const std::vector<Series>& series) {
  std::string out;
  double x = kWidth - kRight;
  for (auto it = series.rbegin(); it != series.rend(); ++it) {
    x -= 14 + 7.0 * double(it->name.size()) + 12;
    out += fmt::format(
        "<rect x=\"{:.0f}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>"
        "<text x=\"{:.0f}\" y=\"{}\" class=\"tick\">{}</text>",
        x, kHeight - 14, it->color, x + 14, kHeight - 5, EscapeXml(it->name));
  }
  return out;
}

}  // namespace

std::string LineChart(const std::string& id, const std::string& title, const std::vector<double>& x,
                      const std::vector<Series>& series, const std::string& x_unit,
                      const std::string& y_unit) {
  double x_max = x.empty() ? 1 : std::max(*std::max_element(x.begin(), x.end()), 1e-9);
  double y_max = 0;
  int points = 0;
  for (const auto& s : series) {
    for (double v : s.values) y_max = std::max(y_max, v);
    points += int(s.values.size());
  }
  auto [top, step] = NiceScale(y_max);
  double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  std::string svg = Open(id, title, points) + YAxis(top, step, y_unit) +
                    (series.size() > 1 ? Legend(series) : "");
  for (const auto& s : series) {
    std::string path;
    for (size_t i = 0; i < s.values.size() && i < x.size(); ++i) {
      double px = kLeft + plot_w * x[i] / x_max;
      double py = kTop + plot_h * (1 - s.values[i] / top);
      path += fmt::format("{}{:.1f},{:.1f}", i ? " L" : "M", px, py);
    }
    svg += fmt::format(
        "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" "
        "class=\"series\"/>",
        path, s.color);
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\">0</text>", kLeft, kHeight - 22);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"end\">{} {}</text>",
                     kWidth - kRight, kHeight - 22, Number(x_max), EscapeXml(x_unit));
  return svg + "</svg>";
}

std::string StackedBarChart(const std::string& id, const std::string& title,
                            const std::vector<std::string>& labels,
                            const std::vector<Series>& series, const std::string& y_unit) {
  std::vector<double> totals(labels.size(), 0);
  int points = 0;
  for (const auto& s : series) {
    for (size_t i = 0; i < labels.size() && i < s.values.size(); ++i) {
      totals[i] += s.values[i];
      points += s.values[i] > 0;
    }
  }
  double y_max = totals.empty() ? 0 : *std::max_element(totals.begin(), totals.end());
  auto [top, step] = NiceScale(y_max);
  double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  double slot = labels.empty() ? plot_w : plot_w / double(labels.size());
  double bar = std::min(48.0, slot * 0.6);
  std::string svg = Open(id, title, points) + YAxis(top, step, y_unit) + Legend(series);
  for (size_t i = 0; i < labels.size(); ++i) {
    double x = kLeft + slot * (double(i) + 0.5) - bar / 2;
    double base = 0;
    for (const auto& s : series) {
      double v = i < s.values.size() ? s.values[i] : 0;
      if (v <= 0) continue;
      double y0 = kTop + plot_h * (1 - base / top), y1 = kTop + plot_h * (1 - (base + v) / top);
      svg += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
          "fill=\"{}\" class=\"bar\"><title>{}: {}</title></rect>",
          x, y1, bar, y0 - y1, s.color, EscapeXml(s.name), Number(v));
      base += v;
    }
    svg +=
        fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
                    x + bar / 2, kHeight - 22, EscapeXml(labels[i]));
  }
  return svg + "</svg>";
}

std::string HorizontalBarChart(const std::string& id, const std::string& title,
                               const std::vector<std::string>& labels,
                               const std::vector<double>& values, const std::string& unit,
                               const std::vector<std::string>& colors) {
  double row = 26;
  double height = kTop + row * double(std::max<size_t>(labels.size(), 1)) + 12;
  double label_w = 300, plot_w = kWidth - label_w - kRight - 40;
  double max = values.empty() ? 1 : std::max(*std::max_element(values.begin(), values.end()), 1.0);
  int points = int(std::count_if(values.begin(), values.end(), [](double v) { return v > 0; }));
  std::string svg = fmt::format(
      "<svg class=\"chart\" id=\"{0}\" data-points=\"{1}\" viewBox=\"0 0 {2} {3:.0f}\" "
      "width=\"{2}\" height=\"{3:.0f}\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">"
      "<title>{4}</title><text x=\"8\" y=\"20\" class=\"title\">{4}</text>",
      id, points, kWidth, height, EscapeXml(title));
  for (size_t i = 0; i < labels.size(); ++i) {
    double y = kTop + row * double(i);
    double w = plot_w * values[i] / max;
    std::string label = labels[i].size() > 44 ? labels[i].substr(0, 43) + "…" : labels[i];
    std::string noun =
        values[i] == 1 && unit.ends_with('s') ? unit.substr(0, unit.size() - 1) : unit;
    svg += fmt::format(
        "<text x=\"{:.0f}\" y=\"{:.1f}\" class=\"tick\" text-anchor=\"end\">{}"
        "</text><rect x=\"{:.0f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"16\" "
        "fill=\"{}\" class=\"bar\"/><text x=\"{:.1f}\" y=\"{:.1f}\" "
        "class=\"tick\">{} {}</text>",
        label_w - 8, y + 12, EscapeXml(label), label_w, y, std::max(w, 1.0),
        i < colors.size() ? colors[i] : "#c0504d", label_w + std::max(w, 1.0) + 6, y + 12,
        Number(values[i]), EscapeXml(noun));
  }
  return svg + "</svg>";
}

}  // namespace ferry::cli
