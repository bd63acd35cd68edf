"""Ask a TF Serving server to parse photos: builds a real `PredictRequest`.

With no `--url` it builds the request and prints what it holds (nothing is
sent). With `--url HOST:PORT` it sends the `PredictRequest` over gRPC
(TF Serving's port 8500); with `--url http://HOST:PORT` it sends the same
photos as TF Serving's REST API expects (port 8501, base64 JSON). Label maps
come back as PNGs in `--out`, with per-class pixel counts printed.

Needs `tensorflow-serving-api`, installed without its dependencies (it would
pull in the full `tensorflow` next to `tensorflow-cpu`):

    pip install --no-deps tensorflow-serving-api==2.21.0

Examples:
    python examples/serving_client.py face.jpg                       # build only
    python examples/serving_client.py face.jpg --url localhost:8500  # gRPC
    python examples/serving_client.py face.jpg --url http://localhost:8501 --signature serve_bytes
"""

import argparse
import base64
import json
import sys
import urllib.request
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES

SIGNATURES = ("serving_default", "serve_bytes")


def build_request(paths, model_name="stn_icnn", signature="serving_default"):
    """A `PredictRequest` for `paths`.

    `serving_default` gets the decoded photos as one uint8 `images` batch
    (they must then share one size); `serve_bytes` gets the files' bytes as
    `encoded` strings (any sizes; decoding happens in the server's graph).

    Args:
        paths: list of image file paths.
        model_name: str, the served model's name.
        signature: one of `SIGNATURES`.

    Returns:
        `predict_pb2.PredictRequest`.
    """
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    if signature == "serve_bytes":
        encoded = np.array([Path(path).read_bytes() for path in paths], dtype=object)
        request.inputs["encoded"].CopyFrom(tf.make_tensor_proto(encoded, dtype=tf.string))
        return request
    images = [np.asarray(Image.open(path).convert("RGB")) for path in paths]
    sizes = {image.shape for image in images}
    if len(sizes) > 1:
        raise ValueError(
            f"serving_default takes one batch of equal-size photos, got sizes {sorted(sizes)}; "
            "use --signature serve_bytes for photos of different sizes"
        )
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(np.stack(images), dtype=tf.uint8))
    return request


def predict_grpc(request, target, timeout=60.0):
    """Sends `request` to TF Serving's gRPC port at `target` (`host:port`); returns numpy outputs."""
    import grpc

    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout=timeout)
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def predict_rest(paths, url, model_name="stn_icnn", signature="serve_bytes", timeout=60.0):
    """Sends the photos to TF Serving's REST API at `url`; returns numpy outputs.

    `serve_bytes` sends each file as `{"b64": ...}`; `serving_default` sends
    the decoded pixels as nested lists.
    """
    if signature == "serve_bytes":
        instances = [{"b64": base64.b64encode(Path(path).read_bytes()).decode("ascii")} for path in paths]
    else:
        instances = [np.asarray(Image.open(path).convert("RGB")).tolist() for path in paths]
    body = json.dumps({"signature_name": signature, "instances": instances}).encode()
    request = urllib.request.Request(
        f"{url.rstrip('/')}/v1/models/{model_name}:predict",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        predictions = json.loads(response.read())["predictions"]
    names = predictions[0].keys()
    return {name: np.array([p[name] for p in predictions]) for name in names}


def describe(request):
    """A few lines saying what the request holds."""
    lines = [
        f"PredictRequest for model {request.model_spec.name!r}, "
        f"signature {request.model_spec.signature_name!r} ({request.ByteSize()} bytes)"
    ]
    for name, proto in request.inputs.items():
        shape = [dim.size for dim in proto.tensor_shape.dim]
        lines.append(f"  input {name!r}: {tf.dtypes.as_dtype(proto.dtype).name} {shape}")
    return "\n".join(lines)


def save_labels(outputs, paths, out_dir):
    """Writes each photo's label map as `<out_dir>/<stem>_labels.png`; returns the paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for index, path in enumerate(paths):
        labels = np.asarray(outputs["labels"][index], np.uint8)
        if "image_size" in outputs:
            height, width = np.asarray(outputs["image_size"][index]).astype(int)
            labels = labels[:height, :width]
        target = out_dir / f"{Path(path).stem}_labels.png"
        Image.fromarray(labels).save(target)
        counts = np.bincount(labels.ravel(), minlength=len(STN_ICNN_CLASS_NAMES))
        summary = ", ".join(
            f"{STN_ICNN_CLASS_NAMES[k]} {counts[k]}" for k in range(1, len(STN_ICNN_CLASS_NAMES)) if counts[k]
        )
        print(f"{path}: {labels.shape[0]}x{labels.shape[1]} -> {target} ({summary or 'no face parts'})")
        written.append(target)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", help="photos (JPEG/PNG)")
    parser.add_argument("--model-name", default="stn_icnn")
    parser.add_argument("--signature", choices=SIGNATURES, default="serving_default")
    parser.add_argument("--url", help="HOST:PORT (gRPC) or http://HOST:PORT (REST); omit to only build")
    parser.add_argument("--out", default="serving_output", help="folder for the label PNGs")
    args = parser.parse_args(argv)
    missing = [path for path in args.images if not Path(path).is_file()]
    if missing:
        parser.error(f"no such image file(s): {', '.join(missing)}")
    try:
        request = build_request(args.images, args.model_name, args.signature)
    except ValueError as error:
        parser.error(str(error))
    print(describe(request))
    if not args.url:
        print("no --url given: request built, not sent")
        return 0
    if args.url.startswith(("http://", "https://")):
        outputs = predict_rest(args.images, args.url, args.model_name, args.signature)
    else:
        outputs = predict_grpc(request, args.url)
    save_labels(outputs, args.images, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
