#!/usr/bin/env python3
"""check_png.py FILE.png: fails unless FILE.png is a real picture of a report.

Standard library only (no Pillow on the CI machine's /usr/bin/python3): decodes 8-bit RGB/RGBA
non-interlaced PNGs, which is what Chromium writes, and checks size, that the page is not blank,
that it has many colours (text, bars), and that the pick's bar colour (#e45756) was painted,
which proves the inline SVG rendered."""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        sys.exit(f"{path}: unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows, len(data)


def main():
    path = sys.argv[1]
    width, height, bpp, rows, size = decode(path)
    colours, non_white, pick, total = set(), 0, 0, 0
    for row in rows[::2]:
        for x in range(0, len(row), bpp * 2):
            px = row[x:x + 3]
            total += 1
            colours.add(px)
            if px != b"\xff\xff\xff":
                non_white += 1
            if px == b"\xe4\x57\x56":
                pick += 1
    print(f"{path}: {width}x{height}, {size} bytes, {len(colours)} colours, "
          f"{100.0 * non_white / total:.1f}% not white, {pick} pick-coloured samples")
    problems = []
    if width < 800 or height < 800:
        problems.append("too small")
    if size < 20000:
        problems.append("file under 20 kB")
    if non_white < total * 0.02:
        problems.append("blank (under 2% of pixels not white)")
    if len(colours) < 32:
        problems.append("too few colours for text and charts")
    if pick < 20:
        problems.append("no bar in the pick's colour #e45756: the SVG did not render")
    if problems:
        sys.exit(f"{path}: " + "; ".join(problems))


if __name__ == "__main__":
    main()
