"""Import-only stand-in for ray (see ../README.md): names resolve to inert placeholders."""


class _Missing:
    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> "_Missing":
        return _Missing(f"{self._name}.{attr}")

    def __call__(self, *args, **kwargs) -> "_Missing":
        return _Missing(f"{self._name}()")    # default arguments are built at import time: stay inert

    def __bool__(self) -> bool:
        raise RuntimeError(f"{self._name}: ray is not installed here (import-only stub used by the benchmark)")

    def __mro_entries__(self, bases):
        return (object,)


def __getattr__(name: str) -> _Missing:
    return _Missing(f"ray.{name}")


from ray import tune  # noqa: E402,F401
air = _Missing("ray.air")
