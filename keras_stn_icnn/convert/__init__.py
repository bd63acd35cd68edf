"""Reading the authors' PyTorch checkpoints (no torch needed) into Keras models."""

from keras_stn_icnn.convert.pytorch_checkpoint import (
    CheckpointFormatError,
    UnsafeCheckpointError,
    read_pytorch_checkpoint,
)
from keras_stn_icnn.convert.stn_icnn_weights import (
    WeightMappingError,
    load_icnn_state_dict,
    load_localizer_state_dict,
    load_stn_icnn_checkpoint,
    stn_icnn_from_pytorch_checkpoint,
)
