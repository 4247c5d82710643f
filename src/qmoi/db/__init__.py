"""The store: SQLAlchemy tables, engine set-up, repositories, the unit of work and
Alembic migrations. The only package that imports SQLAlchemy."""
