"""The notebooks' text claims only what their outputs show (issue 15, "honest prose").

A figure typed into markdown goes stale the next time the notebook runs. This test fails when a
notebook's markdown quotes a number with two or more significant digits or decimals (``0.93``,
``1.5``, ``0.020``, ``0.06``, ``0.53x``, ``12.5%``, ``15 %``) that none of its outputs shows,
either as printed or rounded from a more precise printed value (``0.931`` shows ``0.93``;
``0.9351`` and ``10.93`` do not). Exempt: LaTeX (``$...$``, ``$$...$$``, ``\\(...\\)``,
``\\[...\\]``), lesson numbers 4.1-4.11, links and arXiv ids, and the lecture's constants in
:data:`LECTURE_CONSTANTS`. Whole numbers other than percentages (image sizes, step counts, years)
are not checked. It flags everything the project's before-stop check flags, and more (see
``test_the_reference_rule_flags_nothing_this_test_misses``).

Print a figure from code next to the claim, or word the claim qualitatively.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# Constants of the lecture and its assignments, not results of a run: quoting them is fine.
LECTURE_CONSTANTS = {
    "103.939": "VGG's ImageNet mean, blue (the Coursera assignment's MEANS)",
    "116.779": "VGG's ImageNet mean, green",
    "123.68": "VGG's ImageNet mean, red",
    "0.485": "ImageNet mean, red (torchvision's normalisation)",
    "0.456": "ImageNet mean, green",
    "0.406": "ImageNet mean, blue",
    "0.229": "ImageNet standard deviation, red",
    "0.224": "ImageNet standard deviation, green",
    "0.225": "ImageNet standard deviation, blue",
}

# Notebooks that still quote figures their outputs do not show, with those figures: reported as
# expected failures with the list (and a warning in the summary) until the text is fixed. A
# figure not listed here fails the test; a notebook whose text is fixed passes and can leave.
KNOWN: dict[str, set[str]] = {}

_LATEX = re.compile(r"\$\$.*?\$\$|\$[^$\n]*\$|\\\(.*?\\\)|\\\[.*?\\\]", re.DOTALL)
_LINKS = re.compile(r"\]\([^)]*\)|https?://\S+|arXiv:\s*\d+\.\d+(?:v\d+)?", re.IGNORECASE)
_LESSON = re.compile(r"4\.(0?[1-9]|1[01])")
# a number not glued to a word, a subscript, a superscript or another number's digits
_NUMBER = re.compile(r"(?<![\w.^_{\\])(\d+(?:\.\d+)?)(\s?%)?(?![\w]|\.\d)")
_OUTPUT_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?")


def significant_digits(number: str) -> int:
    """Significant digits of a decimal as written: ``0.020`` → 2, ``1.5`` → 2, ``40`` → 1.

    >>> [significant_digits(n) for n in ["0.020", "1.5", "0.5", "12.5", "40", "15", "0.0025"]]
    [2, 2, 1, 3, 1, 2, 2]
    """
    digits = number.replace(".", "").lstrip("0")
    if "." not in number:
        digits = digits.rstrip("0")  # 40: one significant digit, as far as one can tell
    return len(digits)


def quoted_numbers(markdown: str) -> list[str]:
    """The figures a markdown text quotes, as written (percentages with their ``%``).

    >>> quoted_numbers("AUC 0.93 vs 0.5 at 15% (lesson 4.2, $\\\\alpha = 0.25$), 12.5 % and "
    ...                "relu5_1, 1.5x, 2.5D, 64 px, see [paper](https://arxiv.org/abs/1503.03832)")
    ['0.93', '15%', '12.5 %', '1.5']
    """
    text = _LINKS.sub(" ", _LATEX.sub(" ", markdown))
    found = []
    for match in _NUMBER.finditer(text):
        number, percent = match.group(1), match.group(2)
        if _LESSON.fullmatch(number) and not percent:
            continue
        if percent and ("." in number or len(number) >= 2):
            found.append(match.group(0))
        elif "." in number and (significant_digits(number) >= 2 or len(number.split(".")[1]) >= 2):
            found.append(number)
    # "1.5x": a ratio written with a letter x is a figure too
    found += re.findall(r"(?<![\w.])(\d+\.\d+)x\b", text)
    return found


def shown(number: str, outputs: str) -> bool:
    """Whether ``number`` appears in ``outputs`` as printed, or rounded from a printed value with
    more decimals.

    >>> shown("0.93", "auc 0.931"), shown("0.93", "auc 0.9351"), shown("0.93", "10.93")
    (True, False, False)
    >>> shown("15%", "FAR 15.0 %"), shown("15.7%", "FAR 0.157")
    (True, False)
    """
    value = number.rstrip("% ").strip()
    decimals = len(value.split(".")[1]) if "." in value else 0
    for printed in _OUTPUT_NUMBER.findall(outputs):
        if printed == value:
            return True
        more = len(printed.split(".")[1]) if "." in printed else 0
        if more > decimals and printed.startswith(value) and f"{float(printed):.{decimals}f}" == value:
            return True
    return False


def output_text(notebook: dict) -> str:
    """Everything the code cells' outputs show as text."""
    parts = []
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            parts.append("".join(output.get("text", "")))
            data = output.get("data", {})
            for kind in ("text/plain", "text/markdown"):
                parts.append("".join(data.get(kind, "")))
    return "\n".join(parts)


