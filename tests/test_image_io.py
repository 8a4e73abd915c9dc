"""Every image reads as the RGB picture a viewer shows: to_rgb for every PIL mode, 16-bit files, both read paths,
pathlib.Path, and numpy arrays (array_to_rgb_tensor, RGB and OpenCV's BGR)."""
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import torchreid.data.image_io as image_io
from torchreid.data import ImageSampleDataset, array_to_rgb_tensor, read_image, read_image_tensor, to_rgb

# A tiny 8-bit picture whose values cover the extremes and both halves of the range.
PICTURE_8 = np.array([[0, 1, 127, 128], [200, 254, 255, 77]], dtype=np.uint8)


def pixels(img):
    """(H, W, 3) uint8 array of a PIL RGB image."""
    assert img.mode == 'RGB'
    return np.asarray(img)


def grey_rgb(values):
    """(H, W, 3) array with ``values`` in all three channels."""
    values = np.asarray(values, dtype=np.uint8)
    return np.repeat(values[:, :, None], 3, axis=2)


def write_png16(path, array):
    """Write a 16-bit PNG by hand (PIL cannot write 16-bit colour): ``array`` uint16 (H, W) grey, (H, W, 2) grey +
    alpha, (H, W, 3) RGB or (H, W, 4) RGBA."""
    array = np.asarray(array, dtype='>u2')
    channels = 1 if array.ndim == 2 else array.shape[2]
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    height, width = array.shape[:2]

    def chunk(kind, body):
        return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body) & 0xFFFFFFFF)

    rows = b''.join(b'\x00' + array[row].tobytes() for row in range(height))
    data = (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 16, color_type, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b''))
    Path(path).write_bytes(data)
    return str(path)


def read_both(path):
    """The pixels of both read paths, which must agree exactly; returns them as (H, W, 3)."""
    from_pil = pixels(read_image(path))
    tensor = read_image_tensor(path)
    assert tensor.dtype == torch.uint8 and tensor.shape == (3,) + from_pil.shape[:2]
    assert np.array_equal(tensor.permute(1, 2, 0).numpy(), from_pil)
    return from_pil


# ---------------------------------------------------------------- 16-bit images

@pytest.mark.parametrize('widen', [lambda v: v * 257, lambda v: v << 8, lambda v: (v << 8) | 0xFF])
def test_16bit_png_reads_as_its_8bit_picture(tmp_path, widen):
    path = tmp_path / 'grey16.png'
    Image.fromarray(widen(PICTURE_8.astype(np.uint16))).save(path)
    assert Image.open(path).mode == 'I;16'
    assert np.array_equal(read_both(path), grey_rgb(PICTURE_8))


def test_16bit_values_keep_their_high_byte():
    values = np.array([[0, 255, 256, 511, 32767, 32768, 65280, 65535]], dtype=np.uint16)
    expected = grey_rgb([[0, 0, 1, 1, 127, 128, 255, 255]])
    assert np.array_equal(pixels(to_rgb(Image.fromarray(values))), expected)
    for mode, dtype in [('I;16B', '>u2'), ('I;16L', '<u2')]:
        img = Image.frombytes(mode, (8, 1), values.astype(dtype).tobytes())
        assert np.array_equal(pixels(to_rgb(img)), expected), mode


