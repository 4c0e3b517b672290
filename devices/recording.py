"""Recording files: the on-disk format of ``sample_data/`` and of replayed sessions.

A recording is two files side by side:

``<name>.meta.json``
    ``{"format": "adherence-recording/1", "subject", "device", "kind", "placement",
    "fs_hz", "synthetic", "source", "licence", "truth": {...}, ...}``. ``kind`` is ``"walk"``
    (accelerometer), ``"exercise"`` (accelerometer + gyroscope) or ``"pedometer"`` (running step
    totals). ``truth`` holds the independent labels (foot-switch step times, protocol repetition
    counts) where they exist.
``<name>.csv.gz``
    gzip CSV with a header row and one row per sample: ``t_ns`` (UTC ns, non-decreasing) then
    ``ax_g, ay_g, az_g`` (g) and for exercise recordings ``gx_dps, gy_dps, gz_dps`` (deg/s), or
    ``step_total`` (steps) for pedometers.

:func:`read_recording` parses and validates both and :meth:`Recording.frames` cuts the samples
into :class:`~devices.frame.Frame` blocks, as a device would send them.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from devices.errors import AdherenceError, DataFileError
from devices.frame import Frame, StreamKind, make_frame

FORMAT = "adherence-recording/1"
KINDS = {
    "walk": ("t_ns", "ax_g", "ay_g", "az_g"),
    "exercise": ("t_ns", "ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps"),
    "pedometer": ("t_ns", "step_total"),
}


@dataclass(frozen=True)
class Recording:
    """A parsed recording: metadata and sample arrays (times in UTC ns)."""

    name: str
    meta: dict[str, Any]
    t_ns: npt.NDArray[np.int64]
    data: npt.NDArray[np.float64]

    @property
    def subject(self) -> str:
        return str(self.meta["subject"])

    @property
    def device(self) -> str:
        return str(self.meta["device"])

    @property
    def kind(self) -> str:
        return str(self.meta["kind"])

    @property
    def fs_hz(self) -> float | None:
        """Nominal sample rate in Hz (``None`` for irregular streams such as pedometers)."""
        fs = self.meta.get("fs_hz")
        return None if fs is None else float(fs)

    @property
    def accel_g(self) -> npt.NDArray[np.float64]:
        """(N, 3) acceleration in g."""
        if self.kind == "pedometer":
            raise DataFileError(self.name, "a pedometer recording has no acceleration")
        return self.data[:, 0:3]

    @property
    def gyro_dps(self) -> npt.NDArray[np.float64] | None:
        """(N, 3) angular rate in deg/s, or ``None``."""
        return self.data[:, 3:6] if self.kind == "exercise" else None

    def is_uniform(self, tolerance: float = 0.01) -> bool:
        """True when every sample interval is within ``tolerance`` (fraction) of ``1/fs_hz``."""
        if self.fs_hz is None or self.t_ns.size < 2:
            return self.fs_hz is not None
        period_ns = 1e9 / self.fs_hz
        return bool(np.all(np.abs(np.diff(self.t_ns) - period_ns) <= tolerance * period_ns))

    def regularised(self) -> Recording:
        """The recording on a uniform grid at its nominal ``fs_hz`` (linear interpolation).

        Devices that send blocks of samples with one start time and a rate (BLE IMUs, our MQTT
        binary frames) assume uniform sampling; a phone's irregular timestamps must be put on
        a grid first, or block boundaries would overlap. Uniform recordings come back as they
        are; pedometer recordings (no rate) too.
        """
        if self.fs_hz is None or self.is_uniform():
            return self
        n = int(np.floor((self.t_ns[-1] - self.t_ns[0]) * self.fs_hz / 1e9)) + 1
        grid = self.t_ns[0] + np.round(np.arange(n) * (1e9 / self.fs_hz)).astype(np.int64)
        rel = (self.t_ns - self.t_ns[0]).astype(np.float64)
        grel = (grid - self.t_ns[0]).astype(np.float64)
        data = np.column_stack([np.interp(grel, rel, col) for col in self.data.T])
        return Recording(self.name, {**self.meta, "regularised": True}, grid, data)

    def frames(self, samples_per_frame: int = 50, *, seq0: int = 0) -> Iterator[Frame]:
        """Cut the recording into frames of ``samples_per_frame`` samples, numbered from ``seq0``.

        Exercise recordings give an accelerometer and a gyroscope frame per block (each stream
        has its own sequence numbers).
        """
        if samples_per_frame < 1:
            raise ValueError("samples_per_frame must be >= 1")
        meta = {"recording": self.meta.get("recording_id", self.name)}
        if self.meta.get("synthetic"):
            meta["synthetic"] = True
        streams: list[tuple[StreamKind, slice]]
        if self.kind == "pedometer":
            streams = [(StreamKind.STEP_TOTAL, slice(0, 1))]
        elif self.kind == "walk":
            streams = [(StreamKind.ACCEL, slice(0, 3))]
        else:
            streams = [(StreamKind.ACCEL, slice(0, 3)), (StreamKind.GYRO, slice(3, 6))]
        n = self.t_ns.size
        for i, start in enumerate(range(0, n, samples_per_frame)):
            stop = min(n, start + samples_per_frame)
            for kind, cols in streams:
                yield make_frame(
                    self.subject,
                    self.device,
                    kind,
                    self.t_ns[start:stop],
                    self.data[start:stop, cols],
                    fs_hz=self.fs_hz,
                    seq=seq0 + i,
                    meta=meta,
                )


def _fail(path: Path, why: str) -> DataFileError:
    return DataFileError(str(path), why)


def read_meta(meta_path: str | Path) -> dict[str, Any]:
    """Read and validate a recording's ``.meta.json``; raise DataFileError naming the problem."""
    path = Path(meta_path)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"cannot read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise _fail(path, f"not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(meta, dict):
        raise _fail(path, "top level must be a JSON object")
    if meta.get("format") != FORMAT:
        raise _fail(path, f"'format' must be {FORMAT!r}, got {meta.get('format')!r}")
    for key in ("subject", "device", "kind"):
        if not isinstance(meta.get(key), str):
            raise _fail(path, f"'{key}' must be a string")
    if meta["kind"] not in KINDS:
        raise _fail(path, f"'kind' must be one of {sorted(KINDS)}, got {meta['kind']!r}")
    return meta


