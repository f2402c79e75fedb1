"""Where things are kept: SQLAlchemy 2 async models, repositories, the unit of work and migrations."""
