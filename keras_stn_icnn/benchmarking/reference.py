"""The authors' PyTorch STN-iCNN, imported from their repository, as callables to time.

The benchmark compares this package with the original implementation
(github aod321/STN-iCNN) run in the same process. `AuthorsPipeline` imports
the three files of their checkout that the pipeline needs (`icnnmodel.py`,
`model.py`, `helper_funcs.py`), loads an end-to-end checkpoint in their
layout (`model1`, `select_net`, `model2`) and chains the pieces the way
their test script (`test_ABC.py`) and end-to-end training script
(`3_end2end_tunning_all.py`) do.

Only the standard library and numpy are imported at module level; PyTorch is
imported when a pipeline is built, so this module can be imported where
torch is absent (building a pipeline then raises `ReferenceUnavailable`).

Their `model.py` imports `torchvision` only for
`torchvision.models.resnet18(pretrained=False)`. Where torchvision cannot be
imported (for instance a CPU-only torch next to a torchvision wheel built
for CUDA), a stand-in ResNet-18 written here in plain torch, with
torchvision's architecture and parameter names, is offered to `model.py`
while it is imported; `AuthorsPipeline.notes` says so.
"""

import contextlib
import copy
import importlib
import sys
import time
import types
from pathlib import Path

import numpy as np

from keras_stn_icnn.checks import check_image_batch
from keras_stn_icnn.geometry import CANVAS_SIZE, STAGE1_SIZE

JOINT_LEARNING_RATES = {"stage1": 0.0, "localizer": 0.0, "part_models": 0.0025}
"""Adam learning rates of the end-to-end step, from the command in their README
(`--lr 0 --lr_s 0 --lr2 0.0025`). Stage 1 and the localizer get learning rate
0, but their gradients and Adam updates are still computed, as in their run."""

STAGE1_LEARNING_RATE = 0.0009
"""Adam learning rate of stage-1-only training, from their README (`--lr 0.0009`)."""

_AUTHORS_FILES = ("icnnmodel.py", "model.py", "helper_funcs.py")
_CHECKPOINT_KEYS = ("model1", "select_net", "model2")
_STAGE1_CLASSES = 9


class ReferenceUnavailable(RuntimeError):
    """The authors' pipeline cannot be built here; the message names what is missing.

    Raised when PyTorch is not installed, when the reference directory lacks
    one of the authors' files, or when the checkpoint is missing or lacks one
    of the `model1`, `select_net`, `model2` state dicts.

    Example:
    >>> try:
    ...     AuthorsPipeline("/nowhere", "/nowhere/best.pth.tar")
    ... except ReferenceUnavailable as error:
    ...     print("skipping the reference:", error)  # doctest: +SKIP
    """


def _import_torch():
    try:
        import torch
    except ImportError as error:
        raise ReferenceUnavailable(
            f"PyTorch is not installed in this Python ({sys.executable}): {error}; the authors' pipeline needs torch"
        ) from error
    return torch


def _standin_torchvision():
    """A module named `torchvision` whose `models.resnet18` builds torchvision's ResNet-18.

    The network has exactly torchvision's architecture and parameter names
    (`conv1`, `bn1`, `relu`, `maxpool`, `layer1`..`layer4` of two
    `BasicBlock`s each, with `downsample = Sequential(conv, bn)` where the
    shape changes, `avgpool`, `fc`), so torchvision state dicts load into it
    with `strict=True`. Initial weights are PyTorch's layer defaults, not
    torchvision's initialisation; a checkpoint overwrites all of them.
    """
    from torch import nn

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, in_channels, channels, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(channels, channels, 3, 1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)
            self.downsample = None
            if stride != 1 or in_channels != channels:
                self.downsample = nn.Sequential(
                    nn.Conv2d(in_channels, channels, 1, stride, bias=False),
                    nn.BatchNorm2d(channels),
                )
            self.stride = stride

        def forward(self, x):
            shortcut = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + shortcut)

    class ResNet(nn.Module):
        def __init__(self, blocks_per_layer, num_classes=1000):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            widths = (64, 128, 256, 512)
            in_channels = 64
            for index, (width, count) in enumerate(zip(widths, blocks_per_layer)):
                stride = 1 if index == 0 else 2
                blocks = [BasicBlock(in_channels, width, stride)]
                blocks += [BasicBlock(width, width) for _ in range(count - 1)]
                setattr(self, f"layer{index + 1}", nn.Sequential(*blocks))
                in_channels = width
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512 * BasicBlock.expansion, num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    def resnet18(pretrained=False, **kwargs):
        if pretrained:
            raise ValueError("the stand-in torchvision has no pretrained weights")
        return ResNet((2, 2, 2, 2), **kwargs)

    models = types.ModuleType("torchvision.models")
    models.resnet18 = resnet18
    models.ResNet = ResNet
    models.BasicBlock = BasicBlock
    torchvision = types.ModuleType("torchvision")
    torchvision.__doc__ = "Stand-in for torchvision: only models.resnet18 (see keras_stn_icnn.benchmarking.reference)."
    torchvision.models = models
    return torchvision


