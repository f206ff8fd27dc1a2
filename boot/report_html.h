// `autotune --report --format html`: one self-contained page (inline CSS and SVG, no scripts,
// nothing fetched), so it can be attached to an issue, archived under results/, or opened on a
// pod with no network.
#pragma once

#include <string>
#include <string_view>

#include "boot/report.h"

namespace autotune {

// Escapes & < > " ' for text and attribute values. Every string from the cache, the venv or
// the GPU goes through it: a backend's error message is arbitrary text.
std::string html_escape(std::string_view text);

std::string render_html(const Report& r);

}  // namespace autotune
