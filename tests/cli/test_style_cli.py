"""``coursekit style`` end to end on small generated images, with random VGG19 weights (fast)."""

from __future__ import annotations

import pytest
import torch

from coursekit.cli import main
from coursekit.images import load_image, save_image

FAST = ["--weights", "random", "--size", "32", "--steps", "3", "--device", "cpu", "-q"]


@pytest.fixture
def images(tmp_path):
    g = torch.Generator().manual_seed(0)
    paths = {}
    for name, (h, w) in {"content": (24, 40), "style1": (30, 30), "style2": (20, 36)}.items():
        paths[name] = save_image(torch.rand(3, h, w, generator=g), tmp_path / f"{name}.png")
    return paths


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_writes_the_stylised_image(images, tmp_path, capsys):
    out = tmp_path / "out" / "result.png"
    code = main(["style", str(images["content"]), str(images["style1"]), "-o", str(out), *FAST])
    assert code == 0
    img = load_image(out)
    assert img.shape == (3, 19, 32)  # the content's aspect ratio, longer side 32
    assert "wrote" in capsys.readouterr().out
    assert not [p for p in out.parent.iterdir() if p.name != "result.png"]  # no temp files left


def test_options_several_styles_and_colours(images, tmp_path, capsys):
    out = tmp_path / "blend.jpg"
    code = main(["style", str(images["content"]), str(images["style1"]), str(images["style2"]),
                 "-o", str(out), *FAST, "--blend", "0.7,0.3", "--preserve-colors",
                 "--optimizer", "adam", "--init", "content+noise", "--content-layer", "relu3_2",
                 "--style-layers", "relu1_1,relu2_1", "--style-weights", "0.3,0.7",
                 "--scales", "16,32", "--tv", "1", "--seed", "3", "--precision", "bfloat16"])
    assert code == 0, capsys.readouterr().err
    assert load_image(out).shape == (3, 19, 32)


@pytest.mark.parametrize("native", [False, True])
def test_precision_auto_follows_the_hardware(images, tmp_path, capsys, monkeypatch, native):
    monkeypatch.setattr("coursekit.runtime.native_bfloat16", lambda device=None, **kw: native)
    out = tmp_path / "auto.png"
    assert main(["style", str(images["content"]), str(images["style1"]), "-o", str(out), *FAST]) == 0
    assert ("bfloat16" in capsys.readouterr().out) is native


def test_same_seed_same_image(images, tmp_path):
    outs = [tmp_path / "a.png", tmp_path / "b.png"]
    for out in outs:
        assert main(["style", str(images["content"]), str(images["style1"]), "-o", str(out),
                     *FAST, "--init", "noise", "--seed", "7"]) == 0
    assert torch.equal(load_image(outs[0]), load_image(outs[1]))


def test_refuses_to_overwrite_an_input(images, capsys):
    before = load_image(images["style1"])
    code = main(["style", str(images["content"]), str(images["style1"]), "-o",
                 str(images["style1"]), *FAST])
    assert code == 2
    assert "refusing to write over the input image" in _err_line(capsys)
    assert torch.equal(load_image(images["style1"]), before)


@pytest.mark.parametrize("case, extra, message", [
    ("unreadable", [], "not an image file"),
    ("missing", [], "not found"),
    ("too small", ["--size", "8"], "too small for layers up to relu5_1"),
    ("unknown layer", ["--content-layer", "relu9_1"], "unknown VGG19 layer 'relu9_1'"),
    ("unknown style layer", ["--style-layers", "relu1_1,conv6"], "unknown VGG19 layer 'conv6'"),
    ("layer weights", ["--style-weights", "1,2"], "2 style_layer_weights for 5 style_layers"),
    ("blend", ["--blend", "1,2"], "style_blend has 2 weights for 1 style images"),
    ("extension", ["-o", "OUT.xyz"], "unknown image extension"),
])
def test_one_clear_line_for_bad_input(images, tmp_path, capsys, case, extra, message):
    content = str(images["content"])
    if case == "unreadable":
        content = str(tmp_path / "broken.png")
        (tmp_path / "broken.png").write_bytes(b"not a png at all")
    elif case == "missing":
        content = str(tmp_path / "nope.png")
    out = ["-o", str(tmp_path / "out.png")] if "-o" not in extra else []
    if "-o" in extra:
        extra = ["-o", str(tmp_path / extra[1])]
    code = main(["style", content, str(images["style1"]), *out, *FAST, *extra])
    assert code == 2
    line = _err_line(capsys)
    assert line.startswith("coursekit: error:") and message in line, line
    assert not (tmp_path / "out.png").exists()


def test_small_size_message_names_the_minimum(images, tmp_path, capsys):
    code = main(["style", str(images["content"]), str(images["style1"]), "-o",
                 str(tmp_path / "o.png"), *FAST, "--size", "20", "--style-layers", "relu1_1",
                 "--content-layer", "relu3_1"])
    assert code == 0  # relu3_1 needs 4 px per side only; 20 px wide gives 12x20
    code = main(["style", str(images["content"]), str(images["style1"]), "-o",
                 str(tmp_path / "o.png"), *FAST, "--size", "20"])
    assert code == 2
    assert "at least 16 px per side" in capsys.readouterr().err
