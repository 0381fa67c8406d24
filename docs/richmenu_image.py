"""Draw bot/data/line_richmenu.png, the default LINE rich menu (2500x843, four columns).

Run once when the labels change; the PNG is shipped so the server needs no
imaging library or font:

    apt-get install python3-pil fonts-ipaexfont-gothic
    /usr/bin/python3 docs/richmenu_image.py

The columns must match bot/channels/line.py rich_menu_request().
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"
OUT = Path(__file__).resolve().parent.parent / "bot" / "data" / "line_richmenu.png"
WIDTH, HEIGHT = 2500, 843
COLUMNS = [  # label, English, background
    ("相談する", "Talk", "#2f6f5e"),
    ("近くの窓口", "Nearby help", "#3b6ea5"),
    ("24時間の窓口", "24-hour lines", "#b4443c"),
    ("使い方", "How to use", "#5b5f66"),
]


def main() -> None:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    big, small = ImageFont.truetype(FONT, 118), ImageFont.truetype(FONT, 64)
    column = WIDTH // len(COLUMNS)
    for i, (label, english, colour) in enumerate(COLUMNS):
        x0 = i * column
        draw.rectangle([x0, 0, x0 + column - 1, HEIGHT], fill=colour)
        if i:
            draw.line([x0, 60, x0, HEIGHT - 60], fill="white", width=6)
        centre = x0 + column // 2
        size = big if draw.textlength(label, font=big) < column - 60 else ImageFont.truetype(FONT, 96)
        draw.text((centre, HEIGHT // 2 - 40), label, font=size, fill="white", anchor="mm")
        draw.text((centre, HEIGHT // 2 + 110), english, font=small, fill="#f0f0f0", anchor="mm")
    image.save(OUT, optimize=True)
    print(f"{OUT}: {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
