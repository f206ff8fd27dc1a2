#include "mechanism.h"

#include <stdexcept>

namespace autotune {

std::string_view to_string(Mechanism m) {
  switch (m) {
    case Mechanism::flash3: return "flash3";
    case Mechanism::flash2: return "flash2";
    case Mechanism::sage: return "sage";
    case Mechanism::xformers: return "xformers";
    case Mechanism::pytorch: return "pytorch";
    case Mechanism::split: return "split";
    case Mechanism::quad: return "quad";
  }
  throw std::logic_error("Mechanism value out of range");
}

std::string mechanism_names(std::string_view separator) {
  std::string out;
  for (Mechanism m : kAllMechanisms) {
    if (!out.empty()) out += separator;
    out += to_string(m);
  }
  return out;
}

std::optional<Mechanism> parse_mechanism(std::string_view name) {
  for (Mechanism m : kAllMechanisms)
    if (to_string(m) == name) return m;
  return std::nullopt;
}

std::string_view required_package(Mechanism m) {
  switch (m) {
    case Mechanism::flash3: return "flash_attn_3";
    case Mechanism::flash2: return "flash_attn";
    case Mechanism::sage: return "sageattention";
    case Mechanism::xformers: return "xformers";
    case Mechanism::pytorch:
    case Mechanism::split:
    case Mechanism::quad: return "torch";
  }
  throw std::logic_error("Mechanism value out of range");
}

std::vector<std::string> comfyui_args(Mechanism m) {
  switch (m) {
    // Without --disable-xformers some ComfyUI versions let an importable xformers win over the
    // requested path (DESIGN.md), so every non-xformers choice disables it.
    case Mechanism::flash3: return {"--use-pytorch-cross-attention", "--disable-xformers"};
    case Mechanism::flash2: return {"--use-flash-attention", "--disable-xformers"};
    case Mechanism::sage: return {"--use-sage-attention", "--disable-xformers"};
    // ComfyUI uses xformers by itself whenever it imports; no flag selects it.
    case Mechanism::xformers: return {};
    case Mechanism::pytorch: return {"--use-pytorch-cross-attention", "--disable-xformers"};
    case Mechanism::split: return {"--use-split-cross-attention", "--disable-xformers"};
    case Mechanism::quad: return {"--use-quad-cross-attention", "--disable-xformers"};
  }
  throw std::logic_error("Mechanism value out of range");
}

std::optional<Mechanism> mechanism_of_backend(std::string_view id) {
  if (id.rfind("sdpa", 0) == 0) return Mechanism::pytorch;  // sdpa_comfy, sdpa_cudnn, ...
  return parse_mechanism(id);
}

}  // namespace autotune
