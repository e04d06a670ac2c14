// GLM-4.1V thinks aloud: "<think>reasoning</think><answer>answer</answer>". One parser splits
// what the model wrote into the reasoning and the answer (as vLLM's reasoning parsers return
// `reasoning_content` beside `content`); the generation results, the server and the evaluation
// harness all use it, whole or streamed.
//
// Rules (the same whole and streamed, so the concatenated deltas equal the whole split):
//   - reasoning only when the text starts (after whitespace) with <think>; it runs to </think>,
//     or to the end when </think> never comes (a generation cut off while thinking has no
//     answer);
//   - everything else is the answer, with the <answer> and </answer> tags removed;
//   - a text without <think> is all answer.
//
//   auto s = glyph::split_reasoning("<think>6*7</think><answer>42</answer>");
//   s.reasoning == "6*7"; s.content == "42";
#pragma once

#include <string>
#include <string_view>

namespace glyph {

struct ReasoningSplit {
  std::string reasoning;  // without the tags; surrounding whitespace kept (see strip())
  std::string content;
  bool has_reasoning = false;  // the text opened a <think> block
  bool reasoning_done = false;  // and closed it
};

// Whole text, surrounding whitespace of both parts trimmed.
ReasoningSplit split_reasoning(std::string_view text);

// Streamed text: feed() each new piece (any byte boundaries; a tag may be cut anywhere), get
// the new reasoning and answer text; finish() flushes what was held back to decide a tag.
class ReasoningParser {
 public:
  struct Delta {
    std::string reasoning;
    std::string content;
  };
  Delta feed(std::string_view piece);
  Delta finish();
  bool in_reasoning() const { return state_ == State::kThinking; }
  bool saw_think() const { return saw_think_; }  // a <think> block was opened

 private:
  enum class State { kStart, kThinking, kAnswer };
  Delta drain(bool final);
  State state_ = State::kStart;
  std::string held_;  // text not yet classified (a possible tag prefix)
  bool saw_think_ = false;
};

}  // namespace glyph
