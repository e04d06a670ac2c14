#include "glyph/common/reasoning.h"

#include <algorithm>

namespace glyph {

namespace {

constexpr std::string_view kThink = "<think>", kThinkEnd = "</think>";
constexpr std::string_view kAnswer = "<answer>", kAnswerEnd = "</answer>";

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

// Length of the longest suffix of `s` that is a proper prefix of one of `tags`.
std::size_t partial_tag_suffix(std::string_view s, const std::string_view* tags,
                               std::size_t n_tags) {
  std::size_t best = 0;
  for (std::size_t i = 0; i < n_tags; ++i) {
    const std::string_view tag = tags[i];
    for (std::size_t n = std::min(s.size(), tag.size() - 1); n > best; --n)
      if (s.substr(s.size() - n) == tag.substr(0, n)) {
        best = n;
        break;
      }
  }
  return best;
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

}  // namespace

ReasoningParser::Delta ReasoningParser::drain(bool final) {
  Delta d;
  for (;;) {
    std::string_view h = held_;
    if (state_ == State::kStart) {
      std::size_t ws = 0;
      while (ws < h.size() && is_space(h[ws])) ++ws;
      std::string_view rest = h.substr(ws);
      if (rest.size() >= kThink.size() && rest.substr(0, kThink.size()) == kThink) {
        held_.erase(0, ws + kThink.size());
        state_ = State::kThinking;
        saw_think_ = true;
        continue;
      }
      if (!final && kThink.substr(0, rest.size()) == rest) return d;  // undecided
      state_ = State::kAnswer;
      continue;
    }
    const bool thinking = state_ == State::kThinking;
    // The tags that matter in this state; the earliest complete one is acted on.
    static constexpr std::string_view kThinkTags[] = {kThinkEnd};
    static constexpr std::string_view kAnswerTags[] = {kAnswer, kAnswerEnd};
    const std::string_view* tags = thinking ? kThinkTags : kAnswerTags;
    const std::size_t n_tags = thinking ? 1 : 2;
    std::size_t at = std::string_view::npos, len = 0;
    for (std::size_t i = 0; i < n_tags; ++i) {
      std::size_t p = h.find(tags[i]);
      if (p < at) {
        at = p;
        len = tags[i].size();
      }
    }
    std::string& out = thinking ? d.reasoning : d.content;
    if (at != std::string_view::npos) {
      out.append(h.substr(0, at));
      held_.erase(0, at + len);
      if (thinking) state_ = State::kAnswer;
      continue;
    }
    const std::size_t keep = final ? 0 : partial_tag_suffix(h, tags, n_tags);
    out.append(h.substr(0, h.size() - keep));
    held_.erase(0, h.size() - keep);
    return d;
  }
}

ReasoningParser::Delta ReasoningParser::feed(std::string_view piece) {
  held_.append(piece);
  return drain(false);
}

ReasoningParser::Delta ReasoningParser::finish() { return drain(true); }

ReasoningSplit split_reasoning(std::string_view text) {
  ReasoningParser p;
  ReasoningParser::Delta a = p.feed(text), b = p.finish();
  ReasoningSplit s;
  s.has_reasoning = p.saw_think();
  s.reasoning = trim(a.reasoning + b.reasoning);
  s.content = trim(a.content + b.content);
  s.reasoning_done = p.saw_think() && !p.in_reasoning();
  return s;
}

}  // namespace glyph
