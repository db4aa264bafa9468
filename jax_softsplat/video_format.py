"""What a video stream's pixels mean, and how `video` keeps it from input to output.

The interpolators work on RGB. Decoded YUV is converted to RGB with the stream's own matrix (BT.601,
BT.709, BT.2020, ...) and range (limited or full), at 8 bits for 8-bit input and 16 for deeper input, and
the interpolated frames are converted back with the same matrix and range. Frames that are not
interpolated (an output instant that falls on an input frame) skip RGB altogether: the decoded picture is
encoded as it is. The output is tagged with the input's primaries, transfer (PQ and HLG included),
matrix and range, keeps its sample aspect ratio and display rotation, and, with h265, its HDR mastering
display and content light level. The conversions are FFmpeg's (swscale, through PyAV).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import av

# FFmpeg's enum values (AVColorSpace, AVColorRange, AVColorPrimaries, AVColorTransferCharacteristic).
UNSPECIFIED = 2
RANGE_LIMITED, RANGE_FULL = 1, 2
MATRIX_BT709, MATRIX_BT601, MATRIX_BT2020 = 1, 6, 9
PRIMARIES_BT2020 = 9
# AVColorSpace -> swscale's table of coefficients (SWS_CS_*). BT.2020 constant luminance has no table
# of its own and is converted as non-constant luminance (a small error, and such streams are rare).
_SWS_MATRIX = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}
MATRIX_NAMES = {1: "BT.709", 4: "FCC", 5: "BT.601", 6: "BT.601", 7: "SMPTE 240M", 9: "BT.2020", 10: "BT.2020 CL"}
TRANSFER_NAMES = {1: "BT.709", 6: "BT.601", 13: "sRGB", 14: "BT.2020", 15: "BT.2020", 16: "PQ", 18: "HLG"}
_SCALE_FLAGS = None


def _flags():
    """swscale's flags for both conversions: nearest-neighbour chroma (repeated going to RGB, sampled
    coming back), accurately rounded. A picture converted to RGB and back is then the same picture
    (within one code value where RGB clips), so an interpolated frame of a still region matches the
    input frames beside it instead of shimmering at colour edges; bilinear chroma does not invert.
    (FULL_CHR_H_INT, which would interpolate chroma horizontally, gives wrong colours with 16-bit RGB.)"""
    global _SCALE_FLAGS
    if _SCALE_FLAGS is None:
        from av.video.reformatter import Interpolation

        _SCALE_FLAGS = Interpolation.POINT | Interpolation.ACCURATE_RND
    return _SCALE_FLAGS


@dataclass(frozen=True)
class Colour:
    """How a stream's YUV values map to colour: the matrix and range used for the conversions (never
    unspecified: a stream that does not say gets what players assume), and the tags copied as they are."""

    matrix: int
    full_range: bool
    primaries: int = UNSPECIFIED
    transfer: int = UNSPECIFIED
    assumed: tuple[str, ...] = ()  # which of matrix and range the stream did not state

    @classmethod
    def of(cls, frame: av.VideoFrame) -> Colour:
        """The colour of a decoded frame; an unstated matrix is BT.2020 with BT.2020 primaries, BT.709 from
        1280x720 up and BT.601 below (as players assume), an unstated range limited (full for yuvj*)."""
        assumed = []
        matrix = int(frame.colorspace)
        if matrix not in _SWS_MATRIX:
            assumed.append("matrix")
            if int(frame.color_primaries) == PRIMARIES_BT2020:
                matrix = MATRIX_BT2020
            else:
                matrix = MATRIX_BT709 if frame.width >= 1280 or frame.height >= 720 else MATRIX_BT601
        colour_range = int(frame.color_range)
        if colour_range not in (RANGE_LIMITED, RANGE_FULL):
            assumed.append("range")
            colour_range = RANGE_FULL if frame.format.name.startswith("yuvj") else RANGE_LIMITED
        return cls(matrix, colour_range == RANGE_FULL, int(frame.color_primaries), int(frame.color_trc), tuple(assumed))

    @property
    def range(self) -> int:
        return RANGE_FULL if self.full_range else RANGE_LIMITED

    def describe(self) -> str:
        transfer = TRANSFER_NAMES.get(self.transfer)
        return (
            f"{MATRIX_NAMES.get(self.matrix, self.matrix)}{' (assumed)' if 'matrix' in self.assumed else ''}, "
            f"{'full' if self.full_range else 'limited'} range{' (assumed)' if 'range' in self.assumed else ''}"
            + (f", {transfer} transfer" if transfer else "")
        )


@dataclass(frozen=True)
class Layout:
    """A pixel format's chroma subsampling ("420", "422", "444"; "rgb" or "gray" for those formats) and
    bit depth."""

    chroma: str
    depth: int

    @classmethod
    def of(cls, pix_fmt: str) -> Layout:
        import av

        fmt = av.VideoFormat(pix_fmt, 64, 64)
        depth = fmt.components[0].bits
        if fmt.is_rgb:
            return cls("rgb", depth)
        if len(fmt.components) < 3:
            return cls("gray", depth)
        chroma = fmt.components[1]
        if chroma.width == 64:
            return cls("444", depth)
        return cls("422" if chroma.height == 64 else "420", depth)

    @property
    def rgb_dtype(self):
        """The RGB the interpolators see: 8 bits for 8-bit video, 16 for deeper."""
        return np.uint8 if self.depth <= 8 else np.uint16


@dataclass(frozen=True)
class Codec:
    """An encoder `video` writes with, its options, and the pixel formats it takes."""

    name: str
    encoder: str
    description: str
    depths: tuple[int, ...]  # bit depths it writes, ascending
    chromas: tuple[str, ...]
    crf: tuple[float, float] | None = None  # accepted --crf range, or None when it has no crf
    default_crf: float | None = None
    presets: tuple[str, ...] = ()
    default_preset: str | None = None
    preset_name: str = "preset"

    def pixel_format(self, layout: Layout, width: int, height: int) -> str:
        """The output pixel format closest to the input's: its chroma subsampling and bit depth where this
        encoder has them, else the next it has (more chroma, more bits, or at most its deepest)."""
        chroma = "444" if layout.chroma == "rgb" else "420" if layout.chroma == "gray" else layout.chroma
        if chroma == "420" and (width % 2 or height % 2):
            chroma = "444"  # 4:2:0 needs even sizes: odd ones keep full chroma instead
        if chroma == "422" and width % 2:
            chroma = "444"
        order = ("420", "422", "444")
        chroma = next(c for c in order[order.index(chroma) :] if c in self.chromas)
        depth = next((d for d in self.depths if d >= layout.depth), self.depths[-1])
        return f"yuv{chroma}p" + (f"{depth}le" if depth > 8 else "")

    def options(self, crf: float | None, preset: str | None, hdr: HDR | None, layout: Layout) -> dict[str, str]:
        """The encoder's options: quality, speed or profile, and HDR side data where it can carry them."""
        options = {}
        crf = self.default_crf if crf is None else crf
        preset = self.default_preset if preset is None else preset
        if self.encoder == "libx264":
            options = {"crf": f"{crf:g}", "preset": preset}
        elif self.encoder == "libx265":
            params = ["log-level=error"]
            if hdr is not None:
                params += hdr.x265_params()
            options = {"crf": f"{crf:g}", "preset": preset, "x265-params": ":".join(params)}
        elif self.encoder == "prores_ks":
            if preset is None:
                preset = "4444" if layout.chroma in ("444", "rgb") else "hq"
            options = {"profile": preset}
        elif self.encoder == "ffv1":
            # Version 3 with per-slice checksums: damage stays local and is detected (the archival setting).
            options = {"level": "3", "slicecrc": "1", "g": "1"}
        return options

    def carries_hdr(self) -> bool:
        return self.encoder == "libx265"


