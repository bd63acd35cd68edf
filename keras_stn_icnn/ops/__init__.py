"""Pure TensorFlow functions with PyTorch's conventions; no Keras state."""

from keras_stn_icnn.ops.affine import (
    SCALE_TRANSLATION_MASK,
    crop_centres,
    invert_theta,
    normalized_positions,
    theta_from_centres,
    to_pixels,
    transform_grid,
)
from keras_stn_icnn.ops.assembly import assemble_part_probabilities
from keras_stn_icnn.ops.grid_sample import crop, frame_offset, paste, paste_box, sample
from keras_stn_icnn.ops.resize import (
    max_pool_3x3_stride2,
    resize_bilinear_align_corners,
    resize_nearest,
)
