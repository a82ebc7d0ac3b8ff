"""SQL migrations applied in order by :func:`ragbus.stores.postgres.migrate`."""
