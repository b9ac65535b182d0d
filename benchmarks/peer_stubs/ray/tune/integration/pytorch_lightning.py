from ray import _Missing

TuneReportCallback = _Missing("ray.tune.integration.pytorch_lightning.TuneReportCallback")