def test_16bit_colour_and_alpha_pngs_read_like_16bit_grey(tmp_path):
    rgb = np.stack([PICTURE_8, 255 - PICTURE_8, PICTURE_8 // 2], axis=2)
    expected = np.asarray(rgb, dtype=np.uint8)
    alpha = np.full(PICTURE_8.shape, 0x1234, dtype=np.uint16)
    wide = rgb.astype(np.uint16) * 257
    assert np.array_equal(read_both(write_png16(tmp_path / 'rgb48.png', wide)), expected)
    rgba = np.concatenate([wide, alpha[:, :, None]], axis=2)
    assert np.array_equal(read_both(write_png16(tmp_path / 'rgba64.png', rgba)), expected)
    grey_alpha = np.stack([PICTURE_8.astype(np.uint16) * 257, alpha], axis=2)
    assert np.array_equal(read_both(write_png16(tmp_path / 'la32.png', grey_alpha)), grey_rgb(PICTURE_8))
    assert np.array_equal(read_both(write_png16(tmp_path / 'grey16.png', PICTURE_8.astype(np.uint16) * 257)),
                          grey_rgb(PICTURE_8))


def test_16bit_pgm_opens_as_mode_i_and_is_scaled(tmp_path):
    values = np.array([[0, 10000, 20000], [40000, 50000, 65535]], dtype=np.uint16)
    path = tmp_path / 'grey16.pgm'
    path.write_bytes(b'P5\n3 2\n65535\n' + values.astype('>u2').tobytes())
    assert Image.open(path).mode == 'I'
    assert np.array_equal(read_both(path), grey_rgb([[0, 39, 78], [156, 195, 255]]))


# ---------------------------------------------------------------- 32-bit 'I' and float 'F'

def test_mode_i_by_the_range_its_values_hold():
    def read_i(values):
        return pixels(to_rgb(Image.fromarray(np.array(values, dtype=np.int32))))
    # 8-bit data widened to 32 bits (e.g. 'L' converted to 'I'): unchanged
    assert np.array_equal(pixels(to_rgb(Image.fromarray(PICTURE_8).convert('I'))), grey_rgb(PICTURE_8))
    # 16-bit data: the high byte
    assert np.array_equal(read_i([[0, 256, 300, 65535]]), grey_rgb([[0, 1, 1, 255]]))
    # beyond 16 bits or negative: stretched from the minimum (black) to the maximum (white)
    assert np.array_equal(read_i([[-100, 0, 100]]), grey_rgb([[0, 128, 255]]))
    assert np.array_equal(read_i([[0, 100000, 200000]]), grey_rgb([[0, 128, 255]]))
    # constant out of every range: clipped
    assert np.array_equal(read_i([[70000, 70000]]), grey_rgb([[255, 255]]))
    assert np.array_equal(read_i([[-5, -5]]), grey_rgb([[0, 0]]))


def test_mode_f_by_the_range_its_values_hold():
    def read_f(values):
        return pixels(to_rgb(Image.fromarray(np.array(values, dtype=np.float32))))
    assert np.array_equal(read_f([[0.0, 0.2, 0.5, 1.0]]), grey_rgb([[0, 51, 128, 255]]))  # 0..1: x 255
    assert np.array_equal(read_f([[0.0, 2.0, 100.4, 255.0]]), grey_rgb([[0, 2, 100, 255]]))  # 0..255
    assert np.array_equal(read_f([[0.0, 1000.0, 65535.0]]), grey_rgb([[0, 3, 255]]))  # 0..65535: 16-bit
    assert np.array_equal(read_f([[-1.0, 0.0, 1.0]]), grey_rgb([[0, 128, 255]]))  # else stretched
    assert np.array_equal(read_f([[np.nan, 1.0]]), grey_rgb([[0, 255]]))  # NaN is black


def test_float_and_int_tiffs_read_the_same_on_both_paths(tmp_path):
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32)).save(tmp_path / 'f.tif')
    assert np.array_equal(read_both(tmp_path / 'f.tif'), grey_rgb([[0, 128, 255]]))
    Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.int32)).save(tmp_path / 'i.tif')
    assert np.array_equal(read_both(tmp_path / 'i.tif'), grey_rgb([[0, 128, 255]]))


# ---------------------------------------------------------------- the 8-bit modes

def test_bilevel_grey_and_palette_files(tmp_path):
    Image.fromarray(np.array([[0, 255, 0]], dtype=np.uint8)).convert('1').save(tmp_path / 'bilevel.png')
    assert Image.open(tmp_path / 'bilevel.png').mode == '1'
    assert np.array_equal(read_both(tmp_path / 'bilevel.png'), grey_rgb([[0, 255, 0]]))
    Image.fromarray(PICTURE_8).save(tmp_path / 'grey.png')
    assert np.array_equal(read_both(tmp_path / 'grey.png'), grey_rgb(PICTURE_8))
    palette = Image.new('P', (3, 1))
    palette.putpalette([10, 20, 30, 200, 100, 50, 7, 8, 9] + [0] * 759)
    palette.putdata([0, 1, 2])
    palette.save(tmp_path / 'palette.png')
    palette.save(tmp_path / 'palette.bmp')
    for name in ('palette.png', 'palette.bmp'):
        assert Image.open(tmp_path / name).mode == 'P'
        assert read_both(tmp_path / name).tolist() == [[[10, 20, 30], [200, 100, 50], [7, 8, 9]]]


