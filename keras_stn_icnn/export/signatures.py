"""The functions every export serves: images or encoded photos in, label maps out.

One definition for every format, so a SavedModel, a LiteRT file and an ONNX
graph cannot drift apart:

- `images_function`: uint8 `[B, H, W, 3]` of any size up to the model's
  canvas -> `labels` uint8 `[B, H, W]` and `probabilities` float32
  `[B, H, W, C]`. Preprocessing (scaling, the stage-1 resize) is part of the
  model, so it is inside the graph. With `check_size`, an image that is
  empty or larger than the canvas fails with an error naming its size instead
  of being parsed wrongly (the crops would land on other parts of the face).
- `encoded_function`: what TF Serving's REST API sends — JPEG/PNG/BMP/GIF
  files as strings `[B]` — decoded in the graph, parsed one by one (photos in
  one request may differ in size), and padded to the largest: `labels` with
  `PADDING_LABEL`, `probabilities` with 0, and `image_size` `[B, 2]` giving
  each photo's own height and width.
"""

import tensorflow as tf

IMAGES_INPUT = "images"
"""Input name of `images_function` (and of `serving_default`)."""

ENCODED_INPUT = "encoded"
"""Input name of `encoded_function` (and of `serve_bytes`)."""

PADDING_LABEL = 255
"""Label of the padding `encoded_function` adds below and right of a smaller photo."""


def _checked_images(images, canvas):
    size = tf.shape(images)[1:3]
    checks = [tf.debugging.assert_positive(size, message="images must not be empty; got height, width")]
    if canvas is not None:
        checks.append(
            tf.debugging.assert_less_equal(
                size,
                tf.constant([canvas, canvas]),
                message=(
                    f"images larger than the model's {canvas}x{canvas} canvas are refused (crop "
                    "or resize the face so that it fits); got height, width"
                ),
            )
        )
    with tf.control_dependencies(checks):
        return tf.identity(images)


def images_function(model, check_size=True):
    """The parse function of an export: uint8 images in, labels and probabilities out.

    Args:
        model: a face parser whose call returns a dict with `"labels"` and
            `"probabilities"` (`STNiCNN`, `ICNNBaseline`); its `canvas_size`
            attribute, if it has one, is the largest image side it takes.
        check_size: bool, refuse empty images and images larger than the
            canvas with an error naming the size. LiteRT and ONNX have no
            assert op, so their graphs are built without it and their
            runners (`keras_stn_icnn.export.runtimes`) check before calling.

    Returns:
        A function `images -> {"labels", "probabilities"}` for
        `tf.function` / `ExportArchive.add_endpoint`.

    Example:
    >>> parse = images_function(STNiCNN())  # doctest: +SKIP
    >>> parse(tf.zeros([1, 300, 200, 3], tf.uint8))["labels"].shape  # doctest: +SKIP
    TensorShape([1, 300, 200])
    """
    canvas = getattr(model, "canvas_size", None)

    def parse_images(images):
        if check_size:
            images = _checked_images(images, canvas)
        outputs = model(tf.cast(images, tf.float32), training=False)
        return {"labels": outputs["labels"], "probabilities": outputs["probabilities"]}

    return parse_images


def images_signature():
    """The input signature of `images_function`: uint8 `[B, H, W, 3]`, all dynamic."""
    return [tf.TensorSpec([None, None, None, 3], tf.uint8, name=IMAGES_INPUT)]


def encoded_function(model):
    """The parse function for encoded photos (`serve_bytes`).

    Args:
        model: a face parser, as for `images_function`.

    Returns:
        A function `encoded string [B] -> {"labels" uint8 [B, H, W],
        "probabilities" float32 [B, H, W, C], "image_size" int32 [B, 2]}`,
        where H and W are the largest height and width in the batch; a
        smaller photo's labels are padded with `PADDING_LABEL` and its
        probabilities with 0. A string that is not an image fails with
        TensorFlow's decode error; an empty batch, an empty image and an
        image larger than the canvas fail with an error naming the problem.

    Example:
    >>> parse = encoded_function(STNiCNN())  # doctest: +SKIP
    >>> parse(tf.constant([open("face.jpg", "rb").read()]))["image_size"]  # doctest: +SKIP
    """
    parse_images = images_function(model, check_size=True)

    def parse_encoded(encoded):
        count = tf.shape(encoded)[0]
        with tf.control_dependencies(
            [tf.debugging.assert_positive(count, message="serve_bytes got an empty batch of photos")]
        ):
            count = tf.identity(count)

        # Explicit while loops: ExportArchive traces without AutoGraph.
        def decode(index, decoded, sizes):
            image = tf.io.decode_image(encoded[index], channels=3, dtype=tf.uint8, expand_animations=False)
            return index + 1, decoded.write(index, image), sizes.write(index, tf.shape(image)[:2])

        _, decoded, sizes = tf.while_loop(
            lambda index, *_: index < count,
            decode,
            (
                tf.constant(0),
                tf.TensorArray(tf.uint8, size=count, infer_shape=False, element_shape=[None, None, 3]),
                tf.TensorArray(tf.int32, size=count, element_shape=[2]),
            ),
        )
        sizes = sizes.stack()
        largest = tf.reduce_max(sizes, axis=0)

        def parse(index, labels, probabilities):
            outputs = parse_images(tf.expand_dims(decoded.read(index), 0))
            padding = largest - sizes[index]
            padded_labels = tf.pad(
                outputs["labels"][0],
                [[0, padding[0]], [0, padding[1]]],
                constant_values=tf.constant(PADDING_LABEL, tf.uint8),
            )
            padded_probabilities = tf.pad(outputs["probabilities"][0], [[0, padding[0]], [0, padding[1]], [0, 0]])
            return (
                index + 1,
                labels.write(index, padded_labels),
                probabilities.write(index, padded_probabilities),
            )

        _, labels, probabilities = tf.while_loop(
            lambda index, *_: index < count,
            parse,
            (
                tf.constant(0),
                tf.TensorArray(tf.uint8, size=count),
                tf.TensorArray(tf.float32, size=count),
            ),
        )
        return {"labels": labels.stack(), "probabilities": probabilities.stack(), "image_size": sizes}

    return parse_encoded


def encoded_signature():
    """The input signature of `encoded_function`: strings `[B]`."""
    return [tf.TensorSpec([None], tf.string, name=ENCODED_INPUT)]
