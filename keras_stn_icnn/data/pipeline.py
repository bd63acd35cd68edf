"""The STN-iCNN training input pipeline: decode once, augment, make the views, batch.

Order of work, chosen so the pipeline keeps ahead of training on two cores:

1. decode (Pillow, in parallel) and, with `cache=True`, keep the decoded
   full-resolution examples in memory, so later epochs skip decoding;
2. shuffle the examples anew every epoch;
3. expand each into the paper's five augmented copies (`augment.py`);
4. shuffle the copies among a few batches' worth so no batch holds five
   copies of one face;
5. make the STN-iCNN views (`stn_icnn_inputs.py`) in parallel, batch and
   prefetch.
"""

import tensorflow as tf

from keras_stn_icnn.data.augment import PAPER_AUGMENTATION, expand_with_augmentation
from keras_stn_icnn.data.stn_icnn_inputs import stn_icnn_inputs


def stn_icnn_training_pipeline(
    dataset,
    *,
    batch_size,
    window=81,
    canvas_size=1024,
    augmentation=PAPER_AUGMENTATION,
    copies=5,
    seed=0,
    cache=True,
    shuffle_buffer=512,
    with_parts=True,
    with_canvas=True,
    drop_remainder=True,
):
    """Batches of STN-iCNN training views from a dataset of decoded examples.

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
        seed: int, seeds the shuffles and the augmentation.
        cache: bool, keep decoded examples in memory after the first epoch.
        shuffle_buffer: int, examples shuffled together before augmentation
            (each holds a full-resolution image).
        with_parts: bool, include the ground-truth part crops.
        with_canvas: bool, include the canvas image and label.
        drop_remainder: bool, drop a last incomplete batch.

    Returns:
        `tf.data.Dataset` of dicts of batched views (see `stn_icnn_inputs`).

    Example:
    >>> examples = HelenReader("synthetic", schema="stn_icnn").dataset("train")  # doctest: +SKIP
    >>> batches = stn_icnn_training_pipeline(examples, batch_size=8, with_canvas=False)  # doctest: +SKIP
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size!r}")
    examples = dataset.map(lambda example: {"image": example["image"], "label": example["label"]})
    if cache:
        examples = examples.cache()
    examples = examples.shuffle(int(shuffle_buffer), seed=seed, reshuffle_each_iteration=True)
    if augmentation is not None:
        examples = expand_with_augmentation(examples, copies=copies, seed=seed, config=augmentation)
        examples = examples.shuffle(4 * copies * int(batch_size), seed=seed + 1, reshuffle_each_iteration=True)

    def views(example):
        return stn_icnn_inputs(
            example["image"],
            example["label"],
            window=window,
            canvas_size=canvas_size,
            with_parts=with_parts,
            with_canvas=with_canvas,
        )

    batches = examples.map(views, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return batches.batch(int(batch_size), drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
