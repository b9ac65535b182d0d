from ray import _Missing


def __getattr__(name: str) -> _Missing:
    return _Missing(f"ray.tune.{name}")
