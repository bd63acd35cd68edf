from keras_stn_icnn.models.stn_icnn.fcn_localizer import FCNLocalizer
from keras_stn_icnn.models.stn_icnn.resnet18_localizer import ResNet18Localizer
from keras_stn_icnn.models.stn_icnn.stn_icnn import LOCALIZERS, STNiCNN
from keras_stn_icnn.models.stn_icnn.vgg9_localizer import VGG9Localizer
