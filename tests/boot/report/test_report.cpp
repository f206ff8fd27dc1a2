// The report's data and its renderers, on the H100 FIXTURE (synthetic numbers shaped like
// DESIGN.md's table) and on hostile text. No GPU, no files.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

#include "tests/boot/report/fixture.h"
#include "boot/report.h"
#include "boot/report_html.h"
#include "common/gpu.h"

namespace autotune {
namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

Report fixture_report(const std::string& set = "default", PolicyOptions options = {}) {
  const auto workloads = load_workloads(fixture::kWorkloads.string(), set);
  auto r = build_report(fixture::h100_key(set), workloads, fixture::h100_measurements(workloads), Mechanism::pytorch,
                        Mechanism::flash3, options);
  r.python = "3.12.3";
  r.packages = {{"torch", "2.11.0+cu130"}, {"flash_attn_3", "3.0.0b1"}, {"sageattention", "2.2.0"}};
  r.workload_set = set;
  r.generated_at = "2026-11-25T12:00:00Z";
  return r;
}

const Measurement& find(const Report& r, const std::string& shape, const std::string& backend) {
  for (const auto& m : r.measurements)
    if (m.shape == shape && m.backend == backend) return m;
  throw std::runtime_error("no " + backend + " at " + shape);
}

// A hostile report: every string a library, the cache or the GPU could inject.
Report hostile_report() {
  Report r = fixture_report();
  r.key.gpu_name = "NVIDIA <b>H100</b> & \"friends\" 'x'";
  r.key.driver = "<script>alert('driver')</script>";
  r.packages["evil<lib>"] = "1.0\"><script>alert(1)</script>";
  r.generated_at = "<img src=x onerror=alert(1)>";
  for (auto& m : r.measurements)
    if (m.backend == "sage" && m.status != Status::ok) m.reason = "<script>alert('sage')</script> & </td></table>";
  Measurement evil = r.measurements.front();
  evil.backend = "<svg onload=alert(1)>";
  evil.status = Status::failed;
  evil.reason = "Traceback (most recent call last):\n  File \"<x>\", line 1\n<iframe src=\"http://evil\">";
  r.measurements.push_back(evil);
  return r;
}

TEST(Report, FixtureFollowsDesignWinnersPerShape) {
  const Report r = fixture_report();
  EXPECT_EQ(routed_backend(r, "flux-1024"), "flash3");            // 0.361 vs cuDNN 0.397
  // ComfyUI's own path 0.187, cuDNN 0.189: a tie within noise goes to the kernel the node pins.
  EXPECT_EQ(routed_backend(r, "sdxl-1024-self-4096"), "sdpa_cudnn");
  EXPECT_EQ(routed_backend(r, "wan13b-480p-self"), "sage");
  // Host-bound (policy.h): cuDNN's 0.0135 ms kernel costs its 0.021 ms of host time, the
  // efficient kernel max(0.018, 0.019) = 0.019 ms; within host_jitter_ms that is a tie.
  EXPECT_EQ(routed_backend(r, "sd15-512-self-256"), "sdpa_cudnn");
}

TEST(Report, FamilyCostsChargeTheFallbackWhereABackendCannotRun) {
  const Report r = fixture_report();
  const auto families = family_costs(r);
  const auto sd15 = std::find_if(families.begin(), families.end(), [](const FamilyCosts& f) { return f.family == "sd15"; });
  ASSERT_NE(sd15, families.end());
  // sage is unsupported at head_dim 160: ComfyUI falls back to its PyTorch path there.
  const auto sage = std::find_if(sd15->policy.costs.begin(), sd15->policy.costs.end(),
                                 [](const MechanismCost& c) { return c.mechanism == Mechanism::sage; });
  ASSERT_NE(sage, sd15->policy.costs.end());
  EXPECT_TRUE(sage->eligible);
  EXPECT_EQ(sage->fallback_shapes, 1);
  double expected = 0;
  for (const auto& w : sd15->workloads)
    expected += w.calls_per_step *
                (w.head_dim > 128 ? find(r, w.id, "sdpa_comfy").median_ms : find(r, w.id, "sage").median_ms);
  EXPECT_NEAR(sage->step_ms, expected, 1e-9);
  // FA3 crashed there: a crash takes ComfyUI down, so it is not eligible at all.
  const auto fa3 = std::find_if(sd15->policy.costs.begin(), sd15->policy.costs.end(),
                                [](const MechanismCost& c) { return c.mechanism == Mechanism::flash3; });
  ASSERT_NE(fa3, sd15->policy.costs.end());
  EXPECT_FALSE(fa3->eligible);
  // The SDPA kernels only the node can pin appear with their own step cost.
  bool cudnn = false;
  for (const auto& [backend, step] : sd15->node_only) cudnn |= backend == "sdpa_cudnn" && step > 0;
  EXPECT_TRUE(cudnn);
  // Per family, the costs agree with the whole-set policy on the whole set.
  double sum = 0;
  for (const auto& f : families)
    for (const auto& c : f.policy.costs)
      if (c.mechanism == Mechanism::pytorch) sum += c.step_ms;
  EXPECT_NEAR(sum, *r.step_ms(Mechanism::pytorch), 1e-6);
}

TEST(Report, PeakTableMatchesWholeWordsMostSpecificFirst) {
  EXPECT_EQ(peak_bf16("NVIDIA H100 80GB HBM3")->tflops, 989);
  EXPECT_EQ(peak_bf16("NVIDIA H100 PCIe")->tflops, 756);
  EXPECT_EQ(peak_bf16("NVIDIA H100 NVL")->tflops, 835);
  EXPECT_EQ(peak_bf16("NVIDIA H200")->tflops, 989);
  EXPECT_EQ(peak_bf16("NVIDIA A100-SXM4-80GB")->tflops, 312);
  EXPECT_EQ(peak_bf16("NVIDIA L40S")->tflops, 362);
  EXPECT_EQ(peak_bf16("NVIDIA L4")->tflops, 121);
  EXPECT_EQ(peak_bf16("NVIDIA GeForce RTX 4090")->tflops, 165);
  EXPECT_FALSE(peak_bf16("NVIDIA GeForce RTX 3060"));
  EXPECT_FALSE(peak_bf16("NVIDIA L400"));
  for (const auto& row : peak_bf16_table()) EXPECT_FALSE(row.source.empty()) << row.match;
}

TEST(Report, WrapKeepsEveryLineInsideTheWidth) {
  const std::string text = "one two three " + std::string(250, 'x') + " four five six seven eight nine ten";
  const std::string wrapped = wrap(text, 40, 4);
  for (const auto& line : lines_of(wrapped)) EXPECT_LE(line.size(), 40u) << line;
  EXPECT_EQ(lines_of(wrapped).front(), "one two three");
  EXPECT_EQ(lines_of(wrapped)[1].substr(0, 5), "    x");
  EXPECT_TRUE(contains(wrapped, "four five six"));
  EXPECT_EQ(wrap("", 40, 4), "");
}

TEST(Report, TextFitsOneHundredColumnsMarksThePickAndGroupsByFamily) {
  for (const std::string set : {"default", "full"}) {
    Report r = fixture_report(set);
    r.key.gpu_name += " with a very long name that someone put in a simulated GPU spec to test wrapping";
    find(r, r.workloads.front().id, "sdpa_flash");
    for (auto& m : r.measurements)
      if (m.status != Status::ok) m.reason = "Traceback (most recent call last): " + std::string(400, 'y') + " end";
    const std::string text = render_text(r);
    for (const auto& line : lines_of(text)) EXPECT_LE(line.size(), kTextWidth) << "[" << line << "]";
    EXPECT_TRUE(contains(text, "== flux ==")) << text;
    EXPECT_TRUE(contains(text, "== wan ==")) << text;
    EXPECT_TRUE(contains(text, "Pick: ")) << text;
    EXPECT_TRUE(contains(text, "median ms")) << text;
    EXPECT_TRUE(contains(text, "TFLOP/s")) << text;
    EXPECT_TRUE(contains(text, "Peak dense bf16: 989 TFLOP/s")) << text;
    EXPECT_TRUE(contains(text, " ...")) << "a long reason is cut and says so";
  }
  const std::string text = render_text(fixture_report());
  // The winner row of Flux: starred, aligned in the backend column.
  bool starred = false;
  for (const auto& line : lines_of(text)) starred |= line.rfind("  *", 0) == 0 && contains(line, "flash3");
  EXPECT_TRUE(starred) << text;
}

TEST(Report, SpreadOfOneSampleShowsAsADash) {
  // A backend far out of the race stops after one sample: its spread (0) is not a measurement.
  Report r = fixture_report();
  const std::string shape = r.workloads.front().id;
  for (auto& m : r.measurements)
    if (m.shape == shape && m.backend == "sdpa_efficient") m.samples = 1, m.spread = 0;
  const Measurement& one = find(r, shape, "sdpa_efficient");
  ASSERT_EQ(one.status, Status::ok);
  EXPECT_EQ(spread_text(one), "-");
  EXPECT_NE(spread_text(find(r, shape, "sdpa_flash")), "-");
  Measurement failed = one;
  failed.status = Status::failed, failed.samples = 40;
  EXPECT_EQ(spread_text(failed), "-");
  // In the text table: the row's third column (backend, median, spread).
  bool in_shape = false, seen = false;
  for (const auto& line : lines_of(render_text(r))) {
    if (line.rfind(shape + "  ", 0) == 0) in_shape = true;
    std::istringstream cols(line.substr(std::min<std::size_t>(line.size(), 4)));
    std::string backend, median, spread;
    cols >> backend >> median >> spread;
    if (in_shape && backend == "sdpa_efficient") {
      EXPECT_EQ(spread, "-") << line;
      seen = true;
      break;
    }
  }
  EXPECT_TRUE(seen);
}

TEST(Report, TextWithoutMeasurementsSaysHowToGetThem) {
  Report r = fixture_report();
  r.measurements.clear();
  EXPECT_TRUE(contains(render_text(r), "run `autotune` to tune"));
}

TEST(Report, JsonCarriesEnvironmentPeakAndFamilies) {
  const auto j = report_json(fixture_report());
  EXPECT_EQ(j.at("peak_bf16").at("tflops"), 989);
  EXPECT_EQ(j.at("packages").at("sageattention"), "2.2.0");
  EXPECT_EQ(j.at("python"), "3.12.3");
  EXPECT_FALSE(j.at("families").empty());
  EXPECT_TRUE(j.at("pick").is_string());
}

TEST(Report, HtmlIsSelfContained) {
  const std::string html = render_html(fixture_report());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_TRUE(contains(html, "</html>"));
  EXPECT_FALSE(contains(html, "<script"));
  EXPECT_FALSE(contains(html, "src="));
  EXPECT_FALSE(contains(html, "href="));
  EXPECT_FALSE(contains(html, "url("));
  EXPECT_FALSE(contains(html, "@import"));
  // The only URL is the SVG namespace, which is a name, not a fetch.
  std::string rest = html;
  EXPECT_FALSE(contains(html, "https:"));
  for (std::size_t at; (at = rest.find("http:")) != std::string::npos; rest.erase(0, at + 5))
    EXPECT_EQ(rest.compare(at, 26, "http://www.w3.org/2000/svg"), 0) << rest.substr(at, 60);
}

TEST(Report, HtmlShowsChartsPickPeakRejectionsAndEnvironment) {
  const Report r = fixture_report();
  const std::string html = render_html(r);
  int charts = 0;
  for (std::size_t at = 0; (at = html.find("<svg", at)) != std::string::npos; ++at) ++charts;
  EXPECT_EQ(charts, static_cast<int>(family_costs(r).size()));
  EXPECT_TRUE(contains(html, "Pick: " + std::string(to_string(r.policy.decision->mechanism))));
  EXPECT_TRUE(contains(html, "#e45756"));  // the pick's bar colour
  EXPECT_TRUE(contains(html, "of peak"));
  EXPECT_TRUE(contains(html, "989 TFLOP/s"));
  EXPECT_TRUE(contains(html, "Rejected and failed"));
  EXPECT_TRUE(contains(html, "killed by signal 11"));
  EXPECT_TRUE(contains(html, "head_dim 160 is not supported"));
  EXPECT_TRUE(contains(html, "sageattention"));
  EXPECT_TRUE(contains(html, "580.159.04"));
  EXPECT_TRUE(contains(html, "2026-11-25T12:00:00Z"));
  EXPECT_TRUE(contains(html, "peak MiB"));
  EXPECT_TRUE(contains(html, "rel. error"));
}

TEST(Report, HtmlUnknownCardOmitsTheRatio) {
  Report r = fixture_report();
  r.key.gpu_name = "NVIDIA Mystery 9000";
  const std::string html = render_html(r);
  EXPECT_FALSE(contains(html, "of peak</th>"));
  EXPECT_TRUE(contains(html, "not in the table"));
}

TEST(Report, HtmlEscapesEveryInjectedString) {
  EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  const std::string html = render_html(hostile_report());
  EXPECT_FALSE(contains(html, "<script"));
  EXPECT_FALSE(contains(html, "<img"));
  EXPECT_FALSE(contains(html, "<iframe"));
  EXPECT_FALSE(contains(html, "<svg onload"));
  EXPECT_FALSE(contains(html, "<b>H100"));
  EXPECT_FALSE(contains(html, "</td></table>"));
  EXPECT_TRUE(contains(html, "&lt;script&gt;alert(&#39;sage&#39;)&lt;/script&gt;"));
  EXPECT_TRUE(contains(html, "NVIDIA &lt;b&gt;H100&lt;/b&gt; &amp; &quot;friends&quot; &#39;x&#39;"));
  EXPECT_TRUE(contains(html, "&lt;svg onload=alert(1)&gt;"));
}

TEST(Report, HtmlWithoutMeasurements) {
  Report r = fixture_report();
  r.measurements.clear();
  r.policy = choose(r.workloads, r.measurements, r.options);
  const std::string html = render_html(r);
  EXPECT_TRUE(contains(html, "No measurements are cached"));
  EXPECT_TRUE(contains(html, "Environment"));
}

}  // namespace
}  // namespace autotune
