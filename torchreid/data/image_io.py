"""Reading one image file: a few retries on transient errors, and fast decoding for the tensor transforms.

:func:`read_image` gives a PIL image (what any torchvision transform takes). :func:`read_image_tensor` gives the
uint8 tensor the pipelines of :func:`torchreid.data.build_transforms` start from, skipping the PIL image: JPEGs
are decoded by torchvision's libjpeg-turbo decoder straight into a tensor (the same pixels as PIL's decoder), and
JPEGs at least twice as large as needed are decoded by libjpeg at reduced scale (through PIL). Other formats, and
every format on a torchvision without ``decode_jpeg``, go through PIL.
"""
import io
import os
import time
import warnings

import torch
from PIL import Image
from torchvision.transforms.v2 import functional as F

try:  # deprecated since torchvision 0.29 in favour of TorchCodec; where it is gone, PIL decodes every image
    from torchvision.io import ImageReadMode, decode_jpeg
except ImportError:
    decode_jpeg = None

# A read that fails with an OSError (e.g. a flaky network filesystem) is tried this many times in all, with a short
# pause between tries, before the error is raised. The seed retried forever, hanging a run on one corrupt file.
READ_ATTEMPTS = 3
RETRY_DELAY_S = 0.1

# JPEG start-of-frame markers (baseline, extended, progressive, lossless; Huffman or arithmetic coding).
_JPEG_SOF_MARKERS = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF))


def jpeg_size(data):
    """(height, width) from the start-of-frame header of JPEG bytes, or None if ``data`` is not a readable JPEG.

    Reads only the marker segments before the frame header (microseconds, no decoding).
    """
    if data[:2] != b'\xff\xd8':
        return None
    position = 2
    while position + 9 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _JPEG_SOF_MARKERS:
            height = int.from_bytes(data[position + 5:position + 7], 'big')
            width = int.from_bytes(data[position + 7:position + 9], 'big')
            return height, width
        position += 2 + int.from_bytes(data[position + 2:position + 4], 'big')
    return None


def _reduced_scale_applies(size, decode_size):
    # libjpeg can decode at 1/2, 1/4 or 1/8 scale; PIL's draft picks the smallest that stays >= decode_size.
    return decode_size is not None and size[0] >= 2 * decode_size[0] and size[1] >= 2 * decode_size[1]


def _open_rgb(source, decode_size):
    """PIL RGB image from a path or file object; large JPEGs decoded at reduced scale (``Image.draft``)."""
    with Image.open(source) as img:
        if decode_size is not None:
            # JPEG only (a no-op for other formats): libjpeg decodes at 1/2, 1/4 or 1/8 scale in the DCT domain,
            # choosing the smallest scale whose result is still at least (width, height).
            img.draft('RGB', (decode_size[1], decode_size[0]))
        if img.mode == 'RGB':
            img.load()
            return img
        return img.convert('RGB')


def _decode_tensor(path, decode_size):
    with open(path, 'rb') as f:
        data = bytearray(f.read())
    size = jpeg_size(data)
    if decode_jpeg is None or size is None or _reduced_scale_applies(size, decode_size):
        return F.pil_to_tensor(_open_rgb(io.BytesIO(data), decode_size))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)  # torchvision's notice, nothing a user can act on
            return decode_jpeg(torch.frombuffer(data, dtype=torch.uint8), mode=ImageReadMode.RGB)
    except RuntimeError as error:
        raise OSError('corrupt JPEG data ({})'.format(error)) from error


def _read_with_retries(path, decode):
    if not os.path.exists(path):
        raise FileNotFoundError("image file '{}' does not exist".format(path))
    last_error = None
    for attempt in range(READ_ATTEMPTS):
        try:
            return decode()
        except FileNotFoundError:
            raise
        except OSError as error:
            last_error = error
            if attempt + 1 < READ_ATTEMPTS:
                time.sleep(RETRY_DELAY_S)
    raise OSError("could not read image '{}' after {} attempts; last error: {}".format(
        path, READ_ATTEMPTS, last_error)) from last_error


def read_image(path, decode_size=None):
    """Read an image file as a PIL image in RGB mode.

    Args:
        path (str): the image file.
        decode_size (tuple of int, optional): (height, width), the smallest size the caller needs. A JPEG at least
            twice as large on both sides is then decoded at a reduced scale that is still at least this size, which
            is several times faster than decoding every pixel and resizing most of them away. The result differs
            from a full decode + resize only by the filter that did the first 2x/4x/8x of the downscaling (libjpeg's
            DCT scaling instead of the resize filter). ``None`` decodes at full size.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        OSError: every one of ``READ_ATTEMPTS`` tries failed (unreadable or corrupt file); names the file and the
            last error.
    """
    return _read_with_retries(path, lambda: _open_rgb(path, decode_size))


def read_image_tensor(path, decode_size=None):
    """Read an image file as a uint8 RGB tensor (3, H, W) (channels-last strides, the layout the uint8 resize
    kernel is fastest on). Same arguments, reduced-scale rule and errors as :func:`read_image`, same pixels.
    """
    return _read_with_retries(path, lambda: _decode_tensor(path, decode_size))
