"""load_image on awkward and broken files, made here in tmp_path."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageFile, ImageOps

from srarena.imageio import ImageError, from_uint8, load_image, save_png, to_uint8

RNG = np.random.default_rng(1234)
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
ADAM7 += ((0, 1, 1, 2),)


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _paeth_rows(raw: np.ndarray, bpp: int) -> bytes:
    """Filter every row with PNG's Paeth filter (type 4), computed from the raw bytes."""
    left = np.zeros_like(raw, dtype=np.int32)
    left[:, bpp:] = raw[:, :-bpp]
    up = np.zeros_like(left)
    up[1:] = raw[:-1]
    corner = np.zeros_like(left)
    corner[1:, bpp:] = raw[:-1, :-bpp]
    guess = left + up - corner
    pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
    pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, corner))
    filtered = ((raw.astype(np.int32) - pred) % 256).astype(np.uint8)
    return b"".join(b"\x04" + row.tobytes() for row in filtered)


def write_png16(path: Path, values: np.ndarray, colour_type: int, interlace: bool = False):
    """A 16-bit PNG (grey 0, RGB 2, grey+alpha 4, RGBA 6), which Pillow cannot write."""
    h, w = values.shape[:2]
    channels = 1 if values.ndim == 2 else values.shape[2]
    bpp = 2 * channels
    big = values.astype(">u2").reshape(h, w * channels)
    if interlace:
        data = b""
        for x0, y0, dx, dy in ADAM7:
            part = big.reshape(h, w, channels)[y0::dy, x0::dx]
            if part.size:
                rows = part.reshape(part.shape[0], -1).view(np.uint8)
                data += b"".join(b"\x00" + row.tobytes() for row in rows)
    else:
        data = _paeth_rows(big.view(np.uint8).reshape(h, -1), bpp)
    header = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, int(interlace))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(data))
        + _chunk(b"IEND", b"")
    )


def rgb8(h: int = 12, w: int = 17) -> np.ndarray:
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_rgb_png_is_exact_and_float32(tmp_path):
    data = rgb8()
    Image.fromarray(data).save(tmp_path / "a.png")
    image = load_image(tmp_path / "a.png")
    assert image.dtype == np.float32 and image.shape == (12, 17, 3)
    np.testing.assert_array_equal(image, data.astype(np.float32) / 255)


def test_greyscale_and_bilevel_become_three_equal_channels(tmp_path):
    grey = rgb8()[..., 0]
    Image.fromarray(grey).save(tmp_path / "g.png")
    image = load_image(tmp_path / "g.png")
    assert image.shape == (12, 17, 3)
    for c in range(3):
        np.testing.assert_allclose(image[..., c], grey / 255, atol=1e-7)
    Image.fromarray(grey > 128).save(tmp_path / "b.png")
    bilevel = load_image(tmp_path / "b.png")
    np.testing.assert_array_equal(bilevel[..., 1], (grey > 128).astype(np.float32))


def test_palette_takes_palette_colours_and_transparency_goes_black(tmp_path):
    palette = [255, 0, 0, 0, 255, 0, 10, 20, 30] + [0] * (256 * 3 - 9)
    index = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    img = Image.fromarray(index, mode="P")
    img.putpalette(palette)
    img.save(tmp_path / "p.png")
    image = load_image(tmp_path / "p.png")
    np.testing.assert_allclose(image[0, 2], np.array([10, 20, 30]) / 255, atol=1e-7)
    np.testing.assert_allclose(image[0, 0], [1, 0, 0])
    img.save(tmp_path / "pt.png", transparency=1)
    keyed = load_image(tmp_path / "pt.png")
    np.testing.assert_array_equal(keyed[0, 1], [0, 0, 0])
    np.testing.assert_allclose(keyed[0, 0], [1, 0, 0])


