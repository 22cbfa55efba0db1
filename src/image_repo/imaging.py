"""Pillow work: open under limits, decode fully once, hash the decoded picture,
and make thumbnails."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pillow_heif
from PIL import Image, ImageCms, ImageSequence, UnidentifiedImageError

from . import exif

# HEIC and HEIF through libheif; Pillow knows both as "HEIF".
pillow_heif.register_heif_opener()

# Format name -> (MIME type, file extension). The names are Pillow's, except
# that Pillow's HEIF is HEIC or HEIF by the file's brand, as phones and the
# MIME types tell them apart; and MPO, how Pillow names a camera JPEG that
# carries extra preview pictures, is stored as a JPEG.
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
    "TIFF": ("image/tiff", "tiff"),
    "BMP": ("image/bmp", "bmp"),
    "AVIF": ("image/avif", "avif"),
    "HEIC": ("image/heic", "heic"),
    "HEIF": ("image/heif", "heif"),
}
FORMAT_ALIASES = {"MPO": "JPEG"}
PILLOW_NAMES = {"HEIC": "HEIF"}
ISOBMFF_FORMATS = ("HEIF", "AVIF")
# Other extensions files of a format are named with (lower case).
OTHER_EXTENSIONS = {
    "JPEG": ("jpeg", "jpe", "jfif"),
    "TIFF": ("tif",),
    "HEIC": ("heif", "hif"),
    "HEIF": ("heic", "hif"),
}
# Other names clients use for a format (any case), wherever a format is named.
FORMAT_SYNONYMS = {"jpg": "jpeg", "tif": "tiff"}
RAW_CHUNK = 65536


class ImageRejected(Exception):
    """The bytes are not an image this service accepts; the message says why."""


class EmptyFile(ImageRejected):
    pass


class UnsupportedFormat(ImageRejected):
    pass


class CorruptImage(ImageRejected):
    pass


class ImageTooLarge(ImageRejected):
    pass


@dataclass(frozen=True)
class DecodedImage:
    """A fully decoded picture; `image` is its first frame, loaded.

    `width` and `height` are the picture as a viewer shows it, after its EXIF
    orientation (HEIF and AVIF rotations are applied or reported as one by the
    decoders); `image.size` is the pixels as stored.
    """

    image: Image.Image
    format: str
    width: int
    height: int
    frame_count: int
    sha512: str


def mime_type(image_format: str) -> str:
    return FORMATS[image_format][0]


def file_extension(image_format: str) -> str:
    return FORMATS[image_format][1]


def file_extensions(image_format: str) -> tuple[str, ...]:
    """Every extension that names the format, the one this service uses first."""
    return (file_extension(image_format), *OTHER_EXTENSIONS.get(image_format, ()))


def pillow_format(image_format: str) -> str:
    """The name Pillow opens a format by (both HEIC and HEIF are its HEIF)."""
    return PILLOW_NAMES.get(image_format.upper(), image_format.upper())


def _format_of(image: Image.Image, path: Path) -> str:
    if image.format == "HEIF":
        return "HEIC" if pillow_heif.get_file_mimetype(path).startswith("image/heic") else "HEIF"
    return FORMAT_ALIASES.get(image.format or "", image.format or "")


def configure(max_pixels: int) -> None:
    """Align Pillow's own decompression-bomb guard with ours (it is process-wide)."""
    Image.MAX_IMAGE_PIXELS = max_pixels


