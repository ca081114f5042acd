"""Build tools of the project (outside the product package ``server``)."""
