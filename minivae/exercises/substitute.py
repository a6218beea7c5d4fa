r"""Run the package with a student's functions in place of its own, for one block of code.

:func:`substituted` takes ``{package function: replacement}`` and, inside its ``with`` block,
puts each replacement wherever the readable code holds the package's function: module globals
(``from .layers import affine_forward`` binds the name in every importer), class attributes
(``GaussianLatent.sample_forward``, a static method; ``VAE._bound_forward``, a method) and the
globals of the ``extra`` modules (the student's own files, so that their functions call each
other's replacements too). Everything is put back when the block ends, also on an error. The
fused engine's compiled kernels are never touched: a substituted run uses the reference engine.
"""
import contextlib
import sys

__all__ = ["substituted"]


def _core_modules():
    return [module for name, module in list(sys.modules.items())
            if module is not None and (name == "minivae" or name.startswith("minivae."))
            and not name.startswith("minivae.fused")]


def _bindings(namespace, replacements):
    """``(name, new value)`` for every entry of ``namespace`` that holds a replaced function,
    as itself or as a static method of it."""
    found = []
    for name, value in list(namespace.items()):
        target = value.__func__ if isinstance(value, staticmethod) else value
        try:
            new = replacements.get(target)
        except TypeError:  # unhashable values
            continue
        if new is not None:
            found.append((name, staticmethod(new) if isinstance(value, staticmethod) else new))
    return found


@contextlib.contextmanager
def substituted(replacements, extra=()):
    """Inside the block, every binding of a key of ``replacements`` in the package's readable
    modules, their classes and the modules ``extra`` refers to its value instead."""
    undo = []
    try:
        for module in _core_modules() + list(extra):
            namespaces = [(module, vars(module))]
            namespaces += [(cls, vars(cls)) for cls in list(vars(module).values())
                           if isinstance(cls, type) and cls.__module__ == module.__name__]
            for owner, namespace in namespaces:
                for name, new in _bindings(namespace, replacements):
                    undo.append((owner, name, namespace[name]))
                    setattr(owner, name, new)
        yield
    finally:
        for owner, name, old in reversed(undo):
            setattr(owner, name, old)
