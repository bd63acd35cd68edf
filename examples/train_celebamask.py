"""Train STN-iCNN on CelebAMask-HQ with the paper's recipe (window 127, Table 1's rates).

Reads CelebAMask-HQ with the paper's seeded 6:2:2 split and the classes it
shares with HELEN. Without `--data-dir` it falls back to the synthetic set,
like train_helen.py. `--help` lists every override.

    python examples/train_celebamask.py --data-dir /data/CelebAMask-HQ
"""

import sys

from keras_stn_icnn.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "--dataset", "celebamask_hq", *sys.argv[1:]]))
