"""examples/serving_client.py against stand-ins for TF Serving's gRPC and REST front ends.

No TF Serving binary can be installed here, so each stand-in implements the
one call the client makes (gRPC `PredictionService.Predict`, REST
`POST /v1/models/<name>:predict`) by running the exported SavedModel's
signatures: the client's request is decoded exactly as the server would
receive it, and its answer is what the export computes.
"""

import base64
import importlib.util
import json
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_stn_icnn.export import SavedModelRunner

grpc = pytest.importorskip("grpc")
serving_apis = pytest.importorskip("tensorflow_serving.apis.predict_pb2")
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "serving_client.py"


def _load_client():
    spec = importlib.util.spec_from_file_location("serving_client", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def client():
    return _load_client()


@pytest.fixture(scope="module")
def saved_model(cli_exports):
    out, status, printed = cli_exports  # the session's export of the reference checkpoint
    assert status == 0, printed
    return out / "stn_icnn" / "1"


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    paths = []
    for index, (height, width) in enumerate(((120, 100), (90, 110))):
        path = folder / f"face{index}.png"
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, path):
        self.signatures = tf.saved_model.load(str(path)).signatures
        self.requests = []

    def Predict(self, request, context):
        self.requests.append(request)
        signature = self.signatures[request.model_spec.signature_name or "serving_default"]
        inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        for name, value in signature(**inputs).items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
        return response


@pytest.fixture
def grpc_server(saved_model):
    service = _PredictionService(saved_model)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", service
    server.stop(0)


@pytest.fixture
def rest_server(saved_model):
    signatures = tf.saved_model.load(str(saved_model)).signatures
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, body))
            signature = signatures[body.get("signature_name", "serving_default")]
            instances = body["instances"]
            if isinstance(instances[0], dict):
                inputs = {"encoded": tf.constant([base64.b64decode(i["b64"]) for i in instances])}
            else:
                inputs = {"images": tf.constant(np.array(instances, np.uint8))}
            outputs = {name: value.numpy() for name, value in signature(**inputs).items()}
            predictions = [
                {name: value[index].tolist() for name, value in outputs.items()} for index in range(len(instances))
            ]
            payload = json.dumps({"predictions": predictions}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()


def _expected_labels(saved_model, path):
    image = np.asarray(Image.open(path).convert("RGB"))
    return SavedModelRunner(saved_model)(image[np.newaxis])["labels"][0]


def test_without_a_url_the_request_is_built_and_described(client, photos, capsys):
    assert client.main([photos[0], "--signature", "serving_default"]) == 0
    printed = capsys.readouterr().out
    assert "signature 'serving_default'" in printed and "input 'images': uint8 [1, 120, 100, 3]" in printed
    assert "not sent" in printed
    request = client.build_request(photos, signature="serve_bytes")
    assert request.model_spec.name == "stn_icnn"
    assert list(tf.make_ndarray(request.inputs["encoded"])) == [Path(p).read_bytes() for p in photos]


def test_serving_default_needs_equal_sizes(client, photos):
    with pytest.raises(ValueError, match="use --signature serve_bytes"):
        client.build_request(photos, signature="serving_default")


def test_grpc_predict_request_is_served(client, grpc_server, saved_model, photos, tmp_path):
    target, service = grpc_server
    out = tmp_path / "labels"
    assert client.main([*photos, "--signature", "serve_bytes", "--url", target, "--out", str(out)]) == 0
    [request] = service.requests
    assert request.model_spec.signature_name == "serve_bytes"
    for path in photos:
        labels = np.asarray(Image.open(out / f"{Path(path).stem}_labels.png"))
        np.testing.assert_array_equal(labels, _expected_labels(saved_model, path))
    # serving_default, one photo, over gRPC too.
    assert client.main([photos[1], "--url", target, "--out", str(out)]) == 0
    np.testing.assert_array_equal(
        np.asarray(Image.open(out / "face1_labels.png")), _expected_labels(saved_model, photos[1])
    )


def test_rest_predict_is_served(client, rest_server, saved_model, photos, tmp_path):
    url, seen = rest_server
    out = tmp_path / "labels"
    assert client.main([*photos, "--signature", "serve_bytes", "--url", url, "--out", str(out)]) == 0
    [(path, body)] = seen
    assert path == "/v1/models/stn_icnn:predict" and body["signature_name"] == "serve_bytes"
    for photo in photos:
        labels = np.asarray(Image.open(out / f"{Path(photo).stem}_labels.png"))
        np.testing.assert_array_equal(labels, _expected_labels(saved_model, photo))
