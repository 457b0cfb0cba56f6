"""Photo pipeline cost: upload check (magic bytes + full decode) and worker renditions, per image size.

Run: .venv/bin/python bench/photos.py   (prints milliseconds per image; CPU-bound, one core)
"""

from __future__ import annotations

import io
import statistics
import time

from PIL import Image

from app.listings.photos import inspect_image, render_renditions

SIZES = [(1600, 1200), (4000, 3000), (6000, 4000)]
ROUNDS = 5


def _photo(size: tuple[int, int]) -> bytes:
    # A gradient with noise compresses like a real photo (a flat colour would flatter the decoder).
    image = Image.effect_noise(size, 40).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _median_ms(fn, *args) -> float:
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        fn(*args)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    print(f"{'size':>11} {'bytes':>10} {'upload check ms':>16} {'renditions ms':>14}")
    for size in SIZES:
        data = _photo(size)
        check = _median_ms(inspect_image, data)
        render = _median_ms(render_renditions, data, "image/jpeg")
        print(f"{size[0]:>5}x{size[1]:<5} {len(data):>10,} {check:>16.1f} {render:>14.1f}")


if __name__ == "__main__":
    main()
