"""Video test clips made with FFmpeg's command-line tools, and probes of what a clip or an output carries.

`jax-softsplat video` reads and writes through PyAV's bundled FFmpeg; the clips here are written, and
the outputs probed and decoded, by the separately installed `ffmpeg`/`ffprobe` (Debian's package), so
that a mistake of one library is not repeated on both sides of a check.

Every clip shows real motion (a scrolling colour texture and a sharp-edged disc on a circle), so that
an interpolated frame differs from both of its neighbours. The colour clips are tagged AND computed in
their colour space: the pattern is generated as R'G'B' code values of the clip's primaries and transfer
(for PQ and HLG directly as their signal values, up to about 1000 nits for PQ), converted to Y'CbCr by
FFmpeg's scaler with the clip's matrix and range, and carries 10 significant bits where the clip is
10-bit. `expected_luma` computes the luma a clip must decode to, so a test can tell the matrix and
range of the data from the tags.

Clips: `colour_clip` (with `BT601`, `BT709`, `BT709_FULL`, `BT2020_HLG`, `BT2020_PQ`), `anamorphic_clip`,
`rotated_clip`, `vfr_marker_clip`, `truncated_mp4`, `truncated_mkv`, `corrupted_clip`, `shift_audio`.
Probes: `probe_video`, `frame_times`, `frame_side_data`, `decode_planes`, `decode_errors`, `decode_audio`,
and for the marker clip `flash_times`, `beep_times`, `pair_markers`, `av_drift`.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import struct
import subprocess
import tempfile
import wave
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import numpy as np

MISSING_TOOLS = (
    "{tool} not found on PATH: the video tests and benchmarks need FFmpeg's command-line tools ffmpeg and "
    "ffprobe (Debian: apt-get install --no-install-recommends ffmpeg; .ci/run installs them)"
)


def require_ffmpeg() -> None:
    """Raises RuntimeError, naming the package to install, unless `ffmpeg` and `ffprobe` are on PATH."""
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise RuntimeError(MISSING_TOOLS.format(tool=tool))


def _run(command: Sequence[str]) -> bytes:
    """stdout of an ffmpeg/ffprobe command; its stderr in the error when it fails."""
    require_ffmpeg()
    done = subprocess.run(list(command), capture_output=True)
    if done.returncode:
        tail = done.stderr.decode(errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(map(str, command))} failed (status {done.returncode}):\n{tail}")
    return done.stdout


def _ffmpeg(*args) -> bytes:
    return _run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *map(str, args)])


def ffprobe_json(path, *args) -> dict:
    """ffprobe's JSON answer for `path` with the given options (e.g. "-show_streams")."""
    return json.loads(_run(["ffprobe", "-v", "error", "-of", "json", *map(str, args), str(path)]))


# ---- colour ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Colour:
    """A colour space as FFmpeg names it: the scaler's matrix name, the tags, the bit depth; `levels` is
    the span of R'G'B' code values the pattern uses (PQ's 0.75 is about 1000 nits)."""

    matrix: str  # the scale filter's out_color_matrix
    kr: float
    kb: float
    range: str  # "tv" (limited) or "pc" (full)
    primaries: str
    transfer: str
    space: str
    bits: int = 8
    levels: tuple[float, float] = (0.06, 0.94)

    @property
    def codec(self) -> str:
        return "libx265" if self.bits > 8 else "libx264"

    @property
    def pix_fmt(self) -> str:
        return "yuv420p" if self.bits == 8 else f"yuv420p{self.bits}le"


BT601 = Colour("smpte170m", 0.299, 0.114, "tv", "smpte170m", "smpte170m", "smpte170m")
BT709 = Colour("bt709", 0.2126, 0.0722, "tv", "bt709", "bt709", "bt709")
BT709_FULL = Colour("bt709", 0.2126, 0.0722, "pc", "bt709", "bt709", "bt709")
BT2020_HLG = Colour("bt2020", 0.2627, 0.0593, "tv", "bt2020", "arib-std-b67", "bt2020nc", bits=10, levels=(0.05, 0.9))
BT2020_PQ = Colour("bt2020", 0.2627, 0.0593, "tv", "bt2020", "smpte2084", "bt2020nc", bits=10, levels=(0.1, 0.75))

# HDR10 side data of the PQ clip, in x265's syntax: a P3-D65 mastering display of 1000 nits peak and
# 0.005 nits black (chromaticities in units of 0.00002, luminance of 0.0001 nits), and MaxCLL/MaxFALL.
MASTER_DISPLAY = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)"
MAX_CLL = (1000, 400)
MASTERING_DISPLAY_TYPE = "Mastering display metadata"
CONTENT_LIGHT_TYPE = "Content light level metadata"


