"""Blocks more than one family uses."""
