"""Printable QR posters, one per district, in Hindi and English.

`python -m satark.posters --number 91XXXXXXXXXX --out var/posters` writes one A4 HTML page per
district (print it from any browser: Devanagari needs the browser's text shaping, which a
hand-made PDF would not get right) and an index. The QR code opens a WhatsApp chat with the
configured number (`WHATSAPP_DISPLAY_NUMBER`), with a greeting typed in.
"""

from __future__ import annotations

import argparse
import html
import os
from pathlib import Path
from urllib.parse import quote

import segno

from satark.offices import District, OfficeDirectory, load_offices
from satark.settings import get_settings

NUMBER_ENV = "WHATSAPP_DISPLAY_NUMBER"
GREETING = "नमस्ते"

PAGE = """<!doctype html>
<html lang="hi"><head><meta charset="utf-8"><title>{title}</title>
<style>
  @page {{ size: A4; margin: 14mm; }}
  body {{ font-family: "Noto Sans Devanagari", "Noto Sans", "Mangal", sans-serif; color: #111; margin: 0; }}
  .poster {{ max-width: 180mm; margin: 0 auto; text-align: center; }}
  h1 {{ font-size: 30pt; margin: 0 0 2mm; }}
  h2 {{ font-size: 17pt; margin: 0 0 6mm; font-weight: normal; }}
  .district {{ font-size: 20pt; font-weight: bold; border: 2px solid #111; display: inline-block;
              padding: 2mm 6mm; border-radius: 3mm; }}
  .qr svg {{ width: 85mm; height: 85mm; margin: 6mm auto 2mm; display: block; }}
  .number {{ font-size: 22pt; font-weight: bold; letter-spacing: .5pt; }}
  .link {{ font-size: 10pt; color: #444; word-break: break-all; }}
  ol {{ text-align: left; font-size: 13pt; margin: 6mm auto; max-width: 150mm; }}
  .promise {{ font-size: 12pt; margin: 4mm auto; max-width: 160mm; }}
  .emergency {{ font-size: 15pt; font-weight: bold; border-top: 2px solid #111; padding-top: 4mm; margin-top: 6mm; }}
</style></head>
<body><div class="poster">
  <h1>सतर्क मित्र · Satark Mitra</h1>
  <h2>अपराध की सूचना दें — बिना नाम बताए<br>Report a crime — without giving your name</h2>
  <div class="district">{district_hi} · {district_en}</div>
  <div class="qr">{qr}</div>
  <div class="number">WhatsApp {number}</div>
  <div class="link">{link}</div>
  <ol>
    <li>QR कोड स्कैन करें या इस नंबर पर WhatsApp संदेश भेजें।<br>
        Scan the QR code or send a WhatsApp message to this number.</li>
    <li>जो देखा, अपने शब्दों में बताइए; फ़ोटो, वीडियो या वॉइस नोट भी भेज सकते हैं।<br>
        Tell us what you saw in your own words; photos, videos and voice notes are welcome.</li>
    <li>आपको एक रसीद कोड मिलेगा: उससे आप स्थिति देख सकते हैं और बाद में जानकारी जोड़ सकते हैं।<br>
        You get a receipt code: use it to check progress and add information later.</li>
  </ol>
  <p class="promise">आपका नाम और मोबाइल नंबर हमारे सिस्टम में दर्ज नहीं होता; सूचना सीधे {district_hi} ज़िला पुलिस
     तक जाती है।<br>
     Your name and mobile number are not recorded by our system; the report goes straight to
     {district_en} district police.</p>
  <p class="emergency">अभी किसी की जान को ख़तरा हो तो तुरंत 112 पर कॉल करें।<br>
     If a life is in danger right now, call 112 immediately.</p>
</div></body></html>
"""


def chat_link(number: str) -> str:
    """The `wa.me` link that opens a chat with the bot, greeting typed in."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) < 8:
        raise ValueError(f"{NUMBER_ENV} must be the bot's number in international format, for example 919454400000")
    return f"https://wa.me/{digits}?text={quote(GREETING)}"


def display_number(number: str) -> str:
    """An example: `919454400000` → `+91 94544 00000` (Indian numbers; others as +digits)."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) == 12 and digits.startswith("91"):
        return f"+91 {digits[2:7]} {digits[7:]}"
    return f"+{digits}"


def poster_html(district: District, number: str) -> str:
    link = chat_link(number)
    qr = segno.make(link, error="q").svg_inline(border=4, omitsize=True)  # viewBox: scales to the CSS size
    return PAGE.format(
        title=html.escape(f"Satark Mitra — {district.label('en')}"), qr=qr,
        district_hi=html.escape(district.label("hi")), district_en=html.escape(district.label("en")),
        number=html.escape(display_number(number)), link=html.escape(link),
    )


def write_posters(out_dir: Path, number: str, directory: OfficeDirectory | None = None) -> list[Path]:
    """One poster per district plus `index.html`; the paths written."""
    directory = directory or load_offices()
    out_dir.mkdir(parents=True, exist_ok=True)
    written, items = [], []
    for district in directory.districts:
        path = out_dir / f"poster-{district.code.lower()}.html"
        path.write_text(poster_html(district, number), encoding="utf-8")
        written.append(path)
        items.append(f'<li><a href="{path.name}">{html.escape(district.label("hi"))} · '
                     f'{html.escape(district.label("en"))}</a></li>')
    index = out_dir / "index.html"
    index.write_text('<!doctype html><meta charset="utf-8"><title>Satark Mitra posters</title>'
                     f"<h1>Satark Mitra — posters</h1><ul>{''.join(items)}</ul>", encoding="utf-8")
    return [*written, index]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m satark.posters", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--number", default=os.environ.get(NUMBER_ENV, ""),
                        help=f"the bot's WhatsApp number, international format (default: ${NUMBER_ENV})")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: var/posters)")
    args = parser.parse_args(argv)
    if not args.number:
        parser.error(f"give --number or set {NUMBER_ENV}")
    paths = write_posters(args.out or get_settings().var_dir / "posters", args.number)
    print(f"{len(paths) - 1} posters written; open {paths[-1]}")


if __name__ == "__main__":
    main()
