"""What people upload, checked before any model sees it: images and videos, read with limits.

`probe` looks at a file without decoding it all (an image's header, a video's container) and
says what it is, or raises `MediaError` saying what is wrong and what to do (a key of `media.toml` and its
numbers, said in the reader's language where it is shown):
an unsupported type, a file past the size limit, a damaged file, an image past the pixel limit
(a 20k x 20k "decompression bomb" is refused from its header, before any pixel is decoded), a
video longer than the limit. An animated GIF is read as its first frame, with a note saying so.

`open_image` and `read_video` then decode: the image as RGB, the video as the frames the model
will see (qwen-vl-utils' `smart_nframes` picks how many, spread evenly as its readers do). The
frames go to qwen-vl-utils as a list, which resizes them: nothing here resizes anything.
Videos are decoded with PyAV (qwen-vl-utils' own dependency), which reads MP4, WebM (a
browser's webcam recording), MOV and MKV with the FFmpeg it bundles.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from playground.errors import InvalidRequestError
from playground.i18n import Said

IMAGE_TYPES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
VIDEO_TYPES = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v")
MAX_IMAGE_BYTES = 25 * 2**20
MAX_VIDEO_BYTES = 200 * 2**20
MAX_IMAGE_PIXELS = 64_000_000  # a 48-megapixel phone photo fits; Pillow itself warns past 89M
MAX_VIDEO_SECONDS = 10 * 60
DEFAULT_FPS = 2.0  # frames per second sampled from a video (qwen-vl-utils' FPS)
DEFAULT_MAX_FRAMES = 32  # frames of a video at most, unless asked for more


class MediaError(InvalidRequestError):
    """An upload that cannot be used, with what to do about it."""


class _Noted:
    said: Said | None  # a note about the file, e.g. only the first frame of an animated GIF is used

    @property
    def note(self) -> str:
        """The note in English ("" for none); an edge that speaks another language says `said` itself."""
        return str(self.said) if self.said else ""


@dataclass(frozen=True)
class ImageInfo(_Noted):
    name: str
    width: int
    height: int
    said: Said | None = None


@dataclass(frozen=True)
class VideoInfo(_Noted):
    name: str
    width: int
    height: int
    fps: float
    frames: int  # in the whole video
    seconds: float
    said: Said | None = None

    def sampled(self, fps: float, max_frames: int) -> int:
        """How many frames the model sees at `fps` frames per second, at most `max_frames` (an even number)."""
        from qwen_vl_utils.vision_process import smart_nframes  # imports torchvision: only when needed

        return smart_nframes({"fps": fps, "max_frames": max_frames}, total_frames=self.frames, video_fps=self.fps)


Info = ImageInfo | VideoInfo


def kind(path: str | Path) -> str:
    """"image" or "video" by the file's type, or `MediaError` for any other type."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_TYPES:
        return "image"
    if suffix in VIDEO_TYPES:
        return "video"
    raise MediaError("media.unsupported", name=Path(path).name, suffix=suffix or Said("media.no_extension"))