def unsupported(path: Path) -> list[str]:
    """The figures ``path``'s markdown quotes that its outputs do not show (in text order)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    outputs = output_text(notebook)
    markdown = "\n".join("".join(c.get("source", "")) for c in notebook.get("cells", [])
                         if c.get("cell_type") == "markdown")
    return [n for n in dict.fromkeys(quoted_numbers(markdown))
            if n.rstrip("% ").strip() not in LECTURE_CONSTANTS and not shown(n, outputs)]


class UnsupportedFigures(UserWarning):
    """A notebook's markdown still quotes figures its outputs do not show."""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_quotes_only_figures_the_outputs_show(path):
    figures = unsupported(path)
    if not figures:
        return
    message = (f"{path.name}: the markdown quotes {', '.join(figures)}, which no output shows: "
               "print them from code next to the claim, or word the claim qualitatively")
    known = KNOWN.get(path.stem, set())
    new = [f for f in figures if f not in known]
    assert not new, f"{message} (new: {', '.join(new)})"
    warnings.warn(message, UnsupportedFigures, stacklevel=1)
    pytest.xfail(f"known, to fix (issue 15): {message}")


def test_the_reference_rule_flags_nothing_this_test_misses():
    """Every figure the project's before-stop check flags (its regular expression, below) is
    flagged here too, unless it is LaTeX (that check strips ``$$...$$`` incompletely), a link, a
    lecture constant or a lesson number."""
    reference = re.compile(r"(?<![\w.^_{])(\d+\.\d{2,}|\d{2,}(?:\.\d+)?%)(?!\w)")
    for path in NOTEBOOKS:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        plain = " ".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                         for c in notebook["cells"] if c["cell_type"] == "code"
                         for o in c.get("outputs", []))
        markdown = " ".join(_LINKS.sub(" ", _LATEX.sub(" ", "".join(c.get("source", ""))))
                            for c in notebook["cells"] if c["cell_type"] == "markdown")
        theirs = {m for m in reference.findall(markdown) if m.rstrip("%") not in plain
                  and not _LESSON.fullmatch(m) and m.rstrip("%") not in LECTURE_CONSTANTS}
        ours = {n.replace(" ", "") for n in unsupported(path)}
        assert theirs <= ours, f"{path.name}: {sorted(theirs - ours)}"


def test_rule_on_a_small_notebook(tmp_path):
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "The AUC is 0.93 and 12.5% of pairs "
         "fail; the margin $\\alpha = 0.25$; VGG's mean 123.68; in 4.10 we see 0.888."},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "print(auc)",
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "auc 0.9312\n"}]},
    ]
    path = tmp_path / "lesson.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert unsupported(path) == ["12.5%", "0.888"]
