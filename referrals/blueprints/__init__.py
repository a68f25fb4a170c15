"""One package per feature: __init__.py (bp), views.py, forms.py."""
