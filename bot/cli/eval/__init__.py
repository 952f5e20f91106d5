"""`supportbot eval …`: quality measured on public data we did not write, one module per measurement."""
