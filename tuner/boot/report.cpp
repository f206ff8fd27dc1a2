#include "report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace autotune {

std::string render_report(const CacheKey& key, const std::vector<Measurement>& rows) {
  std::ostringstream out;
  out << "GPU " << key.gpu_name << " (" << key.compute_capability << "), driver " << key.driver << ", torch "
      << key.torch << "\n";
  if (rows.empty()) {
    out << "No measurements cached for this GPU and software yet.\n";
    return out.str();
  }
  std::set<std::string> backends;
  std::map<std::string, std::map<std::string, std::string>> cells;  // shape -> backend -> text
  for (const auto& m : rows) {
    backends.insert(m.backend);
    std::string text;
    if (m.status == Status::ok) {
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%.3f", m.median_ms);
      text = buffer;
    } else {
      text = std::string(to_string(m.status));
    }
    cells[m.shape][m.backend] = text;
  }
  std::size_t shape_width = 5;
  for (const auto& [shape, _] : cells) shape_width = std::max(shape_width, shape.size());
  std::map<std::string, std::size_t> width;
  for (const auto& b : backends) {
    width[b] = b.size();
    for (const auto& [shape, row] : cells)
      if (auto it = row.find(b); it != row.end()) width[b] = std::max(width[b], it->second.size());
  }
  const auto pad = [](const std::string& s, std::size_t w) { return std::string(w - s.size(), ' ') + s; };
  out << "median GPU time per call, ms\n" << std::string("shape") + std::string(shape_width - 5, ' ');
  for (const auto& b : backends) out << "  " << pad(b, width[b]);
  out << "\n";
  for (const auto& [shape, row] : cells) {
    out << shape << std::string(shape_width - shape.size(), ' ');
    for (const auto& b : backends) {
      const auto it = row.find(b);
      out << "  " << pad(it == row.end() ? "-" : it->second, width[b]);
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace autotune
