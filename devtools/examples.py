"""Example inputs for the Vision tab, drawn from scratch so that the licence is the project's own.

Writes four files, the same bytes on every run with the same Pillow and PyAV:

    sales_chart.png  a bar chart, "Monthly sales 2025"
    receipt.png      a shop receipt, for OCR
    objects.png      a table with apples, bananas, a cup and a plant, for grounding ("apple")
    clip.mp4         4 seconds of a red ball bouncing from left to right

    python -m devtools.examples [OUT_DIR]    # OUT_DIR defaults to assets/examples

assets/examples/CREDITS.md says which prompt goes with which file; the apple boxes
printed here are the ones it lists.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont

DEFAULT_OUT = Path("assets/examples")

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
# Thousands of dollars: a steady rise, a summer dip, a strong autumn.
SALES_2025 = [42, 45, 51, 55, 61, 58, 49, 46, 63, 71, 79, 88]

RECEIPT_ITEMS = [
    ("Whole milk 1L", 1.29),
    ("Sourdough bread", 3.50),
    ("Bananas 1.2 kg", 1.86),
    ("Cheddar cheese 200g", 4.75),
    ("Coffee beans 250g", 6.99),
]

VIDEO_SIZE = (320, 240)
VIDEO_FPS = 10
VIDEO_SECONDS = 4


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled TrueType font (Pillow >= 10.1), else its small bitmap font."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # older Pillow: no size argument
        return ImageFont.load_default()


def save_png(image: Image.Image, path: Path, colors: int = 0) -> None:
    """Save optimized; with `colors`, quantize to a palette first (much smaller for flat drawings)."""
    if colors:
        image = image.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    image.save(path, optimize=True)


# --- sales_chart.png -------------------------------------------------------------------------


def draw_sales_chart(path: Path) -> None:
    width, height = 960, 600
    left, right, top, bottom = 110, 930, 90, 510  # the plot area
    y_max, y_step = 100, 20

    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    ink, grid, bar, bar_dip = (40, 40, 40), (225, 225, 225), (52, 110, 180), (230, 140, 50)

    title = "Monthly sales 2025"
    draw.text((width // 2, 40), title, fill=ink, font=font(32), anchor="mm", stroke_width=1, stroke_fill=ink)

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * value / y_max

    tick_font = font(18)
    for value in range(0, y_max + 1, y_step):
        y = y_of(value)
        draw.line([(left, y), (right, y)], fill=grid, width=1)
        draw.text((left - 12, y), str(value), fill=ink, font=tick_font, anchor="rm")

    slot = (right - left) / len(MONTHS)
    for i, (month, value) in enumerate(zip(MONTHS, SALES_2025, strict=True)):
        x0 = left + i * slot + slot * 0.18
        x1 = left + (i + 1) * slot - slot * 0.18
        colour = bar_dip if month in ("Jul", "Aug") else bar
        draw.rectangle([x0, y_of(value), x1, bottom], fill=colour)
        draw.text(((x0 + x1) / 2, y_of(value) - 6), str(value), fill=ink, font=font(16), anchor="md")
        draw.text(((x0 + x1) / 2, bottom + 12), month, fill=ink, font=tick_font, anchor="mt")

    draw.line([(left, top - 10), (left, bottom)], fill=ink, width=2)
    draw.line([(left, bottom), (right, bottom)], fill=ink, width=2)

    label_font = font(20)
    draw.text(((left + right) // 2, bottom + 60), "Month", fill=ink, font=label_font, anchor="mm")
    y_label = Image.new("RGBA", (300, 30), (0, 0, 0, 0))
    ImageDraw.Draw(y_label).text((150, 15), "Sales (thousands of $)", fill=ink, font=label_font, anchor="mm")
    y_label = y_label.rotate(90, expand=True)
    image.paste(y_label, (22, (top + bottom) // 2 - y_label.height // 2), y_label)

    save_png(image, path, colors=64)


# --- receipt.png -----------------------------------------------------------------------------


def draw_receipt(path: Path) -> None:
    width, height = 600, 900
    paper_left, paper_right, paper_top, paper_bottom = 90, 510, 40, 850
    image = Image.new("RGB", (width, height), (96, 104, 112))  # a grey desk
    draw = ImageDraw.Draw(image)

    # The paper: a soft shadow, then an off-white strip with a torn (zigzag) bottom edge.
    def paper_outline(dx: int, dy: int) -> list[tuple[int, int]]:
        points = [(paper_left + dx, paper_top + dy), (paper_right + dx, paper_top + dy)]
        teeth = 21
        tooth = (paper_right - paper_left) / teeth
        for i in range(teeth, -1, -1):
            y = paper_bottom + (12 if i % 2 else 0)
            points.append((round(paper_left + i * tooth) + dx, y + dy))
        return points

    draw.polygon(paper_outline(6, 8), fill=(70, 76, 82))
    draw.polygon(paper_outline(0, 0), fill=(250, 247, 238))

    ink = (30, 30, 34)
    text_left, text_right = paper_left + 30, paper_right - 30
    centre = (paper_left + paper_right) // 2
    body = font(22)
    y = paper_top + 50

    draw.text((centre, y), "CORNER GROCERY", fill=ink, font=font(36), anchor="mm", stroke_width=1, stroke_fill=ink)
    y += 44
    for line in ("12 Harbor Street, Portland, OR", "Tel. (503) 555-0142"):
        draw.text((centre, y), line, fill=ink, font=font(18), anchor="mm")
        y += 26
    y += 14
    draw.text((text_left, y), "Date: 03/14/2025", fill=ink, font=body, anchor="lm")
    draw.text((text_right, y), "10:42", fill=ink, font=body, anchor="rm")
    y += 32
    draw.text((text_left, y), "Receipt #004817", fill=ink, font=body, anchor="lm")
    y += 30

    def rule(at: int) -> None:
        for x in range(text_left, text_right, 12):
            draw.line([(x, at), (x + 6, at)], fill=ink, width=2)

    rule(y)
    y += 34
    for name, price in RECEIPT_ITEMS:
        draw.text((text_left, y), name, fill=ink, font=body, anchor="lm")
        draw.text((text_right, y), f"{price:.2f}", fill=ink, font=body, anchor="rm")
        y += 40
    rule(y - 8)
    y += 30

    total = round(sum(price for _, price in RECEIPT_ITEMS), 2)
    paid = 20.00
    big = font(30)
    draw.text((text_left, y), "TOTAL", fill=ink, font=big, anchor="lm", stroke_width=1, stroke_fill=ink)
    draw.text((text_right, y), f"${total:.2f}", fill=ink, font=big, anchor="rm", stroke_width=1, stroke_fill=ink)
    y += 48
    for name, amount in (("Cash", paid), ("Change", paid - total)):
        draw.text((text_left, y), name, fill=ink, font=body, anchor="lm")
        draw.text((text_right, y), f"{amount:.2f}", fill=ink, font=body, anchor="rm")
        y += 36
    draw.text((text_left, y), f"Items: {len(RECEIPT_ITEMS)}", fill=ink, font=body, anchor="lm")
    y += 70
    draw.text((centre, y), "Thank you for shopping!", fill=ink, font=font(24), anchor="mm")
    y += 34
    draw.text((centre, y), "Please keep your receipt", fill=ink, font=font(18), anchor="mm")

    # A barcode-like strip below, its bars from a fixed pattern.
    widths = [2 + (i * 7 + 3) % 4 for i in range(41)]
    x, bar_top = centre - sum(widths) // 2, y + 30
    for i, bar_width in enumerate(widths):
        if i % 2 == 0:
            draw.rectangle([x, bar_top, x + bar_width - 1, bar_top + 50], fill=ink)
        x += bar_width

    save_png(image, path, colors=32)


# --- objects.png -----------------------------------------------------------------------------


def draw_layer(size: tuple[int, int], paint) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """Draw one object on its own transparent layer; return it and its exact pixel box."""
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    paint(ImageDraw.Draw(layer))
    box = layer.getbbox()
    assert box is not None, "nothing was drawn"
    return layer, box


def paint_apple(cx: int, cy: int, r: int):
    def paint(draw: ImageDraw.ImageDraw) -> None:
        red, dark_red = (200, 30, 35), (150, 20, 25)
        # Two shoulders over a round body, with a dip where the stem sits, read as an apple.
        parts = [(-1.0, -0.85, 0.35, 0.45), (-0.35, -0.85, 1.0, 0.45), (-0.9, -0.55, 0.9, 0.9)]
        for colour, inset in ((dark_red, 0.0), (red, 0.05)):
            for x0, y0, x1, y1 in parts:
                draw.ellipse(
                    [cx + (x0 + inset) * r, cy + (y0 + inset) * r, cx + (x1 - inset) * r, cy + (y1 - inset) * r],
                    fill=colour,
                )
        draw.ellipse([cx - r * 0.55, cy - r * 0.55, cx - r * 0.25, cy - r * 0.2], fill=(240, 120, 110))  # shine
        draw.line([(cx, cy - r * 0.7), (cx + r * 0.12, cy - r * 1.15)], fill=(90, 55, 25), width=max(3, r // 9))
        draw.ellipse([cx + r * 0.12, cy - r * 1.2, cx + r * 0.6, cy - r * 0.95], fill=(60, 150, 50))  # leaf

    return paint


def band(centre: list[tuple[float, float]], half_widths: list[float]) -> list[tuple[float, float]]:
    """The outline of a band of varying width around a line: down one side, back up the other."""
    left, right = [], []
    for i, ((x, y), half) in enumerate(zip(centre, half_widths, strict=True)):
        (ax, ay), (bx, by) = centre[max(i - 1, 0)], centre[min(i + 1, len(centre) - 1)]
        length = math.hypot(bx - ax, by - ay)
        nx, ny = -(by - ay) / length, (bx - ax) / length  # unit normal
        left.append((x + nx * half, y + ny * half))
        right.append((x - nx * half, y - ny * half))
    return left + right[::-1]


def paint_banana(x: int, y: int, length: int, tilt: float):
    def paint(draw: ImageDraw.ImageDraw) -> None:
        # A curved, tapered band along an arc whose ends turn up, turned by `tilt` radians.
        radius, steps = length * 0.8, 30
        centre, half_widths = [], []
        for i in range(steps + 1):
            t = math.radians(-40 + 80 * i / steps)
            px, py = radius * math.sin(t), radius * (1 - math.cos(t)) * -1
            centre.append(
                (x + px * math.cos(tilt) - py * math.sin(tilt), y + px * math.sin(tilt) + py * math.cos(tilt))
            )
            half_widths.append(0.11 * length * math.sin(math.pi * i / steps) ** 0.6 + 3)
        draw.polygon(band(centre, half_widths), fill=(240, 200, 40), outline=(190, 150, 20))
        draw.line(centre[4:-4], fill=(215, 175, 30), width=3)  # the ridge
        (sx, sy), (ex, ey) = centre[-1], centre[-3]
        draw.line([(sx, sy), (sx + (sx - ex) * 1.5, sy + (sy - ey) * 1.5)], fill=(120, 100, 40), width=9)  # stem
        draw.ellipse([centre[0][0] - 5, centre[0][1] - 5, centre[0][0] + 5, centre[0][1] + 5], fill=(80, 60, 30))

    return paint


def paint_cup(x: int, y: int):
    def paint(draw: ImageDraw.ImageDraw) -> None:
        blue, dark_blue = (40, 90, 200), (25, 60, 150)
        draw.ellipse([x + 100, y + 30, x + 165, y + 120], outline=blue, width=14)  # handle
        draw.polygon([(x, y), (x + 130, y), (x + 118, y + 160), (x + 12, y + 160)], fill=blue)
        draw.ellipse([x, y - 14, x + 130, y + 14], fill=dark_blue)  # rim
        draw.ellipse([x + 8, y - 9, x + 122, y + 9], fill=(90, 50, 25))  # coffee

    return paint


def paint_plant(x: int, y: int):
    def paint(draw: ImageDraw.ImageDraw) -> None:
        for angle in range(-60, 61, 20):  # pointed leaves fanning out from the soil
            t = math.radians(angle)
            centre = [(x + 90 + 16 * i * math.sin(t), y + 10 - 16 * i * math.cos(t)) for i in range(11)]
            half_widths = [22 * math.sin(math.pi * i / 10) for i in range(11)]
            draw.polygon(band(centre, half_widths), fill=(55, 150, 60), outline=(35, 105, 40))
        draw.polygon([(x, y), (x + 180, y), (x + 155, y + 170), (x + 25, y + 170)], fill=(190, 95, 55))  # pot
        draw.rectangle([x - 8, y - 4, x + 188, y + 26], fill=(170, 80, 45))  # pot rim

    return paint


def draw_objects(path: Path) -> list[tuple[int, int, int, int]]:
    """Draw the table scene; return the apples' pixel boxes (x1, y1, x2, y2; x2 and y2 exclusive), left to right."""
    width, height = 1024, 768
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(430):  # wall, lighter towards the top
        shade = 236 - y // 10
        draw.line([(0, y), (width, y)], fill=(shade, shade - 6, shade - 18))
    draw.rectangle([0, 430, width, height], fill=(150, 100, 60))  # table top
    draw.rectangle([0, 430, width, 440], fill=(120, 78, 45))  # its back edge
    for y in range(470, height, 60):  # wood grain
        draw.line([(0, y), (width, y + 8)], fill=(140, 92, 55), width=2)

    def shadow(x0: int, x1: int, y: int) -> None:
        draw.ellipse([x0, y - 12, x1, y + 12], fill=(115, 75, 45))

    objects = [
        ("plant", paint_plant(80, 330), (70, 270, 510)),
        ("cup", paint_cup(800, 420), (790, 990, 582)),
        ("banana", paint_banana(635, 560, 230, 0.2), None),
        ("banana", paint_banana(660, 650, 220, -0.15), None),
        ("apple", paint_apple(330, 540, 62), (270, 395, 602)),
        ("apple", paint_apple(470, 575, 58), (415, 530, 632)),
        ("apple", paint_apple(380, 690, 66), (318, 448, 752)),
    ]
    apple_boxes = []
    for name, paint, shadow_at in objects:
        if shadow_at:
            shadow(*shadow_at)
        layer, box = draw_layer((width, height), paint)
        image.paste(layer, (0, 0), layer)
        if name == "apple":
            apple_boxes.append(box)

    save_png(image, path, colors=64)
    return sorted(apple_boxes)


