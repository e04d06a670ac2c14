"""The LLM advisor over HTTP: any OpenAI-compatible chat-completions endpoint (stdlib only)."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from .._core import SearchError

__all__ = ["AdvisorError", "HttpAdvisor"]


class AdvisorError(SearchError):
    """The advisor endpoint answered with an error or something that is not a chat completion."""


class HttpAdvisor:
    """Any OpenAI-compatible chat-completions endpoint as the search's advisor (stdlib only).

    ``url`` is the API base (".../v1") or the full ".../chat/completions" URL; the key is read from
    the environment variable ``api_key_env`` (none sent if unset). Errors raise AdvisorError; the
    search then goes on without advice for that generation and logs why.
    """

    SYSTEM = (
        "You are an expert in typography and vision-language models. You analyse search "
        "histories and propose rendering configs. Answer with JSON only."
    )
    MAX_RESPONSE_BYTES = 4 << 20

    def __init__(
        self,
        url: str,
        model: str = "",
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        temperature: float = 0.7,
        max_tokens: int = 2048,
    ):
        url = url.rstrip("/")
        self.url = url if url.endswith("/chat/completions") else url + "/chat/completions"
        self.model = model or os.environ.get("GLYPH_ADVISOR_MODEL", "")
        self.api_key_env = api_key_env
        self.timeout, self.temperature, self.max_tokens = timeout, temperature, max_tokens

    def __call__(self, prompt: str) -> str:
        body = {
            "messages": [
                {"role": "system", "content": self.SYSTEM},
                {"role": "user", "content": prompt},
            ],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.model:
            body["model"] = self.model
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(
            self.url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read(self.MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as e:
            detail = e.read(300).decode("utf-8", errors="replace")
            raise AdvisorError(f"advisor HTTP {e.code} from {self.url}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            raise AdvisorError(f"advisor unreachable at {self.url}: {e}") from None
        if len(raw) > self.MAX_RESPONSE_BYTES:
            raise AdvisorError(f"advisor response larger than {self.MAX_RESPONSE_BYTES} bytes")
        try:
            doc = json.loads(raw.decode("utf-8", errors="replace"))
            content = doc["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise AdvisorError(
                "advisor reply is not a chat completion: " + raw[:200].decode("utf-8", "replace")
            ) from None
        if isinstance(content, list):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            raise AdvisorError(f"advisor message content is {type(content).__name__}, not text")
        return content
