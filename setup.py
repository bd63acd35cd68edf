"""keras_stn_icnn: face parsing models (STN-iCNN and friends) for TensorFlow and Keras 3."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent


def _version():
    for line in (ROOT / "keras_stn_icnn" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=")[1].strip().strip('"')
    raise RuntimeError("__version__ not found in keras_stn_icnn/__init__.py")


def preset_data_files(presets_dir=ROOT / "savedmodels"):
    """`data_files` entries installing every preset folder of savedmodels/ (those with a metadata.json)
    into `<prefix>/share/keras_stn_icnn/presets/`, where `keras_stn_icnn.models.presets` looks."""
    entries = []
    for preset in sorted(p for p in Path(presets_dir).iterdir() if (p / "metadata.json").is_file()):
        for folder in sorted({f.parent for f in preset.rglob("*") if f.is_file()}):
            target = Path("share/keras_stn_icnn/presets") / folder.relative_to(presets_dir)
            files = sorted(str(f.relative_to(ROOT)) for f in folder.iterdir() if f.is_file())
            entries.append((str(target), files))
    return entries


if __name__ == "__main__":
    setup(
        name="keras-stn-icnn",
        version=_version(),
        description="Face parsing in TensorFlow/Keras 3: STN-iCNN, faithful to the authors' code.",
        long_description=(ROOT / "README.md").read_text(),
        long_description_content_type="text/markdown",
        license="Apache-2.0",
        python_requires=">=3.10",
        packages=find_packages(include=["keras_stn_icnn", "keras_stn_icnn.*"]),
        install_requires=[
            "tensorflow-cpu>=2.21,<2.22",
            "keras>=3.15,<4",
            "numpy>=1.26",
            "pillow>=10",
            "tensorboard>=2.20",  # TensorBoard logs of training (tensorflow-cpu does not pull it in)
            # Parsing whole photos (keras-stn-icnn parse): MTCNN face detector (MIT, weights in the
            # wheel, runs on TensorFlow) and OpenCV for videos (headless: no GUI libraries needed).
            "mtcnn>=1.0,<2",
            "opencv-python-headless>=4.10,<5",
            # Deployment (keras-stn-icnn export): LiteRT interpreter, ONNX conversion and runtime.
            "ai-edge-litert>=2.3",
            "tf2onnx>=1.17",
            "onnx>=1.17",
            "onnxruntime>=1.20",
        ],
        extras_require={
            # TensorFlow's CUDA build; see README "GPU" for the one caveat.
            "gpu": ["tensorflow[and-cuda]>=2.21,<2.22"],
            # tensorflow-serving-api is installed separately with --no-deps (README):
            # as a dependency it would pull the full tensorflow next to tensorflow-cpu.
            # pytest 9.2 ignores the groups pytest-xdist 3.8 writes into node ids, so --dist loadgroup
            # schedules every test alone (pytest-xdist issue #1386): the suite's shared fixtures are
            # then built on both workers.
            "test": ["pytest>=8,<9.2", "pytest-xdist>=3.5", "ruff==0.17.6"],
        },
        entry_points={"console_scripts": ["keras-stn-icnn=keras_stn_icnn.cli:main"]},
        data_files=preset_data_files(),
        classifiers=[
            "Programming Language :: Python :: 3",
            "Topic :: Scientific/Engineering :: Image Recognition",
            "Framework :: TensorFlow",
        ],
    )
