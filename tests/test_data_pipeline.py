"""The STN-iCNN training input pipeline on a tiny HELEN-layout set."""

import pytest
from fake_datasets import write_helen

from keras_stn_icnn.data import HelenReader
from keras_stn_icnn.data.pipeline import stn_icnn_training_pipeline


@pytest.fixture
def examples(tmp_path):
    write_helen(tmp_path, {"exemplars.txt": list("abcd")}, shape=(60, 90))
    return HelenReader(tmp_path, schema="stn_icnn").dataset("train")


def collect(pipeline):
    return [{key: value.numpy() for key, value in batch.items()} for batch in pipeline.dataset]


def test_batches_hold_every_view_with_fixed_shapes(examples):
    pipeline = stn_icnn_training_pipeline(examples, batch_size=4, canvas_size=128)
    batches = collect(pipeline)
    assert len(batches) == pipeline.steps_per_epoch == 5  # 4 faces x 5 copies
    assert pipeline.num_examples == 4
    batch = batches[0]
    assert batch["stage1_image"].shape == (4, 128, 128, 3)
    assert batch["part_images"].shape == (4, 6, 81, 81, 3) and batch["part_labels"].max() <= 3
    assert batch["canvas_image"].shape == (4, 128, 128, 3)
    assert batch["theta"].shape == (4, 6, 2, 3) and batch["image_size"].tolist() == [[60, 90]] * 4


def test_pipeline_is_reproducible_and_seeded(examples):
    def first_epoch(seed):
        return collect(stn_icnn_training_pipeline(examples, batch_size=5, seed=seed, with_canvas=False))

    one, two, other = first_epoch(3), first_epoch(3), first_epoch(4)
    assert all((a["stage1_image"] == b["stage1_image"]).all() for a, b in zip(one, two))
    assert any((a["stage1_image"] != b["stage1_image"]).any() for a, b in zip(one, other))


def test_without_augmentation_each_face_appears_once(examples):
    batches = collect(
        stn_icnn_training_pipeline(examples, batch_size=2, augmentation=None, with_canvas=False, with_parts=False)
    )
    assert sum(len(b["theta"]) for b in batches) == 4
    with pytest.raises(ValueError, match="batch_size"):
        stn_icnn_training_pipeline(examples, batch_size=0)
    with pytest.raises(ValueError, match="fewer than one batch"):
        stn_icnn_training_pipeline(examples, batch_size=5, augmentation=None)
    with pytest.raises(ValueError, match="first_epoch"):
        stn_icnn_training_pipeline(examples, batch_size=2, epochs=2, first_epoch=2)


def test_a_resumed_pipeline_yields_what_the_full_run_yields_from_that_epoch(examples):
    def stream(first_epoch):
        pipeline = stn_icnn_training_pipeline(
            examples, batch_size=3, epochs=3, first_epoch=first_epoch, with_canvas=False
        )
        assert pipeline.steps_per_epoch == 6  # 20 views, 2 left over every epoch
        return collect(pipeline)

    full, resumed = stream(0), stream(2)
    assert len(full) == 18 and len(resumed) == 6
    for a, b in zip(full[12:], resumed):
        assert all((a[key] == b[key]).all() for key in a)
    # Epochs differ from one another: new shuffles and augmentation draws.
    assert any((a["stage1_image"] != b["stage1_image"]).any() for a, b in zip(full[:6], full[6:12]))
