"""Every single-pass zoo model learns: on four synthetic faces it leaves the all-background answer.

These are the tests that tell a contributor they broke learning (an
initialisation, a loss, the class priors, a default rate). Each model, built
from its zoo entry at a 64-pixel working size, is compiled and fitted the
way the README shows (`compile()`, `fit(images, labels)`: its default rate,
its class priors from the labels) on the same four faces, and must label
them with a training F1 far above the all-background answer's 0 within a
bounded number of full-batch steps (its fit ends at the first step past that
floor: the rest would only spend the suite's time). The step counts and floors come from
`docs/zoo_learning.md`'s overfit runs: each model passes its floor there
with room to spare.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_stn_icnn.data.helen import HelenReader
from keras_stn_icnn.data.synthetic import generate_synthetic_helen
from keras_stn_icnn.labels import STN_ICNN_CLASS_NAMES
from keras_stn_icnn.models.zoo import ZOO, build_zoo_model, zoo_names

WORKING_SIZE = 64
FACES = 4
STEPS = 250
F1_FLOOR = 0.5
"""Training F1 each model must pass within `STEPS` full-batch steps (answering background everywhere scores 0)."""


class StopAboveFloor(keras.callbacks.Callback):
    """Ends `fit` at the first step whose training F1 passes `F1_FLOOR`: the check is met, the rest is time."""

    def on_epoch_end(self, epoch, logs=None):
        if logs["overall_f1"] > F1_FLOOR:
            self.model.stop_training = True


PAPER_SIZED = {"bass": "bass_cpu", "red_net": "red_net_cpu", "red_net_face_box": "red_net_cpu_face_box"}
"""The papers' BASS and RED-Net (71.5M and 44.6M parameters; 5.7 and 7.2 s a training step at 256 px, batch 8, on
this 2-core CPU, docs/zoo_learning.md) would add minutes to the suite; their CPU variants, the same classes and
code at a smaller width, stand in for them here."""


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    root = generate_synthetic_helen(
        tmp_path_factory.mktemp("faces"), num_train=FACES, num_val=0, num_test=1, seed=0, progress=False
    )

    def arrays(schema):
        images, labels = [], []
        for example in HelenReader(root, schema=schema).dataset("train"):
            image = tf.image.resize(tf.cast(example["image"], tf.float32), (WORKING_SIZE, WORKING_SIZE), antialias=True)
            label = tf.image.resize(example["label"][..., None], (WORKING_SIZE, WORKING_SIZE), method="nearest")
            images.append(image.numpy())
            labels.append(label[..., 0].numpy())
        return np.stack(images), np.stack(labels)

    return {schema: arrays(schema) for schema in ("stn_icnn", "helen")}


def _fitted_f1(name, faces):
    schema = ZOO[name].label_schema
    images, labels = faces[schema]
    arguments = {} if schema == "helen" else {"class_names": STN_ICNN_CLASS_NAMES}
    keras.utils.set_random_seed(0)
    model = build_zoo_model(name, input_size=WORKING_SIZE, **arguments)
    assert model.has_initial_logits_bias()
    model.compile()
    history = model.fit(images, labels, batch_size=FACES, epochs=STEPS, verbose=0, callbacks=[StopAboveFloor()])
    assert not model.has_initial_logits_bias(), "fit did not start the logits at the class priors"
    return history.history["overall_f1"]


@pytest.mark.parametrize("name", [name for name in zoo_names("single_pass") if name not in PAPER_SIZED])
def test_every_single_pass_model_overfits_four_faces(name, faces):
    f1 = _fitted_f1(name, faces)
    assert f1[0] < F1_FLOOR, "the faces are too easy to tell whether the model learns"
    assert f1[-1] > F1_FLOOR, f"{name}: training F1 {f1[-1]:.3f} after {STEPS} steps (curve {f1[::25]})"


def test_every_paper_sized_model_has_a_variant_of_its_class_in_the_overfit_checks():
    for paper, variant in PAPER_SIZED.items():
        assert ZOO[variant].model_class is ZOO[paper].model_class
        assert variant in zoo_names("single_pass")


def test_compile_refuses_a_loss_it_would_ignore():
    model = build_zoo_model("icnn", class_names=STN_ICNN_CLASS_NAMES, input_size=32)
    for argument in ("loss", "loss_weights", "metrics"):
        with pytest.raises(ValueError, match=rf"compile\({argument}="):
            model.compile(**{argument: "mse"})


def test_fit_leaves_a_trained_bias_alone(faces):
    images, labels = faces["stn_icnn"]
    model = build_zoo_model("icnn", class_names=STN_ICNN_CLASS_NAMES, input_size=WORKING_SIZE)
    head = model.prior_bias_layers()[0]
    head.bias.assign(np.arange(9, dtype="float32"))
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    model.fit(images, labels, batch_size=FACES, epochs=1, verbose=0)
    np.testing.assert_array_equal(head.bias.numpy(), np.arange(9))


def test_fit_without_class_priors_keeps_the_zero_start(faces):
    images, labels = faces["stn_icnn"]
    model = build_zoo_model("icnn", class_names=STN_ICNN_CLASS_NAMES, input_size=WORKING_SIZE)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    model.fit(images, labels, batch_size=FACES, epochs=1, verbose=0, class_priors=False)
    assert model.has_initial_logits_bias()


def test_class_priors_are_the_label_frequencies_at_the_working_size():
    model = build_zoo_model("rnn_g", class_names=("background", "eye"), input_size=16)
    labels = np.zeros((2, 64, 64), np.uint8)
    labels[:, :16, :32] = 1  # an eighth of every map
    frequencies = model.set_class_priors(labels)
    np.testing.assert_allclose(frequencies, [0.875, 0.125])
    for layer in model.prior_bias_layers():
        np.testing.assert_allclose(layer.bias.numpy(), np.log([0.875, 0.125]), rtol=1e-6)
