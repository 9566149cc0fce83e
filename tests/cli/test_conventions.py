"""The conventions every ``coursekit`` command keeps: help for every option in plain text, the
exit codes in ``--help`` and the README, results on stdout, progress only on a terminal."""

from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path

import pytest
import torch

from coursekit.cli import EXIT_CODES, build_parser, main, show_progress
from coursekit.images import save_image

README = Path(__file__).resolve().parents[2] / "README.md"


def _parsers(parser: argparse.ArgumentParser, name: str = "coursekit"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


PARSERS = dict(_parsers(build_parser()))


def test_every_command_is_reached():
    assert {"coursekit faces train", "coursekit faces enroll", "coursekit faces threshold",
            "coursekit style", "coursekit student-version"} <= set(PARSERS)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_option_has_help_in_plain_text(name):
    parser = PARSERS[name]
    missing = [a.option_strings or a.dest for a in parser._actions
               if not isinstance(a, argparse._SubParsersAction) and not a.help]
    assert not missing, f"{name}: options without help: {missing}"
    text = parser.format_help()
    assert not re.search(r"``|:(class|func|mod|meth|data|attr):`", text), text


@pytest.mark.parametrize("name", ["coursekit", "coursekit faces", "coursekit faces verify",
                                  "coursekit style"])
def test_exit_codes_in_help(name):
    text = PARSERS[name].format_help()
    for code in EXIT_CODES:
        assert re.search(rf"^\s+{code}\s+\w", text, re.M), (name, code)


def test_exit_codes_in_readme():
    text = README.read_text()
    for code in EXIT_CODES:
        assert re.search(rf"\|\s*`?{code}`?\s*\|", text), code
    for promise in ("atomic", "lock", "never overwrit"):
        assert promise in text.lower(), promise


def test_help_goes_to_stdout_and_exits_0(capsys):
    assert main(["style", "--help"]) == 0
    out = capsys.readouterr()
    assert "usage: coursekit style" in out.out and out.err == ""


def test_no_command_prints_help_on_stderr(capsys):
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "usage: coursekit" in captured.err


def test_progress_only_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert show_progress() is False
    monkeypatch.setattr("sys.stderr", Terminal())
    assert show_progress() is True and show_progress(quiet=True) is False


def test_style_json(tmp_path, capsys):
    g = torch.Generator().manual_seed(0)
    c = save_image(torch.rand(3, 24, 40, generator=g), tmp_path / "c.png")
    s = save_image(torch.rand(3, 30, 30, generator=g), tmp_path / "s.png")
    out = tmp_path / "o.png"
    assert main(["style", str(c), str(s), "-o", str(out), "--weights", "random", "--size", "32",
                 "--steps", "2", "--device", "cpu", "--precision", "float32", "--json"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["output"] == str(out) and (result["width"], result["height"]) == (32, 19)
    assert result["steps"] == 2 and result["precision"] == "float32" and result["device"] == "cpu"
    assert result["seconds"] > 0 and set(result["costs"]) == {"content", "style", "tv", "total"}
    assert len(result["costs"]["total"]) == 2
    assert "\r" not in captured.err  # no progress bar off a terminal