@contextlib.contextmanager
def decode(
    path: Path, *, allowed_formats: Sequence[str], max_pixels: int, budget: int | None = None
) -> Iterator[DecodedImage]:
    """Open `path`, refuse what is not acceptable, decode every frame and hash it.

    `budget`: the pixels the caller may still decode (a request's budget,
    shared by its files); a picture over it is refused like one over the limit.

    Raises an `ImageRejected` subclass for anything wrong with the bytes: Pillow
    reports bad input as UnidentifiedImageError, OSError, ValueError,
    DecompressionBombError and, from deep inside some decoders, other errors
    still; every one of them is the file's fault, never the server's.
    """
    if path.stat().st_size == 0:
        raise EmptyFile("the file is empty")
    pillow_formats = list(dict.fromkeys(pillow_format(name) for name in allowed_formats))
    try:
        image = Image.open(path, formats=pillow_formats)
    except Image.DecompressionBombError:
        # Pillow's own guard (at twice the limit, see `configure`) quotes its limit.
        raise ImageTooLarge(f"the image has more pixels than the limit of {max_pixels:,}") from None
    except UnidentifiedImageError:
        raise UnsupportedFormat(
            f"not an image in an accepted format ({', '.join(allowed_formats)})"
        ) from None
    except Exception as error:  # noqa: BLE001 - see docstring
        raise CorruptImage(f"the image cannot be read: {error}") from None
    with image:
        if image.format in ISOBMFF_FORMATS and not _boxes_complete(path):
            # libheif decodes the tiles it has and fills the rest in silently.
            raise CorruptImage("the image is truncated: its last box ends past the file's end")
        image_format = _format_of(image, path)
        frame_count = getattr(image, "n_frames", 1)
        pixels = image.width * image.height * frame_count
        if pixels > max_pixels:
            raise ImageTooLarge(
                f"the image has {pixels:,} pixels (all frames); the limit is {max_pixels:,}"
            )
        if budget is not None and pixels > budget:
            raise ImageTooLarge(
                f"the image has {pixels:,} pixels, and this request's pixel budget has "
                f"{budget:,} left; send it in another request"
            )
        try:
            digest = pixel_digest(image, frame_count)
        except Image.DecompressionBombError:
            raise ImageTooLarge(
                f"the image has more pixels than the limit of {max_pixels:,}"
            ) from None
        except MemoryError:
            raise ImageTooLarge("the image is too large to decode") from None
        except Exception as error:  # noqa: BLE001 - see docstring
            raise CorruptImage(f"the image cannot be decoded: {error}") from None
        width, height = upright_size(image.size, exif.read_orientation(image))
        yield DecodedImage(
            image=image,
            format=image_format,
            width=width,
            height=height,
            frame_count=frame_count,
            sha512=digest,
        )


def _boxes_complete(path: Path) -> bool:
    """Whether the top-level boxes of an ISO base media file (HEIF, AVIF) all end
    within the file: each starts with its size (32 bits, or 1 and then 64 bits, or
    0 for "to the end") and its type."""
    with path.open("rb") as file:
        end = file.seek(0, io.SEEK_END)
        position = 0
        while position < end:
            file.seek(position)
            header = file.read(16)
            if len(header) < 8:
                return False
            size = int.from_bytes(header[:4])
            if size == 1 and len(header) == 16:
                size = int.from_bytes(header[8:16])
            elif size == 0:
                return True
            if size < 8:
                return False
            position += size
        return position == end


def pixel_digest(image: Image.Image, frame_count: int) -> str:
    """SHA-512 over mode, size and the decoded pixels of every frame.

    Identical pixels with another size or mode are another picture; for palette
    images the palette is part of the picture too. Leaves frame 0 loaded.
    """
    digest = hashlib.sha512(f"{image.mode} {image.width}x{image.height} {frame_count}\n".encode())
    frames = ImageSequence.Iterator(image) if frame_count > 1 else [image]
    for frame in frames:
        frame.load()
        if frame_count > 1:
            digest.update(frame.mode.encode())
        if frame.mode in ("P", "PA"):
            digest.update(bytes(frame.getpalette() or ()))
            digest.update(repr(frame.info.get("transparency")).encode())
        for chunk in raw_pixels(frame):
            digest.update(chunk)
    if frame_count > 1:
        image.seek(0)
        image.load()
    return digest.hexdigest()


def raw_pixels(image: Image.Image) -> Iterator[bytes]:
    """The bytes `image.tobytes()` gives, in 64 KiB pieces.

    tobytes() builds one string as large as the picture (72 MB for 24 MP, and
    twice that while it joins its pieces); hashing the pieces as they come
    keeps them in the CPU cache and the worker's memory flat. This is what
    tobytes() does inside, through the same (internal) encoder.
    """
    encoder = Image._getencoder(image.mode, "raw", image.mode)
    size = max(RAW_CHUNK, image.width * 4)  # at least one row, as tobytes() asks
    try:
        encoder.setimage(image.im, (0, 0, *image.size))
        while True:
            _, status, chunk = encoder.encode(size)
            yield chunk
            if status:
                break
    finally:
        encoder.cleanup()
    if status < 0:
        raise RuntimeError(f"raw encoder error {status}")


# Thumbnail encodings: name -> (Pillow format, MIME type, file extension).
THUMBNAIL_FORMATS = {
    "webp": ("WEBP", "image/webp", "webp"),
    "jpeg": ("JPEG", "image/jpeg", "jpg"),
    "png": ("PNG", "image/png", "png"),
    "avif": ("AVIF", "image/avif", "avif"),
}
# EXIF orientation -> the transposition that shows the picture upright.
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
QUARTER_TURNS = (5, 6, 7, 8)
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# Modes that Pillow resizes as they are; others are converted first (after
# resizing where the conversion is exact, as for CMYK).
RESIZABLE_MODES = {"L", "LA", "RGB", "RGBA", "CMYK"}


