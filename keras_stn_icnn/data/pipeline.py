"""The training input pipelines: decode once, augment, make the views, batch.

Order of work, chosen so the pipeline keeps ahead of training on two cores:

1. decode (Pillow, in parallel) and, with `cache=True`, keep the decoded
   full-resolution examples in memory, so later epochs skip decoding;
2. shuffle the examples;
3. expand each into the paper's five augmented copies (`augment.py`);
4. shuffle the copies among a few batches' worth so no batch holds five
   copies of one face;
5. make the STN-iCNN views (`stn_icnn_inputs.py`) in parallel, batch and
   prefetch.

Every epoch is a pure function of `(seed, epoch)`: its shuffles and
augmentation draws are seeded from both, and it holds exactly
`steps_per_epoch` batches. A pipeline started at `first_epoch=k` therefore
yields exactly what an uninterrupted one yields from epoch `k` on, which is
what lets a killed training run resume with the same data it would have seen.
"""

import dataclasses

import tensorflow as tf

from keras_stn_icnn.data.augment import PAPER_AUGMENTATION, expand_with_augmentation
from keras_stn_icnn.data.stn_icnn_inputs import stn_icnn_inputs
from keras_stn_icnn.ops import resize


@dataclasses.dataclass(frozen=True)
class TrainingBatches:
    """Batches of training views for a range of epochs.

    Attributes:
        dataset: `tf.data.Dataset` of dicts of batched views.
        steps_per_epoch: int, batches in every epoch.
        num_examples: int, decoded examples behind every epoch (before
            augmentation).
    """

    dataset: tf.data.Dataset
    steps_per_epoch: int
    num_examples: int


def epoch_seed(seed, epoch):
    """The seed of one epoch's shuffles and draws, a pure function of both.

    Args:
        seed: int.
        epoch: int.

    Returns:
        int in [0, 2**31).

    Example:
    >>> epoch_seed(0, 3) == epoch_seed(0, 3) != epoch_seed(0, 4)
    True
    """
    return (int(seed) * 1_000_003 + int(epoch) * 7919 + 17) % (2**31)


def _epoch_stream(
    dataset, batch_size, augmentation, copies, rerandomize_each_epoch, seed, epochs, first_epoch, cache, shuffle_buffer
):
    """The examples of epochs `first_epoch` to `epochs - 1`, shuffled and augmented, one after another.

    Returns:
        `(stream, steps_per_epoch, num_examples)`: a dataset of `{"image",
        "label"}` holding `steps_per_epoch * batch_size` views per epoch.
    """
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size!r}")
    if not 0 <= int(first_epoch) < int(epochs):
        raise ValueError(f"need 0 <= first_epoch < epochs, got first_epoch={first_epoch!r}, epochs={epochs!r}")
    examples = dataset.map(lambda example: {"image": example["image"], "label": example["label"]})
    if cache:
        examples = examples.cache()
    # One pass counts the examples (bad ones a skipping reader drops included)
    # and, with the cache on, fills the cache for every epoch after it.
    num_examples = int(examples.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))
    views_per_epoch = num_examples * (int(copies) if augmentation is not None else 1)
    steps_per_epoch = views_per_epoch // batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"{num_examples} examples give {views_per_epoch} views an epoch, fewer than one batch of {batch_size}"
        )

    def one_epoch(epoch):
        draw_seed = epoch_seed(seed, epoch)
        shuffled = examples.shuffle(int(shuffle_buffer), seed=draw_seed, reshuffle_each_iteration=False)
        if augmentation is not None:
            augmentation_seed = draw_seed if rerandomize_each_epoch else epoch_seed(seed, -1)
            shuffled = expand_with_augmentation(
                shuffled, copies=copies, seed=augmentation_seed, config=augmentation, rerandomize_each_epoch=False
            )
            shuffled = shuffled.shuffle(
                4 * int(copies) * batch_size, seed=draw_seed + 1, reshuffle_each_iteration=False
            )
        return shuffled.take(steps_per_epoch * batch_size)

    stream = one_epoch(first_epoch)
    for epoch in range(int(first_epoch) + 1, int(epochs)):
        stream = stream.concatenate(one_epoch(epoch))
    return stream, steps_per_epoch, num_examples


