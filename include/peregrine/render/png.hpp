#pragma once
/// SVG → PNG, for charts that go where SVG cannot (mail clients, chat
/// previews). librsvg (Debian's librsvg2, the GNOME SVG renderer) draws the
/// document onto a cairo image surface; text needs a font installed
/// (fonts-dejavu-core in the image). Blocking and CPU-bound: call it off the
/// event loop. Thread-safe (each call has its own handle and surface).

#include <string>
#include <string_view>

namespace peregrine::render {

/// The PNG of `svg` at `width` × `height` pixels; throws std::runtime_error
/// naming what librsvg or cairo refused.
std::string svg_to_png(std::string_view svg, int width, int height);

}  // namespace peregrine::render
