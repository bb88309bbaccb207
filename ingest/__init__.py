"""Turning files into cited-ready passages."""
