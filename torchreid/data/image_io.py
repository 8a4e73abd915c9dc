"""Reading one image file as the RGB picture a viewer shows, with one clear error for a file that cannot be read.

:func:`read_image` gives a PIL image (what any torchvision transform takes). :func:`read_image_tensor` gives the
uint8 tensor the pipelines of :func:`torchreid.data.build_transforms` start from, skipping the PIL image: JPEGs
are decoded by torchvision's libjpeg-turbo decoder straight into a tensor (the same pixels as PIL's decoder), and
JPEGs at least twice as large as needed are decoded by libjpeg at reduced scale (through PIL). Other formats, and
every format on a torchvision without ``decode_jpeg``, go through PIL and :func:`to_rgb`. Both give the same pixels
for the same file.

:func:`to_rgb` turns a PIL image of any mode into 8-bit RGB, and :func:`array_to_rgb_tensor` does the same for
numpy arrays (e.g. OpenCV's BGR crops). A file that cannot be read raises :class:`ImageReadError`, which names the
file, what is wrong with it and the fix, in one line.
"""
import io
import os
import re
import time
import warnings

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision.transforms.v2 import functional as F

try:  # deprecated since torchvision 0.29 in favour of TorchCodec; where it is gone, PIL decodes every image
    from torchvision.io import ImageReadMode, decode_jpeg
except ImportError:
    decode_jpeg = None

# A read that fails with an OSError (e.g. a flaky network filesystem) is tried this many times in all, with a short
# pause between tries, before the error is raised. The seed retried forever, hanging a run on one corrupt file.
# Files that are missing, empty or not images at all fail at once: a retry cannot change them.
READ_ATTEMPTS = 3
RETRY_DELAY_S = 0.1

CHECK_COMMAND = 'python tools/check_images.py -d <dataset> --root <root>'
FIX = ('replace or delete the file; to list every unreadable image of a dataset at once, run `{}`'.format(
    CHECK_COMMAND))

# What is wrong with a file (ImageReadError.reason).
MISSING = 'missing'
EMPTY = 'empty (0 bytes)'
NOT_AN_IMAGE = 'not an image (unknown format)'
TRUNCATED = 'truncated'
CORRUPT = 'corrupt image data'
UNREADABLE = 'unreadable (I/O error)'

# The first bytes of the common image formats: a file that starts so but cannot be identified is damaged.
_SIGNATURES = ((b'\xff\xd8\xff', 'JPEG'), (b'\x89PNG\r\n\x1a\n', 'PNG'), (b'GIF8', 'GIF'), (b'BM', 'BMP'),
               (b'II*\x00', 'TIFF'), (b'MM\x00*', 'TIFF'), (b'RIFF', 'WebP'))

# JPEG start-of-frame markers (baseline, extended, progressive, lossless; Huffman or arithmetic coding).
_JPEG_SOF_MARKERS = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF))


class ImageReadError(OSError, ValueError):
    """An image file that cannot be read: the message names the file, what is wrong and the fix, in one line.

    An OSError (what PIL raises for unreadable files) and a ValueError (bad input the user can fix), so the scripts
    report it as one line with exit status 1. ``path``, ``reason`` (one of MISSING, EMPTY, NOT_AN_IMAGE, TRUNCATED,
    CORRUPT, UNREADABLE) and ``detail`` (the decoder's words, or None) are None when the error was rebuilt from its
    message (as torch does for errors of DataLoader workers).
    """

    def __init__(self, message, path=None, reason=None, detail=None):
        super().__init__(message)
        self.path = path
        self.reason = reason
        self.detail = detail


class ImageNotFoundError(ImageReadError, FileNotFoundError):
    """The image file does not exist (also a FileNotFoundError)."""


def worker_error_message(error):
    """The message of ``error`` as raised, also when a DataLoader worker raised it.

    torch re-raises a worker's exception in the main process with its type but with the message replaced by
    "Caught X in DataLoader worker process N.\\nOriginal Traceback (most recent call last): ...". This returns the
    original message from the last line(s) of that traceback; any other error's message is returned as is.
    """
    message = str(error)
    if not re.match(r'Caught \w+ in DataLoader worker process \d+\.\nOriginal Traceback', message):
        return message
    cls = type(error)
    names = [cls.__qualname__]
    if cls.__module__ not in ('builtins', '__main__'):
        names.insert(0, '{}.{}'.format(cls.__module__, cls.__qualname__))
    for name in names:
        start = message.rfind('\n{}: '.format(name))
        if start >= 0:
            return message[start + len(name) + 3:].rstrip('\n')
    return message