def _torchvision_for_authors_code(notes):
    """Imports torchvision, or returns a stand-in when it cannot be imported.

    Returns:
        `None` when the real torchvision imported (their `import torchvision`
        will find it), else the stand-in module, to be offered to their code.
    """
    before = set(sys.modules)
    try:
        import torchvision
    except (ImportError, OSError, RuntimeError) as error:
        # A failed import leaves the submodules it had finished; drop them.
        for name in set(sys.modules) - before:
            if name == "torchvision" or name.startswith("torchvision."):
                del sys.modules[name]
        notes.append(
            f"torchvision could not be imported ({type(error).__name__}: {error}); their "
            "SelectNet_resnet was built on a stand-in torchvision.models.resnet18 written in "
            "plain torch with torchvision's ResNet-18 architecture and parameter names "
            "(the checkpoint's select_net loads into it with strict=True)"
        )
        return _standin_torchvision()
    notes.append(f"torchvision {torchvision.__version__} imported; their SelectNet_resnet uses its resnet18")
    return None


@contextlib.contextmanager
def _importable_from(directory, extra_modules):
    """Puts `directory` first on sys.path and `extra_modules` in sys.modules, then restores both.

    The authors' files have generic names (`model`, `helper_funcs`), so any
    modules of those names imported before are set aside and put back after,
    and the authors' modules are taken out of sys.modules again. No bytecode
    is written into their checkout.
    """
    names = {Path(file).stem for file in _AUTHORS_FILES} | set(extra_modules)
    set_aside = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    saved_path = list(sys.path)
    saved_dont_write_bytecode = sys.dont_write_bytecode
    sys.path.insert(0, str(directory))
    sys.modules.update(extra_modules)
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = saved_dont_write_bytecode
        sys.path[:] = saved_path
        for name in names:
            sys.modules.pop(name, None)
        sys.modules.update(set_aside)


def _canvas_offsets(height, width):
    """(top, left) of a photograph centred on the canvas, as their `OrigPad` pads it."""
    return (CANVAS_SIZE - height) // 2, (CANVAS_SIZE - width) // 2