def test_alpha_is_dropped_keeping_the_stored_colour(tmp_path):
    rgba = np.array([[[10, 20, 30, 0], [200, 100, 50, 128], [1, 2, 3, 255]]], dtype=np.uint8)
    Image.fromarray(rgba, 'RGBA').save(tmp_path / 'rgba.png')
    assert read_both(tmp_path / 'rgba.png').tolist() == [[[10, 20, 30], [200, 100, 50], [1, 2, 3]]]
    Image.fromarray(np.array([[[100, 0], [40, 255]]], dtype=np.uint8), 'LA').save(tmp_path / 'la.png')
    assert Image.open(tmp_path / 'la.png').mode == 'LA'
    assert read_both(tmp_path / 'la.png').tolist() == [[[100] * 3, [40] * 3]]
    palette = Image.new('P', (2, 1))
    palette.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    palette.putdata([0, 1])
    palette.save(tmp_path / 'transparent.png', transparency=1)
    palette.save(tmp_path / 'transparent.gif', transparency=1)
    for name in ('transparent.png', 'transparent.gif'):
        img = Image.open(tmp_path / name)
        assert img.mode == 'P' and img.info['transparency'] == 1
        assert read_both(tmp_path / name).tolist() == [[[10, 20, 30], [200, 100, 50]]], name
    assert pixels(to_rgb(Image.new('RGBa', (1, 1), (50, 50, 50, 128)))).tolist() == [[[99, 99, 99]]]  # 50*255/128
    assert pixels(to_rgb(Image.new('La', (1, 1), (100, 128)))).tolist() == [[[199, 199, 199]]]


def test_cmyk_ycbcr_lab_hsv_convert_like_pil(tmp_path):
    # CMYK: (255 - c) * (255 - k) / 255 per channel
    assert pixels(to_rgb(Image.new('CMYK', (1, 1), (10, 20, 30, 40)))).tolist() == [[[207, 198, 190]]]
    # YCbCr (JPEG's full range): R = Y + 1.402 (Cr - 128), G = Y - 0.344 (Cb - 128) - 0.714 (Cr - 128), B = ...
    assert pixels(to_rgb(Image.new('YCbCr', (1, 1), (128, 128, 128)))).tolist() == [[[128, 128, 128]]]
    assert pixels(to_rgb(Image.new('YCbCr', (1, 1), (10, 20, 30)))).tolist() == [[[0, 117, 0]]]
    colour = Image.new('RGB', (1, 1), (200, 100, 50))
    assert pixels(to_rgb(colour.convert('HSV'))).tolist() == [[[200, 100, 50]]]
    lab = Image.new('LAB', (1, 1), (128, 100, 160))
    assert pixels(to_rgb(lab)).tolist() == [[[81, 132, 61]]]  # what ImageCms' LAB -> sRGB gives too
    # CMYK and grey JPEGs: torchvision's decoder and PIL agree
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 8, 3), dtype=np.uint8))
    for mode in ('CMYK', 'L', 'RGB'):
        path = tmp_path / '{}.jpg'.format(mode)
        picture.convert(mode).save(path)
        read_both(path)


def test_rgb_images_pass_through_unchanged():
    img = Image.new('RGB', (2, 1), (1, 2, 3))
    assert to_rgb(img) is img


# ---------------------------------------------------------------- paths

def test_pathlib_paths_are_accepted_everywhere(tmp_path):
    path = tmp_path / 'a.png'
    Image.fromarray(PICTURE_8).save(path)
    assert isinstance(path, Path)
    assert np.array_equal(read_both(path), grey_rgb(PICTURE_8))
    assert read_image(path, decode_size=(1, 1)).size == (4, 2)
    img, pid, camid, item_path = ImageSampleDataset([(path, 3, 1)])[0]
    assert np.array_equal(pixels(img), grey_rgb(PICTURE_8)) and (pid, camid, item_path) == (3, 1, path)


