"""The GPUs of a multi-GPU run (`gpubench run --gpus all|0,2,...`), found through NVML so that the
orchestrator never initialises CUDA itself.

Each worker is started with CUDA_VISIBLE_DEVICES set to its GPU's UUID before its CUDA initialises, so
the worker sees exactly that GPU as device 0, whichever order CUDA would otherwise number them in.
NVML sees every GPU of the machine; the ones this process may use are those CUDA_VISIBLE_DEVICES lets
through (as Slurm sets it for a job), and `--gpus 0,2` counts among those, in NVML's (PCI bus) order.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpubench.results import Device

__all__ = ["Gpu", "GpuSelectionError", "nvml_gpus", "parse_spec", "select", "visible"]


class GpuSelectionError(ValueError):
    """A --gpus value that is malformed, or names GPUs this machine does not have."""


@dataclass(frozen=True)
class Gpu:
    index: int  # NVML's index: the machine's GPUs in PCI bus order
    uuid: str  # "GPU-...": what the worker's CUDA_VISIBLE_DEVICES names
    name: str
    pci_bus_id: str | None = None

    @property
    def label(self) -> str:
        """How progress lines and worker folders name this GPU."""
        return f"gpu{self.index}"

    @property
    def save_name(self) -> str:
        """Its pytest-benchmark files' name: unique per physical GPU, so the workers of several GPUs,
        nodes or jobs saving into one shared storage folder at once never collide."""
        return f"{self.label}-{self.uuid.removeprefix('GPU-')[:8]}"

    def device(self) -> Device:
        """What is known of the GPU before its worker reports the rest."""
        return Device(name=self.name, index=self.index, uuid=self.uuid)

    def env(self) -> dict[str, str]:
        return {"CUDA_VISIBLE_DEVICES": self.uuid}

    def describe(self) -> str:
        return f"{self.label} ({self.name}, {self.uuid})"


def parse_spec(text: str) -> str | list[str]:
    """ "all", or the comma-separated entries (indices or GPU UUIDs), each once; GpuSelectionError else."""
    text = (text or "").strip()
    if text == "all":
        return "all"
    entries = [e.strip() for e in text.split(",")]
    if not text or any(not e for e in entries):
        raise GpuSelectionError(f"--gpus {text!r}: expected 'all' or a comma-separated list such as 0,2")
    for e in entries:
        if not (e.isdigit() or e.startswith("GPU-")):
            raise GpuSelectionError(f"--gpus: {e!r} is neither a GPU index nor a GPU UUID (GPU-...)")
    dupes = sorted({e for e in entries if entries.count(e) > 1})
    if dupes:
        raise GpuSelectionError(f"--gpus names {', '.join(dupes)} more than once")
    return entries


def _text(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def nvml_gpus() -> list[Gpu]:
    """Every GPU NVML sees, in its index order; GpuSelectionError when NVML cannot be used."""
    from gpubench.bench.measure.telemetry import nvml

    try:
        nv = nvml()
        count = nv.nvmlDeviceGetCount()
        out = []
        for i in range(count):
            h = nv.nvmlDeviceGetHandleByIndex(i)
            pci = nv.nvmlDeviceGetPciInfo(h)
            bus = _text(getattr(pci, "busIdLegacy", None) or pci.busId)
            out.append(Gpu(i, _text(nv.nvmlDeviceGetUUID(h)), _text(nv.nvmlDeviceGetName(h)), bus))
        return out
    except Exception as exc:  # no driver, no library, a container without the device nodes
        raise GpuSelectionError(f"--gpus: no GPU found (NVML unavailable: {exc})") from None


def visible(gpus: list[Gpu], cuda_visible_devices: str | None) -> list[Gpu]:
    """The GPUs CUDA_VISIBLE_DEVICES lets this process use, in its order (all of them when unset).
    As CUDA does, the list ends at the first entry that matches no GPU; integers are NVML indices."""
    if cuda_visible_devices is None:
        return list(gpus)
    out: list[Gpu] = []
    for entry in (e.strip() for e in cuda_visible_devices.split(",")):
        match = [
            g
            for g in gpus
            if (entry.isdigit() and g.index == int(entry))
            or (entry.startswith("GPU-") and g.uuid.startswith(entry))
        ]
        if len(match) != 1 or match[0] in out:
            break
        out.append(match[0])
    return out


def select(spec: str, gpus: list[Gpu]) -> list[Gpu]:
    """The GPUs `spec` (--gpus) names among the visible `gpus`; GpuSelectionError names the known ones."""
    wanted = parse_spec(spec)
    if not gpus:
        raise GpuSelectionError("--gpus: no GPU is visible to this process (CUDA_VISIBLE_DEVICES?)")
    if wanted == "all":
        return list(gpus)
    known = "; ".join(f"{i}: {g.describe()}" for i, g in enumerate(gpus))
    out = []
    for e in wanted:
        if e.isdigit():
            if int(e) >= len(gpus):
                raise GpuSelectionError(f"--gpus: no GPU {e} among the {len(gpus)} visible ({known})")
            out.append(gpus[int(e)])
        else:
            match = [g for g in gpus if g.uuid.startswith(e)]
            if len(match) != 1:
                what = "no" if not match else "more than one"
                raise GpuSelectionError(f"--gpus: {what} visible GPU has the UUID {e} ({known})")
            out.append(match[0])
    if len(set(out)) != len(out):
        raise GpuSelectionError("--gpus names the same GPU twice (by index and by UUID)")
    return out
