"""The cost model: records and ledger, billing cycles, forecasts, price tables, unpriced usage, the state file."""
