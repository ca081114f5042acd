"""The trace store: ElasticJob's trace and statistics tables in a relational database (SQLite or
PostgreSQL through SQLAlchemy Core), the buffered sink the scheduler writes through, the history
queries and the leader-only statistics aggregator."""