_X26_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
# Defaults: x264 "veryfast" at crf 16 encodes a 1080p frame in 100 ms where "medium" at crf 17 takes
# 250 ms (two cores), for 0.4 dB less (40.8 against 41.2 dB PSNR of the encoded frames of upscaled
# car-turn.mp4) and a 10 % larger file; at "medium", encoding two frames per pair took as long as
# interpolating them. x265 (crf 18, "fast") and its speed and quality against x264 are not measured.
CODECS = {
    "h264": Codec(
        "h264",
        "libx264",
        "H.264 (x264), 8 or 10 bits",
        (8, 10),
        ("420", "422", "444"),
        (0, 51),
        16,
        _X26_PRESETS,
        "veryfast",
    ),
    "h265": Codec(
        "h265",
        "libx265",
        "H.265/HEVC (x265), 8, 10 or 12 bits, HDR side data",
        (8, 10, 12),
        ("420", "422", "444"),
        (0, 51),
        18,
        _X26_PRESETS,
        "fast",
    ),
    "prores": Codec(
        "prores",
        "prores_ks",
        "Apple ProRes, 10 bits 4:2:2 (4:4:4 with profile 4444)",
        (10,),
        ("422", "444"),
        presets=("proxy", "lt", "standard", "hq", "4444", "4444xq"),
        preset_name="profile",
    ),
    "ffv1": Codec("ffv1", "ffv1", "FFV1, lossless, any bit depth", (8, 9, 10, 12, 14, 16), ("420", "422", "444")),
}
DEFAULT_CODEC = "h264"
# Suffix -> FFmpeg muxer, for checking a codec against the container before any work starts.
CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}


