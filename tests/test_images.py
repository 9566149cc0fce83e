"""load_image / save_image / show_images, including every bad input the issue lists."""

import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from coursekit.images import (
    fit_size,
    load_image,
    resize_image,
    save_image,
    show_images,
    to_numpy_image,
)


def _png_header_only(path, width, height):
    """A PNG whose header claims width x height but carries no pixel data (a bomb's shape)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b""))
                     + chunk(b"IEND", b""))


class TestLoadImage:
    def test_rgb_values(self, tmp_path):
        arr = np.zeros((4, 6, 3), np.uint8)
        arr[..., 0] = 255
        arr[1, 2] = (10, 20, 30)
        Image.fromarray(arr).save(tmp_path / "a.png")
        t = load_image(tmp_path / "a.png")
        assert t.shape == (3, 4, 6) and t.dtype == torch.float32
        assert torch.allclose(t[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
        assert torch.allclose(t[:, 1, 2], torch.tensor([10, 20, 30]) / 255.0)

    def test_missing_file(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="nothere.png"):
            load_image(tmp_path / "nothere.png")

    def test_folder(self, tmp_path):
        with pytest.raises(ValueError, match="folder"):
            load_image(tmp_path)

    def test_text_file(self, tmp_path):
        p = tmp_path / "notes.png"
        p.write_text("this is not an image")
        with pytest.raises(ValueError, match="notes.png"):
            load_image(p)

    def test_truncated_png(self, tmp_path):
        p = tmp_path / "full.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(p)
        data = p.read_bytes()
        (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
        with pytest.raises(ValueError, match="cut.png"):
            load_image(tmp_path / "cut.png")

    def test_decompression_bomb(self, tmp_path):
        p = tmp_path / "bomb.png"
        _png_header_only(p, 20000, 20000)
        with pytest.raises(ValueError, match=r"bomb\.png.*decompression bomb"):
            load_image(p)

    def test_16bit_grayscale(self, tmp_path):
        arr = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
        p = tmp_path / "g16.png"
        Image.fromarray(arr).save(p)
        assert Image.open(p).mode.startswith("I")
        t = load_image(p)
        assert t.shape == (3, 2, 2)
        assert torch.allclose(t[0], torch.tensor(arr / 65535.0, dtype=torch.float32), atol=1e-6)
        assert torch.equal(t[0], t[1]) and torch.equal(t[1], t[2])

    def test_rgba_composited_on_white(self, tmp_path):
        arr = np.zeros((2, 2, 4), np.uint8)
        arr[0, 0] = (255, 0, 0, 255)  # opaque red
        arr[1, 1] = (0, 0, 255, 0)  # fully transparent
        p = tmp_path / "rgba.png"
        Image.fromarray(arr, "RGBA").save(p)
        t = load_image(p)
        assert t.shape == (3, 2, 2)
        assert torch.allclose(t[:, 0, 0], torch.tensor([1.0, 0, 0]))
        assert torch.allclose(t[:, 1, 1], torch.ones(3))

    def test_palette_and_grayscale(self, tmp_path):
        Image.new("P", (5, 3), 7).save(tmp_path / "p.png")
        Image.new("L", (5, 3), 128).save(tmp_path / "l.pgm")
        assert load_image(tmp_path / "p.png").shape == (3, 3, 5)
        t = load_image(tmp_path / "l.pgm")
        assert torch.allclose(t, torch.full((3, 3, 5), 128 / 255.0))

    def test_exif_orientation(self, tmp_path):
        img = Image.new("RGB", (40, 20), (0, 255, 0))
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90 degrees on display
        img.save(tmp_path / "rot.jpg", exif=exif.tobytes())
        assert load_image(tmp_path / "rot.jpg").shape == (3, 40, 20)

    def test_resize(self, tmp_path):
        Image.new("RGB", (200, 100)).save(tmp_path / "r.png")
        assert load_image(tmp_path / "r.png", size=50).shape == (3, 25, 50)
        assert load_image(tmp_path / "r.png", size=(30, 40)).shape == (3, 30, 40)
        with pytest.raises(ValueError, match="size"):
            load_image(tmp_path / "r.png", size=0)


class TestSaveImage:
    def test_round_trip(self, tmp_path):
        t = torch.rand(3, 16, 12)
        out = save_image(t, tmp_path / "o.png")
        assert torch.allclose(load_image(out), t, atol=1 / 255)

    def test_refuses_protected_input(self, tmp_path):
        src = tmp_path / "input.png"
        Image.new("RGB", (4, 4), (1, 2, 3)).save(src)
        before = src.read_bytes()
        with pytest.raises(ValueError, match="input image"):
            save_image(torch.zeros(3, 4, 4), tmp_path / "." / "input.png", protect=[src])
        assert src.read_bytes() == before

    def test_atomic_no_temp_left(self, tmp_path):
        save_image(torch.rand(3, 4, 4), tmp_path / "x.jpg")
        assert [p.name for p in tmp_path.iterdir()] == ["x.jpg"]

    def test_failed_write_keeps_old_file(self, tmp_path):
        p = tmp_path / "keep.png"
        save_image(torch.zeros(3, 4, 4), p)
        before = p.read_bytes()
        with pytest.raises(ValueError):
            save_image(torch.zeros(5, 4, 4), p)  # not an image shape
        assert p.read_bytes() == before
        assert [q.name for q in tmp_path.iterdir()] == ["keep.png"]

    def test_unknown_extension(self, tmp_path):
        with pytest.raises(ValueError, match="extension"):
            save_image(torch.zeros(3, 4, 4), tmp_path / "x.txt")

    def test_batch_of_one_and_grey(self, tmp_path):
        save_image(torch.rand(1, 3, 5, 5), tmp_path / "b.png")
        save_image(torch.rand(5, 5), tmp_path / "g.png")
        assert load_image(tmp_path / "g.png").shape == (3, 5, 5)


class TestShowImages:
    def test_returns_figure(self):
        import matplotlib.figure

        fig = show_images([torch.rand(3, 8, 8), torch.rand(8, 8), np.zeros((8, 8, 3))],
                          ["a", "b", "c"], ncols=2)
        assert isinstance(fig, matplotlib.figure.Figure)
        assert len([ax for ax in fig.axes if ax.images]) == 3

    def test_long_titles_wrap_to_the_panel(self):
        import matplotlib.pyplot as plt

        long = "The Great Wave off Kanagawa (Katsushika Hokusai, c. 1831)"
        fig = show_images([torch.rand(3, 8, 8)] * 2, [long, "short"], size=2.2)
        titles = [ax.get_title() for ax in fig.axes if ax.images]
        assert titles[1] == "short" and titles[0].replace("\n", " ") == long
        assert max(len(line) for line in titles[0].splitlines()) <= 2.2 * 13
        plt.close(fig)

    def test_explicit_line_breaks_are_kept(self):
        import matplotlib.pyplot as plt

        # each "\n"-separated line is wrapped on its own: short lines stay whole, the break stays
        titles = ["same\nd=0.44 accept", "impostor\nd=0.90 accept",
                  "nearest enrolled: s12\nd = 0.53, false accept", "a\n\nb"]
        fig = show_images([torch.rand(3, 8, 8)] * 4, titles, size=1.5)
        got = [ax.get_title() for ax in fig.axes if ax.images]
        assert got[0] == "same\nd=0.44 accept"
        assert got[1] == "impostor\nd=0.90 accept"
        # the long first line wraps, the second starts on a line of its own
        assert "s12" in got[2].splitlines()[-3] and got[2].splitlines()[-2:] == ["d = 0.53, false", "accept"]
        assert got[2].replace("\n", " ") == titles[2].replace("\n", " ")
        assert max(len(line) for line in got[2].splitlines()) <= 1.5 * 13
        assert got[3] == "a\n\nb"  # an empty line is kept too
        plt.close(fig)

    def test_errors(self):
        with pytest.raises(ValueError):
            show_images([])
        with pytest.raises(ValueError, match="titles"):
            show_images([torch.rand(3, 4, 4)], ["a", "b"])

    def test_to_numpy_image_shapes(self):
        assert to_numpy_image(torch.rand(3, 4, 5)).shape == (4, 5, 3)
        assert to_numpy_image(torch.rand(1, 4, 5)).shape == (4, 5)
        with pytest.raises(ValueError):
            to_numpy_image(torch.rand(2, 3, 4, 5))


def test_fit_size_and_resize_image_agree_with_load_image(tmp_path):
    p = tmp_path / "wide.png"
    Image.new("RGB", (301, 117), (10, 200, 30)).save(p)
    for size in (1, 7, 64, 300, 600):
        h, w = fit_size(117, 301, size)
        assert max(h, w) == size and load_image(p, size=size).shape[-2:] == (h, w)
        assert resize_image(load_image(p), size).shape == (3, h, w)
    x = torch.rand(3, 5, 6)
    assert resize_image(x, None) is x and resize_image(x, 6) is x
    assert resize_image(x, (2, 9)).shape == (3, 2, 9)
    y = resize_image(torch.rand(3, 40, 40) * 3 - 1, 13)
    assert y.min() >= 0 and y.max() <= 1


@pytest.mark.parametrize("size", [0, -3, 2.5, True, (4,), (0, 4), "8"])
def test_resize_image_bad_size(size):
    with pytest.raises(ValueError, match="size"):
        resize_image(torch.rand(3, 4, 4), size)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_save_image_refuses_nan_and_inf(tmp_path, bad):
    x = torch.rand(3, 4, 4)
    x[1, 2, 3] = bad
    with pytest.raises(ValueError, match=r"out.png: the image holds 1 NaN or infinite"):
        save_image(x, tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def test_a_permission_error_is_not_called_corrupt(tmp_path, monkeypatch):
    p = tmp_path / "locked.png"
    Image.new("L", (4, 4)).save(p)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(p))

    monkeypatch.setattr(Image, "open", denied)
    with pytest.raises(PermissionError) as info:
        load_image(p)
    assert info.value.filename == str(p) and "corrupt" not in str(info.value)