def test_alpha_is_composited_over_black(tmp_path):
    rgba = RNG.integers(0, 256, (6, 5, 4), dtype=np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    expected = rgba[..., :3] / 255 * (rgba[..., 3:] / 255)
    np.testing.assert_allclose(load_image(tmp_path / "a.png"), expected, atol=1e-6)
    la = rgba[..., :2]
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    grey = la[..., 0] / 255 * la[..., 1] / 255
    np.testing.assert_allclose(load_image(tmp_path / "la.png")[..., 2], grey, atol=1e-6)


def test_16bit_grey_png_keeps_every_bit(tmp_path):
    values = np.array([[0, 1, 257, 65534], [65535, 12345, 40000, 2]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    image = load_image(tmp_path / "g16.png")
    np.testing.assert_allclose(image[..., 0], values / 65535, atol=1e-7)
    assert image[0, 1, 0] > 0  # 8-bit reading would make 1/65535 zero


@pytest.mark.parametrize("interlace", [False, True])
@pytest.mark.parametrize("colour_type,channels", [(2, 3), (6, 4), (4, 2)])
def test_16bit_colour_png_keeps_every_bit(tmp_path, colour_type, channels, interlace):
    values = RNG.integers(0, 65536, (9, 11, channels), dtype=np.uint16)
    write_png16(tmp_path / "c16.png", values, colour_type, interlace)
    image = load_image(tmp_path / "c16.png")
    v = values / 65535
    colour = v[..., :-1] if channels in (2, 4) else v
    if channels in (2, 4):
        colour = colour * v[..., -1:]
    expected = np.repeat(colour, 3, axis=-1) if colour.shape[-1] == 1 else colour
    np.testing.assert_allclose(image, expected, atol=1e-7)
    # Pillow alone keeps only the high byte: the low byte must matter here
    assert np.abs(image - np.floor(expected * 255) / 255).max() > 1e-3


def test_16bit_rgb_png_colour_key_transparency(tmp_path):
    values = np.array([[[1, 2, 3], [400, 500, 600]]], dtype=np.uint16)
    path = tmp_path / "key.png"
    write_png16(path, values, 2)
    data = path.read_bytes()
    trns = _chunk(b"tRNS", struct.pack(">HHH", 1, 2, 3))
    at = data.index(b"IDAT") - 4
    path.write_bytes(data[:at] + trns + data[at:])
    image = load_image(path)
    np.testing.assert_array_equal(image[0, 0], [0, 0, 0])
    np.testing.assert_allclose(image[0, 1], np.array([400, 500, 600]) / 65535, atol=1e-7)


def test_16bit_pgm_reads_as_16_bits(tmp_path):
    values = np.array([[0, 1, 65535], [300, 5000, 65000]], dtype=">u2")
    (tmp_path / "a.pgm").write_bytes(b"P5 3 2 65535\n" + values.tobytes())
    np.testing.assert_allclose(load_image(tmp_path / "a.pgm")[..., 0], values / 65535, atol=1e-7)


def test_tiff_float_uint16_planar_alpha_and_pages(tmp_path):
    floats = RNG.random((7, 8, 3)).astype(np.float32)
    tifffile.imwrite(tmp_path / "f.tif", floats, photometric="rgb")
    np.testing.assert_array_equal(load_image(tmp_path / "f.tif"), floats)
    u16 = RNG.integers(0, 65536, (7, 8, 3), dtype=np.uint16)
    planar = np.moveaxis(u16, -1, 0)
    tifffile.imwrite(tmp_path / "p.tif", planar, photometric="rgb", planarconfig="separate")
    np.testing.assert_allclose(load_image(tmp_path / "p.tif"), u16 / 65535, atol=1e-7)
    rgba = RNG.integers(0, 65536, (7, 8, 4), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    expected = rgba[..., :3] / 65535 * (rgba[..., 3:] / 65535)
    np.testing.assert_allclose(load_image(tmp_path / "a.tif"), expected, atol=1e-7)
    grey = RNG.random((2, 5, 6)).astype(np.float32)
    tifffile.imwrite(tmp_path / "pages.tif", grey)  # two pages
    np.testing.assert_array_equal(load_image(tmp_path / "pages.tif")[..., 1], grey[0])


def test_float_tiff_clips_small_excursions_and_refuses_other_scales(tmp_path):
    values = np.array([[-0.01, 0.5, 1.02]], dtype=np.float32)
    tifffile.imwrite(tmp_path / "f.tif", values)
    np.testing.assert_allclose(load_image(tmp_path / "f.tif")[0, :, 0], [0.0, 0.5, 1.0])
    tifffile.imwrite(tmp_path / "f255.tif", values * 255)
    with pytest.raises(ImageError, match=r"float samples span .*rescale"):
        load_image(tmp_path / "f255.tif")
    tifffile.imwrite(tmp_path / "nan.tif", np.array([[np.nan, 0.5]], dtype=np.float32))
    with pytest.raises(ImageError, match="NaN"):
        load_image(tmp_path / "nan.tif")
    tifffile.imwrite(tmp_path / "i16.tif", np.array([[-3, 4]], dtype=np.int16))
    with pytest.raises(ImageError, match="int16 samples have no standard display range"):
        load_image(tmp_path / "i16.tif")


def test_lzw_tiff_reads_through_either_decoder(tmp_path):
    data = rgb8()
    Image.fromarray(data).save(tmp_path / "lzw.tif", compression="tiff_lzw")
    np.testing.assert_array_equal(load_image(tmp_path / "lzw.tif"), data / np.float32(255))


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    data = rgb8(32, 32)
    Image.fromarray(data).convert("CMYK").save(tmp_path / "c.jpg", quality=98)
    image = load_image(tmp_path / "c.jpg")
    assert image.shape == (32, 32, 3)
    with Image.open(tmp_path / "c.jpg") as img:
        assert img.mode == "CMYK"
        pillow = np.asarray(img.convert("RGB"), dtype=np.float32) / 255
    np.testing.assert_array_equal(image, pillow)
    assert np.abs(image - data / 255).mean() < 0.03


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path, orientation):
    img = Image.fromarray(rgb8(5, 7))
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(tmp_path / "o.png", exif=exif)
    with Image.open(tmp_path / "o.png") as opened:
        expected = np.asarray(ImageOps.exif_transpose(opened), dtype=np.float32) / 255
    image = load_image(tmp_path / "o.png")
    assert image.shape == ((7, 5, 3) if orientation >= 5 else (5, 7, 3))
    np.testing.assert_array_equal(image, expected)


def test_exif_rotated_jpeg_is_upright(tmp_path):
    data = np.zeros((40, 64, 3), dtype=np.uint8)
    data[:20, :32] = (255, 0, 0)  # red top-left quadrant
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display turns it 90 degrees clockwise
    Image.fromarray(data).save(tmp_path / "r.jpg", exif=exif, quality=95)
    image = load_image(tmp_path / "r.jpg")
    assert image.shape == (64, 40, 3)
    assert image[5, 35, 0] > 0.9 and image[5, 5, 0] < 0.1  # red now top-right


def test_tiff_orientation_tag_is_applied(tmp_path):
    data = RNG.integers(0, 65536, (4, 6, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "o.tif", data, photometric="rgb", extratags=[(274, "H", 1, 8)])
    np.testing.assert_allclose(load_image(tmp_path / "o.tif"), np.rot90(data, 1) / 65535, atol=1e-7)


def test_animated_gif_and_png_give_the_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 6), colour) for colour in ((200, 0, 0), (0, 200, 0))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=50)
    frames[0].save(tmp_path / "a.png", save_all=True, append_images=frames[1:], duration=50)
    for name in ("a.gif", "a.png"):
        with Image.open(tmp_path / name) as img:
            assert img.n_frames == 2
        image = load_image(tmp_path / name)
        assert image.shape == (6, 8, 3)
        np.testing.assert_allclose(image[3, 4], [200 / 255, 0, 0], atol=2 / 255)


def _broken_png(tmp_path: Path) -> Path:
    Image.fromarray(rgb8(64, 64)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    return tmp_path / "cut.png"


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BROKEN = {
    "truncated-png": (_broken_png, "truncated file"),
    "empty": (lambda p: _written(p / "e.png", b""), "empty file"),
    "text-named-png": (lambda p: _written(p / "t.png", b"hello, not a picture"), "not an image"),
    "missing": (lambda p: p / "missing.png", "file not found"),
    "directory": (lambda p: p, "not a regular file"),
}


@pytest.mark.parametrize("kind", BROKEN)
def test_broken_files_are_refused_with_their_reason(tmp_path, kind):
    make, reason = BROKEN[kind]
    with pytest.raises(ImageError, match=reason):
        load_image(make(tmp_path))


def test_truncated_jpeg_is_refused(tmp_path):
    Image.fromarray(rgb8(64, 64)).save(tmp_path / "a.jpg")
    data = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "a.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated"):
        load_image(tmp_path / "a.jpg")


def test_truncation_is_refused_even_if_another_module_allows_it(tmp_path, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(ImageError, match="truncated"):
        load_image(_broken_png(tmp_path))
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored for whoever set it


def test_decompression_bomb_header_is_refused(tmp_path):
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(png)
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(tmp_path / "bomb.png")


def test_images_above_max_image_pixels_are_refused(tmp_path, monkeypatch):
    Image.fromarray(rgb8(20, 20)).save(tmp_path / "a.png")
    tifffile.imwrite(tmp_path / "a.tif", rgb8(20, 20), photometric="rgb")
    assert load_image(tmp_path / "a.png").shape == (20, 20, 3)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300)  # between the limit and twice it
    for name in ("a.png", "a.tif"):
        with pytest.raises(ImageError, match=r"20x20 = 400 pixels exceeds .*MAX_IMAGE_PIXELS"):
            load_image(tmp_path / name)


def test_uint8_conversions_and_atomic_png(tmp_path):
    image = RNG.random((5, 4, 3)).astype(np.float32)
    q = to_uint8(image)
    assert q.dtype == np.uint8
    np.testing.assert_allclose(from_uint8(q), image, atol=0.5 / 255 + 1e-7)
    save_png(tmp_path / "out" / "x.png", image)
    np.testing.assert_array_equal(load_image(tmp_path / "out" / "x.png"), from_uint8(q))
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["x.png"]
