// The static architecture table: what to run when tuning cannot decide. Keyed by compute
// capability, never by name (name matching is how the starting template filed the RTX 6000 Ada
// as Blackwell). Data first, the lookup after.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/environment.h"
#include "common/gpu.h"
#include "common/mechanism.h"

namespace autotune {

struct ArchRow {
  int major;
  int minor_first;
  int minor_last;
  std::string_view architecture;
  std::vector<Mechanism> preference;  // first installed and supported one wins
  std::string_view why;               // the reasoning, and where it departs from the seed
};

// Rows in capability order; capabilities no row covers use kUnknownArch.
const std::vector<ArchRow>& arch_table();
extern const ArchRow kUnknownArch;

const ArchRow& arch_row(int cc_major, int cc_minor);

// Whether the backend has a kernel for this capability, with the reason when not.
// Sources in the .cpp; empty string means supported.
std::string unsupported_reason(Mechanism m, int cc_major, int cc_minor);

struct TableChoice {
  Mechanism mechanism;
  std::string architecture;
  std::string reason;  // which row, and why each earlier preference was skipped
};

// Walks the row's preference list, skipping what is not installed in the venv, has no kernel
// for the capability, or is in `broken` (measured broken in this environment: broken_mechanisms()
// in policy.h gives why). pytorch ends every list, so there is always a choice. `gpu` may be null
// (no GPU detected): ComfyUI then runs on whatever torch finds, and pytorch is the only safe pick.
TableChoice table_choice(const GpuInfo* gpu, const Fingerprint& env,
                         const std::map<Mechanism, std::string>& broken = {});

}  // namespace autotune