def probe(path: str | Path) -> Info:
    """What the file is and how big, from its header or container (nothing is decoded in full)."""
    path = Path(path)
    what = kind(path)
    limit = MAX_IMAGE_BYTES if what == "image" else MAX_VIDEO_BYTES
    try:
        size = os.path.getsize(path)
    except OSError:
        raise MediaError("media.not_found", name=path.name) from None
    if size > limit:
        raise MediaError(f"media.{what}_too_big", name=path.name, megabytes=size / 2**20, limit=limit // 2**20)
    return _probe_image(path) if what == "image" else _probe_video(path)


def _probe_image(path: Path) -> ImageInfo:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked below
            with Image.open(path) as image:  # reads the header only
                width, height = image.size
                frames = getattr(image, "n_frames", 1)
    except Image.DecompressionBombError:  # Pillow's own guard, from the header: far past ours
        raise MediaError("media.way_too_many_pixels", name=path.name,
                         megapixels=2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6, limit=MAX_IMAGE_PIXELS / 1e6) from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise MediaError("media.unreadable_image", name=path.name, reason=_reason(exc)) from None
    if width * height > MAX_IMAGE_PIXELS:
        raise MediaError("media.too_many_pixels", name=path.name, width=width, height=height,
                         megapixels=width * height / 1e6, limit=MAX_IMAGE_PIXELS / 1e6)
    note = Said("media.animated", {"name": path.name, "frames": frames}) if frames > 1 else None
    return ImageInfo(path.name, width, height, note)


def _probe_video(path: Path) -> VideoInfo:
    import av  # PyAV loads FFmpeg's libraries: only when a video comes

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError("media.no_video_track", name=path.name)
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            else:
                seconds = (container.duration or 0) / av.time_base
            frames = stream.frames or round(seconds * fps)
            width, height = stream.codec_context.width, stream.codec_context.height
    except MediaError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise MediaError("media.unreadable_video", name=path.name, reason=_reason(exc)) from None
    if not (fps > 0 and frames >= 2 and width and height):
        raise MediaError("media.no_frames", name=path.name, fps=fps, frames=frames)
    if seconds > MAX_VIDEO_SECONDS:
        raise MediaError("media.too_long", name=path.name, duration=duration(seconds),
                         limit=duration(MAX_VIDEO_SECONDS))
    return VideoInfo(path.name, width, height, fps, frames, seconds)


def open_image(path: str | Path) -> Image.Image:
    """The image as RGB (the first frame of an animation), decoded in full; `MediaError` if it can't be."""
    info = probe(path)
    if not isinstance(info, ImageInfo):
        raise MediaError("media.not_an_image", name=Path(path).name)
    try:
        with Image.open(path) as image:
            image.seek(0)
            image.load()
            # Transparent pixels become white, as qwen-vl-utils does for RGBA.
            if image.mode in ("RGBA", "LA", "P") and (image.mode != "P" or "transparency" in image.info):
                rgba = image.convert("RGBA")
                return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
            return image.convert("RGB")
    except (OSError, ValueError) as exc:
        raise MediaError("media.undecodable_image", name=Path(path).name, reason=_reason(exc)) from None


@dataclass(frozen=True)
class Frames:
    """The frames of a video the model sees, and how many per second of video they are."""

    images: list[Image.Image]
    fps: float


def read_video(path: str | Path, fps: float = DEFAULT_FPS, max_frames: int = DEFAULT_MAX_FRAMES) -> Frames:
    """`info.sampled(fps, max_frames)` frames spread evenly over the video, decoded with PyAV."""
    import av

    info = probe(path)
    if not isinstance(info, VideoInfo):
        raise MediaError("media.not_a_video", name=Path(path).name)
    count = info.sampled(fps, max_frames)
    # Evenly spread over the whole video, first and last frame included, as qwen-vl-utils' readers do.
    wanted = sorted({round(i * (info.frames - 1) / max(count - 1, 1)) for i in range(count)})
    picked: list[Image.Image] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            targets = iter(wanted)
            target = next(targets)
            for index, frame in enumerate(container.decode(stream)):
                while target is not None and index == target:
                    picked.append(frame.to_image())
                    target = next(targets, None)
                if target is None:
                    break
    except (av.FFmpegError, OSError, ValueError) as exc:
        if not picked:
            raise MediaError("media.undecodable_video", name=info.name, reason=_reason(exc)) from None
        # A damaged tail: what was read before it is used.
    if len(picked) < 2:
        raise MediaError("media.too_few_frames", name=info.name)
    picked += [picked[-1]] * (count - len(picked))  # a frame count the container overstated
    # Frames per second of video, as qwen-vl-utils' readers compute it: frame i is at i / fps seconds.
    return Frames(picked, count / info.frames * info.fps)


def _reason(exc: BaseException) -> str:
    """The library's own words for what went wrong (shown as they are, in any language)."""
    text = str(exc).strip().rstrip(".")
    return text[:160] if text else type(exc).__name__


def duration(seconds: float) -> Said:
    """A video's length in whole seconds, minutes and hours ("1 min 5 s")."""
    minutes, rest = divmod(math.ceil(seconds), 60)
    if minutes >= 60:
        return Said("media.hours", {"hours": minutes // 60, "minutes": minutes % 60})
    return Said("media.minutes", {"minutes": minutes, "seconds": rest}) if minutes else Said("media.seconds",
                                                                                              {"seconds": rest})
