"""Export a face parser to every runtime, each export checked before it is put in place.

`export_model(model, out_dir, formats)` writes, under `out_dir`:

- `saved_model`: `<name>/<version>/`, the TF Serving layout (`serving_default`
  and `serve_bytes`), plus `models.config`;
- `tflite`: `<name>.tflite` (float32), `<name>_dynamic_range.tflite` and
  `<name>_float16.tflite`;
- `onnx`: `<name>.onnx`.

Each export is written to a hidden temporary path, run in its own runtime on
the validation faces and compared with the Keras model
(`validation.compare_runners`); only an export that passes is renamed into
place, so a failed check leaves nothing behind and replaces nothing.
"""

import dataclasses
from pathlib import Path

from keras_stn_icnn.choices import FORMATS
from keras_stn_icnn.export import litert, onnx, runtimes, validation
from keras_stn_icnn.export.saved_model import export_saved_model
from keras_stn_icnn.files import size_on_disk


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """One written, validated export.

    Attributes:
        kind: str, `"saved_model"`, `"tflite"`, `"tflite_dynamic_range"`,
            `"tflite_float16"` or `"onnx"`.
        path: `Path` of the file or SavedModel folder.
        size_bytes: int, its size on disk.
        parity: the `validation.ParityReport` it passed.
    """

    kind: str
    path: Path
    size_bytes: int
    parity: validation.ParityReport


def _litert_suffix(quantization):
    return "" if quantization == "float32" else f"_{quantization}"


def _litert_kind(quantization):
    return f"tflite{_litert_suffix(quantization)}"


def _checker(kind, expected, canvas_size, reports):
    def check(partial):
        report = validation.compare_runners(expected, runtimes.open_export(partial, canvas_size=canvas_size), kind)
        reports[kind] = report
        if not report.passed:
            raise validation.ExportValidationError(report)

    return check


def export_model(
    model,
    out_dir,
    formats=FORMATS,
    name="stn_icnn",
    version=None,
    overwrite=False,
    images=None,
):
    """Exports `model` in `formats` under `out_dir`, validating each export first.

    Args:
        model: a face parser (`STNiCNN`, `ICNNBaseline`).
        out_dir: str or path-like, the folder to write into.
        formats: iterable of `FORMATS` entries.
        name: str, the model name (SavedModel folder and file stem).
        version: positive int or None, the SavedModel version (None: next).
        overwrite: bool, replace existing LiteRT/ONNX files (a SavedModel
            version is never replaced).
        images: list of uint8 `[B, H, W, 3]` batches to validate on, or None
            for `validation.validation_images()`.

    Returns:
        list of `ExportResult`, in the order written.

    Raises:
        ValueError: an unknown format.
        FileExistsError: a target exists (and may not be replaced).
        validation.ExportValidationError: an export disagrees with the model;
            earlier exports stay, that one and later ones are not written.

    Example:
    >>> for result in export_model(model, "exports", ["tflite"]):  # doctest: +SKIP
    ...     print(result.kind, result.parity.summary())
    """
    formats = list(formats)
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ValueError(f"formats must be a non-empty list of {FORMATS}, got {formats!r}")
    out_dir = Path(out_dir)
    litert_paths = {
        quantization: out_dir / f"{name}{_litert_suffix(quantization)}.tflite" for quantization in litert.QUANTIZATIONS
    }
    onnx_path = out_dir / f"{name}.onnx"
    targets = (list(litert_paths.values()) if "tflite" in formats else []) + ([onnx_path] if "onnx" in formats else [])
    existing = [str(path) for path in targets if path.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} already exist(s); pass --overwrite to replace")
    if "saved_model" in formats and version is not None and (out_dir / name / str(version)).exists():
        raise FileExistsError(f"{out_dir / name / str(version)} already exists; a version is never replaced")
    expected = validation.reference_outputs(runtimes.KerasRunner(model), images)
    canvas = getattr(model, "canvas_size", None)
    reports, results = {}, []

    def record(kind, path):
        results.append(ExportResult(kind, Path(path), size_on_disk(path), reports[kind]))

    if "saved_model" in formats:
        path = export_saved_model(
            model, out_dir, name, version, check=_checker("saved_model", expected, canvas, reports)
        )
        record("saved_model", path)
    if "tflite" in formats:
        with litert.LiteRTConverter(model) as converter:
            for quantization, path in litert_paths.items():
                kind = _litert_kind(quantization)
                path = litert.export_litert(
                    model,
                    path,
                    quantization,
                    overwrite=overwrite,
                    check=_checker(kind, expected, canvas, reports),
                    converter=converter,
                )
                record(kind, path)
    if "onnx" in formats:
        path = onnx.export_onnx(
            model,
            onnx_path,
            overwrite=overwrite,
            check=_checker("onnx", expected, canvas, reports),
        )
        record("onnx", path)
    return results


def format_results(results):
    """A table of exports: kind, size, label agreement, probability error, path.

    Args:
        results: list of `ExportResult`.

    Returns:
        str.

    Example:
    >>> print(format_results(export_model(model, "exports")))  # doctest: +SKIP
    """
    lines = [f"{'export':<22}{'size':>10}  {'labels identical':>16}  {'max |dp|':>9}  path"]
    for result in results:
        lines.append(
            f"{result.kind:<22}{result.size_bytes / 2**20:>8.1f}MB  "
            f"{result.parity.label_agreement:>16.4%}  {result.parity.max_probability_error:>9.2e}  "
            f"{result.path}"
        )
    return "\n".join(lines)