def check_codec(codec: Codec, suffix: str, crf: float | None, preset: str | None) -> None:
    """Raises ValueError (naming the option) for a codec, crf or preset the encoder or the container
    cannot take."""
    muxer = CONTAINERS.get(suffix.lower())
    if muxer is not None and not _holds(muxer, codec.encoder):
        fits = [s for s, m in CONTAINERS.items() if _holds(m, codec.encoder)]
        raise ValueError(
            f"--codec {codec.name}: a {suffix} file cannot hold {codec.description}; use " + " or ".join(fits)
        )
    if crf is not None:
        if codec.crf is None:
            raise ValueError(f"--crf: {codec.name} has no crf ({codec.description}); leave --crf out")
        low, high = codec.crf
        if not low <= crf <= high:
            raise ValueError(f"--crf {crf:g}: expected {low:g} to {high:g} for {codec.name} (lower is better)")
    if preset is not None:
        if not codec.presets:
            raise ValueError(f"--preset: {codec.name} has no presets ({codec.description}); leave --preset out")
        if preset not in codec.presets:
            raise ValueError(
                f"--preset {preset}: expected one of {', '.join(codec.presets)} for {codec.name}"
                + (f" (its {codec.preset_name})" if codec.preset_name != "preset" else "")
            )


def _holds(muxer: str, encoder: str) -> bool:
    """Whether FFmpeg's `muxer` takes `encoder`'s streams (asked of a muxer writing to memory)."""
    import av

    with av.open(io.BytesIO(), "w", format=muxer) as probe:
        return encoder in probe.supported_codecs


