"""Media files for tests, made on the spot: videos written with PyAV, damaged and oversized files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_video(path: Path, seconds: float = 2.0, fps: int = 10, size: tuple[int, int] = (160, 120)) -> Path:
    """An MP4 of a white square moving left to right on blue, `seconds` long at `fps`."""
    import av

    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(round(seconds * fps)):
            frame = np.zeros((height, width, 3), np.uint8)
            frame[..., 2] = 200
            x = int(i / max(seconds * fps - 1, 1) * (width - 20))
            frame[height // 2 - 10 : height // 2 + 10, x : x + 20] = 255
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def write_image(path: Path, size: tuple[int, int] = (300, 200), color: str = "white") -> Path:
    Image.new("RGB", size, color).save(path)
    return path


def truncated(source: Path, path: Path, keep: float = 0.5) -> Path:
    """A copy of `source` cut off after `keep` of its bytes, as an interrupted download leaves it."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def png_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose header says `width` x `height` (a decompression bomb's size) with almost no pixel data."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))
    return path


def animated_gif(path: Path, frames: int = 3) -> Path:
    images = [Image.new("RGB", (64, 48), color) for color in ("red", "green", "blue")[:frames]]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
    return path
