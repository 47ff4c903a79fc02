"""Convolution geometry: output size and the distinct input words parts of the lowered (im2col) matrix read.

The lowered input matrix has one row per output pixel (row-major) and one column per window entry, ordered
(filter row, filter column, channel) with the channel fastest, as SCALE-Sim lays it out. Window entries that
fall outside the input (SCALE-Sim's last, partial windows) read nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


def _touched(out: int, stride: int, window: int, size: int) -> int:
    """Input rows (or columns) some of the `out` windows cover."""
    if stride >= window:  # disjoint windows, the last possibly cut short
        return sum(max(0, min(window, size - y * stride)) for y in range(out))
    return min(size, (out - 1) * stride + window)


def _valid(out: int, stride: int, offset: int, size: int) -> int:
    """How many of the `out` window positions at `offset` fall inside an input of `size`."""
    return max(0, min(out, (size - 1 - offset) // stride + 1))


@dataclass(frozen=True)
class ConvShape:
    ifmap_h: int
    ifmap_w: int
    filter_h: int
    filter_w: int
    channels: int  # per instance: 1 for a depthwise layer
    filters: int
    stride_h: int = 1
    stride_w: int = 1

    # SCALE-Sim counts a last, partial window: ceil((H - Fh) / s) + 1 outputs (the usual floor formula when
    # the stride divides H - Fh).
    @property
    def ofmap_h(self) -> int:
        return -(-(self.ifmap_h - self.filter_h) // self.stride_h) + 1

    @property
    def ofmap_w(self) -> int:
        return -(-(self.ifmap_w - self.filter_w) // self.stride_w) + 1

    def input_words(self) -> int:
        """Distinct input words the layer reads: the input pixels some window touches, times channels."""
        rows = _touched(self.ofmap_h, self.stride_h, self.filter_h, self.ifmap_h)
        cols = _touched(self.ofmap_w, self.stride_w, self.filter_w, self.ifmap_w)
        return rows * cols * self.channels

    def _entry(self, j: int) -> tuple[int, int, int]:
        fh, rest = divmod(j, self.filter_w * self.channels)
        fw, c = divmod(rest, self.channels)
        return fh, fw, c

    def _grid_words(self, offsets: frozenset) -> int:
        """Distinct input pixels the window positions at these (filter row, filter column) offsets read."""
        if len(offsets) == 1:
            ((fh, fw),) = offsets
            return _valid(self.ofmap_h, self.stride_h, fh, self.ifmap_h) * _valid(
                self.ofmap_w, self.stride_w, fw, self.ifmap_w
            )
        import numpy as np

        mask = np.zeros((self.ifmap_h, self.ifmap_w), dtype=bool)
        hi_h, hi_w = (self.ofmap_h - 1) * self.stride_h + 1, (self.ofmap_w - 1) * self.stride_w + 1
        for fh, fw in offsets:
            mask[fh : fh + hi_h : self.stride_h, fw : fw + hi_w : self.stride_w] = True
        return int(mask.sum())

    def window_words(self, start: int, count: int) -> int:
        """Distinct input words read by window entries [start, start + count) over all output pixels: a
        channel met at several offsets in the range is counted once per input pixel."""
        if count <= self.channels:  # each channel at most once: the offsets' pixel counts add up
            total, j = 0, start
            while j < start + count:
                fh, fw, c = self._entry(j)
                run = min(self.channels - c, start + count - j)
                total += run * self._grid_words(frozenset({(fh, fw)}))
                j += run
            return total
        offsets: dict[int, set] = {}
        for j in range(start, start + count):
            fh, fw, c = self._entry(j)
            offsets.setdefault(c, set()).add((fh, fw))
        groups: dict[frozenset, int] = {}
        for found in offsets.values():
            key = frozenset(found)
            groups[key] = groups.get(key, 0) + 1
        return sum(n * self._grid_words(key) for key, n in groups.items())
