"""Pictures of a submission for its feedback page, drawn in the trusted lane from probe results.

An assignment may hold `hidden/figures.py` (trusted instructor code, run in the lane, never in a
worker) that defines FIGURES, a list of declarative entries:

    {"title": "Attention weights, head 1 (query × key)",  # shown above the picture
     "probe": "mha",                                      # a probe of hidden/probes.py
     "args": {"seed": 0, "d_model": 16, "num_heads": 2, "B": 1, "T_q": 6, "T_k": 6},
     "key": "weights",                                    # the probe result's entry to draw
     "index": [0, 0],                                     # optional: an int picks, null keeps the axis (= `:`)
     "kind": "heatmap",                                   # what to draw (heatmap: a 2-D tensor)
     "xlabel": "key position", "ylabel": "query position",  # optional
     "caption": "...",                                    # optional text under the picture
     "what": "MultiHeadAttention.attention_weights",      # optional: how a note names the value
     "cmap": "viridis", "vmin": 0.0, "vmax": 1.0,         # optional colour map and fixed scale,
     "symmetric": False}                                  # or a scale centred on 0 (for cmap="RdBu_r")

The arguments are a fixed, small input that students may see (the picture shows the result
on it); they must be JSON data, so the reference's result is cached like any other probe.

For each entry `render` runs the probe on the submission and on the reference and draws the two
side by side ("yours", "reference") with one colour scale. The student's value is data from an
untrusted worker: it is drawn only if it is exactly a torch.Tensor of the reference's shape;
otherwise, or if their code raised, the note says why and only the reference is drawn.
"""
from __future__ import annotations

import base64
import io
import json
import math
import runpy
from pathlib import Path

import matplotlib
import numpy as np
import PIL.Image
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox

from autograder.config import CourseError
from autograder.judge import verdict
from autograder.judge.expect import Feedback, expect_shape
from autograder.judge.verdict import ProbeFailure

FILE = "figures.py"
KINDS = ("heatmap",)
_REQUIRED = {"title": str, "probe": str, "key": str, "kind": str}
_OPTIONAL = {"args": dict, "index": list, "xlabel": str, "ylabel": str, "caption": str, "what": str,
             "cmap": str, "vmin": (int, float), "vmax": (int, float), "symmetric": bool}
_NOTE_CHARS = 600
_SCALES_KEPT = 16  # colour bars kept per picture, one per scale


class FigureError(CourseError):
    """hidden/figures.py is wrong, or the reference cannot produce a picture: the instructor's problem
    (raised while the reference is graded, before any student is, so grading stops with this message)."""


# -- the assignment's entries ------------------------------------------------------------------

def load_entries(hidden: Path) -> list[dict]:
    """FIGURES of `hidden/figures.py`, checked; [] when the assignment has none."""
    path = Path(hidden) / FILE
    if not path.is_file():
        return []
    try:
        namespace = runpy.run_path(str(path), run_name="autograder_figures")
    except Exception as exc:
        raise FigureError(f"{path}: could not be run: {type(exc).__name__}: {exc}") from exc
    entries = namespace.get("FIGURES")
    if not isinstance(entries, list):
        raise FigureError(f"{path}: must define FIGURES, a list of entries (got {type(entries).__name__})")
    return [_check_entry(e, f"{path}: FIGURES[{i}]") for i, e in enumerate(entries)]


