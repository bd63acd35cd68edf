"""Class schemas: which id means which facial part, and how schemas map.

Five schemas are defined, each a `LabelSchema` in `SCHEMAS`:

| schema          | classes | ids                                                   |
|-----------------|---------|-------------------------------------------------------|
| `helen`         | 11      | HELEN's `lbl00` ... `lbl10` (Smith et al.)            |
| `stn_icnn`      | 9       | STN-iCNN's target: background + HELEN's 8 inner parts |
| `lapa`          | 11      | LaPa's label PNG ids (same parts and order as HELEN)  |
| `celebamask_hq` | 19      | CelebAMask-HQ, the official `g_mask.py` order         |
| `lfw_pl`        | 3       | LFW part labels: background, skin, hair               |

Mappings between two different schemas go through HELEN's 11 classes
(a schema maps to itself unchanged): every schema says which HELEN id
each of its ids becomes (`to_helen`) and which of its ids each HELEN id
becomes (`from_helen`). A class with no counterpart maps to background; the
tables below say where that loses information:

- `stn_icnn` folds HELEN's face skin and hair into background (as the
  authors' code does), so `stn_icnn -> helen` cannot bring them back.
- `celebamask_hq` keeps the classes it shares with HELEN (the STN-iCNN
  paper's rule); glasses, ears, earrings, hat, neck, necklace and cloth
  become background.
- `lfw_pl` has no inner parts: HELEN's eight inner-face classes become skin,
  and `lfw_pl -> helen` gives skin and hair only.

"Left" and "right" are each dataset's own names for its label files.

Example:
>>> int(label_mapping("celebamask_hq", "stn_icnn")[SCHEMAS["celebamask_hq"].class_id("nose")])
5
"""

import dataclasses

import numpy as np

HELEN_CLASS_NAMES = (
    "background",
    "skin",
    "left_eyebrow",
    "right_eyebrow",
    "left_eye",
    "right_eye",
    "nose",
    "upper_lip",
    "inner_mouth",
    "lower_lip",
    "hair",
)
"""HELEN's classes: id `k` is the label file `<name>_lbl<k:02d>.png`."""

STN_ICNN_CLASS_NAMES = ("background",) + HELEN_CLASS_NAMES[2:10]
"""Class ids 0-8 of STN-iCNN's stage-1 map and final label map."""

STN_ICNN_PARTS = (
    ("eyebrow1", ("left_eyebrow",)),
    ("eyebrow2", ("right_eyebrow",)),
    ("eye1", ("left_eye",)),
    ("eye2", ("right_eye",)),
    ("nose", ("nose",)),
    ("mouth", ("upper_lip", "inner_mouth", "lower_lip")),
)
"""The six crops of STN-iCNN in theta order, with the classes each one labels.

A part model predicts `1 + len(classes)` channels: its background, then its
classes in this order. Assembling the parts in this order gives the class ids
of `STN_ICNN_CLASS_NAMES`.
"""

STN_ICNN_PART_NAMES = tuple(name for name, _ in STN_ICNN_PARTS)
"""Part order of thetas, crops and `"part_logits"`: eyebrow1, eyebrow2, eye1, eye2, nose, mouth."""

LAPA_CLASS_NAMES = HELEN_CLASS_NAMES
"""LaPa's label ids 0-10: the same parts in the same order as HELEN."""

LAPA_PALETTE = (
    (0, 0, 0),
    (0, 153, 255),
    (102, 255, 153),
    (0, 204, 153),
    (255, 255, 102),
    (255, 255, 204),
    (255, 153, 0),
    (255, 102, 255),
    (102, 0, 51),
    (255, 204, 255),
    (255, 0, 102),
)
"""RGB colour of each LaPa id: LaPa's own `colormap.txt`, the common face-parsing palette."""

STN_ICNN_PALETTE = tuple(LAPA_PALETTE[HELEN_CLASS_NAMES.index(name)] for name in STN_ICNN_CLASS_NAMES)
"""RGB colour of each STN-iCNN class id: the LaPa palette's colours of the same parts."""

CELEBAMASK_HQ_CLASS_NAMES = (
    "background",
    "skin",
    "nose",
    "eye_g",
    "l_eye",
    "r_eye",
    "l_brow",
    "r_brow",
    "l_ear",
    "r_ear",
    "mouth",
    "u_lip",
    "l_lip",
    "hair",
    "hat",
    "ear_r",
    "neck_l",
    "neck",
    "cloth",
)
"""CelebAMask-HQ's ids in the official order (`g_mask.py` of the dataset).

The names are the dataset's mask file suffixes (`<id:05d>_<name>.png`);
`mouth` is the inner mouth, `eye_g` glasses, `ear_r` earring, `neck_l`
necklace. Another order circulates (face-parsing.PyTorch: skin, l_brow,
r_brow, l_eye, ...); labels in that order must be remapped by name.
"""

CELEBAMASK_HQ_PALETTE = (
    (0, 0, 0),
    (0, 153, 255),
    (255, 153, 0),
    (160, 160, 160),
    (255, 255, 102),
    (255, 255, 204),
    (102, 255, 153),
    (0, 204, 153),
    (153, 102, 51),
    (204, 153, 102),
    (102, 0, 51),
    (255, 102, 255),
    (255, 204, 255),
    (255, 0, 102),
    (128, 0, 128),
    (255, 215, 0),
    (0, 128, 128),
    (255, 178, 140),
    (70, 70, 200),
)
"""RGB colour of each CelebAMask-HQ id: LaPa's colours for the parts LaPa has, distinct ones otherwise."""

