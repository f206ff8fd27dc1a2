#include "seen_shapes.h"

#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace autotune {
namespace fs = std::filesystem;

fs::path seen_shapes_path(const fs::path& decision_file) {
  fs::path p = decision_file;
  const std::string ext = p.has_extension() ? p.extension().string() : ".json";
  p.replace_extension();
  return p.string() + ".seen" + ext;
}

namespace {

// Far above any model's (Wan 720p: 75,600 tokens; a 10-minute LTX video stays under 2^24): a larger
// value is a damaged file, and measuring it would take the card's whole memory.
constexpr std::int64_t kMaxLen = std::int64_t{1} << 24;
constexpr int kMaxHeadsBatch = 1 << 16;

bool positive_int(const nlohmann::json& v, std::int64_t max, std::int64_t& out) {
  if (!v.is_number_integer()) return false;
  const auto x = v.get<std::int64_t>();
  if (x <= 0 || x > max) return false;
  out = x;
  return true;
}

std::string slug(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (out.size() >= 24) break;
  }
  return out.empty() ? "model" : out;
}

bool near(int head_dim, std::int64_t bh, std::int64_t q, std::int64_t kv, const Workload& w) {
  const auto within = [](double a, double b) { return std::fabs(std::log2(a / b)) <= 1.0; };
  return w.head_dim == head_dim && within(static_cast<double>(bh), static_cast<double>(w.batch) * w.heads) &&
         within(static_cast<double>(q), static_cast<double>(w.q_len)) &&
         within(static_cast<double>(kv), static_cast<double>(w.kv_len));
}

}  // namespace

SeenRead parse_seen_shapes(const std::string& text, const std::string& name) {
  SeenRead r;
  const auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    r.warnings.push_back("recorded shapes " + name + " are not a JSON object; ignored");
    return r;
  }
  if (doc.value("schema", nlohmann::json()) != 1) {
    r.warnings.push_back("recorded shapes " + name + ": schema is " + doc.value("schema", nlohmann::json()).dump() +
                         ", expected 1; ignored");
    return r;
  }
  const auto it = doc.find("shapes");
  if (it == doc.end() || !it->is_array()) {
    r.warnings.push_back("recorded shapes " + name + ": \"shapes\" is missing or not a list; ignored");
    return r;
  }
  for (std::size_t i = 0; i < it->size(); ++i) {
    const auto& e = (*it)[i];
    const std::string where = "recorded shapes " + name + ": shapes[" + std::to_string(i) + "]";
    if (!e.is_object()) {
      r.warnings.push_back(where + " is " + e.dump() + ", expected an object; skipped");
      continue;
    }
    SeenShape s;
    std::int64_t v = 0;
    bool ok = true;
    const auto field = [&](const char* f, std::int64_t max, auto& out) {
      if (!ok) return;
      const auto value = e.value(f, nlohmann::json());
      if (!positive_int(value, max, v)) {
        r.warnings.push_back(where + "." + f + " is " + value.dump() + ", expected an integer from 1 to " +
                             std::to_string(max) + "; skipped");
        ok = false;
        return;
      }
      out = static_cast<std::remove_reference_t<decltype(out)>>(v);
    };
    field("batch", kMaxHeadsBatch, s.batch);
    field("heads", kMaxHeadsBatch, s.heads);
    field("head_dim", 1024, s.head_dim);
    field("q_len", kMaxLen, s.q_len);
    field("kv_len", kMaxLen, s.kv_len);
    field("calls_per_step", 1 << 20, s.calls_per_step);
    if (!ok) continue;
    const auto layout = e.value("layout", nlohmann::json());
    try {
      s.layout = parse_layout(layout.is_string() ? layout.get<std::string>() : layout.dump());
    } catch (const std::exception& ex) {
      r.warnings.push_back(where + ".layout: " + ex.what() + "; skipped");
      continue;
    }
    const auto dtype = e.value("dtype", nlohmann::json());
    if (!dtype.is_string() || (dtype != "float16" && dtype != "bfloat16" && dtype != "float32")) {
      r.warnings.push_back(where + ".dtype is " + dtype.dump() + ", expected float16, bfloat16 or float32; skipped");
      continue;
    }
    s.dtype = dtype.get<std::string>();
    const auto family = e.value("family", nlohmann::json());
    if (family.is_string()) s.family = family.get<std::string>();
    r.shapes.push_back(std::move(s));
  }
  return r;
}

SeenRead read_seen_shapes(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return {};
  std::ifstream in(path, std::ios::binary);
  if (!in) return {{}, {"recorded shapes " + path.string() + " are unreadable; ignored"}};
  std::ostringstream text;
  text << in.rdbuf();
  return parse_seen_shapes(text.str(), path.string());
}

std::vector<Workload> seen_workloads(const std::vector<Workload>& base, const std::vector<SeenShape>& seen) {
  using Cell = std::tuple<int, long, long, long>;
  std::map<Cell, std::size_t> cells;  // cell -> index in `out`
  std::vector<Workload> out;
  const auto cell_of = [](double x) { return std::lround(std::log2(x)); };
  for (const auto& s : seen) {
    const std::int64_t bh = std::int64_t{s.batch} * s.heads;
    const Cell cell{s.head_dim, cell_of(static_cast<double>(bh)), cell_of(static_cast<double>(s.q_len)),
                    cell_of(static_cast<double>(s.kv_len))};
    if (const auto it = cells.find(cell); it != cells.end()) {
      // The cell's calls per step: the most any of its shapes makes (one model's step at a time).
      auto& w = out[it->second];
      w.calls_per_step = std::max(w.calls_per_step, s.calls_per_step);
      continue;
    }
    bool covered = false;
    for (const auto& w : base) covered = covered || near(s.head_dim, bh, s.q_len, s.kv_len, w);
    for (const auto& w : out) covered = covered || near(s.head_dim, bh, s.q_len, s.kv_len, w);
    if (covered) continue;
    Workload w;
    w.id = "seen-" + slug(s.family) + "-" + std::to_string(s.batch) + "x" + std::to_string(s.heads) + "x" +
           std::to_string(s.head_dim) + "-q" + std::to_string(s.q_len) + "-kv" + std::to_string(s.kv_len);
    w.model = "recorded by the node" + (s.family.empty() ? std::string() : ": " + s.family);
    w.family = s.family.empty() ? "seen" : s.family;
    w.sets = {"seen"};
    w.batch = s.batch;
    w.heads = s.heads;
    w.head_dim = s.head_dim;
    w.q_len = s.q_len;
    w.kv_len = s.kv_len;
    w.layout = s.layout;
    w.calls_per_step = s.calls_per_step;
    w.source = "a real run on this pod (" + s.dtype + ")";
    cells.emplace(cell, out.size());
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace autotune
