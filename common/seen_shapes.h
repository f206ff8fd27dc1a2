// The attention shapes the ComfyUI node recorded (comfyui_node/seen.py), as extra workloads for
// `autotune tune --seen`. Pure: text in, shapes and workloads out; the file is outside
// input, so every problem is a warning naming the bad value, never a failed boot.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/workload.h"

namespace autotune {

struct SeenShape {
  int batch = 0;
  int heads = 0;
  int head_dim = 0;
  std::int64_t q_len = 0;
  std::int64_t kv_len = 0;
  Layout layout = Layout::blhd_flat;
  std::string dtype;   // "float16", "bfloat16", "float32"
  std::string family;  // the ModelPatcher's model class ("WAN21", "Flux"); empty when unknown
  int calls_per_step = 1;
};

struct SeenRead {
  std::vector<SeenShape> shapes;
  std::vector<std::string> warnings;
};

// `.attention_decision.json` -> `.attention_decision.seen.json`: the name seen.py's seen_path gives.
std::filesystem::path seen_shapes_path(const std::filesystem::path& decision_file);

// The file's content; `name` goes into the warnings. A bad document gives no shapes and one
// warning; a bad entry is skipped with a warning naming its index, field and value.
SeenRead parse_seen_shapes(const std::string& text, const std::string& name);
// A missing file is no shapes and no warning (ComfyUI has not run a prompt yet).
SeenRead read_seen_shapes(const std::filesystem::path& path);

// The recorded shapes that no workload of `base` covers, bucketed, as workloads of the set "seen".
//
// Bucket rule: a shape's cell is (head_dim, round(log2 batch*heads), round(log2 q_len),
// round(log2 kv_len)); a cell is tuned once, on the first shape recorded in it. Two shapes of one
// cell are within a factor of sqrt(2) of the cell's centre in each value, so within a factor of 2
// of each other: routing.py's "near" rule sends every shape of the cell to the one measured. A
// user sweeping resolutions (tokens grow with the area: 1024 to 1280 px is 1.56x) adds one tune
// per octave of tokens, not one per image. A shape within that factor of 2 of a base workload or
// of a shape already taken (same head_dim) is covered and not tuned: the node routes it there.
std::vector<Workload> seen_workloads(const std::vector<Workload>& base, const std::vector<SeenShape>& seen);

}  // namespace autotune
