"""Getting a plan into the ledger: registering it, and watching the plans folder."""
