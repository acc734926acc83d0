"""Complete sentences out of a reply as it streams, for synthesis one by one."""

from __future__ import annotations

import re

# A sentence ends at . ! ? or an ellipsis (closing quotes or brackets may follow) before a space.
_END = re.compile(r"[.!?\u2026]+[\"')\]\u201d\u2019]*\s+")
MIN_SENTENCE_CHARS = 12  # "Aye. Mr. Hale." is spoken as one: tiny pieces sound choppy
MAX_SENTENCE_CHARS = 300  # a sentence that never ends is cut at a comma or a space


class SentenceSplitter:
    """Feed text as it streams; take the sentences it completes. `rest` is what is left at the end."""

    def __init__(self, min_chars: int = MIN_SENTENCE_CHARS, max_chars: int = MAX_SENTENCE_CHARS) -> None:
        self._min_chars, self._max_chars = min_chars, max_chars
        self._buffer = ""

    def add(self, text: str) -> list[str]:
        self._buffer += text
        sentences: list[str] = []
        while (sentence := self._next()) is not None:
            sentences.append(sentence)
        return sentences

    def rest(self) -> str | None:
        """What is left once the reply ended (None when nothing worth speaking is)."""
        text, self._buffer = self._buffer.strip(), ""
        return text if any(c.isalnum() for c in text) else None

    def _next(self) -> str | None:
        for end in _END.finditer(self._buffer):
            if len(self._buffer[: end.start()].strip()) >= self._min_chars:
                return self._take(end.end())
        if len(self._buffer) > self._max_chars:
            comma = self._buffer.rfind(", ", 0, self._max_chars)
            cut = comma if comma > 0 else self._buffer.rfind(" ", 0, self._max_chars)
            return self._take(cut + 1 if cut > 0 else self._max_chars)
        return None

    def _take(self, end: int) -> str | None:
        sentence, self._buffer = self._buffer[:end].strip(), self._buffer[end:]
        return sentence if any(c.isalnum() for c in sentence) else self._next()