class AuthorsPipeline:
    """The authors' STN-iCNN pipeline in PyTorch, imported from a checkout of their repository.

    Builds their `FaceModel` (stage-1 iCNN), `SelectNet_resnet` (ResNet-18
    localizer) and `Stage2Model` (four part iCNNs, the right eyebrow and eye
    run mirrored through the left ones), loads the checkpoint into them with
    `strict=True` and runs everything on the CPU in float32.

    Inference (`parse`) follows their test script:

    1. the stage-1 input is their `Resize((128, 128))`: the photograph scaled
       to [0, 1] (`ToTensor`), resized with `F.interpolate(mode="bilinear",
       align_corners=True)`, then converted to a PIL image and back as their
       transform does, i.e. quantised to uint8 by truncation
       (`(x * 255).astype(uint8) / 255`);
    2. the photograph / 255 is centred on a 1024x1024 zero canvas with left
       padding `(1024 - W) // 2` and top padding `(1024 - H) // 2` (`OrigPad`);
    3. stage-1 logits -> softmax -> localizer -> theta `[B, 6, 2, 3]` ->
       `affine_crop(canvas, theta_in=theta)` -> 81x81 parts -> `Stage2Model`
       -> `stage2_pred_softmax` -> `affine_mapback` (a 9-channel map on the
       whole canvas) -> argmax;
    4. the photograph's window `[top:top + H, left:left + W]` is cut out of the
       canvas labels. Their script calls `TF.center_crop(labels, orig_size)`
       with `orig_size = (W, H)` where torchvision expects `(H, W)`, and
       rounds odd margins half-to-even; both agree with the padding for
       square photographs with an even margin only, so the padding's exact
       window is cut instead.

    Attributes:
        notes: list of str, remarks for the report (how torchvision was
            provided, the thread count).
        torch_version: str, `torch.__version__`.

    Args:
        reference_dir: str or path, a checkout of their repository holding
            `icnnmodel.py`, `model.py` and `helper_funcs.py`.
        checkpoint: str or path, an end-to-end checkpoint in their layout: a
            `torch.save`d dict with the `model1`, `select_net` and `model2`
            state dicts. It is read with `weights_only=True`.
        threads: int, PyTorch intra-op threads (`torch.set_num_threads`,
            which is process-wide).

    Raises:
        ReferenceUnavailable: torch is not installed, a file of theirs or the
            checkpoint is missing, or the checkpoint lacks a state dict.

    Example:
    >>> reference = AuthorsPipeline("/tmp/stn_ref", "stn_icnn_reference_checkpoint.pth.tar")  # doctest: +SKIP
    >>> reference.parse(np.zeros((1, 512, 512, 3), np.uint8)).shape  # doctest: +SKIP
    (1, 512, 512)
    """

    def __init__(self, reference_dir, checkpoint, threads=2):
        torch = _import_torch()
        reference_dir = Path(reference_dir)
        checkpoint = Path(checkpoint)
        missing = [name for name in _AUTHORS_FILES if not (reference_dir / name).is_file()]
        if missing:
            raise ReferenceUnavailable(
                f"{reference_dir} is not a checkout of the authors' STN-iCNN repository: it lacks {', '.join(missing)}"
            )
        if not checkpoint.is_file():
            raise ReferenceUnavailable(f"the reference checkpoint {checkpoint} does not exist")

        self._torch = torch
        self.torch_version = torch.__version__
        self.notes = []
        torch.set_num_threads(threads)
        self.notes.append(f"PyTorch {self.torch_version} on the CPU with {threads} threads")

        standin = _torchvision_for_authors_code(self.notes)
        extra_modules = {} if standin is None else {"torchvision": standin, "torchvision.models": standin.models}
        with _importable_from(reference_dir, extra_modules):
            icnnmodel = importlib.import_module("icnnmodel")
            model = importlib.import_module("model")
            self._helper_funcs = importlib.import_module("helper_funcs")

        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        absent = [key for key in _CHECKPOINT_KEYS if key not in state]
        if absent:
            raise ReferenceUnavailable(
                f"the checkpoint {checkpoint} lacks {', '.join(absent)} (it holds {', '.join(map(str, state))}); "
                "an end-to-end checkpoint of the authors' layout is needed"
            )
        self._stage1 = icnnmodel.FaceModel()
        self._localizer = model.SelectNet_resnet()
        self._part_models = model.Stage2Model()
        for network, key in zip((self._stage1, self._localizer, self._part_models), _CHECKPOINT_KEYS):
            network.load_state_dict(state[key], strict=True)
            network.eval()
        self._device = torch.device("cpu")

    def parse(self, images):
        """Labels photographs with the whole pipeline, as their test script runs it.

        Eval mode, under `torch.no_grad()`; see the class docstring for each
        step.

        Args:
            images: numpy uint8 `[B, H, W, 3]` RGB photographs, H, W <= 1024.

        Returns:
            numpy uint8 `[B, H, W]` labels: 0 background, 1 eyebrow1,
            2 eyebrow2, 3 eye1, 4 eye2, 5 nose, 6 upper lip, 7 inner mouth,
            8 lower lip.

        Example:
        >>> reference.parse(np.zeros((2, 512, 512, 3), np.uint8)).shape  # doctest: +SKIP
        (2, 512, 512)
        """
        labels, _ = self._parse_with_stage_seconds(images)
        return labels

    def parse_stage_seconds(self, images):
        """Runs `parse` once and returns the wall seconds of its three stages.

        Args:
            images: numpy uint8 `[B, H, W, 3]`, as for `parse`.

        Returns:
            dict with float seconds: `"stage1_localizer_crop"` (input
            resize, canvas, stage-1 iCNN, softmax, localizer and the six
            crops), `"part_models"` (the part iCNNs and their softmax) and
            `"paste_back"` (`affine_mapback` on the canvas, argmax and the
            cut back to the photograph, to numpy).

        Example:
        >>> seconds = reference.parse_stage_seconds(np.zeros((1, 512, 512, 3), np.uint8))  # doctest: +SKIP
        >>> sorted(seconds)  # doctest: +SKIP
        ['paste_back', 'part_models', 'stage1_localizer_crop']
        """
        _, seconds = self._parse_with_stage_seconds(images)
        return seconds

    def _stage1_input(self, photos):
        """Their `Resize((128, 128))` of `ToTensor`ed photos, with the uint8 round trip."""
        resized = self._torch.nn.functional.interpolate(
            photos, size=(STAGE1_SIZE, STAGE1_SIZE), mode="bilinear", align_corners=True
        )
        return (resized * 255).to(self._torch.uint8).float() / 255

    def _canvas(self, photos):
        """Photos `[B, 3, H, W]` in [0, 1] centred on a zero 1024x1024 canvas, as their `OrigPad`."""
        batch, channels, height, width = photos.shape
        top, left = _canvas_offsets(height, width)
        canvas = photos.new_zeros((batch, channels, CANVAS_SIZE, CANVAS_SIZE))
        canvas[:, :, top : top + height, left : left + width] = photos
        return canvas

    def _parse_with_stage_seconds(self, images):
        check_image_batch(images, canvas_size=CANVAS_SIZE)
        torch = self._torch
        functional = torch.nn.functional
        helper_funcs = self._helper_funcs
        height, width = images.shape[1:3]
        top, left = _canvas_offsets(height, width)
        with torch.no_grad():
            start = time.perf_counter()
            photos = torch.from_numpy(np.array(images)).permute(0, 3, 1, 2).float() / 255
            stage1_logits = self._stage1(self._stage1_input(photos))
            theta = self._localizer(functional.softmax(stage1_logits, dim=1))
            parts, _ = helper_funcs.affine_crop(self._canvas(photos), theta_in=theta, map_location=self._device)
            cropped = time.perf_counter()
            part_probabilities = helper_funcs.stage2_pred_softmax(self._part_models(parts))
            parted = time.perf_counter()
            canvas_map = helper_funcs.affine_mapback(part_probabilities, theta, self._device)
            canvas_labels = canvas_map.argmax(dim=1).to(torch.uint8)
            labels = canvas_labels[:, top : top + height, left : left + width].numpy().copy()
            pasted = time.perf_counter()
        return labels, {
            "stage1_localizer_crop": cropped - start,
            "part_models": parted - cropped,
            "paste_back": pasted - parted,
        }

    @staticmethod
    def _training_copy(network):
        """A train-mode copy of a loaded network, so that training never changes `parse`."""
        return copy.deepcopy(network).train()

    def _random_training_batch(self, batch_size, seed):
        """Fixed random photos and label maps shaped like their training batches.

        Returns:
            (stage-1 input `[N, 3, 128, 128]`, canvas `[N, 3, 1024, 1024]`,
            one-hot canvas labels `[N, 9, 1024, 1024]`), float32. A 512x512
            random photograph with random labels is centred on each canvas,
            background elsewhere; the stage-1 input is its `Resize`.
        """
        torch = self._torch
        generator = torch.Generator().manual_seed(seed)
        side = CANVAS_SIZE // 2
        photos = torch.rand((batch_size, 3, side, side), generator=generator)
        photo_labels = torch.randint(0, _STAGE1_CLASSES, (batch_size, side, side), generator=generator)
        top, left = _canvas_offsets(side, side)
        canvas_labels = torch.zeros((batch_size, CANVAS_SIZE, CANVAS_SIZE), dtype=torch.int64)
        canvas_labels[:, top : top + side, left : left + side] = photo_labels
        one_hot = torch.nn.functional.one_hot(canvas_labels, _STAGE1_CLASSES).permute(0, 3, 1, 2).float()
        return self._stage1_input(photos), self._canvas(photos), one_hot.contiguous()

    def joint_training_step(self, batch_size, seed=0):
        """One optimiser step of their end-to-end training, as a callable to time.

        Each call does what one batch of `TrainModel.train` in their
        `3_end2end_tunning_all.py` does: zero the three Adam optimisers;
        stage-1 iCNN on the 128x128 input -> softmax -> ResNet-18 localizer
        -> `affine_crop` of the 1024x1024 canvas and of its one-hot labels
        (nearest) at the predicted theta -> part iCNNs -> six
        cross-entropies against the cropped labels' argmax; backward of
        their sum (they call `loss.backward(ones(6))`); step the part
        models', the localizer's and stage 1's optimisers. Learning rates are
        `JOINT_LEARNING_RATES`. The networks are train-mode copies of the
        loaded ones, made once, so `parse` is not affected; the inputs are
        made once from `seed` (see `_random_training_batch`).

        Args:
            batch_size: int, photographs per step.
            seed: int, seed of the random inputs.

        Returns:
            A zero-argument callable; each call runs one step and returns the
            mean of the six part losses as a float.

        Example:
        >>> step = reference.joint_training_step(8)  # doctest: +SKIP
        >>> loss = step()  # doctest: +SKIP
        """
        torch = self._torch
        functional = torch.nn.functional
        crop = self._helper_funcs.affine_crop
        stage1, localizer, part_models = (
            self._training_copy(network) for network in (self._stage1, self._localizer, self._part_models)
        )
        optimizers = [
            torch.optim.Adam(part_models.parameters(), JOINT_LEARNING_RATES["part_models"]),
            torch.optim.Adam(localizer.parameters(), JOINT_LEARNING_RATES["localizer"]),
            torch.optim.Adam(stage1.parameters(), JOINT_LEARNING_RATES["stage1"]),
        ]
        criterion = torch.nn.CrossEntropyLoss()
        stage1_input, canvas, canvas_labels = self._random_training_batch(batch_size, seed)
        device = self._device

        def step():
            for optimizer in optimizers:
                optimizer.zero_grad()
            theta = localizer(functional.softmax(stage1(stage1_input), dim=1))
            parts, part_labels, _ = crop(img=canvas, label=canvas_labels, theta_in=theta, map_location=device)
            part_logits = part_models(parts)
            losses = torch.stack(
                [criterion(logits, labels.argmax(dim=1)) for logits, labels in zip(part_logits, part_labels)]
            )
            losses.sum().backward()
            for optimizer in optimizers:
                optimizer.step()
            return losses.mean().item()

        return step

    def stage1_training_step(self, batch_size, seed=0):
        """One optimiser step of their stage-1-only training, as a callable to time.

        Each call does what one batch of `TrainModel.train` in their
        `train_stage1.py` does: zero the gradients, stage-1 iCNN on the
        128x128 input, 9-class cross-entropy against the labels, backward,
        Adam step with `STAGE1_LEARNING_RATE`. The network is a train-mode
        copy of the loaded one; the inputs are made once from `seed`.

        Args:
            batch_size: int, images per step.
            seed: int, seed of the random inputs.

        Returns:
            A zero-argument callable; each call runs one step and returns the
            loss as a float.

        Example:
        >>> step = reference.stage1_training_step(8)  # doctest: +SKIP
        >>> loss = step()  # doctest: +SKIP
        """
        torch = self._torch
        stage1 = self._training_copy(self._stage1)
        optimizer = torch.optim.Adam(stage1.parameters(), STAGE1_LEARNING_RATE)
        criterion = torch.nn.CrossEntropyLoss()
        generator = torch.Generator().manual_seed(seed)
        images = torch.rand((batch_size, 3, STAGE1_SIZE, STAGE1_SIZE), generator=generator)
        labels = torch.randint(0, _STAGE1_CLASSES, (batch_size, STAGE1_SIZE, STAGE1_SIZE), generator=generator)

        def step():
            optimizer.zero_grad()
            loss = criterion(stage1(images), labels)
            loss.backward()
            optimizer.step()
            return loss.item()

        return step