LFW_PL_CLASS_NAMES = ("background", "skin", "hair")
"""LFW part labels' three classes."""

LFW_PL_PALETTE = ((0, 0, 255), (0, 255, 0), (255, 0, 0))
"""The colours of LFW-PL's ground-truth images: blue background, green skin, red hair."""


@dataclasses.dataclass(frozen=True)
class LabelSchema:
    """The classes of one dataset or model, and how they map to HELEN's.

    Args:
        name: str, the schema's key in `SCHEMAS`.
        class_names: tuple of str, the name of each id.
        palette: tuple of `(r, g, b)`, the display colour of each id.
        to_helen: tuple of int, the HELEN id each id becomes.
        from_helen: tuple of int, the id each HELEN id becomes.

    Example:
    >>> SCHEMAS["lfw_pl"].num_classes
    3
    """

    name: str
    class_names: tuple
    palette: tuple
    to_helen: tuple
    from_helen: tuple

    def __post_init__(self):
        count = len(self.class_names)
        if len(self.palette) != count or len(self.to_helen) != count:
            raise ValueError(f"schema {self.name!r}: palette and to_helen need {count} entries")
        if len(self.from_helen) != len(HELEN_CLASS_NAMES):
            raise ValueError(f"schema {self.name!r}: from_helen needs {len(HELEN_CLASS_NAMES)} entries")

    @property
    def num_classes(self):
        return len(self.class_names)

    def class_id(self, class_name):
        """The id of `class_name`; a ValueError names the known classes."""
        if class_name not in self.class_names:
            raise ValueError(f"schema {self.name!r} has no class {class_name!r}; its classes are {self.class_names}")
        return self.class_names.index(class_name)


def _by_name(names, helen_names_of):
    """`to_helen` and `from_helen` tables from `{name: HELEN name}`."""
    to_helen = tuple(HELEN_CLASS_NAMES.index(helen_names_of.get(name, "background")) for name in names)
    from_helen = []
    for helen_id in range(len(HELEN_CLASS_NAMES)):
        sources = [index for index, target in enumerate(to_helen) if target == helen_id]
        from_helen.append(sources[0] if sources and helen_id != 0 else 0)
    return to_helen, tuple(from_helen)


_IDENTITY = {name: name for name in HELEN_CLASS_NAMES}
_HELEN_TABLES = _by_name(HELEN_CLASS_NAMES, _IDENTITY)
_STN_ICNN_TO_HELEN, _HELEN_TO_STN_ICNN = _by_name(STN_ICNN_CLASS_NAMES, _IDENTITY)
_CELEBAMASK_HQ_TO_HELEN, _HELEN_TO_CELEBAMASK_HQ = _by_name(
    CELEBAMASK_HQ_CLASS_NAMES,
    {
        "skin": "skin",
        "nose": "nose",
        "l_eye": "left_eye",
        "r_eye": "right_eye",
        "l_brow": "left_eyebrow",
        "r_brow": "right_eyebrow",
        "mouth": "inner_mouth",
        "u_lip": "upper_lip",
        "l_lip": "lower_lip",
        "hair": "hair",
    },
)

SCHEMAS = {
    "helen": LabelSchema("helen", HELEN_CLASS_NAMES, LAPA_PALETTE, *_HELEN_TABLES),
    "stn_icnn": LabelSchema("stn_icnn", STN_ICNN_CLASS_NAMES, STN_ICNN_PALETTE, _STN_ICNN_TO_HELEN, _HELEN_TO_STN_ICNN),
    "lapa": LabelSchema("lapa", LAPA_CLASS_NAMES, LAPA_PALETTE, *_HELEN_TABLES),
    "celebamask_hq": LabelSchema(
        "celebamask_hq",
        CELEBAMASK_HQ_CLASS_NAMES,
        CELEBAMASK_HQ_PALETTE,
        _CELEBAMASK_HQ_TO_HELEN,
        _HELEN_TO_CELEBAMASK_HQ,
    ),
    "lfw_pl": LabelSchema(
        "lfw_pl",
        LFW_PL_CLASS_NAMES,
        LFW_PL_PALETTE,
        (0, 1, 10),
        (0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2),
    ),
}
"""Every schema by name."""


def get_schema(schema):
    """The `LabelSchema` named `schema` (or `schema` itself if it is one).

    Args:
        schema: str or LabelSchema.

    Returns:
        LabelSchema.

    Example:
    >>> get_schema("lapa").class_names[10]
    'hair'
    """
    if isinstance(schema, LabelSchema):
        return schema
    if schema not in SCHEMAS:
        raise ValueError(f"unknown label schema {schema!r}; known schemas are {sorted(SCHEMAS)}")
    return SCHEMAS[schema]


def label_mapping(source, target):
    """Lookup table taking ids of `source` to ids of `target`.

    Args:
        source: str or LabelSchema, the schema of the labels to map.
        target: str or LabelSchema, the schema wanted.

    Returns:
        uint8 numpy array `[source classes]`; `table[label]` maps a label map.

    Example:
    >>> label_mapping("helen", "stn_icnn").tolist()
    [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0]
    """
    source, target = get_schema(source), get_schema(target)
    if source == target:
        return np.arange(source.num_classes, dtype=np.uint8)
    return np.asarray([target.from_helen[helen_id] for helen_id in source.to_helen], np.uint8)