def _fit_to_uint8(values, unit_range=False):
    """uint8 copy of a numeric array, by the range its values hold (see :func:`to_rgb`)."""
    values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (values.min(), values.max()) if values.size else (0.0, 0.0)
    if unit_range and low >= 0 and high <= 1:
        return np.rint(values * 255).astype(np.uint8)
    if low >= 0 and high <= 255:
        return np.rint(values).astype(np.uint8)
    if low >= 0 and high <= 65535:
        return np.floor(values / 256).astype(np.uint8)  # 16-bit data, as 'I;16': the high byte
    if high == low:  # a constant image out of every range: nothing to stretch
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return np.rint((values - low) * 255 / (high - low)).astype(np.uint8)  # stretched: min -> 0, max -> 255


def to_rgb(img):
    """The 8-bit RGB picture of a PIL image of any mode (what a viewer shows, the alpha channel dropped).

    - 16-bit grey ('I;16', 'I;16L', 'I;16B', 'I;16N'): each value v becomes v >> 8 (its high byte), so an 8-bit
      picture stored as 16 bits (v * 257 or v << 8) reads back exactly; PIL reads 16-bit RGB PNGs the same way.
      (PIL's own conversion clips every value above 255 to white.)
    - 32-bit 'I' and float 'F' grey, by the range the values hold: 'F' values all in 0..1 are scaled by 255;
      values all in 0..255 are 8-bit; values all in 0..65535 are 16-bit (v >> 8, as above); anything else
      (negative or larger values) is stretched linearly from its minimum (black) to its maximum (white); a
      constant image out of those ranges is clipped to 0..255.
    - Alpha ('RGBA', 'LA', 'PA', 'RGBa', 'La', and 'P' with a transparent colour) is dropped: a pixel keeps its
      stored colour whatever its transparency, as PIL's, OpenCV's and torchvision's RGB readers do (so features
      match models trained with them).
    - Every other mode ('1', 'L', 'P', 'CMYK', 'YCbCr', 'LAB', 'HSV', 'RGBX') by PIL's conversion to RGB.
    """
    mode = img.mode
    if mode == 'RGB':
        return img
    if mode.startswith('I;16'):
        grey = (np.asarray(img).astype(np.uint16) >> 8).astype(np.uint8)
        return Image.fromarray(grey).convert('RGB')
    if mode in ('I', 'F'):
        grey = _fit_to_uint8(np.asarray(img), unit_range=mode == 'F')
        return Image.fromarray(grey).convert('RGB')
    if mode == 'La':  # premultiplied: PIL converts it to 'LA' only
        img = img.convert('LA')
    if mode == 'P' and 'transparency' in img.info:
        img = img.convert('RGBA')  # PIL warns about converting a transparent palette image straight to RGB
    return img.convert('RGB')


def array_to_rgb_tensor(array, channel_order='RGB'):
    """uint8 RGB tensor (3, H, W) of a numpy image array.

    Args:
        array (numpy.ndarray): uint8 or uint16, shaped (H, W) or (H, W, 1) (grey) or (H, W, 3) (colour, channels
            last). uint16 values v become v >> 8, like 16-bit image files (:func:`to_rgb`).
        channel_order (str): 'RGB', or 'BGR' for OpenCV's arrays (``cv2.imread``); ignored for grey arrays.

    Raises:
        ValueError: another type, dtype, shape or channel order; the message says what is accepted.
    """
    if channel_order not in ('RGB', 'BGR'):
        raise ValueError("channel_order must be 'RGB' or 'BGR' (OpenCV), got {!r}".format(channel_order))
    if not isinstance(array, np.ndarray):
        raise ValueError('expected a numpy array, got {}'.format(type(array).__name__))
    if array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise ValueError('expected a uint8 or uint16 image array, got dtype {} (scale float images to 0..255 and '
                         'convert them with array.astype(numpy.uint8))'.format(array.dtype))
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim != 3 or array.shape[2] != 3:
        raise ValueError('expected an image array shaped (H, W), (H, W, 1) or (H, W, 3) (channels last), got shape {}'
                         '{}'.format(array.shape, '; drop the alpha channel with array[..., :3]'
                                     if array.ndim == 3 and array.shape[2] == 4 else ''))
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError('expected a non-empty image array, got shape {}'.format(array.shape))
    if channel_order == 'BGR':
        array = array[:, :, ::-1]
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


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


def _decode_pil(data, decode_size):
    """PIL RGB image of encoded bytes, fully decoded; large JPEGs decoded at reduced scale (``Image.draft``)."""
    with Image.open(io.BytesIO(data)) as img:
        if decode_size is not None:
            # JPEG only (a no-op for other formats): libjpeg decodes at 1/2, 1/4 or 1/8 scale in the DCT domain,
            # choosing the smallest scale whose result is still at least (width, height).
            img.draft('RGB', (decode_size[1], decode_size[0]))
        img.load()  # decodes every pixel: a truncated file fails here ("image file is truncated")
        return to_rgb(img)


