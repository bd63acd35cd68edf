from keras_stn_icnn.models.icnn.icnn import ICNN
from keras_stn_icnn.models.icnn.icnn_baseline import ICNNBaseline
