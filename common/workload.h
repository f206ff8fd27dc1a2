// Workload shapes: the attention calls of popular ComfyUI models, read from workloads/*.json.
// The parent forwards them to the worker as JSON (to_json/from_json); both sides use this file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace autotune {

// Bump when the way a measurement is taken changes (timing, stopping rule, reference, reshapes):
// it is part of the cache key, so old numbers are not mixed with new ones. harness-3: a shape's
// backends take their samples in turns (harness-2 was the reverted idle_ratio default);
// harness-4: each turn settles the card's clock with untimed calls first; harness-5: samples
// queued back to back, no spin between them, and the settle counted in device time; harness-6: a
// backend 4x another's by its warm-up takes one sample, unsettled (StoppingParams::outpaced_far_ratio).
inline constexpr const char* kHarnessVersion = "harness-6";

// How the q, k, v tensors reach ComfyUI's attention function.
enum class Layout {
  bhld,       // (B, H, L, D): Flux, HunyuanVideo call optimized_attention(..., skip_reshape=True)
  blhd_flat,  // (B, L, H*D): UNet, Wan, LTX, Qwen, SD3; ComfyUI views it to heads around the kernel
};

std::string_view to_string(Layout l);
// Throws std::invalid_argument naming the value and the valid set.
Layout parse_layout(std::string_view s);

struct Workload {
  std::string id;     // unique over the catalogue: "flux-1024"
  std::string model;  // for people: "Flux.1 dev"
  std::string family;
  std::vector<std::string> sets;  // "default", "full"
  int batch = 1;
  int heads = 0;
  int head_dim = 0;
  std::int64_t q_len = 0;
  std::int64_t kv_len = 0;
  Layout layout = Layout::blhd_flat;
  int calls_per_step = 1;  // attention calls of this shape in one sampling step
  std::string source;      // where the numbers come from (block counts, token counts)

  // Floating-point operations of one forward call: 4 * B * H * Lq * Lk * D.
  double flops() const;
  bool in_set(std::string_view set) const;
};

void to_json(nlohmann::json& j, const Workload& w);
// Throws std::invalid_argument naming the bad field and value.
void from_json(const nlohmann::json& j, Workload& w);

// Every workload of one file (an array, or an object with a "workloads" array), or of every
// *.json file in a directory (sorted by name). Validates each workload and that ids are unique;
// errors (std::runtime_error) name the file and the field.
std::vector<Workload> load_catalogue(const std::string& dir_or_file);
// The catalogue's files: the *.json files of a folder in name order, or the one file named.
// Throws when there is none, naming the path.
std::vector<std::filesystem::path> catalogue_files(const std::string& dir_or_file);
// One catalogue file's content: an array of workloads or {"workloads": [...]}. Throws
// std::runtime_error naming `name` and what is wrong.
std::vector<Workload> parse_catalogue(const std::string& text, const std::string& name);

// The catalogue's workloads that belong to `set`, in catalogue order. An empty result is an
// error naming the set and the sets the catalogue has.
std::vector<Workload> load_workloads(const std::string& dir_or_file, std::string_view set);

// Content hash of the given workloads (their JSON, in order): "wl-<16 hex digits>". Part of the
// cache key: editing a shape or a call count re-tunes.
std::string catalogue_version(const std::vector<Workload>& workloads);

}  // namespace autotune
