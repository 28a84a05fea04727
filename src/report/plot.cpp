#include "finch/report/plot.h"

#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "finch/core/error.h"

namespace finch::report {
namespace {

constexpr double kPanelW = 460, kPanelH = 360, kTitleH = 40;
constexpr double kLeft = 74, kRight = 20, kTop = 36, kBottom = 70;

double nice_step(double span, int target) {
  const double raw = span / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

// One format per axis: scientific when the axis' magnitude calls for it, else enough decimals.
std::string tick_label(double v, double step, bool sci) {
  if (std::abs(v) < step * 1e-6) return "0";
  if (sci) return fmt::format("{:.1e}", v);
  const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  return fmt::format("{:.{}f}", v, decimals);
}

void text(cairo_t* cr, double x, double y, const std::string& s, double size, double align_x = 0, double align_y = 0,
          bool bold = false, double angle = 0) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_text_extents_t e;
  cairo_text_extents(cr, s.c_str(), &e);
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle);
  cairo_move_to(cr, -e.width * align_x - e.x_bearing, e.height * align_y);
  cairo_show_text(cr, s.c_str());
  cairo_restore(cr);
}

void draw_panel(cairo_t* cr, const Panel& p, double ox, double oy) {
  const double x0 = ox + kLeft, x1 = ox + kPanelW - kRight, y0 = oy + kTop, y1 = oy + kPanelH - kBottom;
  double xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = -1e300;
  auto fy = [&](double v) { return p.log_y ? std::log10(std::max(v, 1e-12)) : v; };
  for (const auto& s : p.series)
    for (size_t k = 0; k < s.x.size(); ++k) {
      if (!std::isfinite(s.y[k])) continue;
      xmin = std::min(xmin, s.x[k]), xmax = std::max(xmax, s.x[k]);
      ymin = std::min(ymin, fy(s.y[k])), ymax = std::max(ymax, fy(s.y[k]));
    }
  if (xmin > xmax) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  if (xmax - xmin < 1e-12) xmin -= 0.5, xmax += 0.5;
  if (ymax - ymin < 1e-12) ymin -= std::max(1e-3, std::abs(ymin) * 0.1), ymax += std::max(1e-3, std::abs(ymax) * 0.1);
  const double pad = (ymax - ymin) * 0.06;
  ymin -= pad, ymax += pad;
  auto X = [&](double v) { return x0 + (v - xmin) / (xmax - xmin) * (x1 - x0); };
  auto Y = [&](double v) { return y1 - (fy(v) - ymin) / (ymax - ymin) * (y1 - y0); };
  auto Yraw = [&](double v) { return y1 - (v - ymin) / (ymax - ymin) * (y1 - y0); };

  // Title, frame, grid and ticks.
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  text(cr, (x0 + x1) / 2, oy + 20, p.title, 14, 0.5, 0, true);
  cairo_set_line_width(cr, 1);
  const double xs = std::max(1.0, nice_step(xmax - xmin, 6));  // epochs: whole numbers
  const double ys = nice_step(ymax - ymin, 6);
  const double ymag = std::max(std::abs(ymin), std::abs(ymax));
  const bool ysci = !p.log_y && (ymag < 1e-2 || ymag >= 1e5);
  for (double v = std::ceil(xmin / xs) * xs; v <= xmax + 1e-9; v += xs) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, X(v), y0), cairo_line_to(cr, X(v), y1), cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    text(cr, X(v), y1 + 16, tick_label(v, xs, false), 11, 0.5, 0);
  }
  for (double v = std::ceil(ymin / ys) * ys; v <= ymax + 1e-9; v += ys) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, x0, Yraw(v)), cairo_line_to(cr, x1, Yraw(v)), cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    text(cr, x0 - 6, Yraw(v), p.log_y ? tick_label(std::pow(10, v), std::pow(10, v) / 10, true) : tick_label(v, ys, ysci), 11, 1, 0.5);
  }
  cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
  cairo_rectangle(cr, x0, y0, x1 - x0, y1 - y0);
  cairo_stroke(cr);
  text(cr, (x0 + x1) / 2, y1 + 34, p.xlabel, 12, 0.5, 0);
  text(cr, ox + 16, (y0 + y1) / 2, p.ylabel, 12, 0.5, 0.5, false, -M_PI / 2);

  // The marked x (best epoch).
  if (p.marker_x) {
    const double dash[] = {5, 4};
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
    cairo_move_to(cr, X(*p.marker_x), y0), cairo_line_to(cr, X(*p.marker_x), y1), cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    text(cr, X(*p.marker_x) + 4, y0 + 12, p.marker_label, 10, 0, 0);
  }
  // Series.
  cairo_save(cr);
  cairo_rectangle(cr, x0, y0, x1 - x0, y1 - y0);
  cairo_clip(cr);
  for (const auto& s : p.series) {
    cairo_set_source_rgb(cr, s.rgb[0], s.rgb[1], s.rgb[2]);
    cairo_set_line_width(cr, 2);
    const double dash[] = {6, 4};
    cairo_set_dash(cr, dash, s.dashed ? 2 : 0, 0);
    bool started = false;
    for (size_t k = 0; k < s.x.size(); ++k) {
      if (!std::isfinite(s.y[k])) continue;
      if (!started) cairo_move_to(cr, X(s.x[k]), Y(s.y[k]));
      else cairo_line_to(cr, X(s.x[k]), Y(s.y[k]));
      started = true;
    }
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    for (size_t k = 0; k < s.x.size(); ++k)
      if (std::isfinite(s.y[k])) cairo_arc(cr, X(s.x[k]), Y(s.y[k]), 2.5, 0, 2 * M_PI), cairo_fill(cr);
  }
  cairo_restore(cr);
  // Legend: one row under the axis, clear of the data.
  double lx = x0;
  const double ly = y1 + 54;
  for (const auto& s : p.series) {
    cairo_set_source_rgb(cr, s.rgb[0], s.rgb[1], s.rgb[2]);
    cairo_set_line_width(cr, 2.5);
    cairo_move_to(cr, lx, ly), cairo_line_to(cr, lx + 18, ly), cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    const std::string label = s.label.size() > 24 ? s.label.substr(0, 23) + "…" : s.label;
    text(cr, lx + 22, ly, label, 11, 0, 0.35);
    cairo_text_extents_t e;
    cairo_text_extents(cr, label.c_str(), &e);
    lx += 22 + e.x_advance + 14;
    if (lx > x1 - 40) break;
  }
}