def read_recording(meta_path: str | Path) -> Recording:
    """Read a recording (its ``.meta.json`` and the ``.csv.gz`` beside it).

    Raises
    ------
    DataFileError
        Missing file, bad JSON, wrong header, unparsable or non-finite numbers, times going
        backwards, or values that do not form valid frames; the message names the file.
    """
    mpath = Path(meta_path)
    meta = read_meta(mpath)
    name = mpath.name.removesuffix(".meta.json")
    cpath = mpath.with_name(name + ".csv.gz")
    raw = _read_samples(cpath, KINDS[meta["kind"]])
    # Times are written as integers; float64 would round ns, so re-read the first column exactly.
    t_ns = _read_int_column(cpath)
    if t_ns.size != raw.shape[0]:
        raise _fail(cpath, "inconsistent row count")
    if np.any(np.diff(t_ns) < 0):
        raise _fail(cpath, f"t_ns goes backwards at line {int(np.argmax(np.diff(t_ns) < 0)) + 3}")
    rec = Recording(name=name, meta=meta, t_ns=t_ns, data=raw[:, 1:])
    try:  # validate once through the frame constructor (ids, ranges)
        next(rec.frames(samples_per_frame=min(rec.t_ns.size, 1000)))
    except AdherenceError as exc:
        raise _fail(cpath, f"invalid samples: {exc}") from exc
    return rec


def _read_samples(cpath: Path, columns: tuple[str, ...]) -> npt.NDArray[np.float64]:
    """The rows of a recording's ``.csv.gz`` (header checked) as finite float64 (N, columns)."""
    try:
        with gzip.open(cpath, "rt", encoding="ascii") as fh:
            header = fh.readline().strip()
            if tuple(header.split(",")) != columns:
                raise _fail(cpath, f"header must be {','.join(columns)!r}, got {header[:80]!r}")
            raw = np.loadtxt(fh, delimiter=",", dtype=np.float64, ndmin=2)
    except FileNotFoundError:
        raise _fail(cpath, "file not found") from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise _fail(cpath, f"corrupt gzip data: {exc}") from exc
    except ValueError as exc:
        raise _fail(cpath, f"unparsable row: {exc}") from exc
    if raw.shape[0] == 0:
        raise _fail(cpath, "no samples")
    if raw.shape[1] != len(columns):
        raise _fail(cpath, f"expected {len(columns)} columns, got {raw.shape[1]}")
    if not np.all(np.isfinite(raw)):
        raise _fail(cpath, "contains NaN or infinite values")
    return raw


def _read_int_column(path: Path) -> npt.NDArray[np.int64]:
    with gzip.open(path, "rt", encoding="ascii") as fh:
        fh.readline()
        return np.array([int(line.split(",", 1)[0]) for line in fh if line.strip()], dtype=np.int64)


def write_recording(
    directory: str | Path,
    name: str,
    meta: dict[str, Any],
    t_ns: npt.ArrayLike,
    data: npt.ArrayLike,
    *,
    decimals: int = 5,
) -> Path:
    """Write a recording (``name.meta.json`` + ``name.csv.gz``); return the meta path.

    ``data`` columns follow :data:`KINDS` for ``meta["kind"]`` (without ``t_ns``); values are
    rounded to ``decimals``. The gzip header carries no file name or time, so output is
    byte-for-byte reproducible.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, **meta}
    columns = KINDS[meta["kind"]]
    t = np.asarray(t_ns, dtype=np.int64)
    x = np.asarray(data, dtype=np.float64).reshape(t.size, -1)
    if x.shape[1] != len(columns) - 1:
        raise ValueError(f"{meta['kind']} needs {len(columns) - 1} data columns, got {x.shape[1]}")
    lines = [",".join(columns)]
    fmt = ",".join([f"%.{decimals}f"] * x.shape[1])
    for ti, row in zip(t.tolist(), x, strict=True):
        lines.append(f"{ti}," + fmt % tuple(row))
    body = ("\n".join(lines) + "\n").encode("ascii")
    with (
        open(d / f"{name}.csv.gz", "wb") as raw_fh,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw_fh, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(body)
    mpath = d / f"{name}.meta.json"
    mpath.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return mpath


def list_recordings(directory: str | Path) -> list[Path]:
    """Meta files of all recordings in ``directory``, sorted by name."""
    return sorted(Path(directory).glob("*.meta.json"))
