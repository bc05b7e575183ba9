"""Frontends: framework models into the IR. Importing them never imports a framework."""

from nnhls.frontends.keras import read_keras

__all__ = ["read_keras"]