void render(cairo_t* cr, const std::vector<Panel>& panels, const std::string& title, double W, double H) {
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_rectangle(cr, 0, 0, W, H);
  cairo_fill(cr);
  cairo_set_source_rgb(cr, 0.05, 0.05, 0.05);
  text(cr, W / 2, 24, title, 15, 0.5, 0, true);
  for (size_t k = 0; k < panels.size(); ++k) draw_panel(cr, panels[k], k * kPanelW, kTitleH);
}

}  // namespace

void draw_figure(const std::vector<Panel>& panels, const std::string& title, const std::string& svg_path, const std::string& png_path) {
  const double W = kPanelW * std::max<size_t>(1, panels.size()), H = kPanelH + kTitleH;
  cairo_surface_t* svg = cairo_svg_surface_create(svg_path.c_str(), W, H);
  cairo_t* cr = cairo_create(svg);
  render(cr, panels, title, W, H);
  cairo_destroy(cr);
  cairo_surface_finish(svg);
  const auto svg_status = cairo_surface_status(svg);
  cairo_surface_destroy(svg);
  if (svg_status != CAIRO_STATUS_SUCCESS) throw RuntimeError(fmt::format("cannot write '{}': {}", svg_path, cairo_status_to_string(svg_status)));
  cairo_surface_t* png = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, static_cast<int>(W), static_cast<int>(H));
  cr = cairo_create(png);
  render(cr, panels, title, W, H);
  cairo_destroy(cr);
  const auto png_status = cairo_surface_write_to_png(png, png_path.c_str());
  cairo_surface_destroy(png);
  if (png_status != CAIRO_STATUS_SUCCESS) throw RuntimeError(fmt::format("cannot write '{}': {}", png_path, cairo_status_to_string(png_status)));
}

}  // namespace finch::report
