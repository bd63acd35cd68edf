"""RED-Net: residual encoder-decoder with an adaptive prior (Guo et al., AAAI 2018)."""

from keras_stn_icnn.models.red_net.face_box import RedNetFaceBox
from keras_stn_icnn.models.red_net.red_net import RedNet
