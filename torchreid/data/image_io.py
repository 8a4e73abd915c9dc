"""Reading one image file: a few retries on transient errors, and reduced-scale decoding of large JPEGs."""
import os
import time

from PIL import Image

# A read that fails with an OSError (e.g. a flaky network filesystem) is tried this many times in all, with a short
# pause between tries, before the error is raised. The seed retried forever, hanging a run on one corrupt file.
READ_ATTEMPTS = 3
RETRY_DELAY_S = 0.1


def _open_rgb(path, decode_size):
    with Image.open(path) as img:
        if decode_size is not None:
            # JPEG only (a no-op for other formats): libjpeg decodes at 1/2, 1/4 or 1/8 scale in the DCT domain,
            # choosing the smallest scale whose result is still at least (width, height).
            img.draft('RGB', (decode_size[1], decode_size[0]))
        if img.mode == 'RGB':
            img.load()
            return img
        return img.convert('RGB')


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
    if not os.path.exists(path):
        raise FileNotFoundError("image file '{}' does not exist".format(path))
    last_error = None
    for attempt in range(READ_ATTEMPTS):
        try:
            return _open_rgb(path, decode_size)
        except FileNotFoundError:
            raise
        except OSError as error:
            last_error = error
            if attempt + 1 < READ_ATTEMPTS:
                time.sleep(RETRY_DELAY_S)
    raise OSError("could not read image '{}' after {} attempts; last error: {}".format(
        path, READ_ATTEMPTS, last_error)) from last_error
