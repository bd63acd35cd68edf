"""Training input pipeline throughput versus the training steps that consume it.

Side by side in one run, on the built-in synthetic set (HELEN layout):

1. images/s the input pipeline delivers with the paper's augmentation on,
   for the stage-1 views only and for every view (part crops and the 1024
   canvas included), with decoded images cached;
2. images/s a stage-1 training step (iCNN, Adam, cross-entropy on 128x128)
   and a joint end-to-end STN-iCNN step (forward and backward through the
   crop on the canvas) consume from tensors already in memory;
3. the stage-1 step fed by the live pipeline instead: if its rate matches
   (2), the pipeline is not the bottleneck.

Usage:
    python benchmarks/input_pipeline.py [--faces 32] [--batch 16] [--steps 20]
"""

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import keras
import tensorflow as tf

from keras_stn_icnn import ICNN, STNiCNN
from keras_stn_icnn.data import HelenReader
from keras_stn_icnn.data.pipeline import stn_icnn_training_pipeline
from keras_stn_icnn.data.synthetic import generate_synthetic_helen


def images_per_second(iterator, steps, batch_size, step=None, warmup=2, waits=None):
    """Rate over `steps` batches after `warmup` batches; appends time spent waiting for data to `waits`."""
    for _ in range(warmup):
        batch = next(iterator)
        if step is not None:
            step(batch)
    start = time.perf_counter()
    for _ in range(steps):
        asked = time.perf_counter()
        batch = next(iterator)
        if waits is not None:
            waits.append(time.perf_counter() - asked)
        if step is not None:
            step(batch)
    return steps * batch_size / (time.perf_counter() - start)


def stage1_step_function():
    model = ICNN(9)
    optimizer = keras.optimizers.Adam(9e-4, epsilon=1e-8)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            loss = loss_fn(batch["stage1_label"], model(batch["stage1_image"], training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    return step


def joint_step_function():
    model = STNiCNN()
    optimizer = keras.optimizers.Adam(1e-4, epsilon=1e-8)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            outputs = model(tf.cast(batch["canvas_image"], tf.float32), training=True)
            loss = loss_fn(batch["stage1_label"], outputs["stage1_logits"])
            for index, logits in enumerate(outputs["part_logits"].values()):
                loss += loss_fn(batch["part_labels"][:, index], logits)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    return step


def repeat_in_memory(batch):
    return iter(tf.data.Dataset.from_tensors(batch).repeat())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=32, help="synthetic training faces")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--joint-batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, help="a HELEN-layout set to use instead")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root = args.data_dir or generate_synthetic_helen(
            Path(scratch) / "synthetic", num_train=args.faces, num_val=0, num_test=0, seed=0, progress=False
        )
        examples = HelenReader(root, schema="stn_icnn").dataset("train")
        # Building a pipeline makes one decoding pass, which fills its cache.
        start = time.perf_counter()
        stage1_views = stn_icnn_training_pipeline(
            examples, batch_size=args.batch, with_parts=False, with_canvas=False, epochs=1000
        ).dataset
        decode_rate = args.faces / (time.perf_counter() - start)
        all_views = stn_icnn_training_pipeline(examples, batch_size=args.joint_batch, epochs=1000).dataset

        print(
            f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
            f"{args.faces} faces x 5 augmented copies; {args.steps} batches after warm-up"
        )
        # Warm-up of one epoch fills the decoded-image cache; the timed batches come after it.
        epoch = args.faces * 5
        rows = [
            ("decoding pass (fills the cache), faces/s", decode_rate),
            (
                "pipeline, stage-1 views, cached",
                images_per_second(iter(stage1_views), args.steps, args.batch, warmup=epoch // args.batch),
            ),
            (
                "pipeline, all views (parts + 1024 canvas), cached",
                images_per_second(iter(all_views), args.steps, args.joint_batch, warmup=epoch // args.joint_batch),
            ),
        ]
        stage1 = stage1_step_function()
        in_memory = images_per_second(repeat_in_memory(next(iter(stage1_views))), args.steps, args.batch, stage1)
        rows.append(("stage-1 train step, batch in memory", in_memory))
        waits = []
        fed = images_per_second(
            iter(stage1_views), args.steps, args.batch, stage1, warmup=epoch // args.batch, waits=waits
        )
        rows.append(("stage-1 train step, fed by the pipeline", fed))
        joint = joint_step_function()
        rows.append(
            (
                "joint end-to-end step, batch in memory",
                images_per_second(
                    repeat_in_memory(next(iter(all_views))), max(3, args.steps // 4), args.joint_batch, joint
                ),
            )
        )
        for name, rate in rows:
            print(f"{name:<45} {rate:8.1f} images/s")
        waited = sum(waits) / (args.steps * args.batch / fed)
        print(
            f"stage-1 step fed by the pipeline: {fed / in_memory:.2f}x its in-memory rate; "
            f"{100 * waited:.1f}% of that time was spent waiting for a batch "
            + (
                "(the pipeline IS the bottleneck)"
                if waited > 0.05
                else "(the pipeline keeps ahead; the rest is the two cores being shared)"
            )
        )


if __name__ == "__main__":
    main()
