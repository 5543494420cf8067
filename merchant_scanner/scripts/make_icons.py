"""Draw the scanner's PWA icons (committed PNGs; rerun only to change the design).

A blue rounded square with a white scan frame and a check mark: readable at 48 px on a home
screen, no font needed (so the result does not depend on which CJK fonts the machine has).
"""
from pathlib import Path

from PIL import Image, ImageDraw

BLUE = (11, 92, 173, 255)
WHITE = (255, 255, 255, 255)
GREEN = (76, 217, 100, 255)
OUT = Path(__file__).resolve().parents[1] / "icons"


def draw(size: int, maskable: bool) -> Image.Image:
    scale = 4  # draw large, then downsample for smooth edges
    s = size * scale
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    if maskable:
        d.rectangle([0, 0, s, s], fill=BLUE)
        inset = s * 0.22  # keep the drawing inside the maskable safe zone (80% circle)
    else:
        d.rounded_rectangle([0, 0, s - 1, s - 1], radius=s * 0.22, fill=BLUE)
        inset = s * 0.16
    a, b = inset, s - inset
    arm, w = (b - a) * 0.28, s * 0.055
    for (x, y, dx, dy) in [(a, a, 1, 1), (b, a, -1, 1), (a, b, 1, -1), (b, b, -1, -1)]:
        d.line([(x, y + dy * arm), (x, y), (x + dx * arm, y)], fill=WHITE, width=int(w), joint="curve")
    c = s / 2
    k = (b - a) * 0.22
    d.line([(c - k * 1.1, c), (c - k * 0.25, c + k * 0.8), (c + k * 1.2, c - k * 0.75)],
           fill=GREEN, width=int(w * 1.3), joint="curve")
    return img.resize((size, size), Image.LANCZOS)


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    draw(192, False).save(OUT / "icon-192.png", optimize=True)
    draw(512, False).save(OUT / "icon-512.png", optimize=True)
    draw(512, True).save(OUT / "icon-maskable-512.png", optimize=True)
