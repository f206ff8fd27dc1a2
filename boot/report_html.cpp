#include "report_html.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "common/text.h"

namespace autotune {

namespace {

// Milliseconds with three significant-ish digits: 0.0135, 0.361, 12.3, 1430.
std::string ms(double v) {
  if (v < 0.1) return format_number("%.4f", v);
  if (v < 10) return format_number("%.3f", v);
  if (v < 1000) return format_number("%.1f", v);
  return format_number("%.0f", v);
}

std::string e(std::string_view s) { return html_escape(s); }

std::string mechanism_label(Mechanism m) {
  const std::string name(to_string(m));
  const std::string backend = default_backend_of(m);
  return backend == name ? name : name + " (" + backend + ")";
}

// Colours from the Tableau 10 palette, chosen to stay distinct in greyscale print as well.
constexpr const char* kStyle = R"(
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #222;
       max-width: 1120px; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ccc; padding-bottom: 3px; }
h3 { font-size: 14px; margin: 14px 0 4px; font-family: monospace; }
p.sub { color: #555; margin-top: 0; }
.summary { background: #f4f6f8; border-left: 4px solid #e45756; padding: 8px 12px; }
table { border-collapse: collapse; font-size: 12px; margin: 4px 0 10px; }
th, td { padding: 2px 8px; text-align: right; border-bottom: 1px solid #eee; }
th { background: #fafafa; }
td.l, th.l { text-align: left; }
tr.win td { background: #fdebd3; font-weight: bold; }
tr.bad td { color: #999; }
td.why { color: #a33; text-align: left; max-width: 520px; word-break: break-word; }
.peak { display: inline-block; height: 8px; background: #4c78a8; vertical-align: middle; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; }
.sw { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: middle; }
svg text { font-family: Helvetica, Arial, sans-serif; font-size: 12px; }
footer { margin-top: 30px; color: #777; font-size: 11px; }
)";

constexpr const char* kBar = "#4c78a8";       // a mechanism ComfyUI can be configured with
constexpr const char* kPick = "#e45756";      // the pick
constexpr const char* kRouted = "#72b7b2";    // every shape routed to its winner (custom node)
constexpr const char* kNodeOnly = "#bab0ac";  // an SDPA kernel only the node can pin

struct Bar {
  std::string label;
  double value = 0;
  const char* colour = kBar;
  std::string note;
};

// Horizontal bars, one scale per chart: the video families' 100-ms steps would flatten the
// image families' bars onto one axis.
void bar_chart(std::ostringstream& out, const std::vector<Bar>& bars) {
  double top = 0;
  for (const auto& b : bars) top = std::max(top, b.value);
  if (top <= 0) top = 1;
  constexpr int label_w = 230, plot_w = 520, row = 22;
  const int height = static_cast<int>(bars.size()) * row + 26;
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << label_w + plot_w + 220 << "\" height=\"" << height
      << "\" role=\"img\" aria-label=\"milliseconds per sampling step by backend\">\n";
  int y = 4;
  for (const auto& b : bars) {
    const double w = std::max(1.0, plot_w * b.value / top);
    out << "<text x=\"" << label_w - 8 << "\" y=\"" << y + 14 << "\" text-anchor=\"end\""
        << (b.colour == kPick ? " font-weight=\"bold\"" : "") << ">" << e(b.label) << "</text>"
        << "<rect x=\"" << label_w << "\" y=\"" << y + 3 << "\" width=\"" << format_number("%.1f", w)
        << "\" height=\"" << row - 6 << "\" fill=\"" << b.colour << "\"/>"
        << "<text x=\"" << format_number("%.1f", label_w + w + 6) << "\" y=\"" << y + 14 << "\">" << ms(b.value) << " ms"
        << e(b.note) << "</text>\n";
    y += row;
  }
  out << "<line x1=\"" << label_w << "\" y1=\"2\" x2=\"" << label_w << "\" y2=\"" << y + 2
      << "\" stroke=\"#333\"/>\n<text x=\"" << label_w << "\" y=\"" << y + 18
      << "\" fill=\"#666\">ms per sampling step (calls per step x median per call, summed over the family's shapes)</text>\n";
  out << "</svg>\n";
}

void shape_table(std::ostringstream& out, const Report& r, const Workload& w, const std::optional<PeakTflops>& peak,
                 const std::string& pick_backend) {
  out << "<h3>" << e(w.id) << "</h3>\n<p class=\"sub\">" << e(w.model) << ": B " << w.batch << ", H " << w.heads
      << ", Lq " << w.q_len << ", Lk " << w.kv_len << ", D " << w.head_dim << ", layout " << e(to_string(w.layout))
      << "; " << w.calls_per_step << " calls per step; " << format_number("%.3f", w.flops() / 1e12) << " TFLOP per call</p>\n";
  out << "<table><tr><th class=\"l\">backend</th><th>median ms</th><th>spread</th><th>host ms</th>"
         "<th>TFLOP/s</th>"
      << (peak ? "<th class=\"l\">of peak</th>" : "")
      << "<th>peak MiB</th><th>rel. error</th><th class=\"l\">status</th><th class=\"l\">note</th></tr>\n";
  const std::string winner = routed_backend(r, w.id);
  for (const Measurement* m : rows_of(r, w.id)) {
    const bool ok = m->status == Status::ok;
    const double tf = tflops(w, *m);
    out << "<tr" << (m->backend == winner ? " class=\"win\"" : ok ? "" : " class=\"bad\"") << "><td class=\"l\">"
        << e(m->backend) << (m->backend == winner ? " &#9733;" : "") << (m->backend == pick_backend ? " (pick)" : "")
        << "</td><td>" << (ok ? ms(m->median_ms) : "-") << "</td><td>"
        << spread_text(*m) << "</td><td>" << (ok ? format_number("%.3f", m->host_ms) : "-")
        << "</td><td>" << (ok ? format_number("%.1f", tf) : "-") << "</td>";
    if (peak) {
      const double pct = ok ? 100 * tf / peak->tflops : 0;
      out << "<td class=\"l\">";
      if (ok)
        out << "<span class=\"peak\" style=\"width:" << format_number("%.0f", std::min(100.0, pct) * 0.6) << "px\"></span> "
            << format_number("%.0f%%", pct);
      else
        out << "-";
      out << "</td>";
    }
    out << "<td>" << (m->peak_mem_bytes ? format_number("%.1f", m->peak_mem_bytes / 1048576.0) : "-") << "</td><td>"
        << (ok || m->rel_error > 0 ? format_number("%.1e", m->rel_error) : "-") << "</td><td class=\"l\">"
        << e(to_string(m->status)) << "</td><td class=\"why\">" << e(m->reason) << "</td></tr>\n";
  }
  out << "</table>\n";
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_html(const Report& r) {
  std::ostringstream out;
  const auto peak = peak_bf16(r.key.gpu_name);
  // A plain value and a flag, not std::optional: GCC 12 warns maybe-uninitialized on the latter here.
  const bool has_pick = r.policy.decision.has_value();
  const Mechanism picked_mechanism = has_pick ? r.policy.decision->mechanism : Mechanism::pytorch;
  const std::string pick_backend = has_pick ? default_backend_of(picked_mechanism) : std::string();

  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n"
         "<title>Attention autotune report: "
      << e(r.key.gpu_name) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";
  out << "<h1>Attention backends for ComfyUI on " << e(r.key.gpu_name) << "</h1>\n<p class=\"sub\">compute "
      << e(r.key.compute_capability) << ", driver " << e(r.key.driver) << ", torch " << e(r.key.torch)
      << (r.generated_at.empty() ? "" : ", report of " + e(r.generated_at)) << "</p>\n";

  if (r.measurements.empty()) {
    out << "<p class=\"summary\">No measurements are cached for this GPU and software yet: run "
           "<code>autotune</code> to tune.</p>\n";
  } else {
    out << "<div class=\"summary\">";
    if (has_pick) {
      const double step = r.step_ms(picked_mechanism).value_or(0);
      out << "<p><b>Pick: " << e(mechanism_label(picked_mechanism)) << "</b>, " << ms(step)
          << " ms of attention per sampling step over the " << r.workloads.size() << " shapes of the "
          << e(r.workload_set.empty() ? std::string("tuned") : r.workload_set) << " set; "
          << ms(r.policy.routed_step_ms) << " ms with every shape routed to its own winner (ComfyUI node).</p>";
      for (const auto& [label, other] : {std::pair<std::string, Mechanism>{"ComfyUI's default", r.comfyui_default},
                                         {"the static table's choice", r.table_choice}}) {
        const auto o = r.step_ms(other);
        out << "<p>Over " << label << " (" << e(to_string(other)) << "): "
            << (o && step > 0 ? format_number("%.2fx", *o / step) + " (" + ms(*o) + " ms)" : e(why_no_cost(r, other)))
            << "</p>";
      }
    } else {
      out << "<p><b>No pick</b>: " << e(r.policy.reason) << "</p>";
    }
    out << "<p>Policy: " << e(r.policy.reason) << "</p></div>\n";
    out << "<p class=\"legend\"><span><i class=\"sw\" style=\"background:" << kPick
        << "\"></i>the pick</span><span><i class=\"sw\" style=\"background:" << kBar
        << "\"></i>other ComfyUI flag</span><span><i class=\"sw\" style=\"background:" << kRouted
        << "\"></i>per-shape routing (node)</span><span><i class=\"sw\" style=\"background:" << kNodeOnly
        << "\"></i>SDPA kernel only the node can pin</span></p>\n"
        << "<p class=\"sub\">A backend that cannot run a shape is charged ComfyUI's fallback there (its PyTorch "
           "path, sdpa_comfy), as ComfyUI falls back per call; one that crashed, hung or returned wrong numbers "
           "is not eligible. &#9733; marks each shape's fastest backend."
        << (peak ? " TFLOP/s is against the " + e(peak->card) + "'s " + format_number("%.0f", peak->tflops) +
                       " TFLOP/s dense bf16 peak."
                 : std::string(" This card's peak is not in the table, so no ratio is shown."))
        << "</p>\n";

    for (const auto& f : family_costs(r)) {
      out << "<section>\n<h2>" << e(f.family) << "</h2>\n";
      std::vector<Bar> bars;
      std::vector<std::string> not_eligible;
      for (const auto& c : f.policy.costs) {
        if (!c.eligible) {
          not_eligible.push_back(mechanism_label(c.mechanism) + ": " + c.why_not);
          continue;
        }
        const bool picked = has_pick && picked_mechanism == c.mechanism;
        bars.push_back({mechanism_label(c.mechanism), c.step_ms, picked ? kPick : kBar,
                        c.fallback_shapes ? ", " + std::to_string(c.fallback_shapes) + " shape(s) fall back" : ""});
      }
      for (const auto& [backend, step] : f.node_only) bars.push_back({backend + " (node)", step, kNodeOnly, ""});
      if (f.policy.routed_step_ms > 0) bars.push_back({"per-shape routing", f.policy.routed_step_ms, kRouted, ""});
      if (bars.empty()) out << "<p>No backend has a usable measurement for every shape of this family.</p>\n";
      else bar_chart(out, bars);
      if (!not_eligible.empty()) {
        out << "<p class=\"sub\">Not eligible:</p><ul>";
        for (const auto& n : not_eligible) out << "<li>" << e(n) << "</li>";
        out << "</ul>\n";
      }
      for (const auto& w : f.workloads) shape_table(out, r, w, peak, pick_backend);
      out << "</section>\n";
    }

    out << "<h2>Rejected and failed</h2>\n";
    bool any = false;
    for (const auto& w : r.workloads)
      for (const Measurement* m : rows_of(r, w.id)) {
        if (m->status == Status::ok) continue;
        if (!any)
          out << "<table><tr><th class=\"l\">backend</th><th class=\"l\">shape</th><th class=\"l\">status</th>"
                 "<th>rel. error</th><th class=\"l\">reason</th></tr>\n";
        any = true;
        out << "<tr><td class=\"l\">" << e(m->backend) << "</td><td class=\"l\">" << e(m->shape)
            << "</td><td class=\"l\">" << e(to_string(m->status)) << "</td><td>"
            << (m->rel_error > 0 ? format_number("%.1e", m->rel_error) : "-") << "</td><td class=\"why\">" << e(m->reason)
            << "</td></tr>\n";
      }
    out << (any ? "</table>\n" : "<p>None: every backend ran every shape.</p>\n");
    bool excluded = false;
    for (const auto& c : r.policy.costs)
      if (!c.eligible) {
        if (!excluded) out << "<p class=\"sub\">Mechanisms not eligible over the whole set:</p><ul>";
        excluded = true;
        out << "<li>" << e(mechanism_label(c.mechanism)) << ": " << e(c.why_not) << "</li>";
      }
    if (excluded) out << "</ul>\n";
  }

  out << "<h2>Environment</h2>\n<table>\n";
  const auto row = [&](const std::string& k, const std::string& v) {
    if (!v.empty()) out << "<tr><th class=\"l\">" << e(k) << "</th><td class=\"l\">" << e(v) << "</td></tr>\n";
  };
  row("GPU", r.key.gpu_name);
  row("compute capability", r.key.compute_capability);
  row("SMs", r.key.sm_count ? std::to_string(r.key.sm_count) : "");
  row("memory", r.key.memory_mib ? std::to_string(r.key.memory_mib) + " MiB" : "");
  row("driver", r.key.driver);
  row("CUDA (torch's)", r.key.cuda_runtime);
  row("torch", r.key.torch);
  row("Python", r.python);
  for (const auto& [name, version] : r.packages)
    if (name != "torch") row(name, version);
  row("workload set", r.workload_set.empty() ? "" : r.workload_set + " (" + r.key.workloads_version + ")");
  row("harness", r.key.harness_version);
  row("peak dense bf16", peak ? format_number("%.0f TFLOP/s", peak->tflops) + " (" + std::string(peak->source) + ")"
                              : "unknown for this card");
  row("report generated", r.generated_at);
  out << "</table>\n<footer>autotune " << e(AUTOTUNE_VERSION)
      << ". Medians are GPU time per call with calls back to back; host time per call is measured "
         "separately and reported, not added.</footer>\n</body>\n</html>\n";
  return out.str();
}

}  // namespace autotune
