"""Inventory: lots, the stock-move ledger, GS1 vial scanning, FEFO allocation and shortage proposals.

``core`` and ``gs1`` are pure (no I/O, no clock); the service layer persists moves and calls them.
"""
