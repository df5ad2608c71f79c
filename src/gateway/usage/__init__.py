"""Usage analytics: how often, and how lately, each account uses each of
Portico's capabilities, so a supplier can see what its portal could drop."""
