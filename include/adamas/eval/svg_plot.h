// A small SVG line-plot writer for the sweep results: axes with ticks, optional log2 x axis,
// one polyline with markers per series, a legend. No dependencies, deterministic output.
#pragma once

#include <string>
#include <vector>

namespace adamas {

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
  bool dashed = false;  // reference lines (full attention)
};

struct LinePlot {
  std::string title, x_label, y_label;
  bool log2_x = false;
  int width = 760, height = 460;
  std::vector<PlotSeries> series;
};

// Throws adamas::Error when a series has mismatched x/y sizes, non-finite values, or non-positive
// x on a log axis.
std::string render_line_plot_svg(const LinePlot& plot);
void write_line_plot_svg(const std::string& path, const LinePlot& plot);

}  // namespace adamas
