"""Train STN-iCNN with the paper's recipe: the package's main job.

With no arguments it generates the built-in synthetic face set (once, into
data/synthetic_helen), trains every stage on it with a short recipe sized
for a laptop CPU, prints the paper's F1 table for the iCNN baseline and
STN-iCNN before and after end-to-end training, and exports the result to
savedmodels/stn_icnn/<version>/. `--data-dir HELEN` trains on real HELEN
with Table 1's recipe. Run it again with the same arguments to resume an
interrupted run. `--help` lists every override.

    python examples/train_helen.py
    python examples/train_helen.py --data-dir /data/helen
    python examples/train_helen.py --model icnn_baseline
"""

import sys

from keras_stn_icnn.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "--dataset", "helen", *sys.argv[1:]]))