def _decode_tensor(data, decode_size):
    size = jpeg_size(data)
    if decode_jpeg is None or size is None or _reduced_scale_applies(size, decode_size):
        return F.pil_to_tensor(_decode_pil(data, decode_size))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)  # torchvision's notice, nothing a user can act on
            # libjpeg's "premature end of data" is an error here ("Image is incomplete or truncated"), as in PIL
            return decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
    except RuntimeError as error:
        detail = re.sub(r'^decode_jpeg, \S+:\d+, ', '', str(error).strip())  # without torchvision's source line
        raise OSError('JPEG decoder: {}'.format(detail)) from error


def _decode_reason(error):
    return TRUNCATED if 'truncated' in str(error).lower() or isinstance(error, EOFError) else CORRUPT


def _error(path, reason, detail=None):
    what = 'the file is {}'.format(reason) + (': {}'.format(detail) if detail else '')
    if reason == MISSING:
        return ImageNotFoundError("image file '{}' does not exist; check --root and the dataset folder, or list every "
                                  "unreadable image of a dataset with `{}`".format(path, CHECK_COMMAND), path, reason)
    return ImageReadError("cannot read image '{}': {}; {}".format(path, what, FIX), path, reason, detail)


def _unidentified_error(path, data):
    """The error for bytes PIL cannot identify: corrupt if they start like an image format, else not an image."""
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return _error(path, CORRUPT, 'a {} signature, but PIL cannot read its header (cut short or '
                                         'damaged)'.format(name))
    return _error(path, NOT_AN_IMAGE, 'it starts with {!r}'.format(data[:16]))


def _read_with_retries(path, decode):
    """``decode(data)`` of the bytes of ``path``; OSErrors are retried, then raised as one ImageReadError."""
    path = os.fspath(path)
    last_error, last_reason = None, None
    for attempt in range(READ_ATTEMPTS):
        try:
            with open(path, 'rb') as f:
                data = f.read()
        except FileNotFoundError:
            raise _error(path, MISSING) from None
        except OSError as error:
            last_error, last_reason = error, UNREADABLE
        else:
            if not data:
                raise _error(path, EMPTY)
            try:
                return decode(data)
            except UnidentifiedImageError:
                raise _unidentified_error(path, data) from None
            except OSError as error:  # e.g. truncated: retried, in case the file was still being written
                last_error, last_reason = error, _decode_reason(error)
            except MemoryError:
                raise
            except Exception as error:  # PIL's plugins raise SyntaxError, ValueError, EOFError, ... for bad bytes
                raise _error(path, _decode_reason(error), '{}: {}'.format(type(error).__name__, error)) from error
        if attempt + 1 < READ_ATTEMPTS:
            time.sleep(RETRY_DELAY_S)
    raise ImageReadError("could not read image '{}' after {} attempts; last error: {}; the file is {}: {}".format(
        path, READ_ATTEMPTS, last_error, last_reason, FIX), path, last_reason, str(last_error)) from last_error


def read_image(path, decode_size=None):
    """Read an image file as a PIL image in RGB mode (:func:`to_rgb` of the decoded image).

    Args:
        path (str or os.PathLike): the image file.
        decode_size (tuple of int, optional): (height, width), the smallest size the caller needs. A JPEG at least
            twice as large on both sides is then decoded at a reduced scale that is still at least this size, which
            is several times faster than decoding every pixel and resizing most of them away. The result differs
            from a full decode + resize only by the filter that did the first 2x/4x/8x of the downscaling (libjpeg's
            DCT scaling instead of the resize filter). ``None`` decodes at full size.

    Raises:
        ImageNotFoundError: ``path`` does not exist (an ImageReadError and a FileNotFoundError).
        ImageReadError: the file is empty, not an image, truncated or corrupt (at once for the first two; after
            ``READ_ATTEMPTS`` tries for errors that may be transient), naming the file, the reason and the fix.
    """
    return _read_with_retries(path, lambda data: _decode_pil(data, decode_size))


def read_image_tensor(path, decode_size=None):
    """Read an image file as a uint8 RGB tensor (3, H, W) (channels-last strides, the layout the uint8 resize
    kernel is fastest on). Same arguments, reduced-scale rule and errors as :func:`read_image`, same pixels.
    """
    return _read_with_retries(path, lambda data: _decode_tensor(data, decode_size))
