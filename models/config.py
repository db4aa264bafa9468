"""`NetworkConfig`: the channel widths of the interpolation network (defaults: the official one)."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """Channel widths; the defaults are the published architecture (7,668,852 parameters).

    Smaller widths give a network of the same shape for tests and training smoke runs (see `scaled`).
    The 81-channel cost volume (displacements -4..4) is part of the architecture and does not scale.
    """

    # Flow network: the six extractor levels (1/2 .. 1/64 resolution) and each decoder's conv chain.
    extractor: tuple[int, ...] = (16, 32, 64, 96, 128, 192)
    decoder: tuple[int, ...] = (128, 128, 96, 64, 32)
    # Synthesis: the encoder's three levels, which are also the GridNet's three rows.
    encoder: tuple[int, ...] = (32, 64, 96)
    # The four rows of the softmetric's small grid; row 0 is the concatenation of the image branch
    # (3/4 of it) and the error branch (1/4 of it).
    softmetric: tuple[int, ...] = (16, 32, 64, 96)

    def __post_init__(self):
        for name, size in (("extractor", 6), ("decoder", 5), ("encoder", 3), ("softmetric", 4)):
            widths = getattr(self, name)
            if len(widths) != size or not all(isinstance(c, int) and c > 0 for c in widths):
                raise ValueError(f"NetworkConfig.{name}: expected {size} positive ints, got {widths!r}")
        if self.softmetric[0] < 4 or self.softmetric[0] % 4:
            raise ValueError(f"NetworkConfig.softmetric[0] must be a multiple of 4, got {self.softmetric[0]}")

    @classmethod
    def scaled(cls, factor: float) -> "NetworkConfig":
        """The official widths times `factor` (rounded up to multiples of 4), e.g. 0.25 for tests."""
        if not factor > 0:
            raise ValueError(f"NetworkConfig.scaled: factor must be > 0, got {factor}")

        def scale(widths):
            return tuple(max(4, -(-round(c * factor) // 4) * 4) for c in widths)

        base = cls()
        return cls(*(scale(getattr(base, f.name)) for f in dataclasses.fields(cls)))

    def to_dict(self) -> dict:
        return {f.name: list(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: dict) -> "NetworkConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"NetworkConfig: unknown fields {sorted(unknown)}")
        return cls(**{name: tuple(int(c) for c in widths) for name, widths in values.items()})
