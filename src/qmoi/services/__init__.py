"""Use cases: load through a unit of work, call providers through their interface,
commit. Each module holds one family of use cases."""