@dataclass(frozen=True)
class HDR:
    """Static HDR metadata: the mastering display (primaries and white point in CIE 1931 xy, luminance in
    cd/m2) and the content light level (MaxCLL, MaxFALL in cd/m2); either may be absent."""

    mastering: tuple[Fraction, ...] | None = None  # rx ry gx gy bx by wx wy min max
    light_level: tuple[int, int] | None = None

    @classmethod
    def of(cls, frame: av.VideoFrame) -> HDR | None:
        from av.sidedata.sidedata import Type

        mastering = light_level = None
        data = frame.side_data
        if Type.MASTERING_DISPLAY_METADATA in data.keys():
            # AVMasteringDisplayMetadata: 10 rationals (r, g, b xy; white xy; min, max), has_primaries,
            # has_luminance.
            raw = struct.unpack("<22i", bytes(data[Type.MASTERING_DISPLAY_METADATA])[:88])
            if raw[20] and raw[21]:
                mastering = tuple(Fraction(raw[2 * i], raw[2 * i + 1] or 1) for i in range(10))
        if Type.CONTENT_LIGHT_LEVEL in data.keys():
            light_level = struct.unpack("<2I", bytes(data[Type.CONTENT_LIGHT_LEVEL])[:8])
        return cls(mastering, light_level) if mastering or light_level else None

    def x265_params(self) -> list[str]:
        params = []
        if self.mastering:
            xy = [round(v * 50000) for v in self.mastering[:8]]  # units of 0.00002
            low, high = (round(v * 10000) for v in self.mastering[8:])  # units of 0.0001 cd/m2
            params.append(
                f"master-display=G({xy[2]},{xy[3]})B({xy[4]},{xy[5]})R({xy[0]},{xy[1]})"
                f"WP({xy[6]},{xy[7]})L({high},{low})"
            )
        if self.light_level:
            params.append(f"max-cll={self.light_level[0]},{self.light_level[1]}")
        return params


def to_rgb(frame: av.VideoFrame, colour: Colour, layout: Layout) -> np.ndarray:
    """A decoded picture as RGB [H, W, 3], uint8 for 8-bit video, uint16 (full 0-65535 scale) for deeper.

    Always converted at 16 bits: swscale's direct path to 8-bit RGB is coarse (a picture converted to it
    and back had 18 % of its luma off by more than one code value, against 0.03 % through 16 bits)."""
    rgb = frame.reformat(
        format="rgb48le",
        src_colorspace=_SWS_MATRIX[colour.matrix],
        src_color_range=colour.range,
        dst_color_range=RANGE_FULL,
        interpolation=_flags(),
    ).to_ndarray()
    return to_8_bits(rgb) if layout.rgb_dtype == np.uint8 else rgb


def to_8_bits(rgb: np.ndarray) -> np.ndarray:
    """uint16 RGB (full 0-65535 scale) as uint8: round(x / 257), exactly, for every x (OpenCV's is 7x
    numpy's speed at 1080p)."""
    import cv2

    return cv2.convertScaleAbs(rgb, alpha=1 / 257)


def from_rgb(rgb: np.ndarray, pix_fmt: str, colour: Colour) -> av.VideoFrame:
    """RGB [H, W, 3] (uint8 or uint16) as a picture of `pix_fmt` in the colour the output is tagged with."""
    import av

    frame = av.VideoFrame.from_ndarray(
        np.ascontiguousarray(rgb), format="rgb24" if rgb.dtype == np.uint8 else "rgb48le"
    )
    return frame.reformat(
        format=pix_fmt,
        dst_colorspace=_SWS_MATRIX[colour.matrix],
        src_color_range=RANGE_FULL,
        dst_color_range=colour.range,
        interpolation=_flags(),
    )


def as_output(frame: av.VideoFrame, pix_fmt: str, colour: Colour) -> av.VideoFrame:
    """A decoded picture in the output's pixel format, its colour untouched (only chroma resampled or bits
    widened where the formats differ)."""
    if frame.format.name == pix_fmt:
        return frame
    matrix = _SWS_MATRIX[colour.matrix]
    return frame.reformat(
        format=pix_fmt,
        src_colorspace=matrix,
        dst_colorspace=matrix,
        src_color_range=colour.range,
        dst_color_range=colour.range,
        interpolation=_flags(),
    )


def tag_stream(stream, colour: Colour, sample_aspect_ratio: Fraction | None, rotation: float) -> None:
    """Tags an output video stream (before its first frame) with the input's colour, pixel aspect and
    display rotation."""
    context = stream.codec_context
    context.colorspace = colour.matrix
    context.color_range = colour.range
    context.color_primaries = colour.primaries
    context.color_trc = colour.transfer
    if sample_aspect_ratio:
        stream.codec_context.sample_aspect_ratio = sample_aspect_ratio
    if rotation:
        stream.set_display_rotation(rotation)
