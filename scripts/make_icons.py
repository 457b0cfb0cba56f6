"""Draw the PWA icons (192/512 PNG and a maskable 512) into app/web/static/icons/.

Run: .venv/bin/python scripts/make_icons.py   (needs Pillow; the output is committed)
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "app" / "web" / "static" / "icons"
NAVY = (11, 61, 145, 255)
WHITE = (255, 255, 255, 255)
AMBER = (255, 191, 71, 255)


def _plane(draw: ImageDraw.ImageDraw, size: int, scale: float) -> None:
    """A top-down airliner silhouette centred in the square, `scale` of its side."""
    c = size / 2
    u = size * scale / 20  # the drawing is on a 20-unit grid

    def pts(*xy: tuple[float, float]) -> list[tuple[float, float]]:
        return [(c + x * u, c + y * u) for x, y in xy]

    draw.polygon(pts((-0.9, -9), (0.9, -9), (1.1, 9), (-1.1, 9)), fill=WHITE)  # fuselage
    draw.ellipse([c - 0.9 * u, c - 10 * u, c + 0.9 * u, c - 8 * u], fill=WHITE)  # nose
    draw.polygon(pts((-1, -2), (-9.5, 3), (-9.5, 4.5), (-1, 2)), fill=WHITE)  # left wing
    draw.polygon(pts((1, -2), (9.5, 3), (9.5, 4.5), (1, 2)), fill=WHITE)  # right wing
    draw.polygon(pts((-1, 6.5), (-4.5, 9), (-4.5, 10), (1, 8.5), (4.5, 10), (4.5, 9), (1, 6.5)), fill=WHITE)
    draw.ellipse([c - 0.7 * u, c + 3.5 * u, c + 0.7 * u, c + 4.9 * u], fill=AMBER)  # the "verified" dot


def icon(size: int, *, maskable: bool) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        # Maskable icons are cropped to a circle of 80 % of the side: fill the square, keep art inside.
        draw.rectangle([0, 0, size, size], fill=NAVY)
        _plane(draw, size, 0.55)
    else:
        draw.rounded_rectangle([0, 0, size - 1, size - 1], radius=size // 5, fill=NAVY)
        _plane(draw, size, 0.78)
    return image


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, size, maskable in (
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("maskable-512.png", 512, True),
    ):
        icon(size, maskable=maskable).save(OUT / name, optimize=True)
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
