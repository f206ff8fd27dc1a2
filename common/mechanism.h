// The attention mechanisms a ComfyUI process can be configured with, and how each is realised.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace autotune {

enum class Mechanism { flash3, flash2, sage, xformers, pytorch, split, quad };

inline constexpr std::array<Mechanism, 7> kAllMechanisms{
    Mechanism::flash3,  Mechanism::flash2, Mechanism::sage, Mechanism::xformers,
    Mechanism::pytorch, Mechanism::split,  Mechanism::quad};

std::string_view to_string(Mechanism m);

// "flash3|flash2|sage|xformers|pytorch|split|quad", for messages and --help.
std::string mechanism_names(std::string_view separator = "|");

// Exact lower-case name; nullopt for anything else (callers decide how to report it).
std::optional<Mechanism> parse_mechanism(std::string_view name);

// The Python distribution that must be installed in the venv for the mechanism to run;
// "torch" for the ones ComfyUI implements on top of PyTorch.
std::string_view required_package(Mechanism m);

// ComfyUI command-line arguments that select the mechanism (DESIGN.md, ComfyUI facts).
// flash3 has no ComfyUI flag: it runs through the custom node; the flags keep the PyTorch path
// (cuDNN on Hopper) for any call the node does not route.
std::vector<std::string> comfyui_args(Mechanism m);

// Maps a benchmark adapter id to the mechanism that realises it: "sdpa_cudnn" -> pytorch,
// "flash2" -> flash2, ... nullopt for an unknown id.
std::optional<Mechanism> mechanism_of_backend(std::string_view backend_id);

}  // namespace autotune
