from keras_stn_icnn.models.icnn.icnn import ICNN
from keras_stn_icnn.models.icnn.icnn_baseline import ICNNBaseline
from keras_stn_icnn.models.icnn.icnn_parser import ICNNParser