def expected_luma(rgb: np.ndarray, colour: Colour) -> np.ndarray:
    """The Y' code values (float) that R'G'B' in [0, 1] gives in `colour`: its matrix's luma weights,
    scaled to its range and bit depth."""
    y = colour.kr * rgb[..., 0] + (1 - colour.kr - colour.kb) * rgb[..., 1] + colour.kb * rgb[..., 2]
    scale = 1 << (colour.bits - 8)
    if colour.range == "tv":
        return (16 + 219 * y) * scale
    return y * ((1 << colour.bits) - 1)


# ---- the moving pattern --------------------------------------------------------------------------------

# Plane waves of the texture: (cycles across 128 pixels in x, in y, phase), one set per channel.
_WAVES = (
    ((1, 1, 0.3), (3, -2, 1.1), (5, 4, 2.0)),
    ((2, -1, 0.7), (4, 3, 2.5), (1, 5, 0.1)),
    ((1, -3, 1.9), (3, 1, 0.4), (6, -2, 1.3)),
)
TEXTURE_VELOCITY = (24.0, 12.0)  # pixels per second, x then y
DISC_PERIOD = 4.0  # seconds per turn of the disc


def pattern(width: int, height: int, t: float, levels: tuple[float, float] = (0.06, 0.94)) -> np.ndarray:
    """The clips' picture at `t` seconds: float64 R'G'B' [height, width, 3] spanning `levels`.

    A smooth colour texture scrolls at TEXTURE_VELOCITY and a saturated disc with sharp edges circles
    the centre once every DISC_PERIOD seconds. The same instant gives the same picture at any frame
    rate, as a camera would."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    sx, sy = x - TEXTURE_VELOCITY[0] * t, y - TEXTURE_VELOCITY[1] * t
    rgb = np.empty((height, width, 3))
    for channel, waves in enumerate(_WAVES):
        total = sum(np.cos(2 * np.pi * (fx * sx + fy * sy) / 128 + phase) for fx, fy, phase in waves)
        rgb[..., channel] = 0.5 + total / 6
    angle = 2 * np.pi * t / DISC_PERIOD
    radius = min(width, height) / 4
    cx, cy = width / 2 + radius * np.cos(angle), height / 2 + radius * np.sin(angle)
    disc = (x - cx) ** 2 + (y - cy) ** 2 < (radius / 2) ** 2
    rgb[disc] = (0.95, 0.15, 0.1)
    low, high = levels
    return low + (high - low) * np.clip(rgb, 0, 1)


def _pixels(image: np.ndarray, bits: int) -> bytes:
    """rgb24 or rgb48le bytes of a float image: 16-bit samples for clips deeper than 8 bits."""
    if bits > 8:
        return np.round(np.clip(image, 0, 1) * 65535).astype("<u2").tobytes()
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8).tobytes()


def _encode(
    path: Path,
    frames: Iterable[np.ndarray],
    width: int,
    height: int,
    rate: int,
    colour: Colour,
    *,
    filters: Sequence[str] = (),
    inputs: Sequence[str] = (),
    output: Sequence[str] = (),
    preset: str = "ultrafast",
    crf: int = 12,
) -> Path:
    """Pipes float R'G'B' frames into ffmpeg, which converts them with the colour's matrix and range and
    encodes them tagged. `filters` run before the conversion; `inputs` add inputs after the frames;
    `output` adds options before the output path."""
    rgb_format = "rgb48le" if colour.bits > 8 else "rgb24"
    convert = f"scale=out_color_matrix={colour.matrix}:out_range={colour.range},format={colour.pix_fmt}"
    codec = ["-c:v", colour.codec, "-preset", preset, "-crf", str(crf)]
    if colour.codec == "libx265":
        # x265 logs every encode at info level, and writes the HDR10 SEI messages (with every keyframe)
        # only when given their values; hvc1 is the tag players (and phones) use for HEVC in MP4.
        params = "log-level=error"
        if colour.transfer == "smpte2084":
            params += f":master-display={MASTER_DISPLAY}:max-cll={MAX_CLL[0]},{MAX_CLL[1]}"
        codec += ["-x265-params", params, "-tag:v", "hvc1"]
    command = [
        *("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"),
        *("-f", "rawvideo", "-pix_fmt", rgb_format, "-s", f"{width}x{height}", "-r", str(rate), "-i", "-"),
        *inputs,
        *("-vf", ",".join([*filters, convert])),
        *codec,
        *("-color_primaries", colour.primaries, "-color_trc", colour.transfer),
        *("-colorspace", colour.space, "-color_range", colour.range),
        *output,
        str(path),
    ]
    require_ffmpeg()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=errors)
        try:
            for frame in frames:
                process.stdin.write(_pixels(frame, colour.bits))
        except BrokenPipeError:
            pass  # ffmpeg stopped early: its status and message say why
        finally:
            process.stdin.close()
        status = process.wait()
        if status:
            errors.seek(0)
            tail = errors.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"{' '.join(command)} failed (status {status}):\n{tail}")
    return path


def _tone(seconds: float, rate: int = 48000) -> str:
    """An ffmpeg lavfi input of a quiet 440 Hz tone."""
    return f"sine=frequency=440:sample_rate={rate}:duration={seconds}"


def colour_clip(
    path,
    colour: Colour = BT709,
    *,
    width: int = 128,
    height: int = 96,
    fps: int = 25,
    seconds: float = 2.0,
    audio: bool = False,
    filters: Sequence[str] = (),
    output: Sequence[str] = (),
) -> Path:
    """A clip of `pattern` in `colour`: H.264 (8-bit) or HEVC Main 10 (10-bit), fps frames per second,
    tagged with the colour's primaries, transfer, matrix and range. The BT.2020 PQ clip also carries
    HDR10 side data (MASTER_DISPLAY, MAX_CLL) in SEI messages, which decoders attach to the frames. With
    `audio`, an AAC 440 Hz tone as long as the video. The container is the suffix's (.mp4, .mkv, .mov).
    Returns the path."""
    path = Path(path)
    count = round(seconds * fps)
    frames = (pattern(width, height, i / fps, colour.levels) for i in range(count))
    extra_out = list(output)
    inputs = ["-f", "lavfi", "-i", _tone(count / fps)] if audio else []
    if audio:
        extra_out += ["-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "64k"]
    return _encode(path, frames, width, height, fps, colour, filters=filters, inputs=inputs, output=extra_out)


def bt601_clip(path, **kwargs) -> Path:
    """8-bit BT.601 (smpte170m primaries, transfer and matrix), limited range, H.264."""
    return colour_clip(path, BT601, **kwargs)


def bt709_clip(path, **kwargs) -> Path:
    """8-bit BT.709, limited range, H.264."""
    return colour_clip(path, BT709, **kwargs)


def bt709_full_clip(path, **kwargs) -> Path:
    """8-bit BT.709, full range (color_range pc, which FFmpeg's H.264 decoder reports as yuvj420p)."""
    return colour_clip(path, BT709_FULL, **kwargs)


def hlg_clip(path, **kwargs) -> Path:
    """10-bit BT.2020 HLG: HEVC yuv420p10le, bt2020 primaries, arib-std-b67 transfer, bt2020nc matrix."""
    return colour_clip(path, BT2020_HLG, **kwargs)


def pq_clip(path, **kwargs) -> Path:
    """10-bit BT.2020 PQ (smpte2084) HEVC with HDR10 side data: mastering display and content light level."""
    return colour_clip(path, BT2020_PQ, **kwargs)


def anamorphic_clip(path, sar: tuple[int, int] = (4, 3), colour: Colour = BT709, **kwargs) -> Path:
    """A colour clip whose pixels are `sar` (width:height) wide: 128x96 stored, shown 4/3 as wide by
    default (as HDV stores 1920x1080 in 1440x1080). Written in the bitstream (H.264 VUI) and, in MP4,
    the pasp box."""
    return colour_clip(path, colour, filters=[f"setsar={sar[0]}/{sar[1]}"], **kwargs)


def rotated_clip(path, rotation: int = -90, colour: Colour = BT709, **kwargs) -> Path:
    """An MP4 colour clip with a display matrix that rotates it by `rotation` degrees counterclockwise,
    FFmpeg's convention (ffprobe's `rotation`): -90 is what a phone held upright writes (shown turned a
    quarter clockwise). The pixels are stored unrotated.

    The matrix is written into the video track's tkhd box after encoding: FFmpeg 5.1's command line
    ignores a `rotate` tag when it encodes, and writes it with the opposite sign of a phone's when it
    copies a stream."""
    path = Path(path)
    if path.suffix.lower() not in (".mp4", ".mov"):
        raise ValueError(f"{path}: a display matrix needs an MP4 or MOV file")
    colour_clip(path, colour, **kwargs)
    info = probe_video(path)
    _set_display_matrix(path, rotation, info["width"], info["height"])
    return path


def _boxes(data: bytes | memoryview, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the ISO-BMFF boxes between start and end."""
    while start + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, start)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, start + 8)[0], 16
        elif size == 0:
            size = end - start
        yield kind, start + header, start + size
        start += size


def _set_display_matrix(path: Path, rotation: int, width: int, height: int) -> None:
    """Writes the rotation matrix of `rotation` (a multiple of 90, counterclockwise) into the tkhd box
    of the video track, with the translation that keeps the picture in the positive quadrant, as
    cameras write it."""
    if rotation % 90:
        raise ValueError(f"rotation must be a multiple of 90 degrees, got {rotation}")
    cos, sin = round(math.cos(math.radians(rotation))), round(math.sin(math.radians(rotation)))
    a, b, c, d = cos, -sin, sin, cos
    # Where the corners (0, 0), (w, 0), (0, h), (w, h) go under x' = a x + c y, y' = b x + d y.
    corners = [(a * x + c * y, b * x + d * y) for x in (0, width) for y in (0, height)]
    tx, ty = -min(p[0] for p in corners), -min(p[1] for p in corners)
    fixed = [a << 16, b << 16, 0, c << 16, d << 16, 0, tx << 16, ty << 16, 1 << 30]
    data = bytearray(path.read_bytes())
    for kind, start, end in _boxes(data, 0, len(data)):
        if kind != b"moov":
            continue
        for trak_kind, trak_start, trak_end in _boxes(data, start, end):
            if trak_kind != b"trak":
                continue
            children = {k: (s, e) for k, s, e in _boxes(data, trak_start, trak_end)}
            mdia = {k: (s, e) for k, s, e in _boxes(data, *children[b"mdia"])}
            handler = bytes(data[mdia[b"hdlr"][0] + 8 : mdia[b"hdlr"][0] + 12])
            if handler != b"vide":
                continue
            tkhd = children[b"tkhd"][0]
            version = data[tkhd]
            # version, flags, two times, track id, reserved, duration, 8 reserved, layer, group, volume, 2
            matrix = tkhd + 4 + (28 if version == 1 else 16) + 4 + 8 + 8
            struct.pack_into(">9i", data, matrix, *fixed)
            path.write_bytes(bytes(data))
            return
    raise ValueError(f"{path}: no video track found")


# ---- variable frame rate with markers ------------------------------------------------------------------

VFR_STRETCHES = ((30, 60), (24, 36))  # (frames per second, frames): 2 s at 30 fps, then 1.5 s at 24 fps
BEEP_HZ, BEEP_SECONDS, BEEP_AMPLITUDE = 1000.0, 0.05, 0.5
VFR_LEVELS = (0.05, 0.55)  # the pattern kept dark, so that a white flash stands out
# The flash box: the top-left quarter of the width by a quarter of the height, dark grey and still, white
# on a marker frame. Still, it gives the flash a steady background to stand out from; a sixteenth of the
# picture, it changes a colour histogram by a Bhattacharyya distance of about 0.2, under the 0.3 at
# which `video` takes two frames for a scene cut: the frames around a flash are interpolated.
FLASH_FRACTION, FLASH_OFF, FLASH_ON = 4, 0.1, 1.0


@dataclass(frozen=True)
class VfrTimeline:
    """Frame times (exact, seconds) of a variable-frame-rate clip and which frames are flash markers."""

    times: tuple[Fraction, ...]
    markers: tuple[int, ...]

    @property
    def marker_times(self) -> list[float]:
        return [float(self.times[i]) for i in self.markers]


def vfr_timeline(seconds: float, stretches: Sequence[tuple[int, int]] = VFR_STRETCHES) -> VfrTimeline:
    """The frames of `vfr_marker_clip`: stretches of (rate, frames) repeated until `seconds`, with a
    marker on the middle frame of each stretch (so markers fall in every rate)."""
    times, markers, start = [], [], Fraction(0)
    while True:
        for rate, count in stretches:
            for k in range(count):
                t = start + Fraction(k, rate)
                if t >= seconds:
                    return VfrTimeline(tuple(times), tuple(markers))
                if k == count // 2:
                    markers.append(len(times))
                times.append(t)
            start += Fraction(count, rate)


def _setpts_expression(stretches: Sequence[tuple[int, int]]) -> str:
    """A setpts expression giving frame N the time `vfr_timeline` gives it, in ticks of 1/90000 s (the
    timebase phones write MP4 video in; 1/30 and 1/24 s are whole numbers of ticks)."""
    period_frames = sum(count for _, count in stretches)
    period = sum(Fraction(count, rate) for rate, count in stretches)
    m = f"mod(N,{period_frames})"
    within, first, offset = "0", 0, Fraction(0)
    pieces = []
    for rate, count in stretches:
        pieces.append((first + count, f"{float(offset)!r}+({m}-{first})/{rate}"))
        first, offset = first + count, offset + Fraction(count, rate)
    for end, piece in reversed(pieces):
        within = f"if(lt({m},{end}),{piece},{within})"
    return f"floor((floor(N/{period_frames})*{float(period)!r}+{within})*90000+0.5)"


def vfr_marker_clip(
    path,
    seconds: float = 5.0,
    *,
    width: int = 64,
    height: int = 48,
    stretches: Sequence[tuple[int, int]] = VFR_STRETCHES,
    audio_rate: int = 48000,
) -> Path:
    """A variable-frame-rate H.264 + AAC clip, as a phone writes in low light: stretches of 30 fps
    (2 s) alternate with stretches of 24 fps (1.5 s), frame times in ticks of 1/90000 s. The middle
    frame of each stretch is a flash (the still top-left box turns white: FLASH_FRACTION), and the
    audio, silent otherwise, has a 1 kHz beep starting at exactly that frame's time;
    `vfr_timeline(seconds, stretches)` lists the frames and markers and `av_drift` measures them. The
    picture is `pattern` moving at its speed in real time, so motion is smooth across the rate changes.
    Tiny frames and x264's fastest preset keep a 10-minute clip cheap (`seconds`=600). MP4 and MOV keep
    the times exactly; Matroska rounds them to milliseconds. Returns the path."""
    path = Path(path)
    timeline = vfr_timeline(seconds, stretches)
    duration = float(timeline.times[-1]) + 1 / stretches[-1][0]
    markers = set(timeline.markers)

    def frame(index: int, t: Fraction) -> np.ndarray:
        image = pattern(width, height, float(t), VFR_LEVELS)
        image[: height // FLASH_FRACTION, : width // FLASH_FRACTION] = FLASH_ON if index in markers else FLASH_OFF
        return image

    frames = (frame(i, t) for i, t in enumerate(timeline.times))
    with tempfile.TemporaryDirectory() as folder:
        beeps = Path(folder) / "beeps.wav"
        _write_beeps(beeps, timeline.marker_times, duration, audio_rate)
        return _encode(
            path,
            frames,
            width,
            height,
            stretches[0][0],
            BT709,
            filters=["settb=1/90000", f"setpts='{_setpts_expression(stretches)}'"],
            inputs=["-i", str(beeps)],
            output=[
                *("-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "64k"),
                # Each frame keeps its own time: no frames duplicated or dropped to a constant rate, and
                # an encoder timebase fine enough to hold 1/30 and 1/24 s.
                *("-fps_mode", "passthrough", "-enc_time_base:v", "1/90000"),
                *(["-video_track_timescale", "90000"] if path.suffix.lower() in (".mp4", ".mov") else []),
            ],
            crf=20,
        )


def _write_beeps(path: Path, onsets: Sequence[float], seconds: float, rate: int) -> None:
    """A mono 16-bit WAV of silence with a BEEP_SECONDS sine burst starting at each onset (a sample
    boundary at most half a sample from it)."""
    samples = np.zeros(round(seconds * rate))
    burst = BEEP_AMPLITUDE * np.sin(2 * np.pi * BEEP_HZ * np.arange(round(BEEP_SECONDS * rate)) / rate)
    for onset in onsets:
        start = round(onset * rate)
        piece = burst[: len(samples) - start]
        samples[start : start + len(piece)] = piece
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.round(samples * 32767).astype("<i2").tobytes())


def shift_audio(path, out, seconds: float) -> Path:
    """A copy of `path` (streams copied, not re-encoded) whose audio starts `seconds` later (earlier if
    negative): a known A/V offset for `av_drift` to find. Returns `out`."""
    _ffmpeg("-i", path, "-itsoffset", seconds, "-i", path, "-map", "0:v", "-map", "1:a", "-c", "copy", out)
    return Path(out)


# ---- broken inputs ---------------------------------------------------------------------------------------


def _truncate(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def truncated_mp4(path, keep: float = 0.6, *, seconds: float = 3.0, audio: bool = True) -> Path:
    """A BT.709 MP4 (with an AAC tone unless audio=False) cut off after `keep` of its bytes, as a
    recording ends when a disk fills. Written with +faststart, so the index (moov) sits at the front
    and is whole: the file opens, lists every frame, and its data ends partway."""
    path = Path(path)
    colour_clip(path, BT709, seconds=seconds, audio=audio, output=["-movflags", "+faststart"])
    return _truncate(path, keep)


def truncated_mkv(path, keep: float = 0.6, *, seconds: float = 3.0, audio: bool = True) -> Path:
    """A BT.709 Matroska clip cut off after `keep` of its bytes: its clusters end partway, and the cues
    (written at the end) are missing."""
    path = Path(path)
    if path.suffix.lower() != ".mkv":
        raise ValueError(f"{path}: expected a .mkv path")
    colour_clip(path, BT709, seconds=seconds, audio=audio)
    return _truncate(path, keep)


def corrupted_clip(path, *, seconds: float = 3.0, garbage: int = 4096, seed: int = 0, audio: bool = True) -> Path:
    """A BT.709 MP4 whole in length and index, with `garbage` random bytes (seeded) written over the
    middle of its media data (mdat): the frames there fail to decode or decode wrong, those after the
    next keyframe are sound again."""
    path = Path(path)
    colour_clip(path, BT709, seconds=seconds, audio=audio, output=["-movflags", "+faststart", "-g", "15"])
    data = bytearray(path.read_bytes())
    media = next(((s, e) for kind, s, e in _boxes(data, 0, len(data)) if kind == b"mdat"), None)
    if media is None or media[1] - media[0] < 2 * garbage:
        raise ValueError(f"{path}: media data too small for {garbage} bytes of garbage")
    middle = (media[0] + media[1]) // 2 - garbage // 2
    data[middle : middle + garbage] = np.random.default_rng(seed).integers(0, 256, garbage, np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


# ---- probes ----------------------------------------------------------------------------------------------


def _fraction(text: str | None) -> Fraction | None:
    if not text or text in ("N/A", "0/0"):
        return None
    return Fraction(text.replace(":", "/"))


def _bits(stream: dict) -> int:
    raw = stream.get("bits_per_raw_sample")
    if raw and str(raw).isdigit():
        return int(raw)
    found = re.search(r"p(\d+)(?:le|be)$", stream.get("pix_fmt", ""))
    return int(found.group(1)) if found else 8


def probe_video(path) -> dict:
    """The first video stream's fields, from ffprobe:

    codec_name, width, height (as stored, before rotation and aspect), pix_fmt (ffprobe's: full-range
    H.264 reads as yuvj420p), bits (bits per sample), color_range ("tv"/"pc"), color_space,
    color_primaries, color_transfer (None where untagged), sample_aspect_ratio (Fraction; 1 when square or
    unset), rotation (degrees counterclockwise from the display matrix, ffprobe's sign: -90 for a phone
    held upright; 0 without one), r_frame_rate and avg_frame_rate (Fractions, None when unknown),
    time_base (Fraction), start_time and duration (seconds or None), nb_frames (int or None, as the
    container states it), and streams: the codec types of all streams in order."""
    info = ffprobe_json(path, "-show_streams", "-show_format")
    streams = info.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        raise ValueError(f"{path}: no video stream")
    rotation = 0
    for side in video.get("side_data_list", []):
        if side.get("side_data_type") == "Display Matrix":
            rotation = int(side.get("rotation", 0))

    def tag(name):
        value = video.get(name)
        return None if value in (None, "unknown", "unspecified") else value

    def seconds(name):
        value = video.get(name)
        return None if value in (None, "N/A") else float(value)

    return {
        "codec_name": video.get("codec_name"),
        "width": video["width"],
        "height": video["height"],
        "pix_fmt": video.get("pix_fmt"),
        "bits": _bits(video),
        "color_range": tag("color_range"),
        "color_space": tag("color_space"),
        "color_primaries": tag("color_primaries"),
        "color_transfer": tag("color_transfer"),
        "sample_aspect_ratio": _fraction(video.get("sample_aspect_ratio")) or Fraction(1),
        "rotation": rotation,
        "r_frame_rate": _fraction(video.get("r_frame_rate")),
        "avg_frame_rate": _fraction(video.get("avg_frame_rate")),
        "time_base": _fraction(video.get("time_base")),
        "start_time": seconds("start_time"),
        "duration": seconds("duration"),
        "nb_frames": int(video["nb_frames"]) if str(video.get("nb_frames", "")).isdigit() else None,
        "streams": [s.get("codec_type") for s in streams],
    }


def frame_times(path, stream: str = "v:0") -> list[float]:
    """Presentation times (seconds) of the decoded frames of `stream` (ffprobe's stream specifier), in
    order, from each frame's pts (its best-effort timestamp where it has none) and the stream's
    timebase, so exactly what the file says to within a float."""
    info = ffprobe_json(
        path,
        *("-select_streams", stream, "-show_entries", "stream=time_base:frame=pts,best_effort_timestamp"),
    )
    base = Fraction(info["streams"][0]["time_base"])
    times = []
    for frame in info.get("frames", []):
        pts = frame.get("pts", frame.get("best_effort_timestamp"))
        if pts is not None:
            times.append(float(pts * base))
    return times


def frame_side_data(path, count: int = 1, stream: str = "v:0") -> list[dict[str, dict]]:
    """The side data of the first `count` decoded frames: per frame, {side_data_type: its fields} as
    ffprobe prints them, e.g. MASTERING_DISPLAY_TYPE -> red_x "34000/50000", ..., max_luminance
    "10000000/10000"; CONTENT_LIGHT_TYPE -> max_content 1000, max_average 400."""
    info = ffprobe_json(
        path, "-select_streams", stream, "-read_intervals", f"%+#{count}", "-show_frames", "-show_entries", "frame"
    )
    found = []
    for frame in info.get("frames", [])[:count]:
        found.append({s.get("side_data_type"): s for s in frame.get("side_data_list", [])})
    return found


class Planes(NamedTuple):
    """Decoded Y, U, V planes, each [frames, height, width] (U and V subsampled as the format is)."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray


_CHROMA_SHIFT = {"420": (1, 1), "422": (1, 0), "444": (0, 0)}


def decode_planes(path, pix_fmt: str | None = None, max_frames: int | None = None) -> Planes:
    """Every frame (or the first `max_frames`) decoded by the ffmpeg command line to planar Y'CbCr
    `pix_fmt` (e.g. "yuv420p10le"; default: the stream's own), one output frame per decoded frame.

    The values stay in the file's own colour space and range: only the bit depth (8-bit v becomes
    10-bit 4v) and chroma subsampling are converted, never the matrix or range, and the display matrix
    is not applied, so the planes of an output compare directly with the decoded input's."""
    info = probe_video(path)
    pix_fmt = (pix_fmt or info["pix_fmt"]).replace("yuvj", "yuv")
    layout = re.fullmatch(r"yuv(420|422|444)p(?:(9|10|12|14|16)le)?", pix_fmt)
    if layout is None:
        raise ValueError(f"unsupported pix_fmt {pix_fmt!r}: expected planar yuv420p/422p/444p[10le|12le|16le]")
    full = "pc" if info["color_range"] == "pc" else "tv"
    args = ["-noautorotate", "-i", path, "-map", "0:v:0", "-fps_mode", "passthrough"]
    args += ["-vf", f"scale=in_range={full}:out_range={full}", "-pix_fmt", pix_fmt, "-f", "rawvideo"]
    if max_frames is not None:
        args += ["-frames:v", max_frames]
    data = _ffmpeg(*args, "-")
    dtype = np.dtype("<u2") if layout.group(2) else np.dtype(np.uint8)
    width, height = info["width"], info["height"]
    sx, sy = _CHROMA_SHIFT[layout.group(1)]
    cw, ch = -(-width >> sx), -(-height >> sy)
    frame = width * height + 2 * cw * ch
    samples = np.frombuffer(data, dtype)
    if samples.size % frame:
        raise RuntimeError(f"{path}: {samples.size} samples decoded, not a whole number of {width}x{height} frames")
    frames = samples.reshape(-1, frame)
    y = frames[:, : width * height].reshape(-1, height, width)
    u = frames[:, width * height : width * height + cw * ch].reshape(-1, ch, cw)
    v = frames[:, width * height + cw * ch :].reshape(-1, ch, cw)
    return Planes(y, u, v)


def decode_errors(path) -> list[str]:
    """The error messages of decoding every stream of `path` with the ffmpeg command line (empty for
    a sound file)."""
    require_ffmpeg()
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path), "-map", "0"]
    done = subprocess.run([*command, "-f", "null", "-"], capture_output=True, text=True, errors="replace")
    return [line for line in done.stderr.splitlines() if line.strip()]


def decode_audio(path, rate: int = 16000) -> np.ndarray:
    """The first audio stream, mono float32 at `rate`, sample 0 at time 0 of the file's timeline (the
    timeline `frame_times` reads): a stream that starts later is padded with silence at its front, so
    sample i is at i / rate seconds whatever the stream's start time."""
    args = ["-copyts", "-i", path, "-map", "0:a:0", "-af", f"aresample={rate}:async=1:first_pts=0"]
    data = _ffmpeg(*args, "-ac", 1, "-f", "f32le", "-")
    return np.frombuffer(data, "<f4")


# ---- A/V sync ----------------------------------------------------------------------------------------------


@dataclass
class Drift:
    """What `av_drift` measured. Paired markers, in order: video_times (each flash's frame time),
    audio_times (its beep's onset), offsets = video - audio (seconds; positive: the picture comes late).
    `resolution` is the longest frame interval at a paired flash: a flash is timed by a frame, so an
    offset is exact only to within it. unpaired_video and unpaired_audio are the times of markers found
    on one side only (a flash that interpolation washed out, a beep past the end of the picture)."""

    offsets: list[float]
    video_times: list[float]
    audio_times: list[float]
    resolution: float
    unpaired_video: list[float]
    unpaired_audio: list[float]
    frames: int

    @property
    def start(self) -> float:
        return self.offsets[0]

    @property
    def end(self) -> float:
        """The drift at the end: the last paired marker's offset."""
        return self.offsets[-1]

    @property
    def worst(self) -> float:
        return max(self.offsets, key=abs)

    @property
    def video_markers(self) -> int:
        return len(self.video_times) + len(self.unpaired_video)

    @property
    def audio_markers(self) -> int:
        return len(self.audio_times) + len(self.unpaired_audio)


def flash_brightness(path, stream: str = "v:0") -> np.ndarray:
    """Mean luma (0-255) of each decoded frame's top-left eighth by eighth, inside where
    `vfr_marker_clip` flashes, in order. The stored picture is read (no rotation applied), area-averaged
    down to 8x8."""
    args = ["-noautorotate", "-i", path, "-map", f"0:{stream}", "-fps_mode", "passthrough"]
    data = _ffmpeg(*args, "-vf", "scale=8:8:flags=area", "-pix_fmt", "gray", "-f", "rawvideo", "-")
    return np.frombuffer(data, np.uint8).reshape(-1, 64)[:, 0].astype(np.float64)


def _groups(indices: np.ndarray, times: np.ndarray, gap: float) -> list[np.ndarray]:
    """`indices` (sorted) split where the times of consecutive ones are more than `gap` apart."""
    if indices.size == 0:
        return []
    breaks = np.nonzero(np.diff(times[indices]) > gap)[0] + 1
    return np.split(indices, breaks)


def flash_times(path, gap: float = 0.4) -> tuple[list[float], list[float], int]:
    """(time of each flash, frame interval there, frame count): frames whose flash box is well above
    its brightness in the frames around form a flash (interpolation may blend one into its neighbours);
    its time is that of its brightest frame. Flashes closer than `gap` seconds count as one."""
    times = np.asarray(frame_times(path))
    brightness = flash_brightness(path)
    if len(times) != len(brightness):
        raise RuntimeError(f"{path}: ffprobe lists {len(times)} frames, ffmpeg decoded {len(brightness)}")
    if len(times) < 2:
        return [], [], len(times)
    window = 61  # frames: wide enough that a flash blended over 8x interpolation stays a minority of it
    padded = np.pad(brightness, window // 2, mode="edge")
    baseline = np.median(np.lib.stride_tricks.sliding_window_view(padded, window), axis=1)
    excess = brightness - baseline
    # A tenth of the strongest flash: a model interpolating at an instant between two frames can leave a
    # flash at a fifth of its strength, while the still box varies by coding noise of a few levels.
    threshold = max(0.1 * excess.max(), 15.0)
    found, intervals = [], []
    for group in _groups(np.nonzero(excess > threshold)[0], times, gap):
        # Interpolation can show a flash at full strength a frame early or late too (a motion-based model
        # splats the bright box whole); of the frames within 5 % of the brightest, the one nearest the
        # group's brightness-weighted mean time is the flash's.
        weights = excess[group]
        centre = np.sum(times[group] * weights) / np.sum(weights)
        brightest = group[weights >= 0.95 * weights.max()]
        peak = int(brightest[np.argmin(np.abs(times[brightest] - centre))])
        neighbours = [times[j] for j in (peak - 1, peak + 1) if 0 <= j < len(times)]
        intervals.append(float(max(abs(times[peak] - t) for t in neighbours)))
        found.append(float(times[peak]))
    return found, intervals, len(times)


def beep_times(path, rate: int = 16000, gap: float = 0.4) -> list[float]:
    """Onset time (seconds, file timeline) of each beep of the first audio stream: the first sample
    whose magnitude passes 40 % of the loudest; beeps closer than `gap` count as one."""
    samples = np.abs(decode_audio(path, rate))
    if samples.size == 0 or samples.max() == 0:
        return []
    loud = np.nonzero(samples > 0.4 * samples.max())[0]
    times = np.arange(samples.size) / rate
    return [float(times[group[0]]) for group in _groups(loud, times, gap)]


def pair_markers(video: Sequence[float], audio: Sequence[float], tolerance: float = 0.5) -> list[tuple[int, int]]:
    """(video index, audio index) of the flashes and beeps that belong together, in order. Each flash
    is paired with the unused beep nearest to where the offset so far puts it (the first with an
    offset of 0), if that is within `tolerance` seconds: the offset may drift by up to that much from
    one marker to the next (about 1.75 s apart), and a marker missing on either side is left unpaired
    rather than shifting every pair after it."""
    pairs, offset, used = [], 0.0, -1
    for i, time in enumerate(video):
        candidates = range(used + 1, len(audio))
        if not candidates:
            break
        j = min(candidates, key=lambda k: abs(audio[k] - (time - offset)))
        if abs(audio[j] - (time - offset)) <= tolerance:
            pairs.append((i, j))
            offset, used = time - audio[j], j
    return pairs


def av_drift(path) -> Drift:
    """Audio/video offsets of a file made from `vfr_marker_clip` (as written, or with frames
    interpolated between its frames, or re-timed to a constant rate): each flash's presentation time
    (its brightest frame) minus its beep's onset, paired by `pair_markers`. The first offset is the
    start's, the last the drift at the end. Raises ValueError when no flash and beep pair up."""
    if "audio" not in probe_video(path)["streams"]:
        raise ValueError(f"{path}: no audio stream, so no beeps to time the flashes against")
    video, intervals, frames = flash_times(path)
    audio = beep_times(path)
    pairs = pair_markers(video, audio)
    if not pairs:
        raise ValueError(f"{path}: {len(video)} flash(es) and {len(audio)} beep(s) found, none paired")
    paired_video, paired_audio = {i for i, _ in pairs}, {j for _, j in pairs}
    return Drift(
        offsets=[video[i] - audio[j] for i, j in pairs],
        video_times=[video[i] for i, _ in pairs],
        audio_times=[audio[j] for _, j in pairs],
        resolution=max(intervals[i] for i, _ in pairs),
        unpaired_video=[t for i, t in enumerate(video) if i not in paired_video],
        unpaired_audio=[t for j, t in enumerate(audio) if j not in paired_audio],
        frames=frames,
    )
