"""Persistence adapters: Postgres repositories, vector stores and blob stores.

Import from the submodules (``ragbus.stores.documents``, ``ragbus.stores.factory``...);
this package stays empty so importing one store does not load every client library.
"""
