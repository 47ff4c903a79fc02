"""Input validation shared by launchers: clear errors instead of wrong answers or crashed processes."""

from __future__ import annotations


def _torch():
    import torch

    return torch


def require_tensor(name: str, t) -> None:
    if not isinstance(t, _torch().Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")


def require_device(name: str, t, device_type: str) -> None:
    require_tensor(name, t)
    if t.device.type != device_type:
        raise ValueError(f"{name} is on {t.device}, but this variant needs a {device_type} tensor")


def require_cuda(name: str, t) -> None:
    require_device(name, t, "cuda")


def require_dtype(name: str, t, allowed) -> None:
    if t.dtype not in allowed:
        names = ", ".join(str(d).replace("torch.", "") for d in allowed)
        raise TypeError(f"{name} has dtype {str(t.dtype).replace('torch.', '')}; supported: {names}")


def require_contiguous(name: str, t) -> None:
    if not t.is_contiguous():
        raise ValueError(
            f"{name} must be contiguous (got strides {tuple(t.stride())}); call .contiguous() first"
        )


def require_same(names: tuple[str, ...], tensors, *, shape=True, dtype=True, device=True) -> None:
    first_name, first = names[0], tensors[0]
    for name, t in zip(names[1:], tensors[1:]):
        if shape and t.shape != first.shape:
            raise ValueError(f"{name} has shape {tuple(t.shape)} but {first_name} has {tuple(first.shape)}")
        if dtype and t.dtype != first.dtype:
            raise TypeError(f"{name} has dtype {t.dtype} but {first_name} has {first.dtype}")
        if device and t.device != first.device:
            raise ValueError(f"{name} is on {t.device} but {first_name} is on {first.device}")


def require_ndim(name: str, t, ndim: int) -> None:
    if t.dim() != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(t.shape)}")


def require_int(name: str, value, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value
