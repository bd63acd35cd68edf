"""RNN-G: face parsing by spatially variant recurrent propagation (Liu et al., BMVC 2017)."""

from keras_stn_icnn.models.rnn_g.component_networks import RNNGTwoStage
from keras_stn_icnn.models.rnn_g.face_box import RNNGFaceBox
from keras_stn_icnn.models.rnn_g.rnn_g import RNNG