def upright_size(size: tuple[int, int], orientation: int | None) -> tuple[int, int]:
    """The size a viewer shows: orientations 5 to 8 turn the picture a quarter."""
    width, height = size
    return (height, width) if orientation in QUARTER_TURNS else (width, height)


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def thumbnail(image: Image.Image, size: int, orientation: int | None) -> Image.Image:
    """The picture fitted in `size`x`size` (never enlarged), upright, in sRGB, in
    L, LA, RGB or RGBA.

    On an image not yet loaded, JPEG draft mode first decodes at a reduced
    scale (and HEIF an embedded preview, if one is large enough); never call
    this before hashing (the hash needs every pixel).
    """
    profile = image.info.get("icc_profile")
    scale = min(1.0, size / max(image.size))
    target = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if getattr(image, "tile", None):  # a file not loaded yet: JPEG decodes at 1/2, 1/4 or 1/8 scale
        image.draft(image.mode, target)
    image = _resizable(image)
    if image.size != target:
        image = image.resize(target, Image.Resampling.BICUBIC, reducing_gap=2.0)
    image = _in_srgb(image, profile)
    transpose = UPRIGHT.get(orientation or 1)
    return image.transpose(transpose) if transpose is not None else image


def reduced(image: Image.Image, factor: int) -> Image.Image:
    """The picture `factor` times smaller each way (each pixel the mean of a
    factor x factor block), in sRGB, in L, LA, RGB or RGBA; not turned upright."""
    profile = image.info.get("icc_profile")
    return _in_srgb(_resizable(image).reduce(factor), profile)


def _in_srgb(image: Image.Image, profile: bytes | None) -> Image.Image:
    # After resizing: the conversion costs per pixel, and both spaces are gamma-encoded.
    image = to_srgb(image, profile)
    return image.convert("RGB") if image.mode == "CMYK" else image


def to_srgb(image: Image.Image, profile: bytes | None) -> Image.Image:
    """`image` converted from its ICC profile to sRGB, which is what browsers
    assume of a picture without one. Wide-gamut colours (Display P3, Adobe RGB)
    shown without their profile look washed out.

    Grey pictures stay as they are, and so does a picture whose profile is broken
    or does not fit its mode: its numbers are then taken as sRGB.
    """
    if not profile or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    transform = _transform_to_srgb(profile, image.mode)
    return transform.apply(image) if transform is not None else image


@functools.lru_cache(maxsize=64)
def _transform_to_srgb(profile: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """LittleCMS transforms take milliseconds to build, and phones embed the
    same few profiles: kept per profile. NOCACHE makes one safe to share
    between threads."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        if source.profile.xcolor_space.strip() != mode.removesuffix("A"):
            return None
        return ImageCms.buildTransform(
            source,
            SRGB,
            mode,
            "RGBA" if mode == "RGBA" else "RGB",
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
            flags=ImageCms.Flags.NOCACHE,
        )
    except (OSError, ValueError, ImageCms.PyCMSError):
        return None


def _resizable(image: Image.Image) -> Image.Image:
    if image.mode in RESIZABLE_MODES:
        return image
    if image.mode == "1":
        return image.convert("L")
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        # 16-bit and wider samples: keep the top 8 bits instead of clipping.
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    return image.convert("RGBA" if has_alpha(image) else "RGB")


def encode(image: Image.Image, name: str) -> bytes:
    """Encode a thumbnail; JPEG has no alpha, so transparency goes on white."""
    pillow_format, _, _ = THUMBNAIL_FORMATS[name]
    if pillow_format == "JPEG" and image.mode in ("LA", "RGBA"):
        background = Image.new("RGB", image.size, "white")
        background.paste(image.convert("RGBA"), mask=image.getchannel("A"))
        image = background
    buffer = io.BytesIO()
    options = {
        "JPEG": {"quality": 85},
        # WebP's method 2 is 2.5x faster than its default 4 for 5% more bytes; PNG's
        # level 1 6x faster than 6 for 14% more (measured on photos).
        "WEBP": {"quality": 80, "method": 2},
        "PNG": {"compress_level": 1},
        "AVIF": {"quality": 60, "speed": 10, "max_threads": 1},
    }
    # Converted to sRGB (see `thumbnail`), the picture needs no profile.
    image.save(buffer, pillow_format, icc_profile=None, **options[pillow_format])
    return buffer.getvalue()
