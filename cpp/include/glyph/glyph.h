// Umbrella header for glyphcpp's torch-free parts.
#pragma once

#include "glyph/common/error.h"
#include "glyph/common/file.h"
#include "glyph/common/text_source.h"
#include "glyph/common/thread_pool.h"
#include "glyph/common/utf8.h"
#include "glyph/render/config.h"
#include "glyph/render/image.h"
#include "glyph/render/layout.h"
#include "glyph/render/page.h"
#include "glyph/render/png.h"
#include "glyph/render/renderer.h"
#include "glyph/render/vision_tokens.h"
#include "glyph/search/search.h"
#include "glyph/search/space.h"
#include "glyph/tokenizer/prompt.h"
#include "glyph/tokenizer/tokenizer.h"
