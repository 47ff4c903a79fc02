"""Choosing among tiles where triton.autotune cannot (a split-K schedule sizes its workspace per tile):
on the first call for a key each candidate is timed once, then the fastest runs."""

from __future__ import annotations

from collections.abc import Callable

_CHOSEN: dict = {}


def _time(launch: Callable, tile) -> float:
    from triton.runtime.errors import OutOfResources
    from triton.testing import do_bench

    try:
        return do_bench(lambda: launch(tile))
    except OutOfResources:  # a tile this GPU cannot hold: never chosen
        return float("inf")


def best(launch: Callable, tiles: tuple, key: tuple, on_gpu: bool):
    """`launch(tile)` with the fastest of `tiles` for `key` (the sizes, dtypes and device it depends on);
    the first tile where there is nothing to choose or no GPU to time on."""
    if len(tiles) == 1 or not on_gpu:
        return launch(tiles[0])
    key = (tiles, *key)
    if key not in _CHOSEN:
        times = [_time(launch, t) for t in tiles]
        _CHOSEN[key] = tiles[min(range(len(tiles)), key=times.__getitem__)]
    return launch(_CHOSEN[key])
