"""Answer extraction and grading, tolerant to format errors.

Pure Python (no torch), cheap enough to call as a GRPO reward function.

Extraction order in :func:`extract_answer`:

1. ``<answer> .. </answer>`` — the organism format (last complete tag; an unclosed final
   ``<answer>`` takes the rest of the text). When a tag is present it is authoritative: an empty
   tag yields ``None`` rather than falling back to numbers in the reasoning.
2. the last ``\\boxed{..}`` (nested braces allowed; ``\\fbox`` and ``\\boxed 5`` too);
3. the last ``#### N`` (GSM8K);
4. the last number in the text (``1,234``, ``-3.5``, ``3/4``, ``1.5e3``; in ``12 - 7`` it is ``7``).

:func:`is_correct` compares numerically when both sides parse as numbers (commas, ``$``, ``%``,
spaces, trailing ``.0``, ``3/4`` vs ``0.75``, ``\\frac{3}{4}``), else as normalised strings.
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["FORMAT", "extract_answer", "is_correct", "follows_format", "normalize_answer", "parse_number"]

_ANSWER_OPEN = re.compile(r"<\s*answer\s*>", re.IGNORECASE)
_ANSWER_CLOSE = re.compile(r"<\s*/\s*answer\s*>", re.IGNORECASE)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_HASHES = re.compile(r"####\s*([^\n]*)")
# A number: an optional sign glued to it (a dash after a word or number, or followed by a space, is
# an operator: "12 - 7" ends in 7), comma-grouped thousands or plain digits, optional decimals,
# optional exponent ("1.5e3"), optional "/den".
_NUMBER = re.compile(
    r"(?<![\w.])(?:[-−](?=[$\d.]))?(?:\$\s?)?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+(?![\w.]))?"
    r"(?:\s?/\s?\d+(?:\.\d+)?)?"
    r"|(?<![\w.])(?:[-−](?=\.))?\.\d+"
)
#: The organism's output format, the one definition used by :func:`follows_format` and by GRPO's
#: format reward: ``<think> .. </think> <answer> X </answer>``, nothing else around it but
#: whitespace, the think block may be empty, the answer holds no ``<`` and is not blank.
FORMAT = re.compile(r"^\s*<think>.*?</think>\s*<answer>([^<]*)</answer>\s*$", re.DOTALL)
_FRAC = re.compile(r"^(-?)\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}$")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}")


def _last_answer_tag(text: str) -> str | None:
    """Content of the last ``<answer>`` tag (closed, or unclosed at the end), else ``None``.

    A tag opened at the very end with nothing after it (``<answer>5</answer><answer>``) is a
    started, not a given, answer: the complete tag before it counts.
    """
    opens = list(_ANSWER_OPEN.finditer(text))
    for i in range(len(opens) - 1, -1, -1):
        start = opens[i].end()
        close = _ANSWER_CLOSE.search(text, start)
        if close is not None:
            return text[start : close.start()]
        if text[start:].strip() or i == 0:
            return text[start:]
    return None


def _last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{..}`` with balanced (nested) braces; tolerant to no closer."""
    matches = list(_BOXED.finditer(text))
    for m in reversed(matches):
        i = m.end()
        if i < len(text) and text[i] == "{":
            depth, j = 0, i
            while j < len(text):
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                    if depth == 0:
                        return text[i + 1 : j]
                j += 1
            return text[i + 1 :]  # unbalanced: take the rest
        # "\boxed 5" style: the next whitespace-delimited token
        tok = re.match(r"([^\s$]+)", text[i:])
        if tok:
            return tok.group(1)
    return None


def _last_number(text: str) -> str | None:
    found = _NUMBER.findall(text)
    return found[-1] if found else None


def _clean_number(s: str) -> str:
    """'$1,234' -> '1234'; '−5' -> '-5'; '3 / 4' -> '3/4' (no further simplification)."""
    return s.replace("−", "-").replace("$", "").replace(",", "").replace(" ", "")


