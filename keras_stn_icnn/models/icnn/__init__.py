from keras_stn_icnn.models.icnn.icnn import ICNN