def stn_icnn_training_pipeline(
    dataset,
    *,
    batch_size,
    window=81,
    canvas_size=1024,
    augmentation=PAPER_AUGMENTATION,
    copies=5,
    rerandomize_each_epoch=True,
    seed=0,
    epochs=1,
    first_epoch=0,
    cache=True,
    shuffle_buffer=512,
    with_parts=True,
    with_canvas=True,
):
    """Batches of STN-iCNN training views for epochs `first_epoch` to `epochs - 1`.

    Args:
        dataset: `tf.data.Dataset` of `{"image": uint8 [H, W, 3], "label":
            uint8 [H, W]}` with STN-iCNN class ids (a reader's
            `dataset(split)` with `schema="stn_icnn"`).
        batch_size: int, examples per batch (the global batch size under a
            distribution strategy).
        window: odd int, the part crop size.
        canvas_size: int, the side of the crop canvas.
        augmentation: AugmentationConfig, or None to train on the examples
            as they are (then `copies` is ignored).
        copies: int, augmented copies per example (the paper: 5).
        rerandomize_each_epoch: bool, new augmentation draws every epoch
            (True) or the same copies every epoch, like the paper's
            pre-augmented set (False).
        seed: int, seeds the shuffles and the augmentation.
        epochs: int, the epoch after the last one to yield.
        first_epoch: int, the first epoch to yield (to resume a run).
        cache: bool, keep decoded examples in memory after the first pass.
        shuffle_buffer: int, examples shuffled together before augmentation
            (each holds a full-resolution image).
        with_parts: bool, include the ground-truth part crops.
        with_canvas: bool, include the canvas image and label.

    Returns:
        `TrainingBatches`. Each epoch holds `steps_per_epoch` full batches;
        the views left over at an epoch's end (fewer than a batch, a
        different random few each epoch) are dropped.

    Raises:
        ValueError: on a batch size below 1, an empty epoch range, or a
            dataset too small for one batch.

    Example:
    >>> examples = HelenReader("synthetic", schema="stn_icnn").dataset("train")  # doctest: +SKIP
    >>> batches = stn_icnn_training_pipeline(examples, batch_size=8, epochs=25)  # doctest: +SKIP
    >>> model.fit(batches.dataset, epochs=25, steps_per_epoch=batches.steps_per_epoch)  # doctest: +SKIP
    """
    stream, steps_per_epoch, num_examples = _epoch_stream(
        dataset,
        batch_size,
        augmentation,
        copies,
        rerandomize_each_epoch,
        seed,
        epochs,
        first_epoch,
        cache,
        shuffle_buffer,
    )

    def views(example):
        return stn_icnn_inputs(
            example["image"],
            example["label"],
            window=window,
            canvas_size=canvas_size,
            with_parts=with_parts,
            with_canvas=with_canvas,
        )

    batches = stream.map(views, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    batches = batches.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    return TrainingBatches(batches, steps_per_epoch, num_examples)


def single_pass_training_pipeline(
    dataset,
    *,
    batch_size,
    input_size,
    augmentation=PAPER_AUGMENTATION,
    copies=5,
    seed=0,
    epochs=1,
    first_epoch=0,
    cache=True,
    shuffle_buffer=512,
):
    """Batches `(images, labels)` at a single-pass parser's working size, for epochs `first_epoch` on.

    The same epochs as `stn_icnn_training_pipeline` (seeded per epoch,
    augmented copies, resumable), each view resized the way a single-pass
    parser resizes its input: the image bilinearly with corners aligned, the
    label map by nearest neighbour. Because the model's own resize is then
    the identity, the labels line up with its working-size logits.

    Args:
        dataset: `tf.data.Dataset` of `{"image": uint8 [H, W, 3], "label":
            uint8 [H, W]}` in the parser's class ids.
        batch_size: int, examples per batch (the global batch size).
        input_size: int, the parser's working size.
        augmentation: AugmentationConfig, or None to train on the examples
            as they are.
        copies: int, augmented copies per example.
        seed: int, seeds the shuffles and the augmentation.
        epochs: int, the epoch after the last one to yield.
        first_epoch: int, the first epoch to yield (to resume a run).
        cache: bool, keep decoded examples in memory after the first pass.
        shuffle_buffer: int, examples shuffled together before augmentation.

    Returns:
        `TrainingBatches` whose dataset yields `(float32 images [B, s, s, 3]
        in [0, 255], uint8 labels [B, s, s])`.

    Example:
    >>> examples = HelenReader("synthetic", schema="stn_icnn").dataset("train")  # doctest: +SKIP
    >>> batches = single_pass_training_pipeline(examples, batch_size=8, input_size=128, epochs=10)  # doctest: +SKIP
    >>> model.fit(batches.dataset, epochs=10, steps_per_epoch=batches.steps_per_epoch)  # doctest: +SKIP
    """
    input_size = int(input_size)
    if input_size < 1:
        raise ValueError(f"input_size must be a positive int, got {input_size!r}")
    stream, steps_per_epoch, num_examples = _epoch_stream(
        dataset,
        batch_size,
        augmentation,
        copies,
        True,
        seed,
        epochs,
        first_epoch,
        cache,
        shuffle_buffer,
    )

    def view(example):
        image = tf.cast(example["image"], tf.float32)[None]
        image = resize.resize_bilinear_align_corners(image, (input_size, input_size))[0]
        label = resize.resize_nearest(example["label"][None, ..., None], (input_size, input_size))[0, ..., 0]
        return image, label

    batches = stream.map(view, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    batches = batches.batch(int(batch_size), drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    return TrainingBatches(batches, steps_per_epoch, num_examples)