# --- clip.mp4 --------------------------------------------------------------------------------


def video_frame(index: int, count: int) -> Image.Image:
    width, height = VIDEO_SIZE
    image = Image.new("RGB", VIDEO_SIZE)
    draw = ImageDraw.Draw(image)
    horizon = 165
    for y in range(horizon):  # sky
        draw.line([(0, y), (width, y)], fill=(120 + y // 3, 170 + y // 5, 235))
    draw.rectangle([0, horizon, width, height], fill=(80, 160, 70))  # grass
    draw.ellipse([230, 20, 280, 70], fill=(255, 220, 80))  # sun

    r = 22
    x = -r + (width + 2 * r) * index / (count - 1)  # enters at the left edge, leaves at the right
    bounce = abs(math.sin(math.pi * 3 * index / (count - 1)))
    y = 190 - 60 * bounce
    draw.ellipse([x - r * 0.9, 206, x + r * 0.9, 216], fill=(55, 120, 50))  # shadow on the grass
    draw.ellipse([x - r, y - r, x + r, y + r], fill=(220, 40, 40))
    draw.ellipse([x - r * 0.5, y - r * 0.6, x - r * 0.1, y - r * 0.25], fill=(250, 150, 150))
    return image


def write_clip(path: Path) -> str:
    """Encode the clip with libx264 (mpeg4 where PyAV lacks it); return the codec used."""
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    count = VIDEO_FPS * VIDEO_SECONDS
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=VIDEO_FPS)
        stream.width, stream.height = VIDEO_SIZE
        stream.pix_fmt = "yuv420p"
        stream.thread_count = 1  # one thread: the same bytes on every run
        if codec == "libx264":
            # A constant quantizer: CRF's macroblock-tree rate control gave different bytes from run to run.
            stream.options = {"qp": "28", "preset": "medium"}
        for index in range(count):
            frame = av.VideoFrame.from_image(video_frame(index, count)).reformat(format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return codec


def probe_clip(path: Path) -> tuple[int, float, float, str]:
    """Decode the clip: (frames, fps, duration in seconds, codec)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        fps = float(stream.average_rate)
        duration = float(stream.duration * stream.time_base) if stream.duration else frames / fps
        return frames, fps, duration, stream.codec_context.name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=DEFAULT_OUT)
    out = parser.parse_args(argv).out_dir
    out.mkdir(parents=True, exist_ok=True)

    draw_sales_chart(out / "sales_chart.png")
    draw_receipt(out / "receipt.png")
    apple_boxes = draw_objects(out / "objects.png")
    write_clip(out / "clip.mp4")

    for name in ("sales_chart.png", "receipt.png", "objects.png", "clip.mp4"):
        print(f"{name:16} {(out / name).stat().st_size / 1024:6.1f} KB")
    for box in apple_boxes:
        print("apple box (x1, y1, x2, y2):", box)
    frames, fps, duration, codec = probe_clip(out / "clip.mp4")
    print(f"clip.mp4: {frames} frames, {fps:g} fps, {duration:.1f} s, {codec}")


if __name__ == "__main__":
    main()
