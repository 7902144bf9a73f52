#include "adamas/eval/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "adamas/error.h"

namespace adamas {

namespace {

// Colour-blind-safe palette (Okabe-Ito), cycled.
constexpr const char* kColors[] = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#D55E00", "#0072B2", "#CC79A7", "#F0E442"};

std::string escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4g", value);
  return buffer;
}

// "Nice" linear ticks (1, 2, 5 x 10^k steps) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target) {
  const double span = hi - lo;
  const double raw = span / std::max(1, target);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (const double m : {1.0, 2.0, 5.0, 10.0})
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * span; t += step) ticks.push_back(t);
  return ticks;
}

}  // namespace

std::string render_line_plot_svg(const LinePlot& plot) {
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const PlotSeries& s : plot.series) {
    ADAMAS_CHECK(s.x.size() == s.y.size(), "plot series '", s.name, "': ", s.x.size(), " x values but ", s.y.size(),
                 " y values");
    for (size_t i = 0; i < s.x.size(); ++i) {
      ADAMAS_CHECK(std::isfinite(s.x[i]) && std::isfinite(s.y[i]), "plot series '", s.name, "': non-finite point ", i);
      ADAMAS_CHECK(!plot.log2_x || s.x[i] > 0, "plot series '", s.name, "': x must be positive on a log axis");
      const double x = plot.log2_x ? std::log2(s.x[i]) : s.x[i];
      x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
      y_lo = std::min(y_lo, s.y[i]), y_hi = std::max(y_hi, s.y[i]);
    }
  }
  if (!(x_lo <= x_hi)) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  if (x_hi - x_lo < 1e-12) x_lo -= 1, x_hi += 1;
  if (y_hi - y_lo < 1e-12) y_lo -= std::max(1e-3, std::abs(y_lo) * 0.05), y_hi += std::max(1e-3, std::abs(y_hi) * 0.05);
  const double y_pad = (y_hi - y_lo) * 0.06;
  y_lo -= y_pad, y_hi += y_pad;

  const double left = 72, right = 170, top = 40, bottom = 56;
  const double w = plot.width - left - right, h = plot.height - top - bottom;
  auto px = [&](double x) { return left + (x - x_lo) / (x_hi - x_lo) * w; };
  auto py = [&](double y) { return top + (1 - (y - y_lo) / (y_hi - y_lo)) * h; };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << plot.width << "\" height=\"" << plot.height
      << "\" viewBox=\"0 0 " << plot.width << ' ' << plot.height << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg << "<text x=\"" << plot.width / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << escape(plot.title)
      << "</text>\n";
  // Grid and ticks.
  for (const double t : nice_ticks(y_lo, y_hi, 6)) {
    svg << "<line x1=\"" << left << "\" x2=\"" << left + w << "\" y1=\"" << py(t) << "\" y2=\"" << py(t)
        << "\" stroke=\"#e5e5e5\"/>\n";
    svg << "<text x=\"" << left - 6 << "\" y=\"" << py(t) + 4 << "\" text-anchor=\"end\">" << number(t) << "</text>\n";
  }
  std::vector<double> x_ticks;
  if (plot.log2_x) {
    for (double t = std::ceil(x_lo); t <= x_hi + 1e-9; t += 1) x_ticks.push_back(t);
  } else {
    x_ticks = nice_ticks(x_lo, x_hi, 8);
  }
  for (const double t : x_ticks) {
    svg << "<line x1=\"" << px(t) << "\" x2=\"" << px(t) << "\" y1=\"" << top << "\" y2=\"" << top + h
        << "\" stroke=\"#e5e5e5\"/>\n";
    svg << "<text x=\"" << px(t) << "\" y=\"" << top + h + 18 << "\" text-anchor=\"middle\">"
        << number(plot.log2_x ? std::exp2(t) : t) << "</text>\n";
  }
  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << w << "\" height=\"" << h
      << "\" fill=\"none\" stroke=\"#333\"/>\n";
  svg << "<text x=\"" << left + w / 2 << "\" y=\"" << plot.height - 14 << "\" text-anchor=\"middle\">"
      << escape(plot.x_label) << "</text>\n";
  svg << "<text transform=\"translate(18," << top + h / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
      << escape(plot.y_label) << "</text>\n";
  // Series and legend.
  for (size_t i = 0; i < plot.series.size(); ++i) {
    const PlotSeries& s = plot.series[i];
    const char* color = kColors[i % (sizeof(kColors) / sizeof(kColors[0]))];
    std::ostringstream points;
    for (size_t k = 0; k < s.x.size(); ++k)
      points << (k ? " " : "") << px(plot.log2_x ? std::log2(s.x[k]) : s.x[k]) << ',' << py(s.y[k]);
    svg << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\""
        << (s.dashed ? " stroke-dasharray=\"6,4\"" : "") << " points=\"" << points.str() << "\"/>\n";
    if (!s.dashed)
      for (size_t k = 0; k < s.x.size(); ++k)
        svg << "<circle cx=\"" << px(plot.log2_x ? std::log2(s.x[k]) : s.x[k]) << "\" cy=\"" << py(s.y[k])
            << "\" r=\"3\" fill=\"" << color << "\"/>\n";
    const double ly = top + 14 + 20 * static_cast<double>(i);
    svg << "<line x1=\"" << left + w + 14 << "\" x2=\"" << left + w + 40 << "\" y1=\"" << ly << "\" y2=\"" << ly
        << "\" stroke=\"" << color << "\" stroke-width=\"2\"" << (s.dashed ? " stroke-dasharray=\"6,4\"" : "")
        << "/>\n";
    svg << "<text x=\"" << left + w + 46 << "\" y=\"" << ly + 4 << "\">" << escape(s.name) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

void write_line_plot_svg(const std::string& path, const LinePlot& plot) {
  const std::string text = render_line_plot_svg(plot);
  std::ofstream out(path);
  ADAMAS_CHECK(out, path, ": cannot open for writing");
  out << text;
  ADAMAS_CHECK(out.good(), path, ": write failed");
}

}  // namespace adamas
