#include "arch_table.h"

namespace autotune {

using M = Mechanism;

// Seed intent: Blackwell -> sage, Hopper -> flash3, Ada/Ampere -> flash2 then xformers, xformers
// as the universal fallback. Departures, each for a measured or documented reason:
// - Every list ends in pytorch: ComfyUI's own default path, which runs everywhere torch does.
// - Hopper: flash3 then pytorch, not flash2. ComfyUI has no FA3 flag; its flash flag runs FA2,
//   0.75 ms for a Flux-1024 call on the H100 against 0.43 for the PyTorch path (cuDNN) and 0.36
//   for FA3 (DESIGN.md). flash3 is applied by the custom node; xformers without FA3 runs its
//   CUTLASS kernel, 1.39 ms there.
// - Blackwell data centre (10.x, B200): SageAttention 2.2 has no kernel for 10.0 and raises, and
//   ComfyUI then falls back per call, paying for the failure each time; so sage is filtered out
//   there by unsupported_reason and xformers / pytorch decide.
// - Blackwell 12.x (RTX 5090/5080, RTX PRO 6000 Blackwell): sage has an fp8 kernel for 12.0.
//   FA2 does not list Blackwell among its supported GPUs, so it is not in this row.
// - Pre-Ampere: FA2 needs 8.0 or newer, so Volta/Turing start at xformers.
const std::vector<ArchRow>& arch_table() {
  static const std::vector<ArchRow> rows{
      {7, 0, 2, "Volta", {M::xformers, M::pytorch}, "FA2 and Sage need compute capability 8.0+"},
      {7, 5, 5, "Turing", {M::xformers, M::pytorch}, "FA2 and Sage need compute capability 8.0+"},
      {8, 0, 0, "Ampere", {M::flash2, M::xformers, M::pytorch}, "seed: Ampere -> flash2, then xformers"},
      {8, 6, 7, "Ampere", {M::flash2, M::xformers, M::pytorch}, "seed: Ampere -> flash2, then xformers"},
      {8, 9, 9, "Ada Lovelace", {M::flash2, M::xformers, M::pytorch}, "seed: Ada -> flash2, then xformers"},
      {9, 0, 0, "Hopper", {M::flash3, M::pytorch},
       "seed: Hopper -> flash3; without FA3, ComfyUI's PyTorch path (cuDNN) beats its FA2 flag "
       "1.7x on Flux (0.43 vs 0.75 ms, H100)"},
      {10, 0, 3, "Blackwell (data centre)", {M::sage, M::xformers, M::pytorch},
       "seed: Blackwell -> sage, where Sage has a kernel"},
      {12, 0, 1, "Blackwell", {M::sage, M::xformers, M::pytorch}, "seed: Blackwell -> sage"},
  };
  return rows;
}

const ArchRow kUnknownArch{0, 0, 0, "unknown", {M::xformers, M::pytorch},
                           "capability not in the table: xformers, the seed's universal fallback"};

const ArchRow& arch_row(int cc_major, int cc_minor) {
  for (const auto& row : arch_table())
    if (row.major == cc_major && cc_minor >= row.minor_first && cc_minor <= row.minor_last) return row;
  return kUnknownArch;
}

std::string unsupported_reason(Mechanism m, int major, int minor) {
  const std::string cc = std::to_string(major) + "." + std::to_string(minor);
  switch (m) {
    case M::flash3:  // FA3 is Hopper-only (flash-attention/hopper).
      return major == 9 && minor == 0 ? "" : "FlashAttention-3 runs on Hopper (9.0) only, not " + cc;
    case M::flash2:  // FA2 README: Ampere, Ada and Hopper.
      return (major == 8 || (major == 9 && minor == 0)) ? ""
                                                         : "FlashAttention-2 supports 8.x and 9.0, not " + cc;
    case M::sage:  // SageAttention 2.2 dispatches on 8.0, 8.6, 8.9, 9.0 and 12.0; others raise.
      if ((major == 8 && (minor == 0 || minor == 6 || minor == 9)) || (major == 9 && minor == 0) ||
          (major == 12 && minor == 0))
        return "";
      return "SageAttention 2.2 has no kernel for compute capability " + cc;
    case M::xformers:
      return major >= 6 ? "" : "xformers needs compute capability 6.0+, not " + cc;
    case M::pytorch:
    case M::split:
    case M::quad:
      return "";
  }
  return "";
}

TableChoice table_choice(const GpuInfo* gpu, const Fingerprint& env, const std::map<Mechanism, std::string>& broken) {
  if (!gpu) return {M::pytorch, "none", "static table: no GPU detected, so ComfyUI's PyTorch path"};
  const ArchRow& row = arch_row(gpu->cc_major, gpu->cc_minor);
  std::string skipped;
  for (Mechanism m : row.preference) {
    std::string why;
    if (m != M::pytorch && !env.installed(std::string(required_package(m))))
      why = std::string(required_package(m)) + " not installed";
    else
      why = unsupported_reason(m, gpu->cc_major, gpu->cc_minor);
    // The table is a guess for when nothing was measured; a measurement beats it.
    if (const auto it = broken.find(m); why.empty() && it != broken.end()) why = it->second;
    if (why.empty()) {
      std::string reason = "static table, " + std::string(row.architecture) + " (" +
                           gpu->compute_capability() + "): " + std::string(row.why);
      if (!skipped.empty()) reason += "; skipped " + skipped;
      return {m, std::string(row.architecture), reason};
    }
    skipped += (skipped.empty() ? "" : ", ") + std::string(to_string(m)) + " (" + why + ")";
  }
  // Unreachable while every row ends in pytorch; kept so a table edit cannot leave no choice.
  return {M::pytorch, std::string(row.architecture), "static table: nothing else runs; skipped " + skipped};
}

}  // namespace autotune