# ---------------------------------------------------------------- numpy arrays

def test_array_to_rgb_tensor_rgb_and_bgr():
    rgb = np.random.default_rng(1).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    from_rgb = array_to_rgb_tensor(rgb)
    assert from_rgb.dtype == torch.uint8 and from_rgb.shape == (3, 5, 4)
    assert np.array_equal(from_rgb.permute(1, 2, 0).numpy(), rgb)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    assert torch.equal(array_to_rgb_tensor(bgr, channel_order='BGR'), from_rgb)
    assert torch.equal(array_to_rgb_tensor(rgb, channel_order='BGR'), from_rgb.flip(0))
    assert from_rgb[0, 2, 1].item() == rgb[2, 1, 0] and from_rgb[2, 2, 1].item() == rgb[2, 1, 2]
    out = array_to_rgb_tensor(rgb)
    out[0, 0, 0] = 255 - rgb[0, 0, 0]
    assert out[0, 0, 0].item() != rgb[0, 0, 0]  # a copy: the caller's array is not shared


def test_array_to_rgb_tensor_grey_and_16bit():
    expected = torch.from_numpy(grey_rgb(PICTURE_8)).permute(2, 0, 1)
    assert torch.equal(array_to_rgb_tensor(PICTURE_8), expected)
    assert torch.equal(array_to_rgb_tensor(PICTURE_8[:, :, None]), expected)
    assert torch.equal(array_to_rgb_tensor(PICTURE_8, channel_order='BGR'), expected)
    assert torch.equal(array_to_rgb_tensor(PICTURE_8.astype(np.uint16) * 257), expected)
    wide = np.stack([PICTURE_8, 255 - PICTURE_8, PICTURE_8 // 3], axis=2)
    assert torch.equal(array_to_rgb_tensor((wide.astype(np.uint16) << 8) | 0xFF),
                       torch.from_numpy(wide).permute(2, 0, 1))


def test_array_to_rgb_tensor_matches_the_file_reader(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / 'a.png')
    assert torch.equal(array_to_rgb_tensor(rgb[:, :, ::-1], channel_order='BGR'), read_image_tensor(tmp_path / 'a.png'))


@pytest.mark.parametrize('array, channel_order, message', [
    (np.zeros((4, 3, 3), dtype=np.float32), 'RGB', 'got dtype float32'),
    (np.zeros((4, 3, 4), dtype=np.uint8), 'RGB', r'got shape \(4, 3, 4\); drop the alpha channel'),
    (np.zeros((3, 8, 6), dtype=np.uint8), 'RGB', r'\(H, W, 3\) \(channels last\), got shape \(3, 8, 6\)'),
    (np.zeros((2, 4, 3, 3), dtype=np.uint8), 'RGB', r'got shape \(2, 4, 3, 3\)'),
    (np.zeros((0, 3, 3), dtype=np.uint8), 'RGB', 'non-empty'),
    (np.zeros((4, 3, 3), dtype=np.uint8), 'bgr', "channel_order must be 'RGB' or 'BGR'"),
    ([[0, 1], [2, 3]], 'RGB', 'expected a numpy array, got list'),
])
def test_array_to_rgb_tensor_rejects_what_it_cannot_read(array, channel_order, message):
    with pytest.raises(ValueError, match=message):
        array_to_rgb_tensor(array, channel_order=channel_order)


def test_jpeg_fast_path_is_exercised():
    # the JPEG tests above compare torchvision's decoder with PIL's only if it is there
    assert image_io.decode_jpeg is not None


def test_read_image_is_independent_of_the_file(tmp_path):
    # read_image returns a loaded image, independent of the file (it can be deleted or rewritten afterwards)
    path = tmp_path / 'a.png'
    Image.fromarray(PICTURE_8).save(path)
    img = read_image(path)
    path.write_bytes(b'')
    assert np.array_equal(pixels(img), grey_rgb(PICTURE_8))