def extract_answer(text: str | None) -> str | None:
    """The final answer in a model completion, or ``None`` when there is none.

    Numeric answers come back cleaned (``'$1,234'`` -> ``'1234'``); other answers (``\\frac{3}{4}``,
    ``x+1``) come back stripped, verbatim. Never raises on malformed text.
    """
    if not text:
        return None
    tag = _last_answer_tag(text)
    if tag is not None:
        inner = tag.strip()
        if not inner:
            return None
        if parse_number(inner) is not None:
            return _clean_number(normalize_answer(inner))
        boxed = _last_boxed(inner)
        if boxed is not None and boxed.strip():
            return _finish(boxed)
        num = _last_number(inner)
        return _clean_number(num) if num is not None else inner
    boxed = _last_boxed(text)
    if boxed is not None and boxed.strip():
        return _finish(boxed)
    hashes = _HASHES.findall(text)
    for h in reversed(hashes):
        num = _last_number(h)
        if num is not None:
            return _clean_number(num)
        if h.strip():
            return h.strip()
    num = _last_number(text)
    return _clean_number(num) if num is not None else None


def _finish(ans: str) -> str:
    ans = ans.strip()
    return _clean_number(normalize_answer(ans)) if parse_number(ans) is not None else ans


def normalize_answer(s: str) -> str:
    """Strip presentation: whitespace, ``$``, ``\\text{..}``, ``\\!``, ``%``, ``^\\circ``, trailing '.'."""
    s = s.strip().replace("−", "-")
    s = _TEXT.sub(r"\1", s)
    for junk in ("\\!", "\\,", "\\;", "\\$", "$", "\\%", "%", "^\\circ", "^{\\circ}", "°", "\\left", "\\right"):
        s = s.replace(junk, "")
    s = s.strip().rstrip(".").strip()
    if s.startswith("{") and s.endswith("}") and s.count("{") == 1:
        s = s[1:-1].strip()
    return s


def parse_number(s: str | None) -> Fraction | None:
    """``s`` as an exact :class:`~fractions.Fraction`, or ``None`` when it is not a number.

    Accepts ``1,234``, ``$5``, ``-3.50``, ``2.0``, ``3/4``, ``\\frac{3}{4}``, ``-\\dfrac{1}{2}``,
    ``50%`` (as 50), ``1e3``.
    """
    if s is None:
        return None
    t = normalize_answer(s)
    m = _FRAC.match(t.replace(" ", ""))
    if m:
        num, den = parse_number(m.group(2)), parse_number(m.group(3))
        if num is None or den is None or den == 0:
            return None
        val = num / den
        return -val if m.group(1) else val
    t = t.replace(" ", "")
    if re.fullmatch(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|[-+]?\.\d+", t):
        return Fraction(t.replace(",", ""))
    if re.fullmatch(r"[-+]?\d+(?:\.\d+)?/[-+]?\d+(?:\.\d+)?", t):
        num_s, den_s = t.split("/")
        den = Fraction(den_s)
        return None if den == 0 else Fraction(num_s) / den
    if re.fullmatch(r"[-+]?\d+(?:\.\d+)?[eE][-+]?\d+", t):
        return Fraction(t)
    return None


def _gold_value(gold: str) -> str:
    """A gold field that is a whole GSM8K solution reduces to its ``#### N`` value."""
    if "####" in gold:
        tail = gold.rsplit("####", 1)[1].strip()
        if tail:
            return tail
    return gold


def is_correct(pred: str | None, gold: str | float | None) -> bool:
    """Whether the extracted answer ``pred`` matches ``gold``.

    Numbers compare exactly as fractions (``'1,234'`` == ``'1234.0'``, ``'3/4'`` == ``'0.75'``),
    with a 1e-6 relative tolerance for rounded decimals; non-numbers compare as normalised,
    case-folded strings without spaces. ``None`` predictions are wrong.
    """
    if pred is None or gold is None:
        return False
    gold_s = _gold_value(str(gold))
    p, g = parse_number(pred), parse_number(gold_s)
    if p is not None and g is not None:
        if p == g:
            return True
        return abs(float(p) - float(g)) <= 1e-6 * max(1.0, abs(float(g)))
    if g is not None and p is None:
        # pred may be prose around a number ("42 apples"): grade its extracted answer
        inner = extract_answer(str(pred))
        q = parse_number(inner) if inner is not None and inner != pred else None
        return q is not None and q == g

    def canon(x: str) -> str:
        return re.sub(r"\s+", "", normalize_answer(x)).lower()

    return canon(str(pred)) == canon(gold_s)


def follows_format(text: str | None) -> bool:
    """Whether ``text`` is exactly ``<think> .. </think> <answer> X </answer>`` (the organism format,
    :data:`FORMAT`); also GRPO's format reward.

    The think block may be empty; the answer may not (nor hold ``<``, so one answer tag only);
    surrounding whitespace is allowed.
    """
    if not text:
        return False
    m = FORMAT.match(text)
    return bool(m) and bool(m.group(1).strip())
