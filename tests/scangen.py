"""Scans and phone photos of generated forms, made at test time (no binary fixtures).

    from tests.scangen import rasterise, scan

    page = rasterise(pdf_bytes, dpi=200)[0]           # pdftoppm → PIL image
    jpeg = scan(page, angle=2.0, seed=1)                # stamp, signature, rotation, noise, JPEG

`activity_photo()` is a picture of people and a banner: no page, no table.
"""
from __future__ import annotations

import io
import math
import random
import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont


def rasterise(pdf: bytes, dpi: int = 200) -> list[Image.Image]:
    """Every page of a PDF as an RGB image (poppler's pdftoppm)."""
    with tempfile.TemporaryDirectory(prefix="mailbot-scangen-") as tmp:
        src = Path(tmp) / "in.pdf"
        src.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(src), str(Path(tmp) / "p")],
                       check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pages = sorted(Path(tmp).glob("p-*.png"))
        return [Image.open(p).convert("RGB") for p in pages]


def _font(size: int) -> ImageFont.ImageFont:
    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def stamp(img: Image.Image, centre: tuple[int, int], radius: int) -> None:
    """A red round seal (rings, text, star), inked over whatever is there (ink darkens:
    black print under it stays black)."""
    layer = Image.new("RGB", img.size, (255, 255, 255))
    d = ImageDraw.Draw(layer)
    red = (215, 60, 70)
    x, y = centre
    for r, w in ((radius, 6), (int(radius * 0.8), 3), (int(radius * 0.45), 3)):
        d.ellipse((x - r, y - r, x + r, y + r), outline=red, width=w)
    font = _font(max(12, radius // 6))
    text = "TRUNG TÂM HỌC TẬP CỘNG ĐỒNG * HƯƠNG THỦY * "
    for i, ch in enumerate(text):
        a = 2 * math.pi * i / len(text) - math.pi / 2
        r = radius * 0.9
        d.text((x + r * math.cos(a) - 6, y + r * math.sin(a) - 8), ch, fill=red, font=font)
    d.regular_polygon((x, y, radius * 0.3), 5, fill=red)
    img.paste(ImageChops.multiply(img.convert("RGB"), layer))


def signature(img: Image.Image, box: tuple[int, int, int, int], seed: int = 0) -> None:
    """A blue pen scribble across a box (ink over print: the print stays dark)."""
    rnd = random.Random(seed)
    layer = Image.new("RGB", img.size, (255, 255, 255))
    d = ImageDraw.Draw(layer)
    x0, y0, x1, y1 = box
    pts = []
    for i in range(40):
        t = i / 39
        pts.append((x0 + t * (x1 - x0), (y0 + y1) / 2 + math.sin(t * 9 + rnd.random()) * (y1 - y0) / 2))
    d.line(pts, fill=(20, 40, 160), width=4, joint="curve")
    img.paste(ImageChops.multiply(img, layer))


def scan(page: Image.Image, angle: float = 2.0, seed: int = 0, noise: float = 12.0, quality: int = 70,
         stamp_at: tuple[float, float] = (0.62, 0.30)) -> bytes:
    """A printed page as a phone or a scanner gives it: seal and signature over the
    text, turned by `angle` degrees, grainy, JPEG-compressed."""
    img = page.convert("RGB").copy()
    w, h = img.size
    stamp(img, (int(w * stamp_at[0]), int(h * stamp_at[1])), int(w * 0.11))
    signature(img, (int(w * 0.45), int(h * stamp_at[1]) - 40, int(w * 0.85), int(h * stamp_at[1]) + 40), seed)
    img = img.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=(250, 250, 248))
    rnd = random.Random(seed)
    grain = Image.effect_noise(img.size, noise).convert("L")
    img = Image.blend(img, Image.merge("RGB", (grain, grain, grain)), 0.12 if noise else 0.0)
    img = img.filter(ImageFilter.GaussianBlur(0.6))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality + rnd.randint(-3, 3))
    return buf.getvalue()


def activity_photo(seed: int = 0, size: tuple[int, int] = (1600, 1200)) -> bytes:
    """A photo of an event: sky, a red banner with a slogan, people (coloured blobs)."""
    rnd = random.Random(seed)
    img = Image.new("RGB", size, (120, 160, 210))
    d = ImageDraw.Draw(img)
    w, h = size
    for y in range(h // 2, h):
        shade = 90 + (y - h // 2) * 60 // (h // 2)
        d.line((0, y, w, y), fill=(shade, shade - 10, shade - 30))
    d.rectangle((w * 0.1, h * 0.1, w * 0.9, h * 0.28), fill=(190, 20, 30))
    d.text((w * 0.15, h * 0.15), "TUẦN LỄ HƯỞNG ỨNG HỌC TẬP SUỐT ĐỜI", fill=(250, 230, 60), font=_font(48))
    for _ in range(25):
        x, y = rnd.randint(0, w), rnd.randint(h // 2, h)
        c = (rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(0, 255))
        d.ellipse((x - 40, y - 160, x + 40, y), fill=c)
        d.ellipse((x - 25, y - 220, x + 25, y - 160), fill=(220, 180, 150))
    img = img.filter(ImageFilter.GaussianBlur(2))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def images_pdf(pages: list[Image.Image], dpi: int = 200) -> bytes:
    """A PDF of page images only (what a scanner's "scan to PDF" makes)."""
    buf = io.BytesIO()
    rgb = [p.convert("RGB") for p in pages]
    rgb[0].save(buf, "PDF", resolution=dpi, save_all=True, append_images=rgb[1:])
    return buf.getvalue()