def _check_entry(entry, where: str) -> dict:
    if not isinstance(entry, dict):
        raise FigureError(f"{where}: must be a dict, got {type(entry).__name__}")
    unknown = set(entry) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise FigureError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted({*_REQUIRED, *_OPTIONAL})})")
    for key, kind in _REQUIRED.items():
        if not isinstance(entry.get(key), kind):
            raise FigureError(f"{where}: needs {key!r}, a {kind.__name__}")
    for key, kind in _OPTIONAL.items():
        if key in entry and (not isinstance(entry[key], kind) or (kind is not bool and isinstance(entry[key], bool))):
            raise FigureError(f"{where}: {key!r} has the wrong type ({type(entry[key]).__name__})")
    if entry["kind"] not in KINDS:
        raise FigureError(f"{where}: kind {entry['kind']!r} is not one of {', '.join(KINDS)}")
    if "cmap" in entry and entry["cmap"] not in matplotlib.colormaps:
        raise FigureError(f"{where}: cmap {entry['cmap']!r} is not a matplotlib colour map")
    for key in ("vmin", "vmax"):
        if key in entry and not math.isfinite(entry[key]):
            raise FigureError(f"{where}: {key} must be a finite number")
    entry = {"args": {}, "index": [], **entry}
    try:
        json.dumps(entry["args"], allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise FigureError(f"{where}: args must be plain JSON data (numbers, strings, lists): {exc}") from None
    if not all(i is None or (type(i) is int) for i in entry["index"]):
        raise FigureError(f"{where}: index holds ints (pick one position) and None/null (keep the axis), "
                          f"got {entry['index']!r}")
    return entry


def index_of(entry: dict) -> tuple:
    """The JSON index as a Python one: [0, None] is [0, :]."""
    return tuple(slice(None) if i is None else i for i in entry["index"])


# -- rendering ---------------------------------------------------------------------------------

def render(entries: list[dict], submission, reference) -> list[dict]:
    """One picture per entry: {"title", "png_b64", "note", "caption", "alt"}; `note` is "" when all went well.

    A problem on the reference's side raises FigureError (the grader is wrong); nothing the
    submission does can make this raise.
    """
    out = []
    gave_up = ""
    asked: dict = {}  # one probe call per (probe, args), however many pictures it feeds
    for entry in entries:
        want, full_shape = reference_value(entry, reference)
        got, note = None, gave_up
        if not gave_up:
            try:
                got, note = student_value(entry, _Memo(submission, asked), full_shape)
            except ProbeFailure as exc:
                note = _failure_note(exc)
                if exc.status in verdict.GIVE_UP:  # more would cost timeouts or fresh workers
                    gave_up = "No picture of yours: your code did not answer for an earlier picture."
            except Exception as exc:  # noqa: BLE001 - a grader bug must not cost the student their grade
                note = f"No picture of yours: it could not be read ({type(exc).__name__})."
        try:
            png = draw(entry, got, want)
        except Exception:  # noqa: BLE001 - odd values of the student's: draw the reference alone
            got, note = None, note or "No picture of yours: its values could not be drawn."
            png = draw(entry, None, want)
        out.append({"title": entry["title"], "png_b64": base64.b64encode(png).decode("ascii"),
                    "note": note[:_NOTE_CHARS], "caption": entry.get("caption", ""),
                    "alt": f"{entry['title']}: " + ("yours (left) and the reference's (right), one colour scale"
                                                   if got is not None else "the reference's only")})
    return out


class _Memo:
    """The submission's handle, remembering each answer (or failure) of this render call."""

    def __init__(self, code, asked: dict):
        self.code, self.asked = code, asked

    def probe(self, name: str, **args):
        key = json.dumps([name, args], sort_keys=True)
        if key not in self.asked:
            try:
                self.asked[key] = (True, self.code.probe(name, **args))
            except ProbeFailure as exc:
                self.asked[key] = (False, exc)
        ok, value = self.asked[key]
        if not ok:
            raise value
        return value


def reference_value(entry: dict, reference) -> tuple[np.ndarray, tuple]:
    """(the reference's picked values, the shape of its whole tensor)."""
    where = f"figure {entry['title']!r}"
    try:
        result = reference.probe(entry["probe"], **entry["args"])
    except ProbeFailure as exc:
        raise FigureError(f"{where}: the reference failed probe {entry['probe']!r}: {exc}") from None
    value = result.get(entry["key"]) if isinstance(result, dict) else None
    if type(value) is not torch.Tensor:
        raise FigureError(f"{where}: the reference's probe {entry['probe']!r} gives no tensor under "
                          f"{entry['key']!r} (got {type(value).__name__})")
    try:
        picked = value[index_of(entry)]
    except (IndexError, TypeError) as exc:
        raise FigureError(f"{where}: index {entry['index']!r} does not fit the reference's shape "
                          f"{tuple(value.shape)}: {exc}") from None
    if picked.dim() != 2 or picked.is_complex():
        raise FigureError(f"{where}: a heatmap needs a real 2-D tensor; the index leaves shape {tuple(picked.shape)}")
    return _as_array(picked), tuple(value.shape)


def student_value(entry: dict, submission, full_shape: tuple) -> tuple[np.ndarray | None, str]:
    """(the student's picked values, or None, and the note to show); raises ProbeFailure."""
    what = entry.get("what") or entry["title"]
    result = submission.probe(entry["probe"], **entry["args"])
    value = result.get(entry["key"]) if isinstance(result, dict) else None
    try:
        # Exactly a Tensor of the reference's full shape: then the trusted index is safe to apply.
        value = expect_shape(value, full_shape, what)
    except Feedback as exc:
        return None, f"No picture of yours: {exc}"
    if value.is_complex():
        return None, f"No picture of yours: {what}: expected real numbers, got {value.dtype}"
    got = _as_array(value[index_of(entry)])
    bad = int((~np.isfinite(got)).sum())
    if bad:
        return got, f"{bad} of your {got.size} values are NaN or infinite; they are left blank."
    return got, ""


def _as_array(picked: torch.Tensor) -> np.ndarray:
    return picked.detach().to(torch.float64).contiguous().numpy().copy()


def _failure_note(exc: ProbeFailure) -> str:
    text = str(exc).strip() or type(exc).__name__
    return "No picture of yours: " + text[0].lower() + text[1:]


def draw(entry: dict, got: np.ndarray | None, want: np.ndarray) -> bytes:
    """Two heatmaps side by side, one colour scale, as PNG bytes; a blank "yours" when got is None."""
    values = [want] + ([got] if got is not None else [])
    finite = np.concatenate([v[np.isfinite(v)] for v in values])
    lo = float(entry.get("vmin", finite.min() if finite.size else 0.0))
    hi = float(entry.get("vmax", finite.max() if finite.size else 1.0))
    if entry.get("symmetric"):
        lo, hi = -max(abs(lo), abs(hi)), max(abs(lo), abs(hi))
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        lo, hi = (lo - 0.5, lo + 0.5) if math.isfinite(lo) else (0.0, 1.0)
    lo, hi = _round_out(lo, hi, "vmin" not in entry, "vmax" not in entry)
    key = (json.dumps(entry, sort_keys=True, default=str), want.shape)
    plot = _PLOTS.get(key)
    if plot is None:
        plot = _PLOTS[key] = _Plot(entry, want.shape)
    return plot.png(got, want, lo, hi)


def _round_out(lo: float, hi: float, free_lo: bool, free_hi: bool) -> tuple[float, float]:
    """A scale computed from the values, widened to two significant digits of its span: easier to
    read, and the same for every submission close to the reference, whose colour bar is then
    drawn once (see _Plot.png). Limits the entry fixes stay as they are."""
    step = 10.0 ** (math.floor(math.log10(hi - lo)) - 1)
    if free_lo:
        lo = round(math.floor(lo / step) * step, 12)
    if free_hi:
        hi = round(math.ceil(hi / step) * step, 12)
    return lo, hi


_PLOTS: dict = {}  # one figure per entry, kept for the lane's life: only the pixels change per student


class _Plot:
    """A figure drawn once (axes, titles, labels, ticks); each picture only paints its data on top.

    Laying out and drawing text is most of what a matplotlib figure costs; painted over a saved
    background (matplotlib's blitting), a picture costs a few milliseconds."""

    def __init__(self, entry: dict, shape: tuple):
        rows, cols = shape
        self.figure = Figure(figsize=(6.4 if cols <= 2 * rows else 7.6, 2.9), dpi=80)
        self.canvas = FigureCanvasAgg(self.figure)
        self.axes = self.figure.subplots(1, 2)
        self.figure.subplots_adjust(left=0.09, right=0.86, bottom=0.17, top=0.88, wspace=0.3)
        cmap = entry.get("cmap", "viridis")
        self.images = []
        for ax, label in zip(self.axes, ("yours", "reference")):
            ax.set_title(label, fontsize=10)
            self.images.append(ax.imshow(np.zeros(shape), cmap=cmap, aspect="auto", interpolation="nearest",
                                         animated=True))
            ax.set_xlabel(entry.get("xlabel", ""), fontsize=8)
            ax.set_ylabel(entry.get("ylabel", ""), fontsize=8)
            ax.tick_params(labelsize=7)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))  # positions: whole numbers
            ax.yaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
        self.missing = self.axes[0].text(0.5, 0.5, "no picture:\nsee the note", ha="center", va="center",
                                         fontsize=9, color="#666666", transform=self.axes[0].transAxes,
                                         animated=True)
        # The colour bar: a gradient in its own axes, whose tick labels change with the scale.
        self.cax = self.figure.add_axes((0.88, 0.17, 0.02, 0.71))
        self.bar = self.cax.imshow(np.linspace(0, 1, 256)[:, None], cmap=cmap, aspect="auto", origin="lower",
                                   extent=(0, 1, 0, 1), vmin=0, vmax=1, interpolation="bilinear", animated=True)
        self.cax.xaxis.set_visible(False)
        self.cax.yaxis.tick_right()
        self.cax.tick_params(labelsize=7)
        self.cax.yaxis.set_animated(True)
        self.canvas.draw()
        # The colour bar and its tick labels: everything right of the two heatmaps' axes.
        width, height = self.figure.bbox.width, self.figure.bbox.height
        self.bar_region = Bbox.from_extents(0.87 * width, 0, width, height)
        self.bars: dict = {}
        self.background = {True: self.canvas.copy_from_bbox(self.figure.bbox)}

    def _background(self, with_yours: bool):
        """The figure without data; without the left axes' ticks when there is no picture of
        theirs (drawn the first time a student needs it: most never do)."""
        if with_yours not in self.background:
            self.axes[0].xaxis.set_visible(False)
            self.axes[0].yaxis.set_visible(False)
            self.canvas.draw()
            self.background[False] = self.canvas.copy_from_bbox(self.figure.bbox)
        return self.background[with_yours]

    def png(self, got: np.ndarray | None, want: np.ndarray, lo: float, hi: float) -> bytes:
        self.canvas.restore_region(self._background(got is not None))
        for ax, image, data in zip(self.axes, self.images, (got, want)):
            if data is None:
                ax.draw_artist(self.missing)
                continue
            image.set_data(np.ma.masked_invalid(data))
            image.set_clim(lo, hi)
            ax.draw_artist(image)
            for spine in ax.spines.values():
                ax.draw_artist(spine)
        bar = self.bars.get((lo, hi))
        if bar is None:  # laying out the tick labels is most of a picture's cost: once per scale
            self.bar.set_extent((0, 1, lo, hi))
            self.cax.set_ylim(lo, hi)
            self.cax.draw_artist(self.bar)
            self.cax.draw_artist(self.cax.yaxis)
            for spine in self.cax.spines.values():
                self.cax.draw_artist(spine)
            if len(self.bars) >= _SCALES_KEPT:
                self.bars.pop(next(iter(self.bars)))
            bar = self.bars[(lo, hi)] = self.canvas.copy_from_bbox(self.bar_region)
        else:
            self.canvas.restore_region(bar)
        rgba = np.asarray(self.canvas.buffer_rgba())
        buf = io.BytesIO()
        # Level 1: a few percent bigger than the default 6, several times faster to encode.
        PIL.Image.fromarray(rgba[..., :3]).save(buf, format="png", compress_level=1)
        return buf.getvalue()
