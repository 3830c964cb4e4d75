"""Judge: the statistics and the gate that turns a measurement and its baseline entry
into a verdict; every rule lives here (docs/design.md)."""
