"""Checks run by the Judge; see :mod:`hfpc.checks.base` for the protocol and registry."""

from hfpc.checks.base import REGISTRY, Check, JudgeItem, check_names, get_check_class

__all__ = ["REGISTRY", "Check", "JudgeItem", "check_names", "get_check_class"]
