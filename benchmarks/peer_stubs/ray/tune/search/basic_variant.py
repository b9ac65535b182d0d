from ray import _Missing

BasicVariantGenerator = _Missing("ray.tune.search.basic_variant.BasicVariantGenerator")
